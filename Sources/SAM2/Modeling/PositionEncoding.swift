import Foundation

/// Official `PositionEmbeddingSine` (modeling/position_encoding.py): the DETR sine/cosine encoding of pixel
/// positions normalised to (0, 2π], `numPosFeats` channels (first half from y, second half from x).
/// Like the official module it caches the encoding per (H, W); the cache is shared by copies and thread-safe.
public struct PositionEmbeddingSine: Sendable {
    /// Total output channels (`num_pos_feats` of the constructor; each axis gets half).
    public let numPosFeats: Int
    public let temperature: Float
    public let normalize: Bool
    public let scale: Float
    private let cache = TensorCache()

    /// `num_pos_feats` must be even (as the official assert).
    public init(numPosFeats: Int, temperature: Float = 10000, normalize: Bool = true, scale: Float? = nil) {
        precondition(numPosFeats > 0 && numPosFeats % 2 == 0, "PositionEmbeddingSine: num_pos_feats must be even, got \(numPosFeats)")
        precondition(scale == nil || normalize, "PositionEmbeddingSine: normalize should be True if scale is passed")
        self.numPosFeats = numPosFeats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = scale ?? 2 * Float.pi
    }

    /// The encoding for an [B, C, H, W] map: [B, numPosFeats, H, W] (independent of the map's values).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "PositionEmbeddingSine: expected [B, C, H, W], got \(x.shape)")
        let pe = encoding(height: x.shape[2], width: x.shape[3])
        let b = x.shape[0]
        return b == 1 ? pe : pe.repeated([b, 1, 1, 1])
    }

    /// The encoding of an H×W grid, [1, numPosFeats, H, W].
    public func encoding(height: Int, width: Int) -> Tensor {
        if let hit = cache.get([height, width]) { return hit }
        let pe = compute(height, width)
        cache.set([height, width], pe)
        return pe
    }

    /// The per-axis frequencies `temperature^(2⌊j/2⌋/half)` in float32, as `dim_t`.
    private func dimT(_ half: Int) -> [Float] {
        (0..<half).map { j in
            Float(Foundation.pow(Double(temperature), Double(Float(2 * (j / 2)) / Float(half))))
        }
    }

    private func compute(_ h: Int, _ w: Int) -> Tensor {
        let half = numPosFeats / 2
        let dim = dimT(half)
        let eps: Float = 1e-6
        // Float32 in the official order of operations: cumulative position / (last + eps) · scale, then / dim_t.
        func embed(_ i: Int, _ n: Int) -> Float {
            let v = Float(i + 1)
            return normalize ? v / (Float(n) + eps) * scale : v
        }
        // Row j of the table for one axis value: sin at even j, cos at odd j.
        func table(_ n: Int) -> [Float] {
            var t = [Float](repeating: 0, count: n * half)
            for i in 0..<n {
                let e = embed(i, n)
                for j in 0..<half {
                    let a = e / dim[j]
                    t[i * half + j] = j % 2 == 0 ? sinf(a) : cosf(a)
                }
            }
            return t
        }
        let ty = table(h), tx = table(w)
        return Tensor(shape: [1, 2 * half, h, w]) { out in
            let o = out.baseAddress!
            // Assumes out holds 2·half planes of h·w: channels [0, half) from y, [half, 2·half) from x.
            Parallel.forChunks(2 * half, grain: Swift.max(1, 16384 / Swift.max(1, h * w))) { channels in
                for ch in channels {
                    let plane = o + ch * h * w
                    for y in 0..<h {
                        for x in 0..<w {
                            plane[y * w + x] = ch < half ? ty[y * half + ch] : tx[x * half + ch - half]
                        }
                    }
                }
            }
        }
    }
}
