import Foundation
import SAM2

/// `sam2.train{…}`: the `workbench train` command from Lua (same options, snake_case), with an optional
/// `on_step(row)` callback (return false to stop after the current step, which is checkpointed).
enum TrainingBindings {
    static let known = ["model", "data", "steps", "batch_size", "out", "lr", "final_lr", "warmup", "hold", "decay", "weight_decay", "clip_norm",
                        "layer_decay", "lr_scale", "scale_parameters", "loss_weights", "clip_length", "max_objects", "max_stride", "image_fraction",
                        "reappearance_fraction", "correction_clicks", "freeze", "seed", "checkpoint_every", "validate_every", "val_videos", "val_frames",
                        "synthetic_frames", "ema", "resume", "on_step"]

    static func train(_ call: LuaCall) throws -> [LuaValue] {
        let o = try call.options(1, known: known)
        guard let modelSpec = try o.string("model") else { throw o.error("model", "required: 'embedded', an ARCH.json or a checkpoint") }
        guard let data = try o.string("data") else { throw o.error("data", "required, e.g. 'synthetic:200'") }
        guard let steps = try o.int("steps") else { throw o.error("steps", "required: a positive integer") }
        guard let out = try o.string("out") else { throw o.error("out", "required: an output folder") }
        var opts = TrainingOptions()
        opts.steps = steps
        if let v = try o.int("batch_size") { opts.batchSize = v }
        if let v = try o.number("lr") { opts.learningRate = Float(v) }
        if let v = try o.number("final_lr") { opts.finalLearningRate = Float(v) }
        opts.warmupSteps = try o.int("warmup") ?? min(50, steps / 10)
        if let v = try o.int("hold") { opts.holdSteps = v }
        if let v = try o.string("decay") { opts.decay = v }
        if let v = try o.number("weight_decay") { opts.weightDecay = Float(v) }
        if let v = try o.number("clip_norm") { opts.clipNorm = Float(v) }
        if let v = try o.number("layer_decay") { opts.layerDecay = Float(v) }
        if let f = try factors(o, "lr_scale", positive: true, example: "{image_encoder = 0.1}") { opts.learningRateScales = f }
        if let f = try factors(o, "scale_parameters", positive: false,
                               example: "{[\"memory_attention.layers.*.cross_attn_image.q_proj.bias\"] = 0.3}") { opts.parameterScales = f }
        if let f = try factors(o, "loss_weights", positive: false, example: "{class = 4}") { opts.lossWeights = f }
        if let v = try o.int("clip_length") { opts.clipLength = v }
        if let v = try o.int("max_objects") { opts.maxObjects = v }
        if let v = try o.int("max_stride") { opts.maxStride = v }
        if let v = try o.number("image_fraction") { opts.imageFraction = v }
        if let v = try o.number("reappearance_fraction") { opts.reappearanceFraction = v }
        if let v = try o.int("correction_clicks") {
            guard v >= 0 else { throw o.error("correction_clicks", "≥ 0 expected, got \(v)") }
            opts.prompts.numCorrectionPtPerFrame = v
        }
        if let t = try o.table("freeze") {
            opts.freeze = try t.array.enumerated().map { i, v in
                guard case let .string(s) = v else { throw o.error("freeze", "item \(i + 1): string expected, got \(v.typeName)") }
                return s
            }
        }
        if let v = try o.int("seed") {
            guard v >= 0 else { throw o.error("seed", "a non-negative integer expected, got \(v)") }
            opts.seed = UInt64(v)
        }
        if let v = try o.int("checkpoint_every") { opts.checkpointEvery = v }
        if let v = try o.int("validate_every") { opts.validateEvery = v }
        if let v = try o.int("val_videos") { opts.validationVideos = v }
        if let v = try o.int("val_frames") { opts.validationFrames = v }
        if let v = try o.int("synthetic_frames") { opts.syntheticFrames = v }
        if let v = try o.number("ema") { opts.ema = Float(v) }
        do { try opts.validate() } catch { throw o.error("options", "\(error)") }
        let callback = try o.function("on_step")
        if try o.bool("resume") == false { try? FileManager.default.removeItem(atPath: out + "/checkpoint.safetensors") }

        let model = try TrainingRun.model(modelSpec, seed: opts.seed)
        let videos = try TrainingDataSpec.parse(data).videos(imageSize: model.architecture.imageSize, syntheticFrames: opts.syntheticFrames)
        let trainer = try Trainer(model: model, options: opts,
                                  sampler: try TrainingClipSampler(videos: videos, imageSize: model.architecture.imageSize),
                                  outputDirectory: out)
        trainer.validationVideos = try TrainingRun.validationVideos(size: model.architecture.imageSize, count: opts.validationVideos,
                                                                    frames: opts.validationFrames)
        try trainer.resumeIfPossible()
        var validation: [LuaValue] = []
        trainer.onValidation = { step, results in
            for (name, v) in results {
                validation.append(.record([("step", .int(step)), ("setting", .string(name)), ("j_and_f", .number(v))]))
            }
        }
        let bar = ProgressBar(total: max(0, steps - trainer.step), label: "train", unit: "steps")
        trainer.onStep = { row in
            bar.setStatus(String(format: "loss %.3f IoU %.2f", row.loss, row.meanIoU))
            bar.advance()
            guard let callback else { return true }
            let r = try call.callFunction(callback, [.record([
                ("step", .int(row.step)), ("lr", .number(Double(row.learningRate))), ("loss", .number(Double(row.loss))),
                ("loss_mask", .number(Double(row.mask))), ("loss_dice", .number(Double(row.dice))),
                ("loss_iou", .number(Double(row.iou))), ("loss_class", .number(Double(row.objectClass))),
                ("mean_iou", .number(row.meanIoU)), ("seconds", .number(row.seconds))])])
            if case .bool(false)? = r.first { return false }
            return true
        }
        try trainer.run()
        bar.finish()
        let curve = out + "/loss_curve.png"
        try TrainingRun.writeLossCurve(log: trainer.logPath, to: curve)
        let ema: [(String, LuaValue)] = opts.ema > 0 ? [("model_ema", .string(trainer.emaModelPath))] : []
        return [.record([("model", .string(trainer.modelPath))] + ema + [("checkpoint", .string(trainer.checkpointPath)),
                         ("log", .string(trainer.logPath)), ("loss_curve", .string(curve)), ("steps", .int(trainer.step)),
                         ("validation", .array(validation))])]
    }

    /// A `{key = factor, …}` option (`lr_scale`, `scale_parameters`, `loss_weights`): finite numbers, > 0 when `positive`.
    private static func factors(_ o: LuaOptions, _ name: String, positive: Bool, example: String) throws -> [String: Float]? {
        guard let t = try o.table(name) else { return nil }
        var out: [String: Float] = [:]
        for (k, v) in t.fields {
            var factor: Double? = nil
            if case let .number(x) = v { factor = x } else if case let .int(i) = v { factor = Double(i) }
            guard let f = factor, f.isFinite, !positive || f > 0 else {
                throw o.error(name, "\(k): a \(positive ? "factor > 0" : "finite factor") expected, got \(v)")
            }
            out[k] = Float(f)
        }
        if !t.array.isEmpty { throw o.error(name, "a table of key = factor, e.g. \(example)") }
        return out
    }
}
