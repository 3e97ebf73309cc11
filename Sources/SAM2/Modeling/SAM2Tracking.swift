import Foundation

/// Errors of the video model (tracking step, memory assembly).
public enum SAM2TrackingError: Error, CustomStringConvertible, Equatable {
    case emptyMemory(frame: Int, policy: String)
    case missingMemory(frame: Int, memoryFrame: Int, policy: String)
    case badSlot(frame: Int, tPos: Int, slots: Int, policy: String)
    case missingParameter(key: String, needed: String)
    case badInput(argument: String, expected: String, got: [Int])

    public var description: String {
        switch self {
        case let .emptyMemory(frame, policy):
            return "frame \(frame): memory policy '\(policy)' selected no memory and no object pointer (add a prompt first)"
        case let .missingMemory(frame, memoryFrame, policy):
            return "frame \(frame): memory policy '\(policy)' selected frame \(memoryFrame), which holds no encoded memory"
        case let .badSlot(frame, tPos, slots, policy):
            return "frame \(frame): memory policy '\(policy)' used temporal slot \(tPos), the model has \(slots) (0..<\(slots))"
        case let .missingParameter(key, needed):
            return "checkpoint has no '\(key)', needed for \(needed)"
        case let .badInput(argument, expected, got): return "\(argument): expected \(expected), got shape \(got)"
        }
    }
}

/// The SAM2Base flags that shape tracking (video config of every released SAM 2 / 2.1 model by default).
public struct SAM2TrackingConfig: Sendable, Equatable {
    /// `num_maskmem` (from `maskmem_tpos_enc`).
    public var numMaskmem = 7
    /// `sigmoid_scale_for_mem_enc` / `sigmoid_bias_for_mem_enc`: mask → memory-encoder input.
    public var sigmoidScaleForMemEnc: Float = 20
    public var sigmoidBiasForMemEnc: Float = -10
    /// A mask prompt becomes the output (±10 logits) without running SAM.
    public var useMaskInputAsOutputWithoutSam = true
    /// Initial conditioning frames get `no_mem_embed` added instead of memory attention.
    public var directlyAddNoMemEmbed = true
    /// Multimask output on conditioning frames for 0…1 clicks (`multimask_min/max_pt_num`).
    public var multimaskOutputInSam = true
    public var multimaskMinPtNum = 0
    public var multimaskMaxPtNum = 1
    /// Multimask also on tracked frames (best predicted IoU wins).
    public var multimaskOutputForTracking = true
    /// `use_obj_ptrs_in_encoder`.
    public var useObjPtrsInEncoder = true
    /// `max_obj_ptrs_in_encoder` (the official policy's default pointer count).
    public var maxObjPtrsInEncoder = 16
    /// SAM 2.1: signed temporal distances for conditioning-frame pointers.
    public var useSignedTposEncToObjPtrs = true
    /// `pred_obj_scores`: object-score occlusion handling (masks −1024, no-object pointer).
    public var predObjScores = true
    /// `fixed_no_obj_ptr` / `soft_no_obj_ptr`.
    public var fixedNoObjPtr = true
    public var softNoObjPtr = false
    /// Masks from clicks are binarised before the memory encoder (video predictor builder: true).
    public var binarizeMaskFromPtsForMemEnc = true
    /// `non_overlap_masks_for_mem_enc`.
    public var nonOverlapMasksForMemEnc = false
    /// Precision of stored memory features (official: bfloat16).
    public var memoryPrecision: MemoryPrecision = .bfloat16

    public init() {}

    /// The flags of a checkpoint: SAM 2.1 (has `no_obj_embed_spatial` or `obj_ptr_tpos_proj`) uses signed
    /// pointer distances; slots come from `maskmem_tpos_enc`; the rest are the released values.
    public static func inferred(from checkpoint: Checkpoint, family: InferredModelConfig.Family?) -> SAM2TrackingConfig {
        var c = SAM2TrackingConfig()
        let shapes = checkpoint.shapes
        if let slots = shapes["maskmem_tpos_enc"]?.first { c.numMaskmem = slots }
        let is21 = family == .sam2_1 || shapes["no_obj_embed_spatial"] != nil
        c.useSignedTposEncToObjPtrs = is21 && shapes["obj_ptr_tpos_proj.weight"] != nil
        c.useObjPtrsInEncoder = shapes["obj_ptr_proj.layers.0.weight"] != nil || shapes["obj_ptr_proj.weight"] != nil
        c.predObjScores = shapes["sam_mask_decoder.obj_score_token.weight"] != nil
        c.fixedNoObjPtr = shapes["no_obj_ptr"] != nil
        return c
    }
}

/// One frame's features as tracking uses them (`_prepare_backbone_features`).
public struct TrackingFrameFeatures: Sendable {
    /// Stride-16 features [1, C, h, w] without `no_mem_embed`.
    public var visionFeatures: Tensor
    /// Their positional encoding [1, C, h, w].
    public var visionPosEnc: Tensor
    /// conv_s0 / conv_s1 projected high-resolution maps (nil when the decoder uses none).
    public var highResFeatures: [Tensor]?

    public init(visionFeatures: Tensor, visionPosEnc: Tensor, highResFeatures: [Tensor]?) {
        self.visionFeatures = visionFeatures
        self.visionPosEnc = visionPosEnc
        self.highResFeatures = highResFeatures
    }
}

/// `_forward_sam_heads` / `_use_mask_as_output` outputs for B prompt sets.
public struct SAMHeadsOutput: Sendable {
    /// All returned masks [B, M, 4h, 4w] (−1024 where the object is absent).
    public var lowResMultimasks: Tensor
    /// IoU estimates [B, M].
    public var ious: Tensor
    /// The chosen mask [B, 1, 4h, 4w].
    public var lowResMasks: Tensor
    /// The chosen mask at the model's input size [B, 1, S, S].
    public var highResMasks: Tensor
    /// Object pointers [B, C].
    public var objPtr: Tensor
    /// Object-score logits [B, 1].
    public var objectScoreLogits: Tensor
}

/// What `trackStep` returns for one object on one frame.
public struct TrackStepOutput: Sendable {
    /// Low-resolution logits [1, 1, 4h, 4w] (before hole filling).
    public var predMasks: Tensor
    /// The same at input size [1, 1, S, S].
    public var predMasksHighRes: Tensor
    public var objPtr: Tensor
    public var objectScoreLogits: Tensor
    /// Memory features [1, memDim, h, w] (nil unless the memory encoder ran).
    public var maskmemFeatures: Tensor?
    /// What the memory attention saw (nil on initial conditioning frames and mask-as-output frames).
    public var selection: MemorySelection?
}

/// Seconds spent per part since the last reset (for `bench track`).
public struct TrackingTimings: Sendable, Equatable {
    public var encoder = 0.0, memoryAttention = 0.0, decoder = 0.0, memoryEncoder = 0.0
    public init() {}
    public var total: Double { encoder + memoryAttention + decoder + memoryEncoder }
}

/// SAM 2 with its memory: the image model plus memory encoder, memory attention, object pointers and
/// temporal encodings (SAM2Base's tracking path). Which memories are attended to is a `MemoryPolicy`'s choice.
public final class SAM2VideoModel: @unchecked Sendable {
    /// The image path (encoder, prompt encoder, mask decoder).
    public let model: SAM2Model
    public let config: SAM2TrackingConfig
    public let memoryEncoder: MemoryEncoder
    public let memoryAttention: MemoryAttention
    /// Learned embeddings and object-pointer heads.
    public let embeddings: MemoryEmbeddings
    /// `mask_downsample` (1→1, 4×4 stride 4): a mask prompt → decoder mask input for its object pointer.
    public let maskDownsample: Conv2d?
    /// Memory-grid positional encoding [1, h·w, memDim] (the same for every frame).
    public let maskmemPosEncTokens: Tensor
    /// Accumulated time per part.
    public var timings = TrackingTimings()

    public var hiddenDim: Int { model.config.hiddenDim }
    public var memDim: Int { embeddings.memDim }
    public var imageSize: Int { model.config.imageSize }
    /// Settings a memory policy must respect.
    public var memorySettings: MemoryModelSettings {
        MemoryModelSettings(numMaskmem: embeddings.numMaskmem, useObjPtrsInEncoder: config.useObjPtrsInEncoder,
                            useSignedTposEncToObjPtrs: config.useSignedTposEncToObjPtrs)
    }

    /// Loads the full model from a `.pt` or `.safetensors` checkpoint with memory modules.
    public convenience init(checkpoint path: String, config name: String? = nil, imageSize: Int? = nil,
                            parts: SAM2Model.Parts = SAM2Model.Parts()) throws {
        let checkpoint = try Checkpoint.open(path)
        let modelConfig = try SAM2ModelConfig.inferred(from: checkpoint, imageSize: imageSize, name: name)
        let model = try SAM2Model(checkpoint: checkpoint, config: modelConfig, parts: parts)
        try self.init(model: model, checkpoint: checkpoint)
    }

    /// Adds the memory modules of `checkpoint` to an image model built from it.
    public init(model: SAM2Model, checkpoint: Checkpoint, config: SAM2TrackingConfig? = nil) throws {
        self.model = model
        let w = Weights(checkpoint)
        let shapes = checkpoint.shapes
        let hidden = model.config.hiddenDim
        let memDim = shapes["memory_encoder.out_proj.weight"]?.first ?? hidden
        var tracking = config ?? SAM2TrackingConfig.inferred(from: checkpoint, family: model.config.family)
        tracking.multimaskOutputInSam = model.config.multimaskOutputInSam
        tracking.directlyAddNoMemEmbed = model.config.directlyAddNoMemEmbed
        self.config = tracking
        var mec = MemoryEncoderConfig(inDim: hidden, outDim: memDim)
        var fuserLayers = 0
        while shapes["memory_encoder.fuser.layers.\(fuserLayers).dwconv.weight"] != nil { fuserLayers += 1 }
        if fuserLayers > 0 { mec.fuserNumLayers = fuserLayers }
        memoryEncoder = try MemoryEncoder(w.scoped("memory_encoder"), config: mec)
        let e = model.config.embeddingSize
        var mac = MemoryAttentionConfig(dModel: hidden, kvInDim: memDim, featSizes: [e, e])
        var layers = 0
        while shapes["memory_attention.layers.\(layers).linear1.weight"] != nil { layers += 1 }
        if layers > 0 { mac.numLayers = layers }
        if let ff = shapes["memory_attention.layers.0.linear1.weight"]?.first { mac.dimFeedforward = ff }
        memoryAttention = try MemoryAttention(w.scoped("memory_attention"), config: mac)
        embeddings = try MemoryEmbeddings(w, hiddenDim: hidden, memDim: memDim)
        maskDownsample = w.contains("mask_downsample.weight")
            ? try Conv2d(w.scoped("mask_downsample"), inChannels: 1, outChannels: 1, kernelSize: 4, stride: 4) : nil
        let pe = memoryEncoder.positionEncoding.encoding(height: e, width: e)      // [1, memDim, e, e]
        maskmemPosEncTokens = pe.reshaped([1, memDim, e * e]).permuted([0, 2, 1])
    }

    // MARK: - Frame features

    /// Encodes a normalised frame [1, 3, S, S] (`forward_image` + `_prepare_backbone_features`).
    public func frameFeatures(_ image: Tensor) throws -> TrackingFrameFeatures {
        let start = Date()
        defer { timings.encoder += Date().timeIntervalSince(start) }
        let f = try model.forwardImage(image, addNoMemEmbed: false)
        return TrackingFrameFeatures(visionFeatures: f.imageEmbed, visionPosEnc: f.backbone.visionPosEnc.last ?? f.imageEmbed,
                                     highResFeatures: f.highResFeatures.isEmpty ? nil : f.highResFeatures)
    }

    // MARK: - SAM heads

    /// `_forward_sam_heads`: prompt encoder + mask decoder on (memory-conditioned) features [B, C, h, w].
    /// Points are in the model's input frame ([B, N, 2], labels [B, N]); masks [B, 1, ·, ·] (resized to the
    /// decoder's mask input size if needed).
    public func forwardSamHeads(backboneFeatures: Tensor, points: (coords: Tensor, labels: Tensor)? = nil,
                                maskInputs: Tensor? = nil, highResFeatures: [Tensor]?,
                                multimaskOutput: Bool = false) throws -> SAMHeadsOutput {
        let start = Date()
        defer { timings.decoder += Date().timeIntervalSince(start) }
        let b = backboneFeatures.shape[0]
        let pts = points ?? (Tensor.zeros([b, 1, 2]), Tensor(shape: [b, 1], repeating: -1))
        var maskPrompt: Tensor? = nil
        if let maskInputs {
            guard maskInputs.rank == 4, maskInputs.shape[0] == b, maskInputs.shape[1] == 1 else {
                throw SAM2TrackingError.badInput(argument: "mask_inputs", expected: "[\(b), 1, H, W]", got: maskInputs.shape)
            }
            let m = model.promptEncoder.maskInputSize
            maskPrompt = maskInputs.shape[2] == m.height && maskInputs.shape[3] == m.width ? maskInputs
                : maskInputs.interpolate(size: (m.height, m.width), mode: .bilinear, alignCorners: false, antialias: true)
        }
        let (sparse, dense) = try model.promptEncoder(points: pts, boxes: nil, masks: maskPrompt)
        let out = try model.maskDecoder(imageEmbeddings: backboneFeatures, imagePE: model.promptEncoder.getDensePE(),
                                        sparsePromptEmbeddings: sparse, densePromptEmbeddings: dense,
                                        multimaskOutput: multimaskOutput, repeatImage: false,
                                        highResFeatures: highResFeatures)
        var multimasks = out.masks
        let scores = out.objectScoreLogits                                   // [B, 1]
        let m = multimasks.shape[1], plane = multimasks.shape[2] * multimasks.shape[3]
        if config.predObjScores {
            multimasks.withUnsafeMutableBufferPointer { buf in
                for i in 0..<b where !(scores.data[i] > 0) {
                    for j in (i * m * plane)..<((i + 1) * m * plane) { buf[j] = noObjScore }
                }
            }
        }
        // Best IoU per item (first maximum, as torch.argmax).
        var best = [Int](repeating: 0, count: b)
        if multimaskOutput {
            for i in 0..<b {
                for j in 1..<m where out.iouPred.data[i * m + j] > out.iouPred.data[i * m + best[i]] { best[i] = j }
            }
        }
        let lowRes = Tensor.concat((0..<b).map { multimasks.slice(axis: 0, start: $0, end: $0 + 1).slice(axis: 1, start: best[$0], end: best[$0] + 1) }, axis: 0)
        let s = imageSize
        let highRes = lowRes.interpolate(size: (s, s), mode: .bilinear, alignCorners: false)
        let tokens = out.samTokensOut                                        // [B, T, C]
        let token = Tensor.concat((0..<b).map { i in
            tokens.slice(axis: 0, start: i, end: i + 1).select(axis: 1, index: tokens.shape[1] > 1 ? best[i] : 0)
        }, axis: 0)                                                          // [B, C]
        var objPtr = embeddings.objPtrProj(token)
        if config.predObjScores {
            let lambda = Tensor(shape: [b, 1], data: (0..<b).map { i in
                config.softNoObjPtr ? 1 / (1 + Foundation.exp(-scores.data[i])) : (scores.data[i] > 0 ? 1 : 0)
            })
            objPtr = blendNoObjPtr(objPtr, lambda: lambda)
        }
        return SAMHeadsOutput(lowResMultimasks: multimasks, ious: out.iouPred, lowResMasks: lowRes, highResMasks: highRes,
                              objPtr: objPtr, objectScoreLogits: scores)
    }

    private func blendNoObjPtr(_ ptr: Tensor, lambda: Tensor) -> Tensor {
        var p = ptr
        if config.fixedNoObjPtr { p = lambda * p }
        if let noObjPtr = embeddings.noObjPtr { p = p + (1 - lambda) * noObjPtr }
        return p
    }

    /// `_use_mask_as_output`: a binary mask [B, 1, S, S] becomes ±10 logits; its object pointer comes from the
    /// decoder run on the downsampled mask; the object is present iff the mask has a foreground pixel.
    public func useMaskAsOutput(backboneFeatures: Tensor, highResFeatures: [Tensor]?, maskInputs: Tensor) throws -> SAMHeadsOutput {
        let b = maskInputs.shape[0]
        let outScale: Float = 20, outBias: Float = -10
        let highRes = maskInputs * outScale + outBias
        let lowRes = highRes.interpolate(size: (highRes.shape[2] / 4, highRes.shape[3] / 4), mode: .bilinear,
                                         alignCorners: false, antialias: true)
        var objPtr: Tensor
        if config.useObjPtrsInEncoder {
            guard let maskDownsample else {
                throw SAM2TrackingError.missingParameter(key: "mask_downsample.weight", needed: "object pointers of mask prompts")
            }
            objPtr = try forwardSamHeads(backboneFeatures: backboneFeatures, maskInputs: maskDownsample(maskInputs),
                                         highResFeatures: highResFeatures).objPtr
        } else {
            objPtr = Tensor.zeros([b, hiddenDim])
        }
        let plane = maskInputs.count / max(1, b)
        let lambda = Tensor(shape: [b, 1], data: (0..<b).map { i in
            maskInputs.data[(i * plane)..<((i + 1) * plane)].contains { $0 > 0 } ? 1 : 0
        })
        let scores = outScale * lambda + outBias
        if config.predObjScores { objPtr = blendNoObjPtr(objPtr, lambda: lambda) }
        return SAMHeadsOutput(lowResMultimasks: lowRes, ious: Tensor.ones([b, 1]), lowResMasks: lowRes, highResMasks: highRes,
                              objPtr: objPtr, objectScoreLogits: scores)
    }

    // MARK: - Memory

    /// `_encode_new_memory`: frame features [1, C, h, w] and mask logits [1, 1, S, S] → memory features
    /// [1, memDim, h, w] (mask binarised when it comes from clicks, else sigmoid; ×20 − 10; `no_obj_embed_spatial`
    /// added when the object is absent).
    public func encodeNewMemory(visionFeatures: Tensor, predMasksHighRes: Tensor, objectScoreLogits: Tensor,
                                isMaskFromPts: Bool) -> Tensor {
        let start = Date()
        defer { timings.memoryEncoder += Date().timeIntervalSince(start) }
        var masks = predMasksHighRes
        if config.nonOverlapMasksForMemEnc { masks = Self.applyNonOverlappingConstraints(masks) }
        var maskForMem = config.binarizeMaskFromPtsForMemEnc && isMaskFromPts ? masks.map { $0 > 0 ? 1 : 0 } : masks.sigmoid()
        if config.sigmoidScaleForMemEnc != 1 { maskForMem = maskForMem * config.sigmoidScaleForMemEnc }
        if config.sigmoidBiasForMemEnc != 0 { maskForMem = maskForMem + config.sigmoidBiasForMemEnc }
        var features = memoryEncoder(pixFeat: visionFeatures, masks: maskForMem, skipMaskSigmoid: true).visionFeatures
        if let noObj = embeddings.noObjEmbedSpatial {
            let b = features.shape[0], plane = features.shape[2] * features.shape[3], c = features.shape[1]
            features.withUnsafeMutableBufferPointer { buf in
                for i in 0..<b where !(objectScoreLogits.data[i] > 0) {
                    for ch in 0..<c {
                        let v = noObj.data[ch], base = (i * c + ch) * plane
                        for p in 0..<plane { buf[base + p] += v }
                    }
                }
            }
        }
        return features
    }

    /// `_prepare_memory_conditioned_features`: the frame's features conditioned on the memories and pointers the
    /// policy selects from `bank` ([1, C, h, w]); an initial conditioning frame gets `no_mem_embed` instead.
    /// `maskmemPosEnc` [1, memDim, h, w] replaces the memory encoder's sine encoding (tests).
    public func prepareMemoryConditionedFeatures(frameIdx: Int, isInitCondFrame: Bool, features: TrackingFrameFeatures,
                                                 bank: MemoryBank, policy: any MemoryPolicy, numFrames: Int,
                                                 reverse: Bool, maskmemPosEnc: Tensor? = nil) throws -> (pixFeat: Tensor, selection: MemorySelection?) {
        let c = hiddenDim, h = features.visionFeatures.shape[2], w = features.visionFeatures.shape[3]
        if isInitCondFrame && config.directlyAddNoMemEmbed {
            return (features.visionFeatures + embeddings.noMemEmbed.reshaped([1, c, 1, 1]), nil)
        }
        let start = Date()
        defer { timings.memoryAttention += Date().timeIntervalSince(start) }
        var memory: [Tensor] = [], memoryPos: [Tensor] = []
        var numObjPtrTokens = 0
        var selection: MemorySelection? = nil
        let posTokens = maskmemPosEnc.map { $0.reshaped([1, memDim, h * w]).permuted([0, 2, 1]) } ?? maskmemPosEncTokens
        if !isInitCondFrame {
            let query = MemoryQuery(frameIdx: frameIdx, reverse: reverse, numFrames: numFrames, settings: memorySettings)
            let sel = policy.select(query, bank: bank)
            selection = sel
            let slots = embeddings.numMaskmem
            for m in sel.memories {
                guard m.tPos >= 0 && m.tPos < slots else {
                    throw SAM2TrackingError.badSlot(frame: frameIdx, tPos: m.tPos, slots: slots, policy: policy.name)
                }
                guard let feats = bank.output(m.frame)?.maskmemFeatures?.tensor else {
                    throw SAM2TrackingError.missingMemory(frame: frameIdx, memoryFrame: m.frame, policy: policy.name)
                }
                memory.append(feats.reshaped([1, memDim, h * w]).permuted([0, 2, 1]))
                let tpos = embeddings.maskmemTposEnc.select(axis: 0, index: slots - m.tPos - 1).reshaped([1, 1, memDim])
                memoryPos.append(posTokens + tpos)
            }
            if !sel.pointers.isEmpty {
                var ptrs: [Tensor] = []
                for p in sel.pointers {
                    guard let out = bank.output(p.frame) else {
                        throw SAM2TrackingError.missingMemory(frame: frameIdx, memoryFrame: p.frame, policy: policy.name)
                    }
                    ptrs.append(out.objPtr.reshaped([1, 1, c]))
                }
                let tokens = embeddings.objPtrTokens(Tensor.concat(ptrs, axis: 1))   // [1, N·k, memDim]
                let k = tokens.shape[1] / sel.pointers.count
                let pos = embeddings.objPtrTemporalEncoding(sel.pointers.map(\.tPos), maxObjPtrsInEncoder: sel.pointerTPosScale + 1)
                memory.append(tokens)
                memoryPos.append(pos.repeatInterleaved(k, axis: 0).unsqueezed(axis: 0))
                numObjPtrTokens = tokens.shape[1]
            }
            if memory.isEmpty { throw SAM2TrackingError.emptyMemory(frame: frameIdx, policy: policy.name) }
        } else {
            // A dummy token, so that the memory attention never sees an empty memory.
            memory = [embeddings.noMemEmbed.reshaped([1, 1, c]).slice(axis: 2, start: 0, end: memDim)]
            memoryPos = [embeddings.noMemPosEnc.reshaped([1, 1, c]).slice(axis: 2, start: 0, end: memDim)]
        }
        let curr = features.visionFeatures.reshaped([1, c, h * w]).permuted([0, 2, 1])
        let currPos = features.visionPosEnc.reshaped([1, c, h * w]).permuted([0, 2, 1])
        let out = memoryAttention(curr: curr, memory: Tensor.concat(memory, axis: 1), currPos: currPos,
                                  memoryPos: Tensor.concat(memoryPos, axis: 1), numObjPtrTokens: numObjPtrTokens)
        return (out.permuted([0, 2, 1]).reshaped([1, c, h, w]), selection)
    }

    /// `_use_multimask`.
    public func useMultimask(isInitCondFrame: Bool, numPoints: Int) -> Bool {
        config.multimaskOutputInSam && (isInitCondFrame || config.multimaskOutputForTracking)
            && config.multimaskMinPtNum <= numPoints && numPoints <= config.multimaskMaxPtNum
    }

    /// `track_step` for one object: points ([1, N, 2] in the input frame, labels [1, N]) or a mask [1, 1, S, S];
    /// memories from `bank` through `policy`; with `runMemEncoder`, the new memory of the predicted mask.
    public func trackStep(frameIdx: Int, isInitCondFrame: Bool, features: TrackingFrameFeatures,
                          points: (coords: Tensor, labels: Tensor)?, maskInputs: Tensor?, bank: MemoryBank,
                          policy: any MemoryPolicy, numFrames: Int, reverse: Bool = false, runMemEncoder: Bool = true,
                          prevSamMaskLogits: Tensor? = nil) throws -> TrackStepOutput {
        let sam: SAMHeadsOutput
        var selection: MemorySelection? = nil
        if let maskInputs, config.useMaskInputAsOutputWithoutSam {
            sam = try useMaskAsOutput(backboneFeatures: features.visionFeatures, highResFeatures: features.highResFeatures,
                                      maskInputs: maskInputs)
        } else {
            let (pixFeat, sel) = try prepareMemoryConditionedFeatures(frameIdx: frameIdx, isInitCondFrame: isInitCondFrame,
                                                                     features: features, bank: bank, policy: policy,
                                                                     numFrames: numFrames, reverse: reverse)
            selection = sel
            let masks = prevSamMaskLogits ?? maskInputs
            let multimask = useMultimask(isInitCondFrame: isInitCondFrame, numPoints: points?.labels.shape.last ?? 0)
            sam = try forwardSamHeads(backboneFeatures: pixFeat, points: points, maskInputs: masks,
                                      highResFeatures: features.highResFeatures, multimaskOutput: multimask)
        }
        var out = TrackStepOutput(predMasks: sam.lowResMasks, predMasksHighRes: sam.highResMasks, objPtr: sam.objPtr,
                                  objectScoreLogits: sam.objectScoreLogits, maskmemFeatures: nil, selection: selection)
        if runMemEncoder && embeddings.numMaskmem > 0 {
            out.maskmemFeatures = encodeNewMemory(visionFeatures: features.visionFeatures, predMasksHighRes: sam.highResMasks,
                                                  objectScoreLogits: sam.objectScoreLogits, isMaskFromPts: points != nil)
        }
        return out
    }

    /// `_apply_non_overlapping_constraints`: at each pixel only the highest-scoring object (first on ties) keeps
    /// its logit; the others are clamped to at most −10. masks [O, 1, H, W].
    public static func applyNonOverlappingConstraints(_ masks: Tensor) -> Tensor {
        let o = masks.shape[0]
        guard o > 1 else { return masks }
        let plane = masks.count / o
        var out = masks
        out.withUnsafeMutableBufferPointer { dst in
            masks.withUnsafeBufferPointer { src in
                // src/dst hold o planes of `plane` logits; each chunk of pixels is independent.
                let (d, s) = (dst, src)
                Parallel.forChunks(plane, grain: 1 << 14) { range in
                    for p in range {
                        var best = 0
                        for k in 1..<o where s[k * plane + p] > s[best * plane + p] { best = k }
                        for k in 0..<o where k != best { d[k * plane + p] = Swift.min(s[k * plane + p], -10) }
                    }
                }
            }
        }
        return out
    }
}

/// Score given to masks of absent objects (`NO_OBJ_SCORE`).
public let noObjScore: Float = -1024
