import Foundation
import SAM2

/// A video held by Lua (`sam2.video`): a folder of numbered JPEG / PNG frames, decoded on demand.
public final class VideoObject: LuaObject {
    override public class var luaTypeName: String { "sam2.video" }
    /// The frames.
    public let source: any VideoFrameSource
    /// The folder (empty for generated frames).
    public let path: String
    /// Wraps a frame source.
    public init(_ source: any VideoFrameSource, path: String) { self.source = source; self.path = path }
    override public var luaDescription: String { "sam2.video \(path) (\(source.frameCount) frames, \(source.width)×\(source.height))" }
}

/// A tracker held by Lua (`model:track(video, options)`): a `SAM2VideoPredictor` with its memory policy.
public final class TrackerObject: LuaObject {
    override public class var luaTypeName: String { "sam2.tracker" }
    /// The predictor.
    public let predictor: SAM2VideoPredictor
    /// The video it tracks.
    public let video: VideoObject
    /// The effective settings (`tracker.settings`).
    let settings: LuaValue
    let luaPolicy: LuaMemoryPolicy?

    init(predictor: SAM2VideoPredictor, video: VideoObject, settings: LuaValue) {
        self.predictor = predictor; self.video = video; self.settings = settings
        luaPolicy = predictor.policy as? LuaMemoryPolicy
    }

    override public var luaDescription: String {
        "sam2.tracker (\(video.source.frameCount) frames, objects {\(predictor.objectIds.map(String.init).joined(separator: ", "))}, memory '\(predictor.policy.name)')"
    }

    /// Runs a predictor call; with a Lua memory policy, its callbacks run on `call` and their errors are raised.
    func run<T>(_ call: LuaCall, _ body: () throws -> T) throws -> T {
        if let luaPolicy { return try luaPolicy.run(call: call, body) }
        return try body()
    }
}

/// A propagation in progress (the state of `tracker:propagate`'s iterator).
final class PropagationObject: LuaObject {
    override class var luaTypeName: String { "sam2.propagation" }
    let tracker: TrackerObject
    let propagation: SAM2VideoPredictor.Propagation
    let saveFolder: String?
    init(tracker: TrackerObject, propagation: SAM2VideoPredictor.Propagation, saveFolder: String?) {
        self.tracker = tracker; self.propagation = propagation; self.saveFolder = saveFolder
    }
}

enum VideoBindings {
    /// Option keys of `model:track`.
    static let trackOptions = ["memory", "memory_options", "non_overlap", "fill_hole_area", "num_maskmem", "temporal_stride",
                               "obj_ptrs", "max_obj_ptrs", "max_cond_frames", "multimask_tracking", "high_res_features",
                               "memory_precision"]
    /// Switches that are options of the memory policy: (switch, policy option).
    static let policySwitches = [("num_maskmem", "num_maskmem"), ("temporal_stride", "memory_temporal_stride"),
                                 ("max_obj_ptrs", "max_obj_ptrs"), ("max_cond_frames", "max_cond_frames_in_attn")]
    /// Object ids are palette indices of the saved masks.
    static let objectIds = 1...255

    static func install(into state: LuaState) {
        state.defineType(VideoObject.self, methods: [
            ("frame", { call, me in
                let i = try frameIndex(call, 2, me)
                return [.object(ImageObject(try me.source.frame(i)))]
            }),
            ("name", { call, me in [.string(me.source.frameName(try frameIndex(call, 2, me)))] }),
        ], properties: [
            ("frames", { .int($0.source.frameCount) }),
            ("width", { .int($0.source.width) }),
            ("height", { .int($0.source.height) }),
            ("path", { .string($0.path) }),
        ])
        state.defineType(PropagationObject.self)
        let iterator = state.register("propagate iterator") { call in
            let p = try call.object(1, PropagationObject.self)
            guard let r = try p.tracker.run(call, { try p.propagation.next() }) else { return [.nil] }
            let (masks, scores) = try frameResults(r, p.tracker)
            if let dir = p.saveFolder { try save(r, masks: masks, tracker: p.tracker, folder: dir) }
            return [.int(r.frameIndex), masks, scores]
        }
        state.defineType(TrackerObject.self, methods: [
            ("add_points", addPoints),
            ("add_box", addBox),
            ("add_mask", addMask),
            ("clear", clear),
            ("remove", { call, me in
                let id = try objectId(call, 2)
                guard me.predictor.objectIds.contains(id) else { throw call.argumentError(2, "object \(id) does not exist (objects: \(me.predictor.objectIds.map(String.init).joined(separator: ", ")))") }
                _ = try me.run(call) { try me.predictor.removeObject(id) }
                return []
            }),
            ("reset", { _, me in me.predictor.reset(); return [] }),
            ("propagate", { call, me in
                let o = try call.options(2, known: ["reverse", "start", "max", "save"])
                let start = try o.int("start")
                if let start { guard (0..<me.video.source.frameCount).contains(start) else { throw o.error("start", "frame \(start) out of range 0…\(me.video.source.frameCount - 1)") } }
                let maxFrames = try o.int("max")
                if let maxFrames, maxFrames < 0 { throw o.error("max", "must be >= 0, got \(maxFrames)") }
                guard !me.predictor.objectIds.isEmpty else { throw BindingError.invalid("propagate: no object has prompts; call add_points, add_box or add_mask first") }
                let p = try me.run(call) { try me.predictor.propagation(start: start, maxFrames: maxFrames, reverse: try o.bool("reverse") ?? false) }
                let state = PropagationObject(tracker: me, propagation: p, saveFolder: try o.string("save"))
                return [.swiftFunction(id: iterator), .object(state), .nil, .object(state)]
            }),
        ], properties: [
            ("objects", { .array($0.predictor.objectIds.map { .int($0) }) }),
            ("video", { .object($0.video) }),
            ("settings", { $0.settings }),
            ("frames_encoded", { .int($0.predictor.framesEncoded) }),
        ])
    }

    // MARK: sam2.video, model:track

    /// sam2.video(folder) → sam2.video
    static func video(_ call: LuaCall) throws -> [LuaValue] {
        let path = try call.string(1)
        return [.object(VideoObject(try FrameFolder(path: path), path: path))]
    }

    /// model:track(video, options) → sam2.tracker
    /// The registered memory policy `name` built with `options`; registry errors are reported on the `memory` /
    /// `memory_options` key, and a Lua policy must belong to the calling Lua state.
    static func memoryPolicy(_ name: String, options: [String: OptionValue], from o: LuaOptions,
                             call: LuaCall) throws -> any MemoryPolicy {
        let made: Any
        do { made = try Registry.shared.make(.memoryPolicy, name, options: options) }
        catch { throw o.error(options.isEmpty ? "memory" : "memory_options", String(describing: error)) }
        guard let policy = made as? any MemoryPolicy else { throw MemoryPolicyError.notAPolicy(name: name) }
        if let lua = policy as? LuaMemoryPolicy, lua.definition.state !== call.state {
            throw o.error("memory", "memory policy '\(name)' was registered by another Lua state")
        }
        return policy
    }

    static func track(_ call: LuaCall, _ me: ModelObject) throws -> [LuaValue] {
        let video = try call.object(2, VideoObject.self)
        let o = try call.options(3, known: trackOptions)

        let name = try o.string("memory") ?? "official"
        let descriptor: ComponentDescriptor
        do { descriptor = try Registry.shared.descriptor(.memoryPolicy, name) } catch { throw o.error("memory", String(describing: error)) }
        var policyOptions = try o.componentOptions("memory_options")
        for (key, option) in policySwitches {
            guard let v = try o.int(key) else { continue }
            guard descriptor.options.contains(where: { $0.name == option }) else {
                throw o.error(key, "memory policy '\(name)' has no option '\(option)' (its options: \(descriptor.options.isEmpty ? "none" : descriptor.options.map(\.name).joined(separator: ", ")))")
            }
            guard policyOptions[option] == nil else { throw o.error(key, "also given as memory_options.\(option)") }
            policyOptions[option] = .int(v)
        }

        let base = try me.trackingBase()
        var tracking = base
        if let n = try o.int("num_maskmem"), !(1...base.numMaskmem).contains(n) {
            throw o.error("num_maskmem", "1…\(base.numMaskmem) expected (the model has \(base.numMaskmem) memory slots), got \(n)")
        }
        if let b = try o.bool("obj_ptrs") {
            guard !b || base.useObjPtrsInEncoder else { throw o.error("obj_ptrs", "the checkpoint has no object-pointer projection") }
            tracking.useObjPtrsInEncoder = b
        }
        if let b = try o.bool("multimask_tracking") { tracking.multimaskOutputForTracking = b }
        if let p = try o.string("memory_precision") {
            switch p.lowercased() {
            case "bf16", "bfloat16": tracking.memoryPrecision = .bfloat16
            case "fp32", "float32": tracking.memoryPrecision = .float32
            default: throw o.error("memory_precision", "\"bf16\" or \"fp32\" expected, got \"\(p)\"")
            }
        }
        let highRes = try o.bool("high_res_features") ?? true
        let fillHoleArea = try o.int("fill_hole_area") ?? 8
        guard fillHoleArea >= 0 else { throw o.error("fill_hole_area", "must be >= 0, got \(fillHoleArea)") }

        let policy = try memoryPolicy(name, options: policyOptions, from: o, call: call)
        let model = try me.videoModel(tracking: tracking, highResFeatures: highRes)
        let predictor = SAM2VideoPredictor(model: model, frames: video.source, policy: policy, fillHoleArea: fillHoleArea,
                                           nonOverlapMasks: try o.bool("non_overlap") ?? false)
        let resolved = try descriptor.resolve(policyOptions).values.sorted { $0.key < $1.key }
        let settings = LuaValue.record([
            ("memory", .string(name)),
            ("memory_options", .record(resolved.map { ($0.key, ModelBindings.optionValue($0.value)) })),
            ("model_slots", .int(model.embeddings.numMaskmem)),
            ("obj_ptrs", .bool(model.config.useObjPtrsInEncoder)),
            ("multimask_tracking", .bool(model.config.multimaskOutputForTracking)),
            ("high_res_features", .bool(model.model.config.decoder.useHighResFeatures)),
            ("memory_precision", .string(model.config.memoryPrecision == .bfloat16 ? "bf16" : "fp32")),
            ("non_overlap", .bool(predictor.nonOverlapMasks)),
            ("fill_hole_area", .int(fillHoleArea)),
        ])
        return [.object(TrackerObject(predictor: predictor, video: video, settings: settings))]
    }

    // MARK: Prompts

    static func frameIndex(_ call: LuaCall, _ position: Int, _ video: VideoObject) throws -> Int {
        let i = try call.int(position)
        let n = video.source.frameCount
        guard (0..<n).contains(i) else { throw call.argumentError(position, "frame \(i) out of range 0…\(n - 1)") }
        return i
    }

    static func objectId(_ call: LuaCall, _ position: Int) throws -> Int {
        let id = try call.int(position)
        guard objectIds.contains(id) else { throw call.argumentError(position, "object id 1…255 expected, got \(id)") }
        return id
    }

    /// tracker:add_points(frame, obj, {{x, y[, label]}, …} [, {clear = true}]) → masks, scores
    static func addPoints(_ call: LuaCall, _ me: TrackerObject) throws -> [LuaValue] {
        let frame = try frameIndex(call, 2, me.video), id = try objectId(call, 3)
        let list = try call.table(4)
        guard !list.array.isEmpty else { throw call.argumentError(4, "at least one {x, y[, label]} expected") }
        var points: [[Float]] = [], labels: [Int] = []
        for (i, p) in list.array.enumerated() {
            guard case let .table(t) = p else { throw call.argumentError(4, "item \(i + 1): table {x, y[, label]} expected, got \(p.typeName)") }
            let v = try LuaOptions.numbers(t, count: nil) { call.argumentError(4, "item \(i + 1): \($0)") }
            guard v.count == 2 || v.count == 3 else { throw call.argumentError(4, "item \(i + 1): {x, y[, label]} expected, got \(v.count) numbers") }
            let label = v.count == 3 ? v[2] : 1
            guard label == 0 || label == 1 else { throw call.argumentError(4, "item \(i + 1): label must be 1 (positive) or 0 (negative), got \(label)") }
            points.append([Float(v[0]), Float(v[1])]); labels.append(Int(label))
        }
        let o = try call.options(5, known: ["clear"])
        let clearOld = try o.bool("clear") ?? true
        let r = try me.run(call) { try me.predictor.addPoints(frame: frame, objectId: id, points: points, labels: labels, clearOldPoints: clearOld) }
        let (masks, scores) = try frameResults(r, me)
        return [masks, scores]
    }

    /// tracker:add_box(frame, obj, {x0, y0, x1, y1}) → masks, scores
    static func addBox(_ call: LuaCall, _ me: TrackerObject) throws -> [LuaValue] {
        let frame = try frameIndex(call, 2, me.video), id = try objectId(call, 3)
        let box = try LuaOptions.numbers(try call.table(4), count: 4) { call.argumentError(4, $0) }
        guard box[0] <= box[2], box[1] <= box[3] else { throw call.argumentError(4, "box {x0, y0, x1, y1} with x0 <= x1 and y0 <= y1 expected") }
        let r = try me.run(call) { try me.predictor.addPoints(frame: frame, objectId: id, box: box.map(Float.init)) }
        let (masks, scores) = try frameResults(r, me)
        return [masks, scores]
    }

    /// tracker:add_mask(frame, obj, mask) with a sam2.mask or a [H, W] sam2.tensor at the video's size → masks, scores
    static func addMask(_ call: LuaCall, _ me: TrackerObject) throws -> [LuaValue] {
        let frame = try frameIndex(call, 2, me.video), id = try objectId(call, 3)
        let (w, h) = (me.video.source.width, me.video.source.height)
        let tensor: Tensor
        switch try call.value(4) {
        case let .object(m as MaskObject): tensor = m.mask.toTensor()
        case let .object(t as TensorObject): tensor = t.tensor
        case let v: throw call.typeError(4, expected: "sam2.mask or sam2.tensor", got: v)
        }
        guard tensor.shape == [h, w] else {
            throw call.argumentError(4, "mask of the video's size \(w)×\(h) expected, got shape \(tensor.shape)")
        }
        let r = try me.run(call) { try me.predictor.addMask(frame: frame, objectId: id, mask: tensor) }
        let (masks, scores) = try frameResults(r, me)
        return [masks, scores]
    }

    /// tracker:clear(frame [, obj]): forgets the prompts on `frame` (of one object or all) → masks, scores
    static func clear(_ call: LuaCall, _ me: TrackerObject) throws -> [LuaValue] {
        let frame = try frameIndex(call, 2, me.video)
        var ids = me.predictor.objectIds
        if case .nil = try call.value(3) {} else {
            let id = try objectId(call, 3)
            guard ids.contains(id) else { throw call.argumentError(3, "object \(id) does not exist (objects: \(ids.map(String.init).joined(separator: ", ")))") }
            ids = [id]
        }
        var last: VideoFrameResult? = nil
        for id in ids { last = try me.run(call) { try me.predictor.clearPrompts(frame: frame, objectId: id) } }
        guard let last else { return [] }
        let (masks, scores) = try frameResults(last, me)
        return [masks, scores]
    }

    // MARK: Results

    /// {[obj] = sam2.mask} and {[obj] = object score logit} of one frame (sparse tables keyed by object id).
    static func frameResults(_ r: VideoFrameResult, _ tracker: TrackerObject) throws -> (LuaValue, LuaValue) {
        let (w, h) = (tracker.video.source.width, tracker.video.source.height)
        let top = r.objectIds.max() ?? 0
        var masks = [LuaValue](repeating: .nil, count: top), scores = [LuaValue](repeating: .nil, count: top)
        let (lh, lw) = (r.lowResMasks.shape[2], r.lowResMasks.shape[3])
        for (k, id) in r.objectIds.enumerated() {
            let bits = r.mask(objectId: id) ?? [Bool](repeating: false, count: w * h)
            let low = Tensor(shape: [1, lh, lw], data: Array(r.lowResMasks.data[(k * lh * lw)..<((k + 1) * lh * lw)]))
            masks[id - 1] = .object(MaskObject(try BinaryMask(width: w, height: h, bits: bits), logits: low))
            scores[id - 1] = r.objectScores[k].map { .number(Double($0)) } ?? .nil
        }
        return (.array(masks), .array(scores))
    }

    /// Writes the frame's masks as a DAVIS palette PNG `folder/<frame name>.png` (index = object id; where
    /// objects overlap, the later-added object wins).
    static func save(_ r: VideoFrameResult, masks: LuaValue, tracker: TrackerObject, folder: String) throws {
        let (w, h) = (tracker.video.source.width, tracker.video.source.height)
        var index = IndexMask(width: w, height: h)
        for id in r.objectIds {
            guard let bits = r.mask(objectId: id) else { continue }
            for p in 0..<bits.count where bits[p] { index.indices[p] = UInt8(id) }
        }
        let path = (folder as NSString).appendingPathComponent(tracker.video.source.frameName(r.frameIndex) + ".png")
        try Files.prepareParent(of: path)
        try ImageIO.write(index, to: path)
    }
}

extension ModelObject {
    /// The checkpoint's tracking flags (cached).
    func trackingBase() throws -> SAM2TrackingConfig {
        if let base = trackingCache.base { return base }
        let checkpoint = try Checkpoint.open(model.checkpointPath)
        var base = SAM2TrackingConfig.inferred(from: checkpoint, family: model.config.family)
        base.multimaskOutputInSam = model.config.multimaskOutputInSam
        base.directlyAddNoMemEmbed = model.config.directlyAddNoMemEmbed
        guard checkpoint.shapes["memory_encoder.out_proj.weight"] != nil else {
            throw BindingError.invalid("model:track: \(model.checkpointPath) has no memory modules (an image-only checkpoint)")
        }
        trackingCache.base = base
        return base
    }

    /// The video model for a set of switches (built once per distinct setting: they share the checkpoint's file).
    func videoModel(tracking: SAM2TrackingConfig, highResFeatures: Bool) throws -> SAM2VideoModel {
        let highRes = highResFeatures && model.config.decoder.useHighResFeatures
        if let hit = trackingCache.models.first(where: { $0.config == tracking && $0.highRes == highRes }) { return hit.model }
        let checkpoint = try Checkpoint.open(model.checkpointPath)
        var image = model
        if !highRes && model.config.decoder.useHighResFeatures {
            // The decoder without conv_s0/conv_s1 and their skip connections (use_high_res_features_in_sam=False).
            var c = model.config
            c.decoder.useHighResFeatures = false
            image = try SAM2Model(checkpoint: checkpoint, config: c, parts: parts)
        }
        let video = try SAM2VideoModel(model: image, checkpoint: checkpoint, config: tracking)
        trackingCache.models.append((tracking, highRes, video))
        if trackingCache.models.count > 4 { trackingCache.models.removeFirst() }
        return video
    }
}

/// Video models a `ModelObject` built for `model:track`, by switch setting.
final class TrackingCache {
    var base: SAM2TrackingConfig?
    var models: [(config: SAM2TrackingConfig, highRes: Bool, model: SAM2VideoModel)] = []
}
