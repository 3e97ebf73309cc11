import Foundation

/// Errors of the video predictor; they name the frame, object or argument at fault.
public enum VideoPredictorError: Error, CustomStringConvertible, Equatable {
    case frameOutOfRange(frame: Int, count: Int)
    case badPrompt(argument: String, expected: String, got: String)
    case unknownObject(id: Int, known: [Int])
    case noPrompts
    case noPromptsForObject(id: Int)

    public var description: String {
        switch self {
        case let .frameOutOfRange(frame, count): return "frame \(frame) does not exist (the video has frames 0..<\(count))"
        case let .badPrompt(argument, expected, got): return "\(argument): expected \(expected), got \(got)"
        case let .unknownObject(id, known): return "object id \(id) does not exist (objects: \(known.map(String.init).joined(separator: ", ")))"
        case .noPrompts: return "no points, box or mask were added for any object; add prompts before propagating"
        case let .noPromptsForObject(id): return "object id \(id) has no prompted frame; add points, a box or a mask for it first"
        }
    }
}

/// The masks of every object on one frame.
public struct VideoFrameResult: Sendable {
    public var frameIndex: Int
    /// Object ids, in the order of the mask rows.
    public var objectIds: [Int]
    /// Logits at the video's resolution [O, 1, H, W] (> 0: object).
    public var videoResMasks: Tensor
    /// Low-resolution logits [O, 1, S/4, S/4] (−1024 for objects without output on this frame).
    public var lowResMasks: Tensor
    /// Object-score logits per object (nil for objects without output on this frame).
    public var objectScores: [Float?]

    /// Object `id`'s binary mask at video resolution (logit > 0), row-major H·W.
    public func mask(objectId id: Int) -> [Bool]? {
        guard let k = objectIds.firstIndex(of: id) else { return nil }
        let plane = videoResMasks.shape[2] * videoResMasks.shape[3]
        return videoResMasks.data[(k * plane)..<((k + 1) * plane)].map { $0 > 0 }
    }
}

/// `SAM2VideoPredictor`: interactive multi-object tracking over a video whose frames are decoded on demand.
/// Each frame is encoded once for all objects (a small LRU cache of frame features); per object, outputs live
/// in a `MemoryBank` from which a `MemoryPolicy` picks the memories and prunes what no later frame can use.
public final class SAM2VideoPredictor {
    public let videoModel: SAM2VideoModel
    public let frames: any VideoFrameSource
    public let policy: any MemoryPolicy
    /// Holes of at most this many pixels in low-res masks are filled (`fill_hole_area`, 8).
    public var fillHoleArea: Int
    /// Keep only the highest-scoring object per pixel in the video-resolution output.
    public var nonOverlapMasks: Bool
    /// `add_all_frames_to_correct_as_cond` (official default false): when true, a click or mask on a frame
    /// that was already tracked makes it a conditioning frame, so the correction survives re-propagation
    /// (otherwise it is stored as a non-conditioning output, which the next propagation recomputes and drops).
    /// Simulated corrective clicks (`InteractiveEvaluation`) need it on.
    public var addAllFramesToCorrectAsCond = false
    /// Frames whose features are kept (LRU); the official keeps the most recent one.
    public var featureCacheCapacity: Int { didSet { trimCache() } }
    /// Encoder runs so far (one per frame not in the cache).
    public private(set) var framesEncoded = 0

    private struct ObjectState {
        var id: Int
        var bank: MemoryBank
        var pointInputs: [Int: (coords: Tensor, labels: Tensor)] = [:]
        var maskInputs: [Int: Tensor] = [:]
        /// Outputs of prompted frames not yet merged into the bank (`temp_output_dict_per_obj`).
        var temp: [Int: (output: FrameOutput, isCond: Bool)] = [:]
        /// Frames tracked so far, with the direction (`frames_tracked_per_obj`).
        var framesTracked: [Int: Bool] = [:]
    }

    private var objects: [ObjectState] = []
    private var cache: [(frame: Int, features: TrackingFrameFeatures)] = []

    /// Object ids in the order they were added.
    public var objectIds: [Int] { objects.map(\.id) }
    /// Frames in the video.
    public var numFrames: Int { frames.frameCount }
    private var imageSize: Int { videoModel.imageSize }
    private var videoSize: (height: Int, width: Int) { (frames.height, frames.width) }

    /// A predictor over `frames` (as the official `build_sam2_video_predictor`: holes ≤ 8 px filled,
    /// overlapping masks allowed).
    public init(model: SAM2VideoModel, frames: any VideoFrameSource, policy: any MemoryPolicy = OfficialMemoryPolicy(),
                fillHoleArea: Int = 8, nonOverlapMasks: Bool = false, featureCacheCapacity: Int = 2) {
        videoModel = model
        self.frames = frames
        self.policy = policy
        self.fillHoleArea = fillHoleArea
        self.nonOverlapMasks = nonOverlapMasks
        self.featureCacheCapacity = max(1, featureCacheCapacity)
    }

    /// Opens a folder of JPEG / PNG frames.
    public convenience init(model: SAM2VideoModel, folder: String, policy: any MemoryPolicy = OfficialMemoryPolicy(),
                            fillHoleArea: Int = 8, nonOverlapMasks: Bool = false) throws {
        self.init(model: model, frames: try FrameFolder(path: folder), policy: policy, fillHoleArea: fillHoleArea,
                  nonOverlapMasks: nonOverlapMasks)
    }

    // MARK: - Features

    /// The frame's preprocessed input [1, 3, S, S].
    public func frameTensor(_ index: Int) throws -> Tensor {
        try checkFrame(index)
        return VideoFramePreprocessing.tensor(try frames.frame(index), imageSize: imageSize)
    }

    /// The frame's features (cached).
    public func features(_ index: Int) throws -> TrackingFrameFeatures {
        if let k = cache.firstIndex(where: { $0.frame == index }) {
            let hit = cache.remove(at: k)
            cache.append(hit)
            return hit.features
        }
        let f = try videoModel.frameFeatures(try frameTensor(index))
        framesEncoded += 1
        cache.append((index, f))
        trimCache()
        return f
    }

    private func trimCache() {
        if cache.count > featureCacheCapacity { cache.removeFirst(cache.count - featureCacheCapacity) }
    }

    private func checkFrame(_ index: Int) throws {
        guard index >= 0 && index < numFrames else { throw VideoPredictorError.frameOutOfRange(frame: index, count: numFrames) }
    }

    // MARK: - Prompts

    private func objectIndex(_ id: Int, create: Bool) -> Int? {
        if let k = objects.firstIndex(where: { $0.id == id }) { return k }
        guard create else { return nil }
        objects.append(ObjectState(id: id, bank: MemoryBank(precision: videoModel.config.memoryPrecision)))
        return objects.count - 1
    }

    /// `add_new_points_or_box`: clicks ([x, y] in video pixels, or 0…1 without `normalizeCoords`) with labels
    /// (1 positive, 0 negative) and/or a box [x0, y0, x1, y1] for object `objectId` on `frame`. Returns every
    /// object's mask on that frame.
    @discardableResult
    public func addPoints(frame: Int, objectId: Int, points: [[Float]] = [], labels: [Int] = [], box: [Float]? = nil,
                          clearOldPoints: Bool = true, normalizeCoords: Bool = true) throws -> VideoFrameResult {
        try checkFrame(frame)
        guard points.count == labels.count else {
            throw VideoPredictorError.badPrompt(argument: "labels", expected: "\(points.count) labels (one per point)", got: "\(labels.count)")
        }
        guard !points.isEmpty || box != nil else {
            throw VideoPredictorError.badPrompt(argument: "points/box", expected: "at least one point or a box", got: "neither")
        }
        for (i, p) in points.enumerated() where p.count != 2 || !p.allSatisfy({ $0.isFinite }) {
            throw VideoPredictorError.badPrompt(argument: "points[\(i)]", expected: "[x, y] finite", got: "\(p)")
        }
        for (i, l) in labels.enumerated() where !(0...3).contains(l) && l != -1 {
            throw VideoPredictorError.badPrompt(argument: "labels[\(i)]", expected: "1 (positive) or 0 (negative)", got: "\(l)")
        }
        var coords = points.flatMap { $0 }, labs = labels.map(Float.init)
        if let box {
            guard box.count == 4, box.allSatisfy({ $0.isFinite }) else {
                throw VideoPredictorError.badPrompt(argument: "box", expected: "[x0, y0, x1, y1] finite", got: "\(box)")
            }
            guard clearOldPoints else {
                throw VideoPredictorError.badPrompt(argument: "box", expected: "clearOldPoints (a box must come before any click)", got: "clearOldPoints false")
            }
            coords = box + coords
            labs = [2, 3] + labs
        }
        let (vh, vw) = videoSize
        let s = Float(imageSize)
        for i in stride(from: 0, to: coords.count, by: 2) {
            if normalizeCoords { coords[i] = coords[i] / Float(vw); coords[i + 1] = coords[i + 1] / Float(vh) }
            coords[i] *= s; coords[i + 1] *= s
        }
        let n = labs.count
        var pts = (coords: Tensor(shape: [1, n, 2], data: coords), labels: Tensor(shape: [1, n], data: labs))

        let k = objectIndex(objectId, create: true)!
        if !clearOldPoints, let old = objects[k].pointInputs[frame] {
            pts = (Tensor.concat([old.coords, pts.coords], axis: 1), Tensor.concat([old.labels, pts.labels], axis: 1))
        }
        objects[k].pointInputs[frame] = pts
        objects[k].maskInputs[frame] = nil
        let isInit = objects[k].framesTracked[frame] == nil
        let reverse = isInit ? false : objects[k].framesTracked[frame]!
        let isCond = isInit || addAllFramesToCorrectAsCond
        var prev: FrameOutput? = nil
        if let t = objects[k].temp[frame], t.isCond == isCond { prev = t.output }
        prev = prev ?? objects[k].bank.conditioning(frame) ?? objects[k].bank.nonConditioning(frame)
        let prevLogits = prev.map { $0.predMasks.clamp(min: -32, max: 32) }
        let (out, _) = try runSingleFrameInference(k, frame: frame, isInitCondFrame: isInit, points: pts, maskInputs: nil,
                                                   reverse: reverse, runMemEncoder: false, prevSamMaskLogits: prevLogits)
        objects[k].temp[frame] = (out, isCond)
        return consolidated(frame: frame, isCond: isCond)
    }

    /// `add_new_mask`: a binary mask [H, W] (nonzero = object) at the video's resolution (or already S×S).
    @discardableResult
    public func addMask(frame: Int, objectId: Int, mask: Tensor) throws -> VideoFrameResult {
        try checkFrame(frame)
        guard mask.rank == 2, mask.shape[0] > 0, mask.shape[1] > 0 else {
            throw VideoPredictorError.badPrompt(argument: "mask", expected: "a 2-d [H, W] mask", got: "shape \(mask.shape)")
        }
        let s = imageSize
        var m = mask.map { $0 != 0 ? 1 : 0 }.reshaped([1, 1, mask.shape[0], mask.shape[1]])
        if mask.shape[0] != s || mask.shape[1] != s {
            m = m.interpolate(size: (s, s), mode: .bilinear, alignCorners: false, antialias: true).map { $0 >= 0.5 ? 1 : 0 }
        }
        let k = objectIndex(objectId, create: true)!
        objects[k].maskInputs[frame] = m
        objects[k].pointInputs[frame] = nil
        let isInit = objects[k].framesTracked[frame] == nil
        let reverse = isInit ? false : objects[k].framesTracked[frame]!
        let (out, _) = try runSingleFrameInference(k, frame: frame, isInitCondFrame: isInit, points: nil, maskInputs: m,
                                                   reverse: reverse, runMemEncoder: false)
        let isCond = isInit || addAllFramesToCorrectAsCond
        objects[k].temp[frame] = (out, isCond)
        return consolidated(frame: frame, isCond: isCond)
    }

    /// `clear_all_prompts_in_frame`: forgets the object's prompts on `frame`; a conditioning output becomes a
    /// non-conditioning one. Returns every object's mask on that frame.
    @discardableResult
    public func clearPrompts(frame: Int, objectId: Int) throws -> VideoFrameResult {
        try checkFrame(frame)
        guard let k = objectIndex(objectId, create: false) else {
            throw VideoPredictorError.unknownObject(id: objectId, known: objectIds)
        }
        clearPrompts(k, frame: frame)
        return consolidated(frame: frame, isCond: objects.contains { $0.temp[frame]?.isCond == true })
    }

    private func clearPrompts(_ k: Int, frame: Int) {
        objects[k].pointInputs[frame] = nil
        objects[k].maskInputs[frame] = nil
        objects[k].temp[frame] = nil
        if objects[k].bank.downgrade(frame) { objects[k].framesTracked[frame] = nil }
    }

    /// `remove_object`: drops an object and returns the updated masks of the frames it had prompts on.
    @discardableResult
    public func removeObject(_ objectId: Int) throws -> [VideoFrameResult] {
        guard let k = objectIndex(objectId, create: false) else {
            throw VideoPredictorError.unknownObject(id: objectId, known: objectIds)
        }
        let promptFrames = Set(objects[k].pointInputs.keys).union(objects[k].maskInputs.keys).sorted()
        objects.remove(at: k)
        if objects.isEmpty { return [] }
        return promptFrames.map { f in consolidated(frame: f, isCond: objects.contains { $0.temp[f]?.isCond == true }) }
    }

    /// `reset_state`: forgets every object, prompt and output (frame features stay cached).
    public func reset() { objects.removeAll() }

    /// Object `objectId`'s stored output on `frame` (pending prompt outputs first, then the memory bank).
    public func output(objectId: Int, frame: Int) -> FrameOutput? {
        guard let k = objectIndex(objectId, create: false) else { return nil }
        return objects[k].temp[frame]?.output ?? objects[k].bank.output(frame)
    }

    /// Object `objectId`'s memory bank.
    public func memoryBank(objectId: Int) -> MemoryBank? {
        objectIndex(objectId, create: false).map { objects[$0].bank }
    }

    // MARK: - Inference

    /// `_run_single_frame_inference`: the compact output (memory features at the bank's precision, holes
    /// filled) and the hole-filled low-res masks.
    private func runSingleFrameInference(_ k: Int, frame: Int, isInitCondFrame: Bool, points: (coords: Tensor, labels: Tensor)?,
                                         maskInputs: Tensor?, reverse: Bool, runMemEncoder: Bool,
                                         prevSamMaskLogits: Tensor? = nil) throws -> (FrameOutput, Tensor) {
        let f = try features(frame)
        let step = try videoModel.trackStep(frameIdx: frame, isInitCondFrame: isInitCondFrame, features: f, points: points,
                                            maskInputs: maskInputs, bank: objects[k].bank, policy: policy,
                                            numFrames: numFrames, reverse: reverse, runMemEncoder: runMemEncoder,
                                            prevSamMaskLogits: prevSamMaskLogits)
        var predMasks = step.predMasks
        if fillHoleArea > 0 { predMasks = SAM2Transforms.fillHolesInMaskScores(predMasks, maxArea: Double(fillHoleArea)) }
        let out = FrameOutput(maskmemFeatures: step.maskmemFeatures.map { objects[k].bank.storable($0) }, predMasks: predMasks,
                              objPtr: step.objPtr, objectScoreLogits: step.objectScoreLogits)
        return (out, predMasks)
    }

    /// `_consolidate_temp_output_across_obj` at video resolution + `_get_orig_video_res_output`.
    private func consolidated(frame: Int, isCond: Bool) -> VideoFrameResult {
        let lowSide = imageSize / 4
        var low: [Tensor] = [], scores: [Float?] = []
        for o in objects {
            var out: FrameOutput? = nil
            if let t = o.temp[frame], t.isCond == isCond { out = t.output }
            out = out ?? o.bank.conditioning(frame) ?? o.bank.nonConditioning(frame)
            low.append(out?.predMasks ?? Tensor(shape: [1, 1, lowSide, lowSide], repeating: noObjScore))
            scores.append(out?.objectScore)
        }
        return result(frame: frame, lowRes: low, scores: scores)
    }

    private func result(frame: Int, lowRes: [Tensor], scores: [Float?]) -> VideoFrameResult {
        let (vh, vw) = videoSize
        let lowSide = imageSize / 4
        let all = lowRes.isEmpty ? Tensor.zeros([0, 1, lowSide, lowSide]) : Tensor.concat(lowRes, axis: 0)
        var video = all.shape[2] == vh && all.shape[3] == vw || all.shape[0] == 0
            ? all : all.interpolate(size: (vh, vw), mode: .bilinear, alignCorners: false)
        if all.shape[0] == 0 { video = Tensor.zeros([0, 1, vh, vw]) }
        if nonOverlapMasks { video = SAM2VideoModel.applyNonOverlappingConstraints(video) }
        return VideoFrameResult(frameIndex: frame, objectIds: objectIds, videoResMasks: video, lowResMasks: all, objectScores: scores)
    }

    /// `propagate_in_video_preflight`: encodes the memory of every prompted frame and merges it into the banks.
    private func preflight() throws {
        guard !objects.isEmpty else { throw VideoPredictorError.noPrompts }
        let s = imageSize
        for k in objects.indices {
            // Non-conditioning first, then conditioning, each in frame order.
            let pending = objects[k].temp.sorted { ($0.value.isCond ? 1 : 0, $0.key) < ($1.value.isCond ? 1 : 0, $1.key) }
            for (frame, entry) in pending {
                var out = entry.output
                if out.maskmemFeatures == nil {
                    let high = out.predMasks.interpolate(size: (s, s), mode: .bilinear, alignCorners: false)
                    let feats = videoModel.encodeNewMemory(visionFeatures: try features(frame).visionFeatures, predMasksHighRes: high,
                                                           objectScoreLogits: out.objectScoreLogits, isMaskFromPts: true)
                    out.maskmemFeatures = objects[k].bank.storable(feats)
                }
                objects[k].bank.store(out, frame: frame, conditioning: entry.isCond)
            }
            objects[k].temp.removeAll()
            if objects[k].bank.conditioningFrames.isEmpty { throw VideoPredictorError.noPromptsForObject(id: objects[k].id) }
        }
    }

    /// A frame-by-frame propagation: call `next()` until it returns nil.
    public final class Propagation {
        private let predictor: SAM2VideoPredictor
        private let order: [Int]
        private let reverse: Bool
        private var position = 0
        /// Frames in processing order.
        public var frameOrder: [Int] { order }

        fileprivate init(predictor: SAM2VideoPredictor, order: [Int], reverse: Bool) {
            self.predictor = predictor
            self.order = order
            self.reverse = reverse
        }

        /// Tracks the next frame; nil when done.
        public func next() throws -> VideoFrameResult? {
            guard position < order.count else { return nil }
            let frame = order[position]
            position += 1
            return try predictor.track(frame: frame, reverse: reverse)
        }
    }

    /// `propagate_in_video`: from `start` (default: the first prompted frame) forwards or in reverse for at most
    /// `maxFrames` further frames, as a stepwise `Propagation`.
    public func propagation(start: Int? = nil, maxFrames: Int? = nil, reverse: Bool = false) throws -> Propagation {
        try preflight()
        let first = start ?? objects.flatMap { $0.bank.conditioningFrames }.min() ?? 0
        try checkFrame(first)
        let limit = maxFrames ?? numFrames
        guard limit >= 0 else { throw VideoPredictorError.badPrompt(argument: "maxFrames", expected: ">= 0", got: "\(limit)") }
        let order: [Int]
        if reverse {
            let end = max(first - limit, 0)
            order = first > 0 ? Array(stride(from: first, through: end, by: -1)) : []
        } else {
            let end = min(first + limit, numFrames - 1)
            order = Array(first...end)
        }
        return Propagation(predictor: self, order: order, reverse: reverse)
    }

    /// `propagate_in_video` with a callback per frame (return false to stop early).
    public func propagate(start: Int? = nil, maxFrames: Int? = nil, reverse: Bool = false,
                          _ body: (VideoFrameResult) throws -> Bool) throws {
        let p = try propagation(start: start, maxFrames: maxFrames, reverse: reverse)
        while let r = try p.next() { if try !body(r) { break } }
    }

    private func track(frame: Int, reverse: Bool) throws -> VideoFrameResult {
        var low: [Tensor] = [], scores: [Float?] = []
        for k in objects.indices {
            let predMasks: Tensor
            if let c = objects[k].bank.conditioning(frame) {
                predMasks = c.predMasks
                scores.append(c.objectScore)
            } else {
                let (out, masks) = try runSingleFrameInference(k, frame: frame, isInitCondFrame: false, points: nil, maskInputs: nil,
                                                               reverse: reverse, runMemEncoder: true)
                objects[k].bank.store(out, frame: frame, conditioning: false)
                predMasks = masks
                scores.append(out.objectScore)
            }
            objects[k].framesTracked[frame] = reverse
            let q = MemoryQuery(frameIdx: frame, reverse: reverse, numFrames: numFrames, settings: videoModel.memorySettings)
            objects[k].bank.retainNonConditioning(policy.retain(q, bank: objects[k].bank))
            low.append(predMasks)
        }
        return result(frame: frame, lowRes: low, scores: scores)
    }
}
