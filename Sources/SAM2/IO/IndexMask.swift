import Foundation

/// A palette (indexed) image such as a DAVIS annotation: one index byte per pixel (index = object id, 0 = background)
/// plus the palette it was stored with. Read from palette PNGs, or from 8-bit gray PNGs (then `palette` is empty).
public struct IndexMask: Equatable, Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Row-major indices, count == width·height.
    public var indices: [UInt8]
    /// Flat RGB triplets (count a multiple of 3, at most 768), as PIL's `getpalette()`; empty when the file had none.
    public var palette: [UInt8]
    /// Per-entry alpha from a tRNS chunk (may be shorter than the palette; missing entries are opaque).
    public var paletteAlpha: [UInt8]

    /// Wraps existing indices; throws if the sizes or the palette do not fit.
    public init(width: Int, height: Int, indices: [UInt8], palette: [UInt8] = DavisPalette.rgb,
                paletteAlpha: [UInt8] = []) throws {
        guard width >= 0, height >= 0, indices.count == width * height else {
            throw ImageIOError.invalidArgument("IndexMask \(width)×\(height) needs \(max(0, width * height)) indices, got \(indices.count)")
        }
        guard palette.count % 3 == 0, palette.count <= 768, paletteAlpha.count <= 256 else {
            throw ImageIOError.invalidArgument("IndexMask palette must be ≤ 256 RGB triplets (got \(palette.count) bytes) and ≤ 256 alphas (got \(paletteAlpha.count))")
        }
        self.width = width; self.height = height; self.indices = indices
        self.palette = palette; self.paletteAlpha = paletteAlpha
    }

    /// An all-background mask with the DAVIS palette.
    public init(width: Int, height: Int) {
        precondition(width >= 0 && height >= 0, "IndexMask: bad size \(width)×\(height)")
        self.width = width; self.height = height
        indices = [UInt8](repeating: 0, count: width * height)
        palette = DavisPalette.rgb; paletteAlpha = []
    }

    /// Index at row `y`, column `x`.
    @inlinable public subscript(y: Int, x: Int) -> UInt8 {
        get { indices[y * width + x] }
        set { indices[y * width + x] = newValue }
    }

    /// Sorted non-zero indices present (the object ids of a DAVIS annotation).
    public var objectIDs: [Int] {
        var seen = [Bool](repeating: false, count: 256)
        for v in indices { seen[Int(v)] = true }
        return (1..<256).filter { seen[$0] }
    }

    /// Float tensor [height, width] of the index values.
    public func toTensor() -> Tensor {
        indices.withUnsafeBufferPointer { src in
            Tensor(shape: [height, width]) { dst in
                let (s, d) = (src, dst)
                Parallel.forChunks(s.count, grain: 1 << 16) { r in for i in r { d[i] = Float(s[i]) } }
            }
        }
    }

    /// Binary Float tensor [height, width]: 1 where the index equals `id`, else 0.
    public func binaryMask(id: Int) -> Tensor {
        indices.withUnsafeBufferPointer { src in
            Tensor(shape: [height, width]) { dst in
                let (s, d) = (src, dst)
                Parallel.forChunks(s.count, grain: 1 << 16) { r in for i in r { d[i] = Int(s[i]) == id ? 1 : 0 } }
            }
        }
    }

    /// Mask from a [H, W] tensor of integer ids 0…255; throws on any other value (so a logit map is not silently truncated).
    public init(tensor: Tensor, palette: [UInt8] = DavisPalette.rgb) throws {
        guard tensor.rank == 2 else {
            throw ImageIOError.invalidArgument("IndexMask(tensor:) needs shape [H,W], got \(tensor.shape)")
        }
        var out = [UInt8](repeating: 0, count: tensor.count)
        for (i, v) in tensor.data.enumerated() {
            guard v >= 0, v <= 255, v == v.rounded() else {
                throw ImageIOError.invalidArgument("IndexMask(tensor:) needs integer ids in 0…255, element \(i) is \(v)")
            }
            out[i] = UInt8(v)
        }
        try self.init(width: tensor.shape[1], height: tensor.shape[0], indices: out, palette: palette)
    }

    /// Mask whose pixel is `ids[k]` where binary mask k is > 0.5 (later masks win); masks are [H, W] tensors.
    public init(binaryMasks: [Tensor], ids: [Int], palette: [UInt8] = DavisPalette.rgb) throws {
        guard binaryMasks.count == ids.count, let first = binaryMasks.first, first.rank == 2 else {
            throw ImageIOError.invalidArgument("IndexMask(binaryMasks:ids:) needs one [H,W] mask per id (got \(binaryMasks.count) masks, \(ids.count) ids)")
        }
        var out = [UInt8](repeating: 0, count: first.count)
        for (m, id) in zip(binaryMasks, ids) {
            guard m.shape == first.shape, (0...255).contains(id) else {
                throw ImageIOError.invalidArgument("IndexMask(binaryMasks:ids:): mask for id \(id) has shape \(m.shape), expected \(first.shape) and id in 0…255")
            }
            for i in 0..<m.count where m.data[i] > 0.5 { out[i] = UInt8(id) }
        }
        try self.init(width: first.shape[1], height: first.shape[0], indices: out, palette: palette)
    }

    /// The mask rendered through its palette as RGB (PIL's `convert("RGB")`); indices beyond the palette are black.
    public var rgb: Image8 {
        var out = Image8(width: width, height: height, channels: 3)
        var lut = [UInt8](repeating: 0, count: 768)
        for i in 0..<palette.count { lut[i] = palette[i] }
        indices.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                let (s, d) = (src, dst)
                Parallel.forChunks(s.count, grain: 1 << 16) { r in
                    for p in r {
                        let k = Int(s[p]) * 3
                        d[3 * p] = lut[k]; d[3 * p + 1] = lut[k + 1]; d[3 * p + 2] = lut[k + 2]
                    }
                }
            }
        }
        return out
    }
}
