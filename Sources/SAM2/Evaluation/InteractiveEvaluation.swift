import Foundation

/// Runs a `PromptSchedule` (a simulated user) on a video with ground truth: first prompts on each object's
/// first annotated frame, propagation through the video, online corrections during the pass and offline
/// correction rounds after it, with J and F (DAVIS toolkit definitions) after every pass.
///
/// Corrective clicks use `SAM2VideoPredictor.addAllFramesToCorrectAsCond`, so a clicked frame becomes a
/// conditioning frame and its correction survives re-propagation. The default memory policy is the official
/// one without eviction, so a click on an already-tracked frame sees that frame's previous mask logits, as in
/// the official predictor, which keeps every output.
public struct InteractiveEvaluation {
    /// The tracker's model.
    public var model: SAM2VideoModel
    /// Memory policy of the tracker.
    public var policy: any MemoryPolicy
    /// Drop each object's first and last scored frame (the DAVIS semi-supervised protocol).
    public var skipFirstAndLast: Bool
    /// Boundary tolerance of F (fraction of the diagonal, or pixels when ≥ 1).
    public var boundTh: Double

    /// An evaluation with `model`; `policy` nil means the official policy with `evict` off.
    public init(model: SAM2VideoModel, policy: (any MemoryPolicy)? = nil, skipFirstAndLast: Bool = true,
                boundTh: Double = BoundaryMeasure.defaultBoundThreshold) {
        var official = OfficialMemoryPolicy()
        official.evict = false
        self.model = model
        self.policy = policy ?? official
        self.skipFirstAndLast = skipFirstAndLast
        self.boundTh = boundTh
    }

    /// Evaluates `schedule` on `video`; `progress(round)` is called after each pass.
    public func run(_ video: GroundTruthVideo, schedule: any PromptSchedule,
                    progress: ((InteractiveRound) -> Void)? = nil) throws -> InteractiveVideoResult {
        let session = try InteractiveSession(video: video, schedule: schedule, evaluation: self)
        return try session.run(progress: progress)
    }

    /// Evaluates `schedule` on every video, in order.
    public func run(_ videos: [GroundTruthVideo], schedule: any PromptSchedule) throws -> [InteractiveVideoResult] {
        try videos.map { try run($0, schedule: schedule) }
    }
}

/// The mutable state of one video's interactive evaluation.
private final class InteractiveSession {
    let video: GroundTruthVideo
    let schedule: any PromptSchedule
    let evaluation: InteractiveEvaluation
    let predictor: SAM2VideoPredictor
    let width: Int, height: Int, frameCount: Int
    var groundTruthCache: [Int: [Int: BitMask]?] = [:]
    var tracked: [(id: Int, firstFrame: Int)] = []
    var prompts: [InteractivePromptRecord] = []
    var unprompted: [Int] = []
    var corrections: [CorrectionRecord] = []
    var initialClicks: [Int: Int] = [:]

    init(video: GroundTruthVideo, schedule: any PromptSchedule, evaluation: InteractiveEvaluation) throws {
        self.video = video; self.schedule = schedule; self.evaluation = evaluation
        predictor = SAM2VideoPredictor(model: evaluation.model, frames: video.frames, policy: evaluation.policy)
        predictor.addAllFramesToCorrectAsCond = true
        width = video.frames.width; height = video.frames.height; frameCount = video.frames.frameCount
        guard !video.objects.isEmpty else {
            throw EvaluationError.invalidArgument("video \(video.name) has no annotated object")
        }
        for o in video.objects where !(0..<frameCount).contains(o.firstFrame) {
            throw EvaluationError.invalidArgument("video \(video.name): object \(o.id) starts on frame \(o.firstFrame), the video has frames 0..<\(frameCount)")
        }
    }

    /// Object `id`'s ground truth on `frame`; nil when the frame is not annotated.
    func groundTruth(_ frame: Int, _ id: Int) throws -> BitMask? {
        if groundTruthCache[frame] == nil { groundTruthCache[frame] = .some(try video.groundTruth(frame)) }
        guard let masks = groundTruthCache[frame] ?? nil else { return nil }
        if let m = masks[id] {
            guard m.width == width, m.height == height else {
                throw EvaluationError.sizeMismatch(path: "\(video.name) frame \(frame) object \(id)",
                                                   expected: (width, height), got: (m.width, m.height))
            }
            return m
        }
        return BitMask(width: width, height: height)
    }

    func bitMask(_ r: VideoFrameResult, _ id: Int) throws -> BitMask {
        guard let bits = r.mask(objectId: id) else { return BitMask(width: width, height: height) }
        return try BitMask(width: width, height: height, bits: bits)
    }

    func binary(_ m: BitMask) throws -> BinaryMask { try BinaryMask(width: m.width, height: m.height, bits: m.bits) }

    func run(progress: ((InteractiveRound) -> Void)?) throws -> InteractiveVideoResult {
        for object in video.objects { try prompt(object) }
        guard !tracked.isEmpty else {
            throw EvaluationError.invalidArgument("video \(video.name): schedule '\(schedule.name)' prompted no object")
        }
        var rounds: [InteractiveRound] = []
        var predictions = try pass()
        rounds.append(try score(round: 0, predictions))
        progress?(rounds[0])
        if schedule.correctionRounds > 0 {
            for round in 1...schedule.correctionRounds {
                guard try correctOffline(round: round, predictions) else { break }
                predictions = try pass()
                rounds.append(try score(round: round, predictions))
                progress?(rounds[rounds.count - 1])
            }
        }
        return InteractiveVideoResult(video: video.name, schedule: schedule.name, prompts: prompts, unprompted: unprompted,
                                      corrections: corrections, rounds: rounds)
    }

    /// The object's first prompt; click schedules see the model's mask after each click.
    func prompt(_ object: (id: Int, firstFrame: Int)) throws {
        let (id, frame) = object
        guard let gtBits = try groundTruth(frame, id) else {
            throw EvaluationError.invalidArgument("video \(video.name): object \(id) starts on frame \(frame), which is not annotated")
        }
        let gt = try binary(gtBits)
        var applied = 0
        var last = BinaryMask(width: width, height: height)
        func apply(_ clicks: [Click]) throws {
            guard clicks.count > applied else { return }
            let new = clicks[applied...]
            let r = try predictor.addPoints(frame: frame, objectId: id, points: new.map { [Float($0.x), Float($0.y)] },
                                            labels: new.map(\.label), clearOldPoints: applied == 0)
            applied = clicks.count
            last = try binary(try bitMask(r, id))
        }
        let p = try schedule.initialPrompt(groundTruth: gt, objectId: id) { clicks in
            try apply(clicks)
            return last
        }
        switch p {
        case nil:
            unprompted.append(id)
            if applied > 0 { _ = try predictor.removeObject(id) }
            return
        case let .clicks(clicks)?:
            try apply(clicks)
            prompts.append(InteractivePromptRecord(objectId: id, frame: frame, kind: "clicks", clicks: clicks, box: nil))
        case let .box(b)?:
            try predictor.addPoints(frame: frame, objectId: id, box: [Float(b.x0), Float(b.y0), Float(b.x1), Float(b.y1)])
            prompts.append(InteractivePromptRecord(objectId: id, frame: frame, kind: "box", clicks: [], box: b))
        case let .mask(m)?:
            guard m.width == width, m.height == height else {
                throw EvaluationError.sizeMismatch(path: "mask prompt of object \(id)", expected: (width, height), got: (m.width, m.height))
            }
            try predictor.addMask(frame: frame, objectId: id, mask: m.toTensor())
            prompts.append(InteractivePromptRecord(objectId: id, frame: frame, kind: "mask", clicks: [], box: nil))
        }
        initialClicks[id] = prompts.last?.clicks.count ?? 0
        tracked.append(object)
    }

    /// One forward propagation from the earliest prompted frame; online corrections restart it from the
    /// corrected frame. Returns each object's final mask per frame.
    func pass() throws -> [Int: [Int: BitMask]] {
        var predictions: [Int: [Int: BitMask]] = [:]
        var clicksOnFrame: [Int: [Int: Int]] = [:]
        let start = tracked.map(\.firstFrame).min() ?? 0
        var propagation = try predictor.propagation(start: start)
        while let r = try propagation.next() {
            let t = r.frameIndex
            var corrected = false
            for (id, first) in tracked {
                var pred = try bitMask(r, id)
                defer { predictions[id, default: [:]][t] = pred }
                guard t >= first, let gt = try groundTruth(t, id) else { continue }
                var iou = RegionSimilarity.jaccard(annotation: gt, segmentation: pred)
                while schedule.wantsOnlineCorrection(ObjectFrameScore(objectId: id, frame: t, iou: iou),
                                                     clicksUsed: corrections.count, clicksOnFrame: clicksOnFrame[t]?[id] ?? 0) {
                    guard let click = schedule.correctiveClick(groundTruth: try binary(gt), prediction: try binary(pred)) else { break }
                    let after = try predictor.addPoints(frame: t, objectId: id, points: [[Float(click.x), Float(click.y)]],
                                                        labels: [click.label], clearOldPoints: false)
                    pred = try bitMask(after, id)
                    let iouAfter = RegionSimilarity.jaccard(annotation: gt, segmentation: pred)
                    corrections.append(CorrectionRecord(round: 0, frame: t, objectId: id, click: click, iouBefore: iou, iouAfter: iouAfter))
                    clicksOnFrame[t, default: [:]][id, default: 0] += 1
                    iou = iouAfter
                    corrected = true
                }
            }
            // The clicked frame is now a conditioning frame: every later frame must be tracked again from it.
            if corrected && t + 1 < frameCount { propagation = try predictor.propagation(start: t + 1) }
        }
        return predictions
    }

    /// Adds the schedule's offline corrective clicks; false when it asked for none.
    func correctOffline(round: Int, _ predictions: [Int: [Int: BitMask]]) throws -> Bool {
        var scores: [ObjectFrameScore] = []
        for (id, first) in tracked {
            for t in first..<frameCount {
                guard let gt = try groundTruth(t, id), let pred = predictions[id]?[t] else { continue }
                scores.append(ObjectFrameScore(objectId: id, frame: t, iou: RegionSimilarity.jaccard(annotation: gt, segmentation: pred)))
            }
        }
        var added = false
        let trackedIds = Set(tracked.map(\.id))
        for pick in schedule.offlineCorrections(round: round, scores: scores, clicksUsed: corrections.count) {
            guard trackedIds.contains(pick.objectId), let gt = try groundTruth(pick.frame, pick.objectId),
                  let pred = predictions[pick.objectId]?[pick.frame],
                  let click = schedule.correctiveClick(groundTruth: try binary(gt), prediction: try binary(pred)) else { continue }
            let before = RegionSimilarity.jaccard(annotation: gt, segmentation: pred)
            let r = try predictor.addPoints(frame: pick.frame, objectId: pick.objectId, points: [[Float(click.x), Float(click.y)]],
                                            labels: [click.label], clearOldPoints: false)
            let after = RegionSimilarity.jaccard(annotation: gt, segmentation: try bitMask(r, pick.objectId))
            corrections.append(CorrectionRecord(round: round, frame: pick.frame, objectId: pick.objectId, click: click,
                                                iouBefore: before, iouAfter: after))
            added = true
        }
        return added
    }

    /// J and F of every tracked object over its scored frames (frames scored in parallel).
    func score(round: Int, _ predictions: [Int: [Int: BitMask]]) throws -> InteractiveRound {
        var units: [(id: Int, frame: Int, gt: BitMask, pred: BitMask)] = []
        var framesOf: [Int: [Int]] = [:]
        for (id, first) in tracked {
            var frames: [Int] = []
            for t in first..<frameCount where try groundTruth(t, id) != nil { frames.append(t) }
            if evaluation.skipFirstAndLast { frames = frames.count > 2 ? Array(frames[1..<(frames.count - 1)]) : [] }
            framesOf[id] = frames
            for t in frames {
                guard let gt = try groundTruth(t, id) else { continue }
                units.append((id, t, gt, predictions[id]?[t] ?? BitMask(width: width, height: height)))
            }
        }
        let radius = BoundaryMeasure.radius(width: width, height: height, boundTh: evaluation.boundTh)
        let box = ResultBox<(Double, Double)>(count: units.count)
        let work = units
        Parallel.forEach(work.count) { k in
            let u = work[k]
            let j = RegionSimilarity.jaccard(annotation: u.gt, segmentation: u.pred)
            let f = BoundaryMeasure.fMeasure(foregroundBoundary: BoundaryMap.seg2bmap(u.pred),
                                             groundTruthBoundary: BoundaryMap.seg2bmap(u.gt), radius: radius)
            box.set(k, (j, f))
        }
        let values = box.values
        var objects: [InteractiveObjectResult] = []
        var k = 0
        for (id, first) in tracked {
            let frames = framesOf[id] ?? []
            let slice = values[k..<(k + frames.count)]
            k += frames.count
            let clicks = (initialClicks[id] ?? 0) + corrections.filter { $0.objectId == id }.count
            objects.append(InteractiveObjectResult(objectId: id, firstFrame: first, clicks: clicks, frames: frames,
                                                   j: slice.map(\.0), f: slice.map(\.1)))
        }
        return InteractiveRound(round: round, correctiveClicks: corrections.count, objects: objects)
    }
}
