import Foundation

/// A model's floating-point operation count, split by module.
///
/// Counted analytically from the config, as the official PyTorch code executes it: 2 FLOPs per multiply-add of
/// every matmul, linear layer, convolution and attention product (Q·Kᵀ and P·V). Normalisations, softmax,
/// activations, RoPE, pooling, interpolation and residual additions are left out (they are O(tokens·channels),
/// under 1% of the total for the released models). Because it is the official algorithm's count, the same number
/// divides both implementations' times, even where ours takes a cheaper path (e.g. projecting memory values after
/// attention).
public struct FlopCount: Sendable, Equatable, Codable {
    /// One counted module (or group of modules).
    public struct Part: Sendable, Equatable, Codable {
        public var name: String
        public var flops: Int
    }

    /// The parts in forward order.
    public var parts: [Part]

    /// Sum over the parts.
    public var total: Int { parts.reduce(0) { $0 + $1.flops } }

    public init(parts: [Part] = []) { self.parts = parts }

    /// The flops of the part named `name` (0 if absent).
    public func flops(of name: String) -> Int { parts.first { $0.name == name }?.flops ?? 0 }
}

/// Analytic FLOP counts of SAM 2's modules (see `FlopCount` for what is counted).
public enum ModelFlops {
    /// `forward_image`: the Hiera trunk, the FPN neck and (when `highResProjection`) the mask decoder's
    /// `conv_s0`/`conv_s1` on the two highest-resolution levels, for one `imageSize`² image.
    ///
    /// Per block on an H×W token grid with C → C' channels, windows of w (global: the whole grid), query stride s:
    /// - `proj` (when C ≠ C'): 2·H·W·C·C' (applied before pooling, on the unpadded grid);
    /// - `attn.qkv`: 2·N·C·3C', N = windows·w² tokens *including* window padding (F.pad before the projection);
    /// - attention: 4·windows·Lq·Lk·C' with Lk = w², Lq = (w/s)² (Q·Kᵀ and P·V, all heads together);
    /// - `attn.proj`: 2·windows·Lq·C'·C' (also on padded windows);
    /// - `mlp`: 2·2·H'·W'·C'·(mlp_ratio·C') on the output grid H' = ⌊H/s⌋.
    /// Patch embedding: 2·(S/4)²·C·3·7·7. Neck: a 1×1 conv per trunk stage (all stages, including the one
    /// `scalp` drops afterwards): 2·Hᵢ·Wᵢ·Cᵢ·d_model. conv_s0/s1: 2·H·W·d·(d/8) and 2·H·W·d·(d/4).
    public static func imageEncoder(_ config: HieraImageEncoder.Config, imageSize: Int,
                                    highResProjection: Bool = true) -> FlopCount {
        let t = config.trunk
        var (h, w) = Hiera.tokenGrid((imageSize, imageSize))
        var parts = [FlopCount.Part(name: "patch_embed", flops: 2 * h * w * t.embedDim * 3 * 7 * 7)]
        var stageGrids: [(h: Int, w: Int, c: Int)] = []
        let ends = Set(t.stageEnds)
        var stageFlops = 0, stage = 1
        for (i, b) in t.blocks.enumerated() {
            let sh = b.qStride?[0] ?? 1, sw = b.qStride?[1] ?? 1
            let wh = b.windowSize > 0 ? b.windowSize : h, ww = b.windowSize > 0 ? b.windowSize : w
            let windows = ((h + wh - 1) / wh) * ((w + ww - 1) / ww)
            let lk = wh * ww, lq = (wh / sh) * (ww / sw)
            let (ho, wo) = (h / sh, w / sw)
            let hidden = Int(Double(b.dimOut) * b.mlpRatio)
            var f = 0
            if b.dim != b.dimOut { f += 2 * h * w * b.dim * b.dimOut }
            f += 2 * windows * lk * b.dim * 3 * b.dimOut
            f += 4 * windows * lq * lk * b.dimOut
            f += 2 * windows * lq * b.dimOut * b.dimOut
            f += 2 * 2 * ho * wo * b.dimOut * hidden
            stageFlops += f
            (h, w) = (ho, wo)
            if ends.contains(i) {
                parts.append(.init(name: "trunk stage \(stage)", flops: stageFlops))
                stageGrids.append((h, w, b.dimOut))
                stageFlops = 0
                stage += 1
            }
        }
        let d = config.neck.dModel
        parts.append(.init(name: "neck", flops: stageGrids.reduce(0) { $0 + 2 * $1.h * $1.w * $1.c * d }))
        if highResProjection && stageGrids.count >= 2 {
            let g0 = stageGrids[0], g1 = stageGrids[1]
            parts.append(.init(name: "conv_s0/s1", flops: 2 * g0.h * g0.w * d * (d / 8) + 2 * g1.h * g1.w * d * (d / 4)))
        }
        return FlopCount(parts: parts)
    }

    /// `MemoryAttention.forward` for `queries` current-frame tokens and `memoryTokens` memory tokens (spatial
    /// memories plus object-pointer tokens). With d = d_model, i = d/downsample_rate, m = kv_in_dim, L = queries,
    /// M = memoryTokens, F = dim_feedforward, per layer:
    /// - self-attention: q/k/v/out projections 4·2·L·d·i, attention 4·L·L·i;
    /// - cross-attention: q and out projections 2·2·L·d·i, k and v projections 2·2·M·m·i, attention 4·L·M·i;
    /// - MLP: 2·2·L·d·F.
    public static func memoryAttention(_ config: MemoryAttentionConfig, queries: Int, memoryTokens: Int) -> FlopCount {
        let d = config.dModel, i = config.dModel / Swift.max(1, config.downsampleRate), m = config.kvInDim
        let l = queries, mt = memoryTokens, f = config.dimFeedforward
        let selfAttn = 4 * 2 * l * d * i + 4 * l * l * i
        let crossAttn = 2 * 2 * l * d * i + 2 * 2 * mt * m * i + 4 * l * mt * i
        let mlp = 2 * 2 * l * d * f
        let layers = config.numLayers
        return FlopCount(parts: [
            .init(name: "self_attn", flops: layers * selfAttn),
            .init(name: "cross_attn_image", flops: layers * crossAttn),
            .init(name: "mlp", flops: layers * mlp),
        ])
    }
}
