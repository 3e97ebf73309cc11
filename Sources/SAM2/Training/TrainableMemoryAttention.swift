import Foundation

/// Differentiable official `MemoryAttentionLayer` (modeling/memory_attention.py), batch-first, reading the same
/// parameters as the inference `MemoryAttentionLayer`. Dropout (0.1 in the official training config) is 0 here:
/// deterministic steps, and the models we train are tiny.
public struct TrainableMemoryAttentionLayer {
    public let selfAttn: TrainableRoPEAttention
    /// `cross_attn_image`.
    public let crossAttnImage: TrainableRoPEAttention
    public let linear1Weight: Variable, linear1Bias: Variable
    public let linear2Weight: Variable, linear2Bias: Variable
    public let norm1Weight: Variable, norm1Bias: Variable
    public let norm2Weight: Variable, norm2Bias: Variable
    public let norm3Weight: Variable, norm3Bias: Variable
    public let config: MemoryAttentionConfig

    /// Reads `self_attn`, `cross_attn_image`, `linear1`, `linear2`, `norm1..3` under `p` (a `layers.{i}` scope).
    public init(config c: MemoryAttentionConfig, parameters p: ParameterScope) throws {
        selfAttn = try TrainableRoPEAttention(parameters: p.scoped("self_attn"), embeddingDim: c.dModel,
                                              numHeads: c.numHeads, downsampleRate: c.downsampleRate,
                                              ropeTheta: c.ropeTheta, featSizes: c.featSizes)
        crossAttnImage = try TrainableRoPEAttention(parameters: p.scoped("cross_attn_image"), embeddingDim: c.dModel,
                                                    numHeads: c.numHeads, downsampleRate: c.downsampleRate,
                                                    kvInDim: c.kvInDim, ropeTheta: c.ropeTheta, ropeKRepeat: true,
                                                    featSizes: c.featSizes)
        linear1Weight = try p("linear1.weight", shape: [c.dimFeedforward, c.dModel])
        linear1Bias = try p("linear1.bias", shape: [c.dimFeedforward])
        linear2Weight = try p("linear2.weight", shape: [c.dModel, c.dimFeedforward])
        linear2Bias = try p("linear2.bias", shape: [c.dModel])
        norm1Weight = try p("norm1.weight", shape: [c.dModel]); norm1Bias = try p("norm1.bias", shape: [c.dModel])
        norm2Weight = try p("norm2.weight", shape: [c.dModel]); norm2Bias = try p("norm2.bias", shape: [c.dModel])
        norm3Weight = try p("norm3.weight", shape: [c.dModel]); norm3Bias = try p("norm3.bias", shape: [c.dModel])
        config = c
    }

    /// tgt [B, L, dModel]; `keys` = memory (+ memory pos when pos_enc_at_cross_attn_keys), `values` = memory
    /// [B, Lm, kvInDim]; `queryPos` [B, L, dModel] (constant). The last `numKExcludeRope` keys are not rotated.
    public func callAsFunction(tgt: Variable, keys: Variable, values: Variable, queryPos: Variable?,
                               numKExcludeRope: Int) -> Variable {
        // Self-attention: v is the normed input without the positional encoding.
        let sa = tgt.layerNorm(weight: norm1Weight, bias: norm1Bias)
        let qk = config.posEncAtAttn ? queryPos.map { sa + $0 } ?? sa : sa
        var x = tgt + selfAttn(q: qk, k: qk, v: sa)
        let ca = x.layerNorm(weight: norm2Weight, bias: norm2Bias)
        let q = config.posEncAtCrossAttnQueries ? queryPos.map { ca + $0 } ?? ca : ca
        x = x + crossAttnImage(q: q, k: keys, v: values, numKExcludeRope: numKExcludeRope)
        var h = x.layerNorm(weight: norm3Weight, bias: norm3Bias).linear(weight: linear1Weight, bias: linear1Bias)
        h = config.activation == .relu ? h.relu() : h.gelu()
        return x + h.linear(weight: linear2Weight, bias: linear2Bias)
    }
}

/// Differentiable official `MemoryAttention` (modeling/memory_attention.py), batch-first as the inference
/// `MemoryAttention` ([B, L, C] where the official takes (L, B, C)); same parameters, dropout 0 (see the layer).
public struct TrainableMemoryAttention {
    public let config: MemoryAttentionConfig
    public let layers: [TrainableMemoryAttentionLayer]
    /// Final LayerNorm.
    public let normWeight: Variable, normBias: Variable

    /// Reads `layers.{i}` and `norm` under `parameters` (= store.scope("memory_attention")).
    public init(config: MemoryAttentionConfig, parameters: ParameterScope) throws {
        self.config = config
        layers = try (0..<config.numLayers).map {
            try TrainableMemoryAttentionLayer(config: config, parameters: parameters.scoped("layers.\($0)"))
        }
        normWeight = try parameters("norm.weight", shape: [config.dModel])
        normBias = try parameters("norm.bias", shape: [config.dModel])
    }

    /// curr [B, L, d], memory [B, M, kvInDim], currPos [B, L, d] (constant), memoryPos [B, M, kvInDim]
    /// (differentiable: holds maskmem_tpos_enc and obj_ptr_tpos_proj terms) → [B, L, d]. The last
    /// `numObjPtrTokens` memory tokens are object-pointer tokens (not rotated).
    public func callAsFunction(curr: Variable, memory: Variable, currPos: Tensor, memoryPos: Variable,
                               numObjPtrTokens: Int) throws -> Variable {
        let (b, l, d) = (curr.shape[0], curr.shape[1], config.dModel)
        guard curr.value.rank == 3, curr.shape[2] == d, currPos.shape == curr.shape else {
            throw TrainableMemoryError.mismatch("TrainableMemoryAttention: curr \(curr.shape), currPos \(currPos.shape), d_model \(d)")
        }
        guard memory.value.rank == 3, memory.shape[0] == b, memory.shape[2] == config.kvInDim,
              memoryPos.shape == memory.shape, numObjPtrTokens >= 0, numObjPtrTokens <= memory.shape[1] else {
            throw TrainableMemoryError.mismatch("TrainableMemoryAttention: memory \(memory.shape), memoryPos \(memoryPos.shape), \(numObjPtrTokens) pointer tokens, kv_in_dim \(config.kvInDim)")
        }
        let spatial = memory.shape[1] - numObjPtrTokens
        guard spatial == 0 || spatial % l == 0 else {
            throw TrainableMemoryError.mismatch("TrainableMemoryAttention: \(spatial) spatial memory tokens are not a multiple of \(l) queries")
        }
        let queryPos = Variable.constant(currPos)
        var output = config.posEncAtInput ? curr + Variable.constant(0.1 * currPos) : curr
        // Every layer adds the same memory pos to its keys: form the sum once (its gradient reaches memoryPos once,
        // summed over the layers).
        let keys = config.posEncAtCrossAttnKeys ? memory + memoryPos : memory
        for layer in layers {
            output = layer(tgt: output, keys: keys, values: memory, queryPos: queryPos, numKExcludeRope: numObjPtrTokens)
        }
        return output.layerNorm(weight: normWeight, bias: normBias)
    }
}

/// Inputs whose shapes do not fit a trainable memory module (thrown instead of trapping, so a training loop can report it).
public enum TrainableMemoryError: Error, CustomStringConvertible {
    case mismatch(String)

    public var description: String {
        switch self { case let .mismatch(m): return m }
    }
}
