import Foundation

/// Sizes and flags of the official memory attention (the `memory_attention` block of the model yaml).
public struct MemoryAttentionConfig: Sendable, Equatable {
    /// `d_model`: channels of the current frame's tokens (the hidden dim, 256 released).
    public var dModel = 256
    /// `dim_feedforward` of each layer's MLP.
    public var dimFeedforward = 2048
    public var numLayers = 4
    /// Heads of both attentions (1 released).
    public var numHeads = 1
    /// `downsample_rate` of both attentions.
    public var downsampleRate = 1
    /// `kv_in_dim` of the cross-attention: channels of the memory tokens (the memory dim, 64 released).
    public var kvInDim = 64
    public var ropeTheta: Float = 10000
    /// `feat_sizes` [w, h] of the precomputed RoPE tables (the stride-16 grid).
    public var featSizes = [64, 64]
    /// The MLP's activation (`relu` released).
    public var activation: Activation = .relu
    /// Add the query positional encoding to self-attention queries and keys.
    public var posEncAtAttn = false
    /// Add the query positional encoding to cross-attention queries.
    public var posEncAtCrossAttnQueries = false
    /// Add the memory positional encoding to cross-attention keys.
    public var posEncAtCrossAttnKeys = true
    /// Start from curr + 0.1 · curr_pos.
    public var posEncAtInput = true

    /// The released configuration (every SAM 2 / 2.1 model) at the given sizes.
    public init(dModel: Int = 256, kvInDim: Int = 64, featSizes: [Int] = [64, 64]) {
        self.dModel = dModel
        self.kvInDim = kvInDim
        self.featSizes = featSizes
    }
}

/// Official `MemoryAttentionLayer` (modeling/memory_attention.py), batch-first, inference (dropout off):
/// pre-norm self-attention (RoPE), cross-attention to the memories (RoPE, tiled over memory frames, object-pointer
/// tokens unrotated), then a two-layer MLP, each with a residual.
public struct MemoryAttentionLayer: Sendable {
    public var selfAttn: RoPEAttention
    /// `cross_attn_image`.
    public var crossAttnImage: RoPEAttention
    public var linear1: Linear
    public var linear2: Linear
    public var norm1: LayerNorm
    public var norm2: LayerNorm
    public var norm3: LayerNorm
    public var activation: Activation
    public var posEncAtAttn: Bool
    public var posEncAtCrossAttnQueries: Bool
    public var posEncAtCrossAttnKeys: Bool

    /// Reads `self_attn`, `cross_attn_image`, `linear1`, `linear2`, `norm1..3` under `w`.
    public init(_ w: Weights, config c: MemoryAttentionConfig) throws {
        selfAttn = try RoPEAttention(w.scoped("self_attn"), embeddingDim: c.dModel, numHeads: c.numHeads,
                                     downsampleRate: c.downsampleRate, ropeTheta: c.ropeTheta, featSizes: c.featSizes)
        crossAttnImage = try RoPEAttention(w.scoped("cross_attn_image"), embeddingDim: c.dModel, numHeads: c.numHeads,
                                           downsampleRate: c.downsampleRate, kvInDim: c.kvInDim, ropeTheta: c.ropeTheta,
                                           ropeKRepeat: true, featSizes: c.featSizes)
        linear1 = try Linear(w.scoped("linear1"), inFeatures: c.dModel, outFeatures: c.dimFeedforward)
        linear2 = try Linear(w.scoped("linear2"), inFeatures: c.dimFeedforward, outFeatures: c.dModel)
        norm1 = try LayerNorm(w.scoped("norm1"), dim: c.dModel)
        norm2 = try LayerNorm(w.scoped("norm2"), dim: c.dModel)
        norm3 = try LayerNorm(w.scoped("norm3"), dim: c.dModel)
        activation = c.activation
        posEncAtAttn = c.posEncAtAttn
        posEncAtCrossAttnQueries = c.posEncAtCrossAttnQueries
        posEncAtCrossAttnKeys = c.posEncAtCrossAttnKeys
    }

    /// tgt [B, L, dModel], memory [B, Lm, kvInDim]; `pos` (memory) and `queryPos` are added where the flags say
    /// (nil: nothing added). The last `numKExcludeRope` memory tokens get no RoPE.
    public func callAsFunction(tgt: Tensor, memory: Tensor, pos: Tensor?, queryPos: Tensor?,
                               numKExcludeRope: Int = 0) -> Tensor {
        let keys = posEncAtCrossAttnKeys ? pos.map { memory + $0 } ?? memory : memory
        return forward(tgt: tgt, keys: keys, values: memory, queryPos: queryPos, numKExcludeRope: numKExcludeRope)
    }

    /// The layer with the cross-attention keys already formed (MemoryAttention forms them once for all layers).
    func forward(tgt: Tensor, keys: Tensor, values: Tensor, queryPos: Tensor?, numKExcludeRope: Int) -> Tensor {
        var tgt = tgt
        // Self-attention: v is the normed input without the positional encoding.
        let sa = norm1(tgt)
        let qk = posEncAtAttn ? queryPos.map { sa + $0 } ?? sa : sa
        tgt += selfAttn(q: qk, k: qk, v: sa)
        let ca = norm2(tgt)
        let q = posEncAtCrossAttnQueries ? queryPos.map { ca + $0 } ?? ca : ca
        tgt += crossAttnImage(q: q, k: keys, v: values, numKExcludeRope: numKExcludeRope)
        mlpResidual(&tgt)
        return tgt
    }

    /// tgt += linear2(activation(linear1(norm3(tgt)))), fused per tile of rows (`Tensor.residualMLP`), so the
    /// [L, dim_feedforward] hidden activations are never allocated at full size.
    private func mlpResidual(_ tgt: inout Tensor) {
        guard let b1 = linear1.bias, let b2 = linear2.bias, tgt.count > 0 else {
            tgt += linear2(activation(linear1(norm3(tgt))))
            return
        }
        let dim = tgt.shape[tgt.rank - 1], rows = tgt.count / dim
        precondition(dim == linear1.inFeatures, "MemoryAttentionLayer: tokens \(tgt.shape) do not fit linear1 \(linear1.weight.shape)")
        withPointers([norm3.weight, norm3.bias, linear1.weight, b1, linear2.weight, b2]) { p in
            let weights = Tensor.ResidualMLPWeights(normWeight: p[0], normBias: p[1], eps: norm3.eps, w1: p[2], b1: p[3],
                                                    w2: p[4], b2: p[5], hidden: linear1.outFeatures,
                                                    activation: activation == .relu ? .relu : .gelu)
            tgt.withUnsafeMutableBufferPointer { Tensor.residualMLP($0.baseAddress!, rows: rows, dim: dim, weights) }
        }
    }
}

/// Official `MemoryAttention` (modeling/memory_attention.py): conditions the current frame's tokens on the memory
/// bank. Batch-first: where the official forward takes sequence-first (L, B, C) tensors and transposes them for its
/// layers, this takes and returns [B, L, C] (official `x` ↔ `x.transpose(0, 1)` here).
public struct MemoryAttention: Sendable {
    public var layers: [MemoryAttentionLayer]
    /// Final LayerNorm.
    public var norm: LayerNorm
    public var posEncAtInput: Bool
    public let config: MemoryAttentionConfig

    /// Reads `layers.{i}` and `norm` under `w` (the model's `memory_attention`).
    public init(_ w: Weights, config: MemoryAttentionConfig = MemoryAttentionConfig()) throws {
        layers = try (0..<config.numLayers).map { try MemoryAttentionLayer(w.scoped("layers.\($0)"), config: config) }
        norm = try LayerNorm(w.scoped("norm"), dim: config.dModel)
        posEncAtInput = config.posEncAtInput
        self.config = config
    }

    /// curr / currPos [B, L, dModel] (the current frame's tokens, L = h·w row-major), memory / memoryPos
    /// [B, Lm, kvInDim] (spatial memories of the selected frames, then `numObjPtrTokens` object-pointer tokens)
    /// → [B, L, dModel]. Positional encodings that are nil are not added.
    public func callAsFunction(curr: Tensor, memory: Tensor, currPos: Tensor?, memoryPos: Tensor?,
                               numObjPtrTokens: Int = 0) -> Tensor {
        precondition(curr.rank == 3 && memory.rank == 3 && curr.shape[0] == memory.shape[0],
                     "MemoryAttention: batch size must be the same for curr \(curr.shape) and memory \(memory.shape)")
        var output = curr
        if posEncAtInput, let currPos { output += 0.1 * currPos }
        // Every layer adds the same memory_pos to its keys: form the sum once.
        let keysWithPos = layers.contains { $0.posEncAtCrossAttnKeys } ? memoryPos.map { memory + $0 } : nil
        for layer in layers {
            let keys = layer.posEncAtCrossAttnKeys ? keysWithPos ?? memory : memory
            output = layer.forward(tgt: output, keys: keys, values: memory, queryPos: currPos,
                                   numKExcludeRope: numObjPtrTokens)
        }
        return norm(output)
    }
}
