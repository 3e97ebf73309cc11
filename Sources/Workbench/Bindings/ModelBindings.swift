import Foundation
import SAM2

/// A loaded SAM 2 model held by Lua (`sam2.model`); remembers the last image it embedded so several
/// `segment` calls on one image encode it once.
public final class ModelObject: LuaObject {
    override public class var luaTypeName: String { "sam2.model" }
    /// The model.
    public let model: SAM2Model
    /// Names of the registered parts it was built with.
    public let parts: SAM2Model.Parts
    private var predictor: SAM2ImagePredictor?
    private weak var embedded: ImageObject?
    /// Video models built by `model:track` (see VideoBindings.swift).
    let trackingCache = TrackingCache()

    /// Wraps a model.
    public init(_ model: SAM2Model, parts: SAM2Model.Parts) { self.model = model; self.parts = parts }

    override public var luaDescription: String { "sam2.model \(model.config.name) (\(model.config.imageSize)², hidden \(model.config.hiddenDim))" }

    /// The image predictor with `image` embedded (reused while the same image object is passed).
    func predictor(for image: ImageObject) throws -> SAM2ImagePredictor {
        let p = predictor ?? SAM2ImagePredictor(model: model)
        predictor = p
        if embedded !== image {
            embedded = nil
            try p.setImage(image.image)
            embedded = image
        }
        return p
    }
}

enum ModelBindings {
    static func install(into state: LuaState) {
        state.defineType(ModelObject.self, methods: [
            ("info", { _, me in [info(me)] }),
            ("segment", segment),
            ("everything", everything),
            ("track", VideoBindings.track),
        ])
    }

    /// sam2.load(checkpoint, {config, image_size, trunk, encoder, encoder_options, decoder, decoder_options, precision})
    static func load(_ call: LuaCall) throws -> [LuaValue] {
        let path = try call.string(1)
        let o = try call.options(2, known: ["config", "image_size", "trunk", "encoder", "encoder_options", "decoder",
                                            "decoder_options", "precision"])
        // Process-wide (ComputePrecision.current), so it also applies to models loaded earlier; validated first so
        // a bad value changes nothing.
        var precision: ComputePrecision? = nil
        if let p = try o.string("precision") {
            do { precision = try ComputePrecision(parsing: p) } catch { throw o.error("precision", error.description) }
        }
        var parts = SAM2Model.Parts()
        if let e = try o.string("encoder") { parts.encoder = e }
        if let d = try o.string("decoder") { parts.decoder = d }
        parts.encoderOptions = try o.componentOptions("encoder_options")
        parts.decoderOptions = try o.componentOptions("decoder_options")
        let size = try o.int("image_size")
        if let size, size <= 0 || size % 16 != 0 { throw o.error("image_size", "a positive multiple of 16 expected, got \(size)") }
        let checkpoint = try Checkpoint.open(path)
        var encoder: HieraImageEncoder.Config? = nil
        if let t = try o.table("trunk") {
            let trunk = try hieraConfig(t) { o.error("trunk", $0) }
            let dModel = checkpoint.shapes["image_encoder.neck.convs.0.conv.weight"]?.first ?? 256
            encoder = HieraImageEncoder.Config(trunk: trunk, neck: FpnNeck.Config(dModel: dModel, backboneChannelList: trunk.channelList))
        }
        let config = try SAM2ModelConfig.inferred(from: checkpoint, imageSize: size, encoder: encoder,
                                                  name: try o.string("config"))
        let model = try SAM2Model(checkpoint: checkpoint, config: config, parts: parts)
        if let precision { ComputePrecision.current = precision }
        return [.object(ModelObject(model, parts: parts))]
    }

    /// A Hiera trunk from a table with the official `Hiera.__init__` argument names (for trunks that are not
    /// one of the four released sizes, e.g. the reduced test models).
    static func hieraConfig(_ t: LuaTable, fail: (String) -> Error) throws -> HieraConfig {
        let ints = ["embed_dim", "num_heads", "q_pool"], numbers = ["mlp_ratio", "dim_mul", "head_mul"]
        let lists = ["stages", "q_stride", "window_spec", "global_att_blocks", "window_pos_embed_bkg_spatial_size"]
        for k in t.keys where !(ints + numbers + lists).contains(k) {
            throw fail("unknown key '\(k)' (keys: \((ints + numbers + lists).joined(separator: ", ")))")
        }
        func int(_ k: String) throws -> Int? {
            if case .nil = t[k] { return nil }
            guard let d = t[k].double, let i = LuaCall.exactInt(d) else { throw fail("\(k): integer expected, got \(t[k].typeName)") }
            return i
        }
        func number(_ k: String) throws -> Double? {
            if case .nil = t[k] { return nil }
            guard let d = t[k].double else { throw fail("\(k): number expected, got \(t[k].typeName)") }
            return d
        }
        func list(_ k: String) throws -> [Int]? {
            switch t[k] {
            case .nil: return nil
            case let .table(l):
                return try LuaOptions.numbers(l, count: nil) { fail("\(k): \($0)") }.map {
                    guard let i = LuaCall.exactInt($0) else { throw fail("\(k): integers expected") }
                    return i
                }
            case let v: throw fail("\(k): table expected, got \(v.typeName)")
            }
        }
        var c = HieraConfig()
        if let v = try int("embed_dim") { c.embedDim = v }
        if let v = try int("num_heads") { c.numHeads = v }
        if let v = try int("q_pool") { c.qPool = v }
        if let v = try number("mlp_ratio") { c.mlpRatio = v }
        if let v = try number("dim_mul") { c.dimMul = v }
        if let v = try number("head_mul") { c.headMul = v }
        if let v = try list("stages") { c.stages = v }
        if let v = try list("q_stride") { c.qStride = v }
        if let v = try list("window_spec") { c.windowSpec = v }
        if let v = try list("global_att_blocks") { c.globalAttBlocks = v }
        if let v = try list("window_pos_embed_bkg_spatial_size") { c.windowPosEmbedBkgSpatialSize = v }
        guard c.embedDim > 0, c.numHeads > 0, !c.stages.isEmpty, c.stages.allSatisfy({ $0 > 0 }),
              c.windowSpec.count == c.stages.count, c.qStride.count == 2, c.windowPosEmbedBkgSpatialSize.count == 2 else {
            throw fail("inconsistent trunk (positive embed_dim/num_heads/stages, one window per stage, 2-element q_stride and window_pos_embed_bkg_spatial_size)")
        }
        return c
    }

    static func info(_ me: ModelObject) -> LuaValue {
        let c = me.model.config
        return .record([
            ("name", .string(c.name)),
            ("family", .string(c.family?.rawValue ?? "image-only")),
            ("hidden_dim", .int(c.hiddenDim)),
            ("image_size", .int(c.imageSize)),
            ("checkpoint", .string(me.model.checkpointPath)),
            ("encoder", .string(me.parts.encoder)),
            ("decoder", .string(me.parts.decoder)),
            ("precision", .string(ComputePrecision.current.rawValue)),
        ])
    }

    /// model:segment(image, {points, box, mask, multimask, threshold}) → masks (best IoU first), scores
    static func segment(_ call: LuaCall, _ me: ModelObject) throws -> [LuaValue] {
        let image = try call.object(2, ImageObject.self)
        let o = try call.options(3, known: ["points", "box", "mask", "multimask", "threshold"])
        var coords: Tensor? = nil, labels: Tensor? = nil, box: Tensor? = nil, maskInput: Tensor? = nil
        if let points = try o.table("points") {
            guard !points.array.isEmpty else { throw o.error("points", "at least one {x, y[, label]} expected") }
            var xy: [Float] = [], l: [Float] = []
            for (i, p) in points.array.enumerated() {
                guard case let .table(t) = p else { throw o.error("points", "item \(i + 1): table {x, y[, label]} expected, got \(p.typeName)") }
                let v = try LuaOptions.numbers(t, count: nil) { o.error("points", "item \(i + 1): \($0)") }
                guard v.count == 2 || v.count == 3 else { throw o.error("points", "item \(i + 1): {x, y[, label]} expected, got \(v.count) numbers") }
                let label = v.count == 3 ? v[2] : 1
                guard label == 0 || label == 1 else { throw o.error("points", "item \(i + 1): label must be 1 (positive) or 0 (negative), got \(label)") }
                xy += [Float(v[0]), Float(v[1])]; l.append(Float(label))
            }
            coords = Tensor(shape: [l.count, 2], data: xy)
            labels = Tensor(shape: [l.count], data: l)
        }
        if let b = try o.numbers("box", count: 4) { box = Tensor(shape: [4], data: b.map(Float.init)) }
        let m = me.model.promptEncoder.maskInputSize
        switch o["mask"] {
        case .nil: break
        case let .object(obj as MaskObject):
            if let logits = obj.logits {
                maskInput = logits.reshaped([1, logits.shape[logits.rank - 2], logits.shape[logits.rank - 1]])
            } else {
                // A plain binary mask enters as ±10 logits at the decoder's mask-input size.
                let resized = obj.mask.toTensor().reshaped([1, 1, obj.mask.height, obj.mask.width])
                    .interpolate(size: (m.height, m.width), mode: .bilinear)
                maskInput = resized.map { $0 > 0.5 ? 10 : -10 }.reshaped([1, m.height, m.width])
            }
        case let .object(obj as TensorObject):
            let t = obj.tensor
            guard t.rank >= 2, t.count == m.height * m.width, t.shape.suffix(2) == [m.height, m.width] else {
                throw o.error("mask", "low-res logits [\(m.height), \(m.width)] expected, got tensor \(t.shape)")
            }
            maskInput = t.reshaped([1, m.height, m.width])
        case let v:
            throw o.error("mask", "sam2.mask or sam2.tensor expected, got \(v.typeName)")
        }
        guard coords != nil || box != nil || maskInput != nil else {
            throw call.argumentError(3, "prompts expected: points, box or mask")
        }
        let multimask = try o.bool("multimask") ?? true
        let threshold = Float(try o.number("threshold") ?? 0)
        let predictor = try me.predictor(for: image)
        let p = try predictor.predict(pointCoords: coords, pointLabels: labels, box: box, maskInput: maskInput,
                                      multimaskOutput: multimask, returnLogits: true)
        let (c, h, w) = (p.masks.shape[1], p.masks.shape[2], p.masks.shape[3])
        let (lh, lw) = (p.lowResMasks.shape[2], p.lowResMasks.shape[3])
        var masks: [MaskObject] = []
        for k in 0..<c {
            let bits = p.masks.data[(k * h * w)..<((k + 1) * h * w)].map { $0 > threshold }
            let low = Tensor(shape: [1, lh, lw], data: Array(p.lowResMasks.data[(k * lh * lw)..<((k + 1) * lh * lw)]))
            masks.append(MaskObject(try BinaryMask(width: w, height: h, bits: bits),
                                    score: Double(p.iouPredictions.data[k]), logits: low))
        }
        masks.sort { ($0.score ?? 0) > ($1.score ?? 0) }
        return [.array(masks.map { .object($0) }), .array(masks.map { .number($0.score ?? 0) })]
    }

    static let everythingOptions: [(String, WritableKeyPath<AutomaticMaskGeneratorOptions, Double>)] = [
        ("pred_iou_thresh", \.predIoUThresh), ("stability_score_thresh", \.stabilityScoreThresh),
        ("stability_score_offset", \.stabilityScoreOffset), ("mask_threshold", \.maskThreshold),
        ("box_nms_thresh", \.boxNMSThresh), ("crop_nms_thresh", \.cropNMSThresh), ("crop_overlap_ratio", \.cropOverlapRatio),
    ]
    static let everythingIntOptions: [(String, WritableKeyPath<AutomaticMaskGeneratorOptions, Int>)] = [
        ("points_per_batch", \.pointsPerBatch), ("crop_n_layers", \.cropNLayers),
        ("crop_n_points_downscale_factor", \.cropNPointsDownscaleFactor), ("min_mask_region_area", \.minMaskRegionArea),
    ]

    /// model:everything(image, {points_per_side, …, progress = function(done, total)}) → masks
    static func everything(_ call: LuaCall, _ me: ModelObject) throws -> [LuaValue] {
        let image = try call.object(2, ImageObject.self)
        let known = ["points_per_side", "use_m2m", "multimask", "progress"] + everythingOptions.map(\.0) + everythingIntOptions.map(\.0)
        let o = try call.options(3, known: known)
        var opts = AutomaticMaskGeneratorOptions()
        if let n = try o.int("points_per_side") { opts.pointsPerSide = n }
        for (key, path) in everythingOptions { if let v = try o.number(key) { opts[keyPath: path] = v } }
        for (key, path) in everythingIntOptions { if let v = try o.int(key) { opts[keyPath: path] = v } }
        if let b = try o.bool("use_m2m") { opts.useM2M = b }
        if let b = try o.bool("multimask") { opts.multimaskOutput = b }
        let progress = try o.function("progress")
        let generator = try SAM2AutomaticMaskGenerator(model: me.model, options: opts)
        var callbackError: Error?
        let found = try generator.generate(image.image) { done, total in
            guard let progress, callbackError == nil else { return }
            do { _ = try call.callFunction(progress, [.int(done), .int(total)]) } catch { callbackError = error }
        }
        if let callbackError { throw callbackError }
        let masks: [LuaValue] = try found.map { g in
            let t = try g.binaryMask()
            let bits = try BinaryMask(tensor: t, threshold: 0.5)
            return .object(MaskObject(bits, score: Double(g.predictedIoU), stability: Double(g.stabilityScore)))
        }
        return [.array(masks)]
    }

    /// sam2.components([kind]) → {{kind, name, summary, options = {{name, default, summary}}}}
    static func components(_ call: LuaCall) throws -> [LuaValue] {
        var kind: ComponentKind? = nil
        if let k = try call.optString(1) {
            guard let parsed = ComponentKind(rawValue: k) else {
                throw call.argumentError(1, "unknown kind '\(k)' (kinds: \(ComponentKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            kind = parsed
        }
        let list: [LuaValue] = Registry.shared.components(kind).map { d in
            .record([
                ("kind", .string(d.kind.rawValue)), ("name", .string(d.name)), ("summary", .string(d.summary)),
                ("options", .array(d.options.map { o in
                    .record([("name", .string(o.name)), ("default", optionValue(o.defaultValue)),
                             ("type", .string(o.defaultValue.typeName)), ("summary", .string(o.summary))])
                })),
            ])
        }
        return [.array(list)]
    }

    static func optionValue(_ v: OptionValue) -> LuaValue {
        switch v {
        case let .int(i): return .int(i)
        case let .number(d): return .number(d)
        case let .bool(b): return .bool(b)
        case let .string(s): return .string(s)
        }
    }
}
