import Foundation

/// Differentiable building blocks shared by the trainable prompt encoder, two-way transformer and mask decoder
/// (a namespace so these helpers cannot collide with other trainable modules' types).
enum SAMHeadsLayers {
    /// `nn.Linear` over the last dimension (weight [out, in], bias [out]).
    struct Linear {
        let weight: Variable
        let bias: Variable?

        init(_ p: ParameterScope, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
            weight = try p("weight", shape: [outFeatures, inFeatures])
            self.bias = bias ? try p("bias", shape: [outFeatures]) : nil
        }

        func callAsFunction(_ x: Variable) -> Variable { x.linear(weight: weight, bias: bias) }
    }

    /// `nn.LayerNorm` over the last dimension.
    struct LayerNorm {
        let weight: Variable
        let bias: Variable
        let eps: Float

        init(_ p: ParameterScope, dim: Int, eps: Float = 1e-5) throws {
            weight = try p("weight", shape: [dim])
            bias = try p("bias", shape: [dim])
            self.eps = eps
        }

        func callAsFunction(_ x: Variable) -> Variable { x.layerNorm(weight: weight, bias: bias, eps: eps) }
    }

    /// SAM's `LayerNorm2d` (channels of [N, C, H, W] per pixel, eps 1e-6), composed as channels-last LayerNorm:
    /// the maps it sees here are small (≤ C/4 channels at 2h×2w), so two permutes cost less than a new op.
    struct LayerNorm2d {
        let weight: Variable
        let bias: Variable
        let eps: Float

        init(_ p: ParameterScope, channels: Int, eps: Float = 1e-6) throws {
            weight = try p("weight", shape: [channels])
            bias = try p("bias", shape: [channels])
            self.eps = eps
        }

        func callAsFunction(_ x: Variable) -> Variable {
            x.permuted([0, 2, 3, 1]).layerNorm(weight: weight, bias: bias, eps: eps).permuted([0, 3, 1, 2])
        }
    }

    /// `nn.Conv2d` with its hyper-parameters.
    struct Conv2d {
        let weight: Variable
        let bias: Variable?
        let stride: Int

        init(_ p: ParameterScope, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1) throws {
            weight = try p("weight", shape: [outChannels, inChannels, kernelSize, kernelSize])
            bias = try p("bias", shape: [outChannels])
            self.stride = stride
        }

        func callAsFunction(_ x: Variable) -> Variable { x.conv2d(weight: weight, bias: bias, stride: (stride, stride)) }
    }

    /// sam2_utils `MLP`: ReLU between `numLayers` linears, optional final sigmoid.
    struct MLP {
        let layers: [Linear]
        let sigmoidOutput: Bool

        init(_ p: ParameterScope, inputDim: Int, hiddenDim: Int, outputDim: Int, numLayers: Int,
             sigmoidOutput: Bool = false) throws {
            let dims = [inputDim] + Array(repeating: hiddenDim, count: numLayers - 1) + [outputDim]
            layers = try (0..<numLayers).map { i in
                try Linear(p.scoped("layers.\(i)"), inFeatures: dims[i], outFeatures: dims[i + 1])
            }
            self.sigmoidOutput = sigmoidOutput
        }

        /// A lone Linear held as a 1-layer MLP (`pred_obj_score_head` without `pred_obj_scores_mlp`).
        init(single: Linear) { layers = [single]; sigmoidOutput = false }

        func callAsFunction(_ x: Variable) -> Variable {
            var h = x
            for (i, layer) in layers.enumerated() {
                h = layer(h)
                if i < layers.count - 1 { h = h.relu() }
            }
            return sigmoidOutput ? h.sigmoid() : h
        }
    }
}

/// Differentiable SAM `Attention` (sam2/modeling/sam/transformer.py): q/k/v projections to
/// `embeddingDim / downsampleRate` channels, multi-head softmax attention (scale 1/√head dim), output projection.
public struct TrainableAttention {
    let qProj: SAMHeadsLayers.Linear
    let kProj: SAMHeadsLayers.Linear
    let vProj: SAMHeadsLayers.Linear
    let outProj: SAMHeadsLayers.Linear
    /// Heads; each owns `internalDim / numHeads` channels.
    public let numHeads: Int
    /// Projected channels (`embedding_dim // downsample_rate`).
    public let internalDim: Int

    /// Reads `q_proj`, `k_proj`, `v_proj`, `out_proj` under `parameters`.
    public init(parameters p: ParameterScope, embeddingDim: Int, numHeads: Int, downsampleRate: Int = 1) throws {
        internalDim = embeddingDim / downsampleRate
        precondition(numHeads >= 1 && internalDim % numHeads == 0,
                     "TrainableAttention: num_heads \(numHeads) must divide the internal dim \(internalDim)")
        qProj = try .init(p.scoped("q_proj"), inFeatures: embeddingDim, outFeatures: internalDim)
        kProj = try .init(p.scoped("k_proj"), inFeatures: embeddingDim, outFeatures: internalDim)
        vProj = try .init(p.scoped("v_proj"), inFeatures: embeddingDim, outFeatures: internalDim)
        outProj = try .init(p.scoped("out_proj"), inFeatures: internalDim, outFeatures: embeddingDim)
        self.numHeads = numHeads
    }

    /// q [B, Lq, C], k and v [B, Lk, C] → [B, Lq, C].
    public func callAsFunction(q: Variable, k: Variable, v: Variable) -> Variable {
        // Heads stay packed along the channels: the fused op spares the split/recombine permutes.
        outProj(Variable.packedMultiHeadAttention(qProj(q), kProj(k), vProj(v), heads: numHeads))
    }
}

/// Differentiable SAM `TwoWayAttentionBlock`: token self-attention, token→image cross-attention, token MLP
/// (ReLU), image→token cross-attention, each with a residual add and LayerNorm (the first block's
/// self-attention has no PE and no residual: `skip_first_layer_pe`).
public struct TrainableTwoWayAttentionBlock {
    let selfAttn: TrainableAttention
    let norm1: SAMHeadsLayers.LayerNorm
    let crossAttnTokenToImage: TrainableAttention
    let norm2: SAMHeadsLayers.LayerNorm
    let mlp: SAMHeadsLayers.MLP
    let norm3: SAMHeadsLayers.LayerNorm
    let norm4: SAMHeadsLayers.LayerNorm
    let crossAttnImageToToken: TrainableAttention
    /// Whether the self-attention skips the PE and the residual (layer 0).
    public let skipFirstLayerPE: Bool

    /// Reads the official parameters under `parameters` (e.g. `transformer.layers.0`).
    public init(parameters p: ParameterScope, embeddingDim: Int, numHeads: Int, mlpDim: Int = 2048,
                attentionDownsampleRate: Int = 2, skipFirstLayerPE: Bool = false) throws {
        selfAttn = try TrainableAttention(parameters: p.scoped("self_attn"), embeddingDim: embeddingDim, numHeads: numHeads)
        norm1 = try .init(p.scoped("norm1"), dim: embeddingDim)
        crossAttnTokenToImage = try TrainableAttention(parameters: p.scoped("cross_attn_token_to_image"),
                                                       embeddingDim: embeddingDim, numHeads: numHeads,
                                                       downsampleRate: attentionDownsampleRate)
        norm2 = try .init(p.scoped("norm2"), dim: embeddingDim)
        mlp = try .init(p.scoped("mlp"), inputDim: embeddingDim, hiddenDim: mlpDim, outputDim: embeddingDim, numLayers: 2)
        norm3 = try .init(p.scoped("norm3"), dim: embeddingDim)
        norm4 = try .init(p.scoped("norm4"), dim: embeddingDim)
        crossAttnImageToToken = try TrainableAttention(parameters: p.scoped("cross_attn_image_to_token"),
                                                       embeddingDim: embeddingDim, numHeads: numHeads,
                                                       downsampleRate: attentionDownsampleRate)
        self.skipFirstLayerPE = skipFirstLayerPE
    }

    /// queries [B, Nq, C] (tokens), keys [B, HW, C] (image), queryPE [B, Nq, C], keyPE [1 or B, HW, C].
    public func callAsFunction(queries: Variable, keys: Variable, queryPE: Variable, keyPE: Variable)
        -> (queries: Variable, keys: Variable) {
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

/// Differentiable SAM `TwoWayTransformer`: `depth` two-way blocks, a final token→image attention and LayerNorm.
public struct TrainableTwoWayTransformer {
    /// The two-way blocks.
    public let layers: [TrainableTwoWayAttentionBlock]
    let finalAttnTokenToImage: TrainableAttention
    let normFinalAttn: SAMHeadsLayers.LayerNorm

    /// Reads the official parameters under `parameters` (e.g. `sam_mask_decoder.transformer`).
    public init(parameters p: ParameterScope, depth: Int = 2, embeddingDim: Int, numHeads: Int = 8, mlpDim: Int = 2048,
                attentionDownsampleRate: Int = 2) throws {
        layers = try (0..<depth).map { i in
            try TrainableTwoWayAttentionBlock(parameters: p.scoped("layers.\(i)"), embeddingDim: embeddingDim,
                                              numHeads: numHeads, mlpDim: mlpDim,
                                              attentionDownsampleRate: attentionDownsampleRate, skipFirstLayerPE: i == 0)
        }
        finalAttnTokenToImage = try TrainableAttention(parameters: p.scoped("final_attn_token_to_image"),
                                                       embeddingDim: embeddingDim, numHeads: numHeads,
                                                       downsampleRate: attentionDownsampleRate)
        normFinalAttn = try .init(p.scoped("norm_final_attn"), dim: embeddingDim)
    }

    /// image embedding [B, C, h, w], its PE [1 or B, C, h, w] (a constant), tokens [B, N, C] →
    /// (processed tokens [B, N, C], processed image [B, h·w, C]).
    public func callAsFunction(imageEmbedding: Variable, imagePE: Tensor, pointEmbedding: Variable)
        -> (queries: Variable, keys: Variable) {
        let (b, c, h, w) = (imageEmbedding.shape[0], imageEmbedding.shape[1], imageEmbedding.shape[2], imageEmbedding.shape[3])
        // The PE is shared by the batch: kept at batch 1 and broadcast in the adds.
        let keyPE = Variable.constant(imagePE.reshaped([imagePE.shape[0], c, h * w]).permuted([0, 2, 1]))
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
