import Foundation

/// How 8-bit samples map to Float tensor values.
public enum PixelScale: Sendable {
    /// 0…255 ↦ 0…1 (torchvision `to_tensor`, what SAM 2's loaders feed into the ImageNet normalisation).
    case unit
    /// 0…255 ↦ 0…255 (the raw byte values as floats).
    case byte

    @inlinable var factor: Float { self == .unit ? 255 : 1 }
}

/// An 8-bit image: `height` rows of `width` pixels of `channels` interleaved samples (HWC, like a PIL array).
/// Channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
public struct Image8: Equatable, Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Samples per pixel, 1…4.
    public let channels: Int
    /// Samples in row-major HWC order; count == width·height·channels.
    public var pixels: [UInt8]

    /// Wraps existing HWC samples; throws if the sizes do not agree.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        guard width >= 0, height >= 0, (1...4).contains(channels) else {
            throw ImageIOError.invalidArgument("Image8 needs width, height ≥ 0 and 1…4 channels, got \(width)×\(height)×\(channels)")
        }
        guard pixels.count == width * height * channels else {
            throw ImageIOError.invalidArgument("Image8 \(width)×\(height)×\(channels) needs \(width * height * channels) samples, got \(pixels.count)")
        }
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// A constant image (every sample `value`).
    public init(width: Int, height: Int, channels: Int, repeating value: UInt8 = 0) {
        precondition(width >= 0 && height >= 0 && (1...4).contains(channels), "Image8: bad size \(width)×\(height)×\(channels)")
        self.width = width; self.height = height; self.channels = channels
        pixels = [UInt8](repeating: value, count: width * height * channels)
    }

    /// Sample at row `y`, column `x`, channel `c`.
    @inlinable public subscript(y: Int, x: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    /// The pixels of the rectangle [x0, x1) × [y0, y1), clamped to the image (numpy `image[y0:y1, x0:x1]`).
    public func cropped(x0: Int, y0: Int, x1: Int, y1: Int) -> Image8 {
        let (ax, ay) = (Swift.max(0, Swift.min(x0, width)), Swift.max(0, Swift.min(y0, height)))
        let (bx, by) = (Swift.max(ax, Swift.min(x1, width)), Swift.max(ay, Swift.min(y1, height)))
        var out = Image8(width: bx - ax, height: by - ay, channels: channels)
        let rowBytes = (bx - ax) * channels
        for y in ay..<by where rowBytes > 0 {
            let src = (y * width + ax) * channels
            out.pixels.replaceSubrange(((y - ay) * rowBytes)..<((y - ay + 1) * rowBytes), with: pixels[src..<(src + rowBytes)])
        }
        return out
    }

    /// The image as 3-channel RGB the way PIL's `convert("RGB")` does it: gray replicated, alpha dropped (not composited).
    public var rgb: Image8 {
        if channels == 3 { return self }
        var out = Image8(width: width, height: height, channels: 3)
        let c = channels
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                // Both buffers hold width·height pixels of c and 3 samples respectively.
                let (s, d) = (src, dst)
                Parallel.forChunks(width * height, grain: 1 << 16) { range in
                    for p in range {
                        if c <= 2 {
                            let v = s[p * c]
                            d[3 * p] = v; d[3 * p + 1] = v; d[3 * p + 2] = v
                        } else {
                            d[3 * p] = s[p * c]; d[3 * p + 1] = s[p * c + 1]; d[3 * p + 2] = s[p * c + 2]
                        }
                    }
                }
            }
        }
        return out
    }

    /// CHW Float tensor [channels, height, width] (the layout SAM 2's transforms consume).
    public func toTensor(scale: PixelScale = .unit) -> Tensor {
        let plane = width * height, c = channels
        let inv = 1 / scale.factor
        return pixels.withUnsafeBufferPointer { src in
            Tensor(shape: [c, height, width]) { dst in
                // src holds plane·c interleaved samples; dst has c planes of `plane` floats.
                let (s, d) = (src, dst)
                Parallel.forChunks(plane, grain: 1 << 15) { range in
                    for ch in 0..<c {
                        for p in range { d[ch * plane + p] = Float(s[p * c + ch]) * inv }
                    }
                }
            }
        }
    }

    /// Image from a CHW Float tensor [C, H, W] (C in 1…4), or [H, W] for gray; values are scaled by 255 for
    /// `.unit`, rounded to nearest and clamped to 0…255 (NaN becomes 0).
    public init(tensor: Tensor, scale: PixelScale = .unit) throws {
        let shape = tensor.shape
        let (c, h, w): (Int, Int, Int)
        if shape.count == 3 { (c, h, w) = (shape[0], shape[1], shape[2]) }
        else if shape.count == 2 { (c, h, w) = (1, shape[0], shape[1]) }
        else { throw ImageIOError.invalidArgument("Image8(tensor:) needs shape [C,H,W] or [H,W], got \(shape)") }
        guard (1...4).contains(c) else {
            throw ImageIOError.invalidArgument("Image8(tensor:) needs 1…4 channels, got shape \(shape)")
        }
        var out = Image8(width: w, height: h, channels: c)
        let plane = w * h, f = scale.factor
        tensor.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                let (s, d) = (src, dst)
                Parallel.forChunks(plane, grain: 1 << 15) { range in
                    for ch in 0..<c {
                        for p in range {
                            let v = (s[ch * plane + p] * f).rounded()
                            // `v >= 0` is false for NaN, which therefore maps to 0.
                            d[p * c + ch] = v >= 0 ? UInt8(min(v, 255)) : 0
                        }
                    }
                }
            }
        }
        self = out
    }
}
