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

extension ModelFlops {
    /// `MaskDecoder.predict_masks` for one prompt set on an e×e image embedding (N = e² tokens, C = transformer_dim,
    /// Cᵢ = C / attention_downsample_rate, F = the transformer's MLP dim) with `sparseTokens` prompt tokens
    /// (tracking without clicks: the dummy label −1 point plus the padding point, 2; one click: 2 as well). T = obj_score (1 with pred_obj_scores) + iou (1)
    /// + mask tokens (num_multimask_outputs + 1) + sparseTokens output tokens. Per two-way block:
    /// - self-attention on the tokens: 4·2·T·C² + 4·T²·C;
    /// - token→image: q/out 2·2·T·C·Cᵢ, k/v 2·2·N·C·Cᵢ, attention 4·T·N·Cᵢ; image→token: q/out 2·2·N·C·Cᵢ,
    ///   k/v 2·2·T·C·Cᵢ, attention 4·N·T·Cᵢ; MLP 2·2·T·C·F;
    /// and once the final token→image attention. `output_upscaling`: transposed 2×2 stride-2 convs
    /// 2·e²·C·(C/4)·4 + 2·(2e)²·(C/4)·(C/8)·4. Masks: one hypernetwork MLP per mask token (C→C→C→C/8,
    /// 2·(2C² + C²/8) each) and the product with the upscaled embedding 2·tokens·(C/8)·(4e)². Heads: IoU MLP
    /// (C→H→…→tokens), object-score MLP (C→C→C→1, or one linear layer).
    public static func maskDecoder(_ config: MaskDecoderConfig, embeddingSize e: Int, sparseTokens: Int) -> FlopCount {
        let c = config.transformerDim, ci = c / Swift.max(1, config.attentionDownsampleRate), f = config.transformerMLPDim
        let n = e * e, maskTokens = config.numMultimaskOutputs + 1
        let t = (config.predObjScores ? 1 : 0) + 1 + maskTokens + sparseTokens
        let tokenToImage = 2 * 2 * t * c * ci + 2 * 2 * n * c * ci + 4 * t * n * ci
        let imageToToken = 2 * 2 * n * c * ci + 2 * 2 * t * c * ci + 4 * n * t * ci
        let block = (4 * 2 * t * c * c + 4 * t * t * c) + tokenToImage + 2 * 2 * t * c * f + imageToToken
        let upscaling = 2 * n * c * (c / 4) * 4 + 2 * (4 * n) * (c / 4) * (c / 8) * 4
        let masks = maskTokens * 2 * (2 * c * c + c * (c / 8)) + 2 * maskTokens * (c / 8) * (16 * n)
        let h = config.iouHeadHiddenDim, depth = Swift.max(1, config.iouHeadDepth)
        var iou = 0
        for l in 0..<depth { iou += 2 * (l == 0 ? c : h) * (l == depth - 1 ? maskTokens : h) }
        let objScore = !config.predObjScores ? 0 : config.predObjScoresMLP ? 2 * (2 * c * c + c) : 2 * c
        return FlopCount(parts: [
            .init(name: "transformer", flops: config.transformerDepth * block + tokenToImage),
            .init(name: "output_upscaling", flops: upscaling),
            .init(name: "hypernetworks + masks", flops: masks),
            .init(name: "iou/object-score heads", flops: iou + objScore),
        ])
    }

    /// `MemoryEncoder.forward` for one object on an S×S mask and e×e frame features (e = S/16; C = in_dim,
    /// m = out_dim): the mask downsampler's k×k stride-s convs, channels 1 → s² → s⁴ → …, on outputs of
    /// (S/sʲ)² pixels: 2·(S/sʲ)²·cⱼ₋₁·cⱼ·k² each, then its 1×1 conv 2·e²·c_last·C; `pix_feat_proj` 2·e²·C²;
    /// per CXBlock a depthwise 7×7 conv 2·e²·C·49 and the two pointwise layers 2·2·e²·C·4C; `out_proj` 2·e²·C·m
    /// (absent when m = C).
    public static func memoryEncoder(_ config: MemoryEncoderConfig, imageSize: Int) -> FlopCount {
        let c = config.inDim, m = config.outDim, e = imageSize / config.maskTotalStride, n = e * e
        var downsampler = 0, ch = 1, side = imageSize, reach = 1
        let k = config.maskKernelSize, st = Swift.max(2, config.maskStride)
        while reach < config.maskTotalStride {
            let out = ch * st * st
            side = (side + 2 * config.maskPadding - k) / st + 1
            downsampler += 2 * side * side * ch * out * k * k
            ch = out; reach *= st
        }
        downsampler += 2 * n * ch * c
        let kk = config.cxKernelSize * config.cxKernelSize
        let block = 2 * n * c * (config.cxUseDwconv ? 1 : c) * kk + 2 * 2 * n * c * 4 * c
        return FlopCount(parts: [
            .init(name: "mask_downsampler", flops: downsampler),
            .init(name: "pix_feat_proj", flops: 2 * n * c * c),
            .init(name: "fuser", flops: config.fuserNumLayers * block),
            .init(name: "out_proj", flops: m == c ? 0 : 2 * n * c * m),
        ])
    }
}
