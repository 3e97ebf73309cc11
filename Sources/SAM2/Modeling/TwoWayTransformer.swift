/// SAM's `TwoWayAttentionBlock`: token self-attention, token→image cross-attention, token MLP, image→token
/// cross-attention, each followed by a residual add and LayerNorm (the first block's self-attention uses no
/// positional encoding and no residual: `skip_first_layer_pe`).
public struct TwoWayAttentionBlock: Sendable {
    public var selfAttn: Attention
    public var norm1: LayerNorm
    public var crossAttnTokenToImage: Attention
    public var norm2: LayerNorm
    public var mlp: MLP
    public var norm3: LayerNorm
    public var norm4: LayerNorm
    public var crossAttnImageToToken: Attention
    public var skipFirstLayerPE: Bool

    /// Reads the official parameters under `w` (e.g. `transformer.layers.0`).
    public init(_ w: Weights, embeddingDim: Int, numHeads: Int, mlpDim: Int = 2048, activation: Activation = .relu,
                attentionDownsampleRate: Int = 2, skipFirstLayerPE: Bool = false) throws {
        selfAttn = try Attention(w.scoped("self_attn"), embeddingDim: embeddingDim, numHeads: numHeads)
        norm1 = try LayerNorm(w.scoped("norm1"), dim: embeddingDim)
        crossAttnTokenToImage = try Attention(w.scoped("cross_attn_token_to_image"), embeddingDim: embeddingDim,
                                              numHeads: numHeads, downsampleRate: attentionDownsampleRate)
        norm2 = try LayerNorm(w.scoped("norm2"), dim: embeddingDim)
        mlp = try MLP(w.scoped("mlp"), inputDim: embeddingDim, hiddenDim: mlpDim, outputDim: embeddingDim,
                      numLayers: 2, activation: activation)
        norm3 = try LayerNorm(w.scoped("norm3"), dim: embeddingDim)
        norm4 = try LayerNorm(w.scoped("norm4"), dim: embeddingDim)
        crossAttnImageToToken = try Attention(w.scoped("cross_attn_image_to_token"), embeddingDim: embeddingDim,
                                              numHeads: numHeads, downsampleRate: attentionDownsampleRate)
        self.skipFirstLayerPE = skipFirstLayerPE
    }

    /// queries [B, Nq, C] (tokens), keys [B, HW, C] (image), with their positional encodings → updated pair.
    public func callAsFunction(queries: Tensor, keys: Tensor, queryPE: Tensor, keyPE: Tensor)
        -> (queries: Tensor, keys: Tensor) {
        var queries = queries, keys = keys
        if skipFirstLayerPE {
            queries = selfAttn(q: queries, k: queries, v: queries)
        } else {
            let q = queries + queryPE
            queries = queries + selfAttn(q: q, k: q, v: queries)
        }
        queries = norm1(queries)

        // keys + keyPE serves both cross-attentions: keys only change at the end of the block.
        let k = keys + keyPE
        queries = norm2(queries + crossAttnTokenToImage(q: queries + queryPE, k: k, v: keys))

        queries = norm3(queries + mlp(queries))

        keys = norm4(keys + crossAttnImageToToken(q: k, k: queries + queryPE, v: queries))
        return (queries, keys)
    }
}

/// SAM's `TwoWayTransformer`: `depth` two-way blocks, then a final token→image attention and LayerNorm.
public struct TwoWayTransformer: Sendable {
    public var layers: [TwoWayAttentionBlock]
    public var finalAttnTokenToImage: Attention
    public var normFinalAttn: LayerNorm

    /// Reads the official parameters under `w` (e.g. `sam_mask_decoder.transformer`); SAM 2 uses depth 2,
    /// 8 heads, MLP 2048, downsample rate 2.
    public init(_ w: Weights, depth: Int = 2, embeddingDim: Int, numHeads: Int = 8, mlpDim: Int = 2048,
                activation: Activation = .relu, attentionDownsampleRate: Int = 2) throws {
        layers = try (0..<depth).map { i in
            try TwoWayAttentionBlock(w.scoped("layers.\(i)"), embeddingDim: embeddingDim, numHeads: numHeads,
                                     mlpDim: mlpDim, activation: activation,
                                     attentionDownsampleRate: attentionDownsampleRate, skipFirstLayerPE: i == 0)
        }
        finalAttnTokenToImage = try Attention(w.scoped("final_attn_token_to_image"), embeddingDim: embeddingDim,
                                              numHeads: numHeads, downsampleRate: attentionDownsampleRate)
        normFinalAttn = try LayerNorm(w.scoped("norm_final_attn"), dim: embeddingDim)
    }

    /// image embedding and its PE [B, C, h, w], point (token) embeddings [B, N, C] →
    /// (processed tokens [B, N, C], processed image [B, h·w, C]).
    public func callAsFunction(imageEmbedding: Tensor, imagePE: Tensor, pointEmbedding: Tensor)
        -> (queries: Tensor, keys: Tensor) {
        precondition(imageEmbedding.rank == 4 && imagePE.shape == imageEmbedding.shape,
                     "TwoWayTransformer: image embedding \(imageEmbedding.shape) and PE \(imagePE.shape) must be equal [B, C, h, w]")
        let (b, c, h, w) = (imageEmbedding.shape[0], imageEmbedding.shape[1], imageEmbedding.shape[2], imageEmbedding.shape[3])
        let keyPE = imagePE.reshaped([b, c, h * w]).permuted([0, 2, 1])
        var queries = pointEmbedding
        var keys = imageEmbedding.reshaped([b, c, h * w]).permuted([0, 2, 1])
        for layer in layers {
            (queries, keys) = layer(queries: queries, keys: keys, queryPE: pointEmbedding, keyPE: keyPE)
        }
        let q = queries + pointEmbedding
        let k = keys + keyPE
        queries = normFinalAttn(queries + finalAttnTokenToImage(q: q, k: k, v: keys))
        return (queries, keys)
    }
}
