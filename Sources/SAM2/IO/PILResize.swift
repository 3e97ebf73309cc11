import Foundation

/// Pillow's `Image.resize` on 8-bit images (libImaging/Resample.c): separable convolution, horizontal pass
/// then vertical, filter support widened by the scale when downscaling, coefficients in 22-bit fixed point and
/// an 8-bit intermediate image — which is why it differs from torch's float `interpolate(bicubic)`.
public enum PILResize {
    /// Pillow's resampling filters.
    public enum Filter: Sendable {
        /// `Image.BICUBIC` (a = −0.5, support 2), the default of `Image.resize` for RGB images.
        case bicubic
        /// `Image.BILINEAR` (triangle, support 1).
        case bilinear

        var support: Double { self == .bicubic ? 2 : 1 }

        func weight(_ x: Double) -> Double {
            let x = Swift.abs(x)
            switch self {
            case .bicubic:
                let a = -0.5
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
                return 0
            case .bilinear:
                return x < 1 ? 1 - x : 0
            }
        }
    }

    private static let precisionBits = 32 - 8 - 2

    /// Per output pixel: first input index, tap count, fixed-point weights (`precompute_coeffs` +
    /// `normalize_coeffs_8bpc`).
    private static func coefficients(inSize: Int, outSize: Int, filter: Filter) -> (bounds: [(Int, Int)], ksize: Int, kk: [Int32]) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = Swift.max(scale, 1)
        let support = filter.support * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        var kk = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            var xmin = Int(center - support + 0.5)      // C cast: truncation
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<xmax {
                let w = filter.weight((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<xmax {
                let v = ww != 0 ? k[x] / ww : k[x]
                let scaled = v * Double(1 << precisionBits)
                kk[xx * ksize + x] = Int32(v < 0 ? (-0.5 + scaled).rounded(.towardZero) : (0.5 + scaled).rounded(.towardZero))
            }
            bounds.append((xmin, xmax))
        }
        return (bounds, ksize, kk)
    }

    @inline(__always) private static func clip8(_ v: Int32) -> UInt8 {
        let s = v >> Int32(precisionBits)
        return s < 0 ? 0 : (s > 255 ? 255 : UInt8(s))
    }

    /// `image.resize((width, height), filter)` as Pillow computes it (any channel count, interleaved).
    public static func resize(_ image: Image8, width: Int, height: Int, filter: Filter = .bicubic) -> Image8 {
        precondition(width > 0 && height > 0, "PILResize: output size must be positive, got \(width)×\(height)")
        if width == image.width && height == image.height { return image }
        let ch = image.channels
        let needH = width != image.width, needV = height != image.height
        let vert = coefficients(inSize: image.height, outSize: height, filter: filter)
        // Rows of the source the vertical pass reads (Pillow's horizontal pass only computes those).
        let yFirst = needV ? vert.bounds[0].0 : 0
        let yLast = needV ? vert.bounds[height - 1].0 + vert.bounds[height - 1].1 : image.height
        var tmp = image.pixels, tmpW = image.width, tmpRows = image.height, rowOffset = 0
        if needH {
            let hor = coefficients(inSize: image.width, outSize: width, filter: filter)
            let rows = yLast - yFirst
            var out = [UInt8](repeating: 0, count: rows * width * ch)
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    // src: image.height rows of image.width·ch bytes; dst: `rows` rows of width·ch bytes.
                    let (s, d) = (src, dst)
                    Parallel.forChunks(rows, grain: 16) { range in
                        for r in range {
                            let srow = (r + yFirst) * image.width * ch
                            for xx in 0..<width {
                                let (xmin, xmax) = hor.bounds[xx]
                                let kbase = xx * hor.ksize
                                for c in 0..<ch {
                                    var ss: Int32 = 1 << Int32(precisionBits - 1)
                                    for x in 0..<xmax { ss &+= Int32(s[srow + (x + xmin) * ch + c]) &* hor.kk[kbase + x] }
                                    d[(r * width + xx) * ch + c] = clip8(ss)
                                }
                            }
                        }
                    }
                }
            }
            tmp = out; tmpW = width; tmpRows = rows; rowOffset = yFirst
        }
        guard needV else { return try! Image8(width: tmpW, height: tmpRows, channels: ch, pixels: tmp) }
        var out = [UInt8](repeating: 0, count: height * tmpW * ch)
        tmp.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                // src: tmpRows rows (starting at source row rowOffset) of tmpW·ch bytes.
                let (s, d) = (src, dst)
                Parallel.forChunks(height, grain: 16) { range in
                    for yy in range {
                        let (ymin, ymax) = vert.bounds[yy]
                        let kbase = yy * vert.ksize
                        for i in 0..<(tmpW * ch) {
                            var ss: Int32 = 1 << Int32(precisionBits - 1)
                            for y in 0..<ymax { ss &+= Int32(s[(y + ymin - rowOffset) * tmpW * ch + i]) &* vert.kk[kbase + y] }
                            d[yy * tmpW * ch + i] = clip8(ss)
                        }
                    }
                }
            }
        }
        _ = tmpRows
        return try! Image8(width: tmpW, height: height, channels: ch, pixels: out)
    }
}
