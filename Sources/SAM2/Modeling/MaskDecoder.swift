/// Inputs to a mask decoder whose shapes do not fit each other or the decoder.
public enum MaskDecoderError: Error, CustomStringConvertible, Equatable {
    /// `argument` has shape `got`, where `expected` describes what fits.
    case shapeMismatch(argument: String, expected: String, got: [Int])

    public var description: String {
        switch self {
        case let .shapeMismatch(argument, expected, got):
            return "MaskDecoder: \(argument) has shape \(got), expected \(expected)"
        }
    }
}

/// What a mask decoder returns for B prompt sets.
public struct MaskDecoderOutput: Sendable {
    /// Low-resolution mask logits [B, M, 4h, 4w] (M = 3 for multimask output, else 1).
    public var masks: Tensor
    /// Predicted IoU per mask [B, M].
    public var iouPred: Tensor
    /// Output mask tokens [B, T, C] the object pointers are made from.
    public var samTokensOut: Tensor
    /// Object-presence logits [B, 1] (10 when the decoder predicts none).
    public var objectScoreLogits: Tensor

    /// Wraps the four outputs.
    public init(masks: Tensor, iouPred: Tensor, samTokensOut: Tensor, objectScoreLogits: Tensor) {
        self.masks = masks
        self.iouPred = iouPred
        self.samTokensOut = samTokensOut
        self.objectScoreLogits = objectScoreLogits
    }
}

/// Predicts masks from image and prompt embeddings (the predictors depend on this, not on the official type).
public protocol MaskDecoding: Sendable {
    /// image embeddings [1 or B, C, h, w], image PE [1, C, h, w], sparse prompts [B, N, C], dense prompts
    /// [B or 1, C, h, w]; `repeatImage` shares one image embedding among the B prompt sets; `highResFeatures`
    /// are (feat_s0 [·, C/8, 4h, 4w], feat_s1 [·, C/4, 2h, 2w]) already projected by conv_s0 / conv_s1.
    func callAsFunction(imageEmbeddings: Tensor, imagePE: Tensor, sparsePromptEmbeddings: Tensor,
                        densePromptEmbeddings: Tensor, multimaskOutput: Bool, repeatImage: Bool,
                        highResFeatures: [Tensor]?) throws -> MaskDecoderOutput
}

/// Hyper-parameters and flags of SAM 2's `MaskDecoder`; the defaults are those of every released SAM 2 / 2.1
/// model as `build_sam2` makes it (with `apply_postprocessing`, hence the dynamic multimask fallback).
public struct MaskDecoderConfig: Sendable, Equatable {
    public var transformerDim = 256
    public var numMultimaskOutputs = 3
    public var transformerDepth = 2
    public var transformerNumHeads = 8
    public var transformerMLPDim = 2048
    public var attentionDownsampleRate = 2
    public var iouHeadDepth = 3
    public var iouHeadHiddenDim = 256
    public var useHighResFeatures = true
    public var iouPredictionUseSigmoid = true
    public var predObjScores = true
    public var predObjScoresMLP = true
    public var useMultimaskTokenForObjPtr = true
    public var dynamicMultimaskViaStability = true
    public var dynamicMultimaskStabilityDelta: Float = 0.05
    public var dynamicMultimaskStabilityThresh: Float = 0.98

    /// The released configuration with the given hidden dim.
    public init(transformerDim: Int = 256) { self.transformerDim = transformerDim }
}

/// SAM 2's official `MaskDecoder` (sam2/modeling/sam/mask_decoder.py).
public struct MaskDecoder: MaskDecoding {
    public let config: MaskDecoderConfig
    public var transformer: TwoWayTransformer
    /// `iou_token.weight` [1, C].
    public var iouToken: Tensor
    /// `mask_tokens.weight` [numMultimaskOutputs + 1, C].
    public var maskTokens: Tensor
    /// `obj_score_token.weight` [1, C] when `predObjScores`.
    public var objScoreToken: Tensor?
    /// `output_upscaling` layers 0, 1, 3 (GELU at 2 and 4).
    public var outputUpscaling: (convT0: Tensor, convT0Bias: Tensor, norm1: LayerNorm2d, convT3: Tensor, convT3Bias: Tensor)
    /// `conv_s0` (C → C/8) and `conv_s1` (C → C/4), 1×1, when `useHighResFeatures`: see `projectHighResFeatures`.
    public var convS0: Conv2d?
    public var convS1: Conv2d?
    /// `output_hypernetworks_mlps.{i}`: one 3-layer MLP per mask token, C → C → C/8.
    public var outputHypernetworksMLPs: [MLP]
    /// `iou_prediction_head`.
    public var iouPredictionHead: MLP
    /// `pred_obj_score_head` (C → 1) when `predObjScores`: a 3-layer MLP, or a Linear held as a 1-layer MLP.
    public var predObjScoreHead: MLP?

    /// Mask tokens (`num_multimask_outputs + 1`).
    public var numMaskTokens: Int { config.numMultimaskOutputs + 1 }

    /// Reads the official parameters under `w` (e.g. `sam_mask_decoder`).
    public init(_ w: Weights, config: MaskDecoderConfig = MaskDecoderConfig()) throws {
        self.config = config
        let c = config.transformerDim
        let tokens = config.numMultimaskOutputs + 1
        transformer = try TwoWayTransformer(w.scoped("transformer"), depth: config.transformerDepth, embeddingDim: c,
                                            numHeads: config.transformerNumHeads, mlpDim: config.transformerMLPDim,
                                            attentionDownsampleRate: config.attentionDownsampleRate)
        iouToken = try w("iou_token.weight", shape: [1, c])
        maskTokens = try w("mask_tokens.weight", shape: [tokens, c])
        objScoreToken = config.predObjScores ? try w("obj_score_token.weight", shape: [1, c]) : nil
        let up = w.scoped("output_upscaling")
        outputUpscaling = (convT0: try up("0.weight", shape: [c, c / 4, 2, 2]), convT0Bias: try up("0.bias", shape: [c / 4]),
                           norm1: try LayerNorm2d(up.scoped("1"), channels: c / 4),
                           convT3: try up("3.weight", shape: [c / 4, c / 8, 2, 2]), convT3Bias: try up("3.bias", shape: [c / 8]))
        if config.useHighResFeatures {
            convS0 = try Conv2d(w.scoped("conv_s0"), inChannels: c, outChannels: c / 8, kernelSize: 1)
            convS1 = try Conv2d(w.scoped("conv_s1"), inChannels: c, outChannels: c / 4, kernelSize: 1)
        }
        outputHypernetworksMLPs = try (0..<tokens).map { i in
            try MLP(w.scoped("output_hypernetworks_mlps.\(i)"), inputDim: c, hiddenDim: c, outputDim: c / 8, numLayers: 3)
        }
        iouPredictionHead = try MLP(w.scoped("iou_prediction_head"), inputDim: c, hiddenDim: config.iouHeadHiddenDim,
                                    outputDim: tokens, numLayers: config.iouHeadDepth,
                                    sigmoidOutput: config.iouPredictionUseSigmoid)
        if config.predObjScores {
            let head = w.scoped("pred_obj_score_head")
            predObjScoreHead = config.predObjScoresMLP
                ? try MLP(head, inputDim: c, hiddenDim: c, outputDim: 1, numLayers: 3)
                : MLP(layers: [try Linear(head, inFeatures: c, outFeatures: 1)], activation: .relu, sigmoidOutput: false)
        } else {
            predObjScoreHead = nil
        }
    }

    /// The decoder's `conv_s0` / `conv_s1` applied to the backbone's two high-resolution FPN levels [·, C, 4h, 4w]
    /// and [·, C, 2h, 2w], giving the `highResFeatures` argument. The official model does this once per image in
    /// `SAM2Base.forward_image`, not inside the decoder. Nil when the decoder uses no high-res features.
    public func projectHighResFeatures(_ fpnLevel0: Tensor, _ fpnLevel1: Tensor) throws -> [Tensor]? {
        guard let convS0, let convS1 else { return nil }
        let c = config.transformerDim
        for (name, f) in [("FPN level 0", fpnLevel0), ("FPN level 1", fpnLevel1)] where !(f.rank == 4 && f.shape[1] == c) {
            throw MaskDecoderError.shapeMismatch(argument: name, expected: "[B, \(c), H, W]", got: f.shape)
        }
        return [convS0(fpnLevel0), convS1(fpnLevel1)]
    }

    public func callAsFunction(imageEmbeddings: Tensor, imagePE: Tensor, sparsePromptEmbeddings: Tensor,
                               densePromptEmbeddings: Tensor, multimaskOutput: Bool, repeatImage: Bool,
                               highResFeatures: [Tensor]? = nil) throws -> MaskDecoderOutput {
        let all = try predictMasks(imageEmbeddings: imageEmbeddings, imagePE: imagePE,
                                   sparsePromptEmbeddings: sparsePromptEmbeddings,
                                   densePromptEmbeddings: densePromptEmbeddings, repeatImage: repeatImage,
                                   highResFeatures: highResFeatures)
        var masks: Tensor, iouPred: Tensor
        if multimaskOutput {
            masks = all.masks.slice(axis: 1, start: 1)
            iouPred = all.iouPred.slice(axis: 1, start: 1)
        } else if config.dynamicMultimaskViaStability {
            (masks, iouPred) = dynamicMultimaskViaStability(allMaskLogits: all.masks, allIouScores: all.iouPred)
        } else {
            masks = all.masks.slice(axis: 1, start: 0, end: 1)
            iouPred = all.iouPred.slice(axis: 1, start: 0, end: 1)
        }
        // The single-mask token is the object pointer's source unless multimask tokens are asked for and allowed.
        let samTokensOut = multimaskOutput && config.useMultimaskTokenForObjPtr
            ? all.samTokensOut.slice(axis: 1, start: 1)
            : all.samTokensOut.slice(axis: 1, start: 0, end: 1)
        return MaskDecoderOutput(masks: masks, iouPred: iouPred, samTokensOut: samTokensOut,
                                 objectScoreLogits: all.objectScoreLogits)
    }

    /// `predict_masks`: the outputs of every mask token before selection — masks [B, 4, 4h, 4w], IoU [B, 4],
    /// mask tokens [B, 4, C], object-score logits [B, 1].
    public func predictMasks(imageEmbeddings: Tensor, imagePE: Tensor, sparsePromptEmbeddings: Tensor,
                             densePromptEmbeddings: Tensor, repeatImage: Bool,
                             highResFeatures: [Tensor]? = nil) throws -> MaskDecoderOutput {
        let c = config.transformerDim
        let sparse = sparsePromptEmbeddings
        guard sparse.rank == 3, sparse.shape[2] == c else {
            throw MaskDecoderError.shapeMismatch(argument: "sparse prompt embeddings", expected: "[B, N, \(c)]", got: sparse.shape)
        }
        let b = sparse.shape[0]
        guard imageEmbeddings.rank == 4, imageEmbeddings.shape[1] == c,
              imageEmbeddings.shape[0] == (repeatImage ? 1 : b) else {
            throw MaskDecoderError.shapeMismatch(argument: "image embeddings",
                                                 expected: "[\(repeatImage ? 1 : b), \(c), h, w]", got: imageEmbeddings.shape)
        }
        let (h, w) = (imageEmbeddings.shape[2], imageEmbeddings.shape[3])
        guard imagePE.shape == [1, c, h, w] else {
            throw MaskDecoderError.shapeMismatch(argument: "image PE", expected: "[1, \(c), \(h), \(w)]", got: imagePE.shape)
        }
        guard densePromptEmbeddings.rank == 4, [1, b].contains(densePromptEmbeddings.shape[0]),
              Array(densePromptEmbeddings.shape.dropFirst()) == [c, h, w] else {
            throw MaskDecoderError.shapeMismatch(argument: "dense prompt embeddings", expected: "[\(b) or 1, \(c), \(h), \(w)]",
                                                 got: densePromptEmbeddings.shape)
        }
        var featS0: Tensor?, featS1: Tensor?
        if config.useHighResFeatures {
            guard let hr = highResFeatures, hr.count == 2 else {
                throw MaskDecoderError.shapeMismatch(argument: "high-res features", expected: "2 maps (feat_s0, feat_s1)",
                                                     got: [highResFeatures?.count ?? 0])
            }
            for (name, f, ch, s) in [("feat_s0", hr[0], c / 8, 4), ("feat_s1", hr[1], c / 4, 2)] {
                guard f.rank == 4, [1, b].contains(f.shape[0]), Array(f.shape.dropFirst()) == [ch, s * h, s * w] else {
                    throw MaskDecoderError.shapeMismatch(argument: name, expected: "[\(b) or 1, \(ch), \(s * h), \(s * w)]",
                                                         got: f.shape)
                }
            }
            (featS0, featS1) = (hr[0], hr[1])
        }

        // Output tokens: [obj_score,] iou, mask tokens — then the prompt tokens.
        let s = objScoreToken == nil ? 0 : 1
        let outputTokens = Tensor.concat((objScoreToken.map { [$0] } ?? []) + [iouToken, maskTokens], axis: 0)
        let tokens = Tensor.concat([outputTokens.unsqueezed(axis: 0).expanded(to: [b, outputTokens.shape[0], c]), sparse],
                                   axis: 1)
        let image = repeatImage ? imageEmbeddings.repeatInterleaved(b, axis: 0) : imageEmbeddings
        let src = image + densePromptEmbeddings
        let posSrc = imagePE.repeatInterleaved(b, axis: 0)

        let (hs, keys) = transformer(imageEmbedding: src, imagePE: posSrc, pointEmbedding: tokens)
        let iouTokenOut = hs.select(axis: 1, index: s)
        let maskTokensOut = hs.slice(axis: 1, start: s + 1, end: s + 1 + numMaskTokens)

        let up = outputUpscaling
        var x = keys.permuted([0, 2, 1]).reshaped([b, c, h, w])
        x = x.convTranspose2d(weight: up.convT0, bias: up.convT0Bias, stride: (2, 2))
        if let featS1 { x += featS1 }
        x = up.norm1(x).gelu()
        x = x.convTranspose2d(weight: up.convT3, bias: up.convT3Bias, stride: (2, 2))
        if let featS0 { x += featS0 }
        let upscaled = x.gelu()

        let hyperIn = Tensor.concat((0..<numMaskTokens).map { i in
            outputHypernetworksMLPs[i](maskTokensOut.slice(axis: 1, start: i, end: i + 1))
        }, axis: 1)                                                          // [B, 4, C/8]
        let (uh, uw) = (upscaled.shape[2], upscaled.shape[3])
        let masks = hyperIn.matmul(upscaled.reshaped([b, c / 8, uh * uw])).reshaped([b, numMaskTokens, uh, uw])

        let iouPred = iouPredictionHead(iouTokenOut)
        // Without an object-score head the object is taken as present: sigmoid(10) ≈ 1.
        let objectScoreLogits = predObjScoreHead.map { $0(hs.select(axis: 1, index: 0)) }
            ?? Tensor(shape: [b, 1], repeating: 10)
        return MaskDecoderOutput(masks: masks, iouPred: iouPred, samTokensOut: maskTokensOut,
                                 objectScoreLogits: objectScoreLogits)
    }

    /// `_get_stability_scores`: per mask (last two dims), |logits > δ| / |logits > −δ|, or 1 when the
    /// looser area is empty. [..., H, W] → [...].
    public func getStabilityScores(_ maskLogits: Tensor) -> Tensor {
        Self.stabilityScores(maskLogits, delta: config.dynamicMultimaskStabilityDelta)
    }

    /// `_get_stability_scores` with an explicit δ.
    public static func stabilityScores(_ maskLogits: Tensor, delta: Float) -> Tensor {
        precondition(maskLogits.rank >= 2, "stabilityScores: need [..., H, W], got \(maskLogits.shape)")
        let lead = Array(maskLogits.shape.dropLast(2))
        let plane = maskLogits.shape[maskLogits.rank - 2] * maskLogits.shape[maskLogits.rank - 1]
        let masks = lead.reduce(1, *)
        return Tensor(shape: lead) { out in
            maskLogits.withUnsafeBufferPointer { x in
                let o = out
                Parallel.forChunks(masks, grain: max(1, 65536 / max(1, plane))) { range in
                    for m in range {
                        var inner = 0, outer = 0
                        for v in x[(m * plane)..<((m + 1) * plane)] {
                            if v > delta { inner += 1 }
                            if v > -delta { outer += 1 }
                        }
                        o[m] = outer > 0 ? Float(inner) / Float(outer) : 1
                    }
                }
            }
        }
    }

    /// `_dynamic_multimask_via_stability`: per batch item, the single-mask output (token 0) if its stability
    /// score reaches the threshold, else the multimask output (tokens 1…) with the highest predicted IoU
    /// (first on ties). allMaskLogits [B, M, H, W], allIouScores [B, M] → ([B, 1, H, W], [B, 1]).
    public func dynamicMultimaskViaStability(allMaskLogits: Tensor, allIouScores: Tensor) -> (masks: Tensor, iouPred: Tensor) {
        precondition(allMaskLogits.rank == 4 && allIouScores.shape == Array(allMaskLogits.shape.prefix(2))
                     && allIouScores.shape[1] >= 2,
                     "dynamicMultimaskViaStability: logits \(allMaskLogits.shape) and IoU \(allIouScores.shape) do not fit")
        let b = allMaskLogits.shape[0], m = allMaskLogits.shape[1]
        let single = allMaskLogits.slice(axis: 1, start: 0, end: 1)
        let stability = getStabilityScores(single)                          // [B, 1]
        var pick = [Int](repeating: 0, count: b)
        for i in 0..<b where !(stability.data[i] >= config.dynamicMultimaskStabilityThresh) {
            var best = 1
            for j in 2..<m where allIouScores.data[i * m + j] > allIouScores.data[i * m + best] { best = j }
            pick[i] = best
        }
        let masks = Tensor.concat((0..<b).map { i in
            allMaskLogits.slice(axis: 0, start: i, end: i + 1).slice(axis: 1, start: pick[i], end: pick[i] + 1)
        }, axis: 0)
        let iou = Tensor(shape: [b, 1], data: (0..<b).map { allIouScores.data[$0 * m + pick[$0]] })
        return (masks, iou)
    }
}

extension MLP {
    /// Wraps given layers (a lone Linear head becomes a 1-layer MLP).
    fileprivate init(layers: [Linear], activation: Activation, sigmoidOutput: Bool) {
        self.layers = layers
        self.activation = activation
        self.sigmoidOutput = sigmoidOutput
    }
}
