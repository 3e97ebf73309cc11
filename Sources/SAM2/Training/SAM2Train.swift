import Foundation

/// SAM 2 as the official trainer runs it (training/model/sam2.py, `SAM2Train`): the trainable modules over one
/// `ParameterStore`, a clip's frames through the image encoder in one batch, then every frame in the plan's order
/// through memory attention, the SAM heads (with corrective clicks on the chosen frames) and the memory encoder,
/// each object of the clip as one batch item. Gradients flow through the memories and object pointers into earlier
/// frames, as in the official trainer. Differences: dropout is 0 (the official layers use 0.1), one clip per step.
public final class SAM2TrainModel {
    /// Sizes of the model.
    public let architecture: SAM2Architecture
    /// The weights (shared by every module below).
    public let store: ParameterStore
    /// SAM2Base flags (the released values).
    public var tracking = SAM2TrackingConfig()
    /// Prompt simulation.
    public var prompts = TrainingPromptSettings()
    /// The loss.
    public var loss = MultiStepMultiMasksAndIous()

    let imageEncoder: TrainableImageEncoder
    let promptEncoder: TrainablePromptEncoder
    let maskDecoder: TrainableMaskDecoder
    let memoryAttention: TrainableMemoryAttention
    let memoryEncoder: TrainableMemoryEncoder
    let embeddings: TrainableMemoryEmbeddings
    let convS0: (weight: Variable, bias: Variable)
    let convS1: (weight: Variable, bias: Variable)

    /// Builds the modules of `architecture` over `store` (every key checked for its shape).
    public init(architecture: SAM2Architecture, store: ParameterStore) throws {
        try architecture.validate()
        self.architecture = architecture
        self.store = store
        let a = architecture, e = a.imageSize / 16, c = a.hiddenDim
        imageEncoder = try TrainableImageEncoder(config: a.encoder, parameters: store.scope("image_encoder"))
        promptEncoder = try TrainablePromptEncoder(parameters: store.scope("sam_prompt_encoder"), embedDim: c,
                                                   imageEmbeddingSize: (e, e), inputImageSize: (a.imageSize, a.imageSize))
        maskDecoder = try TrainableMaskDecoder(config: a.decoder, parameters: store.scope("sam_mask_decoder"))
        memoryAttention = try TrainableMemoryAttention(config: a.memoryAttention, parameters: store.scope("memory_attention"))
        memoryEncoder = try TrainableMemoryEncoder(config: a.memoryEncoder, parameters: store.scope("memory_encoder"))
        embeddings = try TrainableMemoryEmbeddings(parameters: store.scope(), hiddenDim: c, memDim: a.memDim)
        let d = store.scope("sam_mask_decoder")
        convS0 = (try d("conv_s0.weight", shape: [c / 8, c, 1, 1]), try d("conv_s0.bias", shape: [c / 8]))
        convS1 = (try d("conv_s1.weight", shape: [c / 4, c, 1, 1]), try d("conv_s1.bias", shape: [c / 4]))
    }

    /// What one clip's forward pass gives.
    public struct ClipResult {
        /// Losses summed over frames (`core` is back-propagated).
        public var losses: MultiStepMultiMasksAndIous.Losses
        /// Mean IoU of the final prediction with the ground truth per frame (over objects), for logs.
        public var frameIoU: [Double]
        /// Prediction steps run (initial + corrective) over all frames.
        public var steps: Int
        /// Each frame's final low-resolution logits [N, 1, S/4, S/4] (what the tracker would store).
        public var frameLogits: [Tensor]
        /// Each frame's final object-score logits [N].
        public var objectScores: [[Float]]
    }

    /// One frame's output kept for later frames: object pointers [N, C] and memory features [N, memDim, e, e].
    struct FrameMemory {
        var objPtr: Variable
        var maskmem: Variable
    }

    /// `_forward_sam_heads`' outputs for N objects.
    struct Heads {
        var highResMultimasks: Variable   // [N, M, S, S]
        var ious: Variable                // [N, M]
        var lowResMasks: Variable         // [N, 1, 4e, 4e]
        var highResMasks: Variable        // [N, 1, S, S]
        var objPtr: Variable              // [N, C]
        var objectScoreLogits: Variable   // [N, 1]
    }

    /// Runs the clip under `plan` and returns its losses (recorded on the tape the store's variables are bound to).
    public func forward(_ clip: TrainingClip, plan: ClipPromptPlan, rng: inout SplitMix64) throws -> ClipResult {
        let t = clip.length, n = clip.objects, s = architecture.imageSize
        let backbone = try imageEncoder(Variable.constant(clip.frames))
        let fpn = backbone.backboneFPN
        let s0 = fpn[0].conv2d(weight: convS0.weight, bias: convS0.bias)
        let s1 = fpn[1].conv2d(weight: convS1.weight, bias: convS1.bias)
        let top = fpn[fpn.count - 1]
        let posEnc = backbone.visionPosEnc[backbone.visionPosEnc.count - 1].slice(axis: 0, start: 0, end: 1)
        func perObject(_ v: Variable, _ frame: Int) -> Variable {
            let one = v.slice(axis: 0, start: frame, end: frame + 1)
            return n == 1 ? one : one.expanded(to: [n] + Array(one.shape.dropFirst()))
        }

        var cond: [Int: FrameMemory] = [:], nonCond: [Int: FrameMemory] = [:]
        var total: MultiStepMultiMasksAndIous.Losses? = nil
        var ious = [Double](repeating: 0, count: t)
        var logits = [Tensor](repeating: Tensor.zeros([0]), count: t), scores = [[Float]](repeating: [], count: t)
        var stepCount = 0
        for frame in plan.processingOrder {
            let isInitCond = plan.initCondFrames.contains(frame)
            let gt = clip.masks[frame]                                   // [N, S, S]
            let vision = perObject(top, frame)
            let highRes = [perObject(s0, frame), perObject(s1, frame)]
            var points: (coords: Tensor, labels: Tensor)? = nil
            var maskInput: Tensor? = nil
            if isInitCond {
                if plan.useMaskInput { maskInput = gt.reshaped([n, 1, s, s]) }
                else if plan.boxFrames.contains(frame) { points = TrainingPointSampler.boxPoints(gt, settings: prompts, rng: &rng) }
                else { points = TrainingPointSampler.errorPoints(gt, prediction: nil, rng: &rng) }
            }
            var heads: Heads
            var pixFeatWithMem = vision
            if let maskInput, tracking.useMaskInputAsOutputWithoutSam {
                heads = try useMaskAsOutput(vision, highRes: highRes, mask: maskInput)
            } else {
                pixFeatWithMem = try memoryConditioned(frame: frame, isInitCond: isInitCond, vision: vision, posEnc: posEnc,
                                                       cond: cond, nonCond: nonCond, numFrames: t)
                heads = try samHeads(pixFeatWithMem, points: points, mask: nil, highRes: highRes,
                                     multimask: useMultimask(isInitCond, points))
            }
            var steps = [MultiStepMultiMasksAndIous.Step(masks: heads.highResMultimasks, ious: heads.ious,
                                                         objectScoreLogits: heads.objectScoreLogits)]
            if plan.framesToCorrect.contains(frame) && maskInput == nil {
                for _ in 0..<prompts.numCorrectionPtPerFrame {
                    let fromGT = rng.nextUnit() < prompts.probToSampleFromGt
                    let prediction: [Bool]? = fromGT ? nil : heads.highResMasks.value.data.map { $0 > 0 }
                    let click = TrainingPointSampler.errorPoints(gt, prediction: prediction, rng: &rng)
                    points = points.map { (Tensor.concat([$0.coords, click.coords], axis: 1), Tensor.concat([$0.labels, click.labels], axis: 1)) } ?? click
                    heads = try samHeads(pixFeatWithMem, points: points, mask: heads.lowResMasks, highRes: highRes,
                                         multimask: useMultimask(isInitCond, points))
                    steps.append(.init(masks: heads.highResMultimasks, ious: heads.ious, objectScoreLogits: heads.objectScoreLogits))
                }
            }
            stepCount += steps.count
            let memory = try encodeNewMemory(vision, highResMasks: heads.highResMasks, objectScoreLogits: heads.objectScoreLogits,
                                             fromPoints: points != nil)
            let out = FrameMemory(objPtr: heads.objPtr, maskmem: memory)
            if isInitCond || (prompts.addAllFramesToCorrectAsCond && plan.framesToCorrect.contains(frame)) { cond[frame] = out }
            else { nonCond[frame] = out }
            let l = loss(steps: steps, targets: gt, numObjects: n)
            total = total.map { .init(mask: $0.mask + l.mask, dice: $0.dice + l.dice, iou: $0.iou + l.iou,
                                      objectClass: $0.objectClass + l.objectClass, core: $0.core + l.core) } ?? l
            ious[frame] = Self.meanIoU(heads.highResMasks.value, gt)
            logits[frame] = heads.lowResMasks.value
            scores[frame] = heads.objectScoreLogits.value.data
        }
        return ClipResult(losses: total!, frameIoU: ious, steps: stepCount, frameLogits: logits, objectScores: scores)
    }

    /// `_use_multimask`.
    func useMultimask(_ isInitCond: Bool, _ points: (coords: Tensor, labels: Tensor)?) -> Bool {
        let k = points?.labels.shape.last ?? 0
        return tracking.multimaskOutputInSam && (isInitCond || tracking.multimaskOutputForTracking)
            && tracking.multimaskMinPtNum <= k && k <= tracking.multimaskMaxPtNum
    }

    /// `_forward_sam_heads` (training mode): masks of absent objects become −1024, the best-IoU mask and its token
    /// are picked when multimask, and the object pointer is blended with `no_obj_ptr` by presence.
    func samHeads(_ features: Variable, points: (coords: Tensor, labels: Tensor)?, mask: Variable?, highRes: [Variable],
                  multimask: Bool) throws -> Heads {
        let n = features.shape[0], s = architecture.imageSize
        let pts = points ?? (Tensor.zeros([n, 1, 2]), Tensor(shape: [n, 1], repeating: -1))
        let (sparse, dense) = try promptEncoder(points: pts, boxes: nil, masks: mask)
        let out = try maskDecoder(imageEmbeddings: features, imagePE: promptEncoder.denseEmbeddingPE(), sparsePromptEmbeddings: sparse,
                                  densePromptEmbeddings: dense, multimaskOutput: multimask, highResFeatures: highRes)
        var low = out.masks                                               // [N, M, 4e, 4e]
        let scores = out.objectScoreLogits.value.data                     // [N]
        let present = scores.map { $0 > 0 ? Float(1) : 0 }
        if tracking.predObjScores && present.contains(0) {
            let keep = Tensor(shape: [n, 1, 1, 1], data: present)
            low = low * Variable.constant(keep) + Variable.constant((1 - keep) * noObjScore)
        }
        let high = low.interpolate(size: (s, s), mode: .bilinear, alignCorners: false)
        let m = low.shape[1]
        var lowBest = low, highBest = high
        var token = out.samTokensOut                                      // [N, T, C]
        if multimask && m > 1 {
            let iou = out.iouPred.value.data
            var onehot = [Float](repeating: 0, count: n * m)
            for i in 0..<n {
                var best = 0
                for j in 1..<m where iou[i * m + j] > iou[i * m + best] { best = j }
                onehot[i * m + best] = 1
            }
            let pick = Variable.constant(Tensor(shape: [n, m, 1, 1], data: onehot))
            lowBest = (low * pick).sum(axes: [1], keepDims: true)
            highBest = (high * pick).sum(axes: [1], keepDims: true)
            if token.shape[1] > 1 { token = (token * Variable.constant(Tensor(shape: [n, m, 1], data: onehot))).sum(axes: [1], keepDims: true) }
        }
        var objPtr = embeddings.objPtrProj(token.slice(axis: 1, start: 0, end: 1).reshaped([n, architecture.hiddenDim]))
        if tracking.predObjScores { objPtr = blendNoObjPtr(objPtr, present: Tensor(shape: [n, 1], data: present)) }
        return Heads(highResMultimasks: high, ious: out.iouPred, lowResMasks: lowBest, highResMasks: highBest, objPtr: objPtr,
                     objectScoreLogits: out.objectScoreLogits)
    }

    /// `fixed_no_obj_ptr`: absent objects point with `no_obj_ptr`.
    func blendNoObjPtr(_ ptr: Variable, present: Tensor) -> Variable {
        let lambda = Variable.constant(present)
        var p = ptr
        if tracking.fixedNoObjPtr { p = lambda * p }
        if let noObjPtr = embeddings.noObjPtr { p = p + Variable.constant(1 - present) * noObjPtr }
        return p
    }

    /// `_use_mask_as_output`: the mask prompt itself as ±10 logits; its pointer from the decoder run on the
    /// downsampled mask.
    func useMaskAsOutput(_ features: Variable, highRes: [Variable], mask: Tensor) throws -> Heads {
        let n = mask.shape[0], s = architecture.imageSize
        let high = mask * 20 - 10
        let low = high.interpolate(size: (s / 4, s / 4), mode: .bilinear, alignCorners: false, antialias: true)
        let downsampled = try embeddings.maskDownsample(Variable.constant(mask))
        var objPtr = try samHeads(features, points: nil, mask: downsampled, highRes: highRes, multimask: false).objPtr
        let plane = s * s
        let present = (0..<n).map { i in mask.data[(i * plane)..<((i + 1) * plane)].contains { $0 > 0 } ? Float(1) : 0 }
        let presence = Tensor(shape: [n, 1], data: present)
        if tracking.predObjScores { objPtr = blendNoObjPtr(objPtr, present: presence) }
        let highVar = Variable.constant(high)
        return Heads(highResMultimasks: highVar, ious: Variable.constant(Tensor.ones([n, 1])), lowResMasks: Variable.constant(low),
                     highResMasks: highVar, objPtr: objPtr, objectScoreLogits: Variable.constant(presence * 20 - 10))
    }

    /// `_encode_new_memory`: sigmoid (or, for click frames when configured, binarised) mask ×20 − 10 with the raw
    /// frame features through the memory encoder; `no_obj_embed_spatial` added for absent objects.
    func encodeNewMemory(_ vision: Variable, highResMasks: Variable, objectScoreLogits: Variable, fromPoints: Bool) throws -> Variable {
        let binarize = tracking.binarizeMaskFromPtsForMemEnc && fromPoints
        var m = binarize ? Variable.constant(highResMasks.value.map { $0 > 0 ? 1 : 0 }) : highResMasks.sigmoid()
        m = m * tracking.sigmoidScaleForMemEnc + tracking.sigmoidBiasForMemEnc
        var features = try memoryEncoder(pixFeat: vision, masks: m).features
        if let noObj = embeddings.noObjEmbedSpatial {
            let absent = Tensor(shape: [features.shape[0], 1, 1, 1], data: objectScoreLogits.value.data.map { $0 > 0 ? 0 : 1 })
            if absent.data.contains(1) {
                features = features + Variable.constant(absent) * noObj.reshaped([1, architecture.memDim, 1, 1])
            }
        }
        return features
    }

    /// `_prepare_memory_conditioned_features` in training mode: every conditioning frame (past or future) at slot 0,
    /// the previous `num_maskmem − 1` tracked frames, and the pointers of all conditioning frames and of up to
    /// min(T, 16) − 1 previous frames with signed temporal distances.
    func memoryConditioned(frame: Int, isInitCond: Bool, vision: Variable, posEnc: Tensor, cond: [Int: FrameMemory],
                           nonCond: [Int: FrameMemory], numFrames: Int) throws -> Variable {
        let n = vision.shape[0], c = architecture.hiddenDim, md = architecture.memDim
        let h = vision.shape[2], w = vision.shape[3]
        if isInitCond && tracking.directlyAddNoMemEmbed {
            return vision + embeddings.noMemEmbed.reshaped([1, c, 1, 1])
        }
        let slots = embeddings.numMaskmem
        let maskmemPos = Variable.constant(memoryEncoderPosTokens(h: h, w: w))        // [1, hw, md]
        var memory: [Variable] = [], memoryPos: [Variable] = []
        func add(_ out: FrameMemory, tPos: Int) {
            memory.append(out.maskmem.reshaped([n, md, h * w]).permuted([0, 2, 1]))
            let tpos = embeddings.maskmemTposEnc.select(axis: 0, index: slots - tPos - 1).reshaped([1, 1, md])
            memoryPos.append(maskmemPos + tpos)
        }
        for key in cond.keys.sorted() { add(cond[key]!, tPos: 0) }
        if slots > 1 {
            for tPos in 1..<slots {
                if let out = nonCond[frame - (slots - tPos)] { add(out, tPos: tPos) }
            }
        }
        var numPtrTokens = 0
        if tracking.useObjPtrsInEncoder {
            let maxPtrs = min(numFrames, tracking.maxObjPtrsInEncoder)
            var ptrs: [(Int, Variable)] = cond.keys.sorted().map { key in
                let d = frame - key
                return (tracking.useSignedTposEncToObjPtrs ? d : abs(d), cond[key]!.objPtr)
            }
            if maxPtrs > 1 {
                for tDiff in 1..<maxPtrs {
                    let past = frame - tDiff
                    if past < 0 { break }
                    if let out = nonCond[past] { ptrs.append((tDiff, out.objPtr)) }
                }
            }
            if !ptrs.isEmpty {
                let stacked = Variable.stack(ptrs.map(\.1), axis: 1)                        // [N, P, C]
                let tokens = embeddings.objPtrTokens(stacked)                               // [N, P·k, md]
                let k = tokens.shape[1] / ptrs.count
                let pos = embeddings.objPtrTemporalEncoding(ptrs.map(\.0), maxObjPtrsInEncoder: maxPtrs)   // [P, md]
                memory.append(tokens)
                memoryPos.append(pos.repeatInterleaved(k, axis: 0).unsqueezed(axis: 0))
                numPtrTokens = tokens.shape[1]
            }
        }
        let mem = Variable.concat(memory, axis: 1)
        var memPos = Variable.concat(memoryPos, axis: 1)
        if n > 1 { memPos = memPos.expanded(to: [n] + Array(memPos.shape.dropFirst())) }
        let curr = vision.reshaped([n, c, h * w]).permuted([0, 2, 1])
        let currPos = posEnc.reshaped([1, c, h * w]).permuted([0, 2, 1]).expanded(to: [n, h * w, c])
        let out = try memoryAttention(curr: curr, memory: mem, currPos: currPos, memoryPos: memPos, numObjPtrTokens: numPtrTokens)
        return out.permuted([0, 2, 1]).reshaped([n, c, h, w])
    }

    private var cachedPosTokens: Tensor? = nil
    /// The memory encoder's sine position encoding as tokens [1, hw, memDim] (the same for every frame).
    func memoryEncoderPosTokens(h: Int, w: Int) -> Tensor {
        if let cachedPosTokens { return cachedPosTokens }
        let pe = PositionEmbeddingSine(numPosFeats: architecture.memDim).encoding(height: h, width: w)
        let tokens = pe.reshaped([1, architecture.memDim, h * w]).permuted([0, 2, 1])
        cachedPosTokens = tokens
        return tokens
    }

    /// Mean IoU over objects of logits > 0 vs the ground truth (1 for an object absent in both).
    static func meanIoU(_ logits: Tensor, _ gt: Tensor) -> Double {
        let n = gt.shape[0], plane = gt.count / n
        var sum = 0.0
        for i in 0..<n {
            var inter = 0, union = 0
            for p in 0..<plane {
                let a = logits.data[i * plane + p] > 0, b = gt.data[i * plane + p] > 0
                if a && b { inter += 1 }
                if a || b { union += 1 }
            }
            sum += union == 0 ? 1 : Double(inter) / Double(union)
        }
        return sum / Double(n)
    }
}
