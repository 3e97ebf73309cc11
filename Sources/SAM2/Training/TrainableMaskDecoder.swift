import Foundation

/// What `TrainableMaskDecoder` returns for B prompt sets.
public struct TrainableMaskDecoderOutput {
    /// Low-resolution mask logits [B, M, 4h, 4w] (M = 3 for multimask output, else 1).
    public var masks: Variable
    /// Predicted IoU per mask [B, M].
    public var iouPred: Variable
    /// Output mask tokens [B, T, C] the object pointers are made from (as `MaskDecoderOutput.samTokensOut`).
    public var samTokensOut: Variable
    /// Object-presence logits [B, 1] (a constant 10 when the decoder predicts none).
    public var objectScoreLogits: Variable

    /// Wraps the four outputs.
    public init(masks: Variable, iouPred: Variable, samTokensOut: Variable, objectScoreLogits: Variable) {
        self.masks = masks
        self.iouPred = iouPred
        self.samTokensOut = samTokensOut
        self.objectScoreLogits = objectScoreLogits
    }
}

/// Differentiable SAM 2 `MaskDecoder` (sam2/modeling/sam/mask_decoder.py) over the same parameters as
/// `MaskDecoder`, in the official training-mode semantics:
/// - no dynamic multimask via stability (the official code applies it only when `not self.training`), so
///   `multimaskOutput == false` always returns mask token 0, whatever `config.dynamicMultimaskViaStability` says;
/// - no dropout exists in these modules;
/// - one image embedding per prompt set (`repeat_image` false, as `SAM2Base._forward_sam_heads` calls it); an
///   image batch of 1 is also accepted and shared by all B prompt sets.
public struct TrainableMaskDecoder {
    public let config: MaskDecoderConfig
    /// The two-way transformer.
    public let transformer: TrainableTwoWayTransformer
    let iouToken: Variable
    let maskTokens: Variable
    let objScoreToken: Variable?
    let upConvT0: Variable, upConvT0Bias: Variable
    let upNorm1: SAMHeadsLayers.LayerNorm2d
    let upConvT3: Variable, upConvT3Bias: Variable
    let outputHypernetworksMLPs: [SAMHeadsLayers.MLP]
    let iouPredictionHead: SAMHeadsLayers.MLP
    let predObjScoreHead: SAMHeadsLayers.MLP?

    /// Mask tokens (`num_multimask_outputs + 1`).
    public var numMaskTokens: Int { config.numMultimaskOutputs + 1 }

    /// Reads the official parameters under `parameters` (`store.scope("sam_mask_decoder")`); `conv_s0` /
    /// `conv_s1` are not read here (the caller projects the high-res features, as SAM2Base.forward_image does).
    public init(config: MaskDecoderConfig, parameters p: ParameterScope) throws {
        self.config = config
        let c = config.transformerDim
        let tokens = config.numMultimaskOutputs + 1
        transformer = try TrainableTwoWayTransformer(parameters: p.scoped("transformer"), depth: config.transformerDepth,
                                                     embeddingDim: c, numHeads: config.transformerNumHeads,
                                                     mlpDim: config.transformerMLPDim,
                                                     attentionDownsampleRate: config.attentionDownsampleRate)
        iouToken = try p("iou_token.weight", shape: [1, c])
        maskTokens = try p("mask_tokens.weight", shape: [tokens, c])
        objScoreToken = config.predObjScores ? try p("obj_score_token.weight", shape: [1, c]) : nil
        let up = p.scoped("output_upscaling")
        upConvT0 = try up("0.weight", shape: [c, c / 4, 2, 2])
        upConvT0Bias = try up("0.bias", shape: [c / 4])
        upNorm1 = try .init(up.scoped("1"), channels: c / 4)
        upConvT3 = try up("3.weight", shape: [c / 4, c / 8, 2, 2])
        upConvT3Bias = try up("3.bias", shape: [c / 8])
        outputHypernetworksMLPs = try (0..<tokens).map { i in
            try .init(p.scoped("output_hypernetworks_mlps.\(i)"), inputDim: c, hiddenDim: c, outputDim: c / 8, numLayers: 3)
        }
        iouPredictionHead = try .init(p.scoped("iou_prediction_head"), inputDim: c, hiddenDim: config.iouHeadHiddenDim,
                                      outputDim: tokens, numLayers: config.iouHeadDepth,
                                      sigmoidOutput: config.iouPredictionUseSigmoid)
        if config.predObjScores {
            let head = p.scoped("pred_obj_score_head")
            predObjScoreHead = config.predObjScoresMLP
                ? try .init(head, inputDim: c, hiddenDim: c, outputDim: 1, numLayers: 3)
                : .init(single: try .init(head, inFeatures: c, outFeatures: 1))
        } else {
            predObjScoreHead = nil
        }
    }

    /// highResFeatures: the conv_s0/conv_s1-projected maps [B, C/8, 4h, 4w], [B, C/4, 2h, 2w] (the caller applies conv_s0/s1).
    public func callAsFunction(imageEmbeddings: Variable, imagePE: Tensor, sparsePromptEmbeddings: Variable,
                               densePromptEmbeddings: Variable, multimaskOutput: Bool,
                               highResFeatures: [Variable]?) throws -> TrainableMaskDecoderOutput {
        let all = try predictMasks(imageEmbeddings: imageEmbeddings, imagePE: imagePE,
                                   sparsePromptEmbeddings: sparsePromptEmbeddings,
                                   densePromptEmbeddings: densePromptEmbeddings, highResFeatures: highResFeatures)
        // Training mode: no dynamic multimask via stability (see the type's comment).
        let masks = multimaskOutput ? all.masks.slice(axis: 1, start: 1) : all.masks.slice(axis: 1, start: 0, end: 1)
        let iouPred = multimaskOutput ? all.iouPred.slice(axis: 1, start: 1) : all.iouPred.slice(axis: 1, start: 0, end: 1)
        let samTokensOut = multimaskOutput && config.useMultimaskTokenForObjPtr
            ? all.samTokensOut.slice(axis: 1, start: 1)
            : all.samTokensOut.slice(axis: 1, start: 0, end: 1)
        return TrainableMaskDecoderOutput(masks: masks, iouPred: iouPred, samTokensOut: samTokensOut,
                                          objectScoreLogits: all.objectScoreLogits)
    }

    /// `predict_masks`: every mask token's outputs before selection — masks [B, M+1, 4h, 4w], IoU [B, M+1],
    /// mask tokens [B, M+1, C], object-score logits [B, 1].
    public func predictMasks(imageEmbeddings: Variable, imagePE: Tensor, sparsePromptEmbeddings: Variable,
                             densePromptEmbeddings: Variable, highResFeatures: [Variable]?) throws -> TrainableMaskDecoderOutput {
        let c = config.transformerDim
        let sparse = sparsePromptEmbeddings
        guard sparse.value.rank == 3, sparse.shape[2] == c else {
            throw MaskDecoderError.shapeMismatch(argument: "sparse prompt embeddings", expected: "[B, N, \(c)]", got: sparse.shape)
        }
        let b = sparse.shape[0]
        guard imageEmbeddings.value.rank == 4, imageEmbeddings.shape[1] == c, [1, b].contains(imageEmbeddings.shape[0]) else {
            throw MaskDecoderError.shapeMismatch(argument: "image embeddings", expected: "[\(b), \(c), h, w]",
                                                 got: imageEmbeddings.shape)
        }
        let (h, w) = (imageEmbeddings.shape[2], imageEmbeddings.shape[3])
        guard imagePE.shape == [1, c, h, w] else {
            throw MaskDecoderError.shapeMismatch(argument: "image PE", expected: "[1, \(c), \(h), \(w)]", got: imagePE.shape)
        }
        let dense = densePromptEmbeddings
        guard dense.value.rank == 4, [1, b].contains(dense.shape[0]), Array(dense.shape.dropFirst()) == [c, h, w] else {
            throw MaskDecoderError.shapeMismatch(argument: "dense prompt embeddings", expected: "[\(b) or 1, \(c), \(h), \(w)]",
                                                 got: dense.shape)
        }
        var featS0: Variable?, featS1: Variable?
        if config.useHighResFeatures {
            guard let hr = highResFeatures, hr.count == 2 else {
                throw MaskDecoderError.shapeMismatch(argument: "high-res features", expected: "2 maps (feat_s0, feat_s1)",
                                                     got: [highResFeatures?.count ?? 0])
            }
            for (name, f, ch, s) in [("feat_s0", hr[0], c / 8, 4), ("feat_s1", hr[1], c / 4, 2)] {
                guard f.value.rank == 4, [1, b].contains(f.shape[0]), Array(f.shape.dropFirst()) == [ch, s * h, s * w] else {
                    throw MaskDecoderError.shapeMismatch(argument: name, expected: "[\(b) or 1, \(ch), \(s * h), \(s * w)]",
                                                         got: f.shape)
                }
            }
            (featS0, featS1) = (hr[0], hr[1])
        }

        // Output tokens: [obj_score,] iou, mask tokens — then the prompt tokens.
        let s = objScoreToken == nil ? 0 : 1
        let outputTokens = Variable.concat((objScoreToken.map { [$0] } ?? []) + [iouToken, maskTokens], axis: 0)
        let t = outputTokens.shape[0]
        let tokens = Variable.concat([outputTokens.unsqueezed(axis: 0).expanded(to: [b, t, c]), sparse], axis: 1)
        // Broadcasting add: a batch-1 image is shared by the B prompt sets without a copy of its own.
        var src = imageEmbeddings + dense
        if src.shape[0] != b { src = src.expanded(to: [b, c, h, w]) }

        let (hs, keys) = transformer(imageEmbedding: src, imagePE: imagePE, pointEmbedding: tokens)
        let iouTokenOut = hs.select(axis: 1, index: s)
        let maskTokensOut = hs.slice(axis: 1, start: s + 1, end: s + 1 + numMaskTokens)

        // output_upscaling: ConvTranspose2d(2, 2) → (+ feat_s1) → LayerNorm2d → GELU → ConvTranspose2d(2, 2) →
        // (+ feat_s0) → GELU. A 2×2 stride-2 transposed convolution has no overlapping taps: it is one GEMM
        // [pixels, Cin] × [Cin, Cout·2·2] and a pixel shuffle. The first stage stays channels-last (the keys already
        // are, and the LayerNorm2d is then a plain LayerNorm), the second shuffles straight to [B, C/8, 4h, 4w].
        let c4 = c / 4, c8 = c / 8
        var x = keys.reshaped([b * h * w, c]).matmul(upConvT0.reshaped([c, c4 * 4]))
            .reshaped([b, h, w, c4, 2, 2]).permuted([0, 1, 4, 2, 5, 3]).reshaped([b, 2 * h, 2 * w, c4])
            + upConvT0Bias
        if let featS1 { x = x + featS1.permuted([0, 2, 3, 1]) }
        x = x.layerNorm(weight: upNorm1.weight, bias: upNorm1.bias, eps: upNorm1.eps).gelu()
        x = x.reshaped([b * 4 * h * w, c4]).matmul(upConvT3.reshaped([c4, c8 * 4]))
            .reshaped([b, 2 * h, 2 * w, c8, 2, 2]).permuted([0, 3, 1, 4, 2, 5]).reshaped([b, c8, 4 * h, 4 * w])
            + upConvT3Bias.reshaped([1, c8, 1, 1])
        if let featS0 { x = x + featS0 }
        let upscaled = x.gelu()                                                      // [B, C/8, 4h, 4w]

        let hyperIn = Variable.concat((0..<numMaskTokens).map { i in
            outputHypernetworksMLPs[i](maskTokensOut.slice(axis: 1, start: i, end: i + 1))
        }, axis: 1)                                                                  // [B, M+1, C/8]
        let (uh, uw) = (upscaled.shape[2], upscaled.shape[3])
        let masks = hyperIn.matmul(upscaled.reshaped([b, c / 8, uh * uw])).reshaped([b, numMaskTokens, uh, uw])

        let iouPred = iouPredictionHead(iouTokenOut)
        // Without an object-score head the object is taken as present: sigmoid(10) ≈ 1.
        let objectScoreLogits = predObjScoreHead.map { $0(hs.select(axis: 1, index: 0)) }
            ?? Variable.constant(Tensor(shape: [b, 1], repeating: 10))
        return TrainableMaskDecoderOutput(masks: masks, iouPred: iouPred, samTokensOut: maskTokensOut,
                                          objectScoreLogits: objectScoreLogits)
    }
}
