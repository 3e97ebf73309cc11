import Foundation
import SAM2

enum MetricsBindings {
    /// metrics.jf(pred, gt [, {bound_th}]) → {j, f, jf}
    static func jf(_ call: LuaCall) throws -> [LuaValue] {
        let pred = try call.object(1, MaskObject.self)
        let gt = try call.object(2, MaskObject.self)
        let o = try call.options(3, known: ["bound_th"])
        try ImageBindings.sameSize(pred, gt, call.argumentError(2, "mask \(gt.mask.width)×\(gt.mask.height) does not match prediction \(pred.mask.width)×\(pred.mask.height)"))
        let boundTh = try o.number("bound_th") ?? BoundaryMeasure.defaultBoundThreshold
        guard boundTh > 0 else { throw o.error("bound_th", "must be positive, got \(boundTh)") }
        let (p, g) = (pred.bitMask, gt.bitMask)
        let j = RegionSimilarity.jaccard(annotation: g, segmentation: p)
        let f = BoundaryMeasure.fMeasure(foreground: p, groundTruth: g, boundTh: boundTh)
        return [.record([("j", .number(j)), ("f", .number(f)), ("jf", .number((j + f) / 2))])]
    }

    /// metrics.evaluate(gt_dir, pred_dir [, {per_object, sequences, skip_first_and_last, baseline, resamples}]) → table
    /// (no progress callback: VOSEvaluation reports progress from its worker threads, and Lua is single-threaded)
    static func evaluate(_ call: LuaCall) throws -> [LuaValue] {
        let gt = try call.string(1), pred = try call.string(2)
        let o = try call.options(3, known: ["per_object", "sequences", "skip_first_and_last", "baseline", "resamples"])
        let resamples = try o.int("resamples") ?? 2000
        guard resamples >= 1 else { throw o.error("resamples", "≥ 1 expected, got \(resamples)") }
        var sequences: [String]? = nil
        if let t = try o.table("sequences") {
            sequences = try t.array.enumerated().map { i, v in
                guard case let .string(s) = v else { throw o.error("sequences", "item \(i + 1): string expected, got \(v.typeName)") }
                return s
            }
        }
        let layout: MaskFolderLayout = try o.bool("per_object") == true ? .perObject : .palette
        let skip = try o.bool("skip_first_and_last") ?? true
        func run(_ predictions: String) throws -> EvaluationResult {
            try VOSEvaluation(groundTruth: gt, predictions: predictions, layout: layout, sequences: sequences, skipFirstAndLast: skip).run()
        }
        func record(_ i: BootstrapInterval) -> LuaValue {
            .record([("estimate", .number(i.estimate)), ("lower", .number(i.lower)), ("upper", .number(i.upper)),
                     ("level", .number(i.level)), ("standard_error", .number(i.standardError)), ("sequences", .int(i.sequences))])
        }
        let result = try run(pred)
        let g = result.global
        var fields: [(String, LuaValue)] = [
            ("j_and_f", .number(g.jAndFMean)), ("j_mean", .number(g.jMean)), ("j_recall", .number(g.jRecall)),
            ("j_decay", .number(g.jDecay)), ("f_mean", .number(g.fMean)), ("f_recall", .number(g.fRecall)),
            ("f_decay", .number(g.fDecay)), ("frame_pairs", .int(result.framePairs)),
            ("missing", .array(result.missingPredictions.map { .string($0) })),
            ("j_and_f_interval", record(try result.jAndFInterval(resamples: resamples))),
        ]
        if let baseline = try o.string("baseline") {
            let base = try run(baseline)
            fields.append(("baseline_j_and_f", .number(base.global.jAndFMean)))
            do { fields.append(("difference", record(try result.jAndFDifference(from: base, resamples: resamples)))) }
            catch let error as BootstrapError { throw o.error("baseline", error.description) }
        }
        fields.append(("sequences", .array(result.sequences.map { s in
            .record([("name", .string(s.name)), ("j_and_f", .number(s.jAndF)), ("j_mean", .number(s.jMean)),
                     ("f_mean", .number(s.fMean)),
                     ("objects", .array(s.objects.map { obj in
                         .record([("object", .string(obj.object)), ("j_and_f", .number(obj.jAndF)),
                                  ("j_mean", .number(obj.jStatistics.mean)), ("f_mean", .number(obj.fStatistics.mean)),
                                  ("j", .array(obj.j.map { .number($0) })), ("f", .array(obj.f.map { .number($0) }))])
                     }))])
        })))
        return [.record(fields)]
    }
}

enum SynthBindings {
    static let known = ["out", "videos", "frames", "size", "seed", "objects", "occlusion", "distractors", "disappear",
                        "speed", "scale_change", "rotation", "object_size", "shapes", "texture", "background", "pan",
                        "event_period", "hidden_frames", "jpeg_quality", "progress"]

    /// synth.generate{out, videos, frames, size = {w, h}, seed, …} → {root, sequences = {names}}
    static func generate(_ call: LuaCall) throws -> [LuaValue] {
        let o = try call.options(1, known: known)
        if case .nil = try call.value(1) { throw call.typeError(1, expected: "table", got: .nil) }
        guard let out = try o.string("out") else { throw o.error("out", "required (the dataset root folder)") }
        var c = SyntheticVideoConfig()
        c.frames = 20
        if let size = try o.numbers("size", count: 2) {
            guard let w = LuaCall.exactInt(size[0]), let h = LuaCall.exactInt(size[1]) else { throw o.error("size", "integers {w, h} expected") }
            c.width = w; c.height = h
        }
        if let v = try o.int("frames") { c.frames = v }
        if let v = try o.int("objects") { c.objects = v }
        if let v = try o.string("occlusion") {
            guard let occ = SyntheticOcclusion(rawValue: v) else { throw o.error("occlusion", "none, objects, bar or both expected, got '\(v)'") }
            c.occlusion = occ
        }
        if let v = try o.int("distractors") { c.distractors = v }
        if let v = try o.bool("disappear") { c.disappear = v }
        if let v = try o.number("speed") { c.speed = v }
        if let v = try o.number("scale_change") { c.scaleChange = v }
        if let v = try o.number("rotation") { c.rotation = v }
        if let r = try o.numbers("object_size", count: 2) {
            guard r[0] <= r[1] else { throw o.error("object_size", "{lo, hi} with lo ≤ hi expected") }
            c.objectSize = r[0]...r[1]
        }
        if let t = try o.table("shapes") {
            c.shapes = try t.array.enumerated().map { i, v in
                guard case let .string(s) = v, let k = SyntheticShapeKind(rawValue: s) else {
                    throw o.error("shapes", "item \(i + 1): one of \(SyntheticShapeKind.allCases.map(\.rawValue).joined(separator: ", ")) expected")
                }
                return k
            }
        }
        for (key, path) in [("texture", \SyntheticVideoConfig.texture), ("background", \SyntheticVideoConfig.background)] {
            if let v = try o.string(key) {
                guard let tex = SyntheticTexture(rawValue: v) else {
                    throw o.error(key, "one of \(SyntheticTexture.allCases.map(\.rawValue).joined(separator: ", ")) expected, got '\(v)'")
                }
                c[keyPath: path] = tex
            }
        }
        if let v = try o.number("pan") { c.backgroundPan = v }
        if let v = try o.int("event_period") { c.eventPeriod = v }
        if let v = try o.int("hidden_frames") { c.hiddenFrames = v }
        if let v = try o.int("jpeg_quality") { c.jpegQuality = v }
        try c.validate()
        let videos = try o.int("videos") ?? 1
        guard videos >= 1 else { throw o.error("videos", "must be ≥ 1, got \(videos)") }
        let seed = try o.int("seed") ?? 0
        guard seed >= 0 else { throw o.error("seed", "must be ≥ 0, got \(seed)") }
        let sequences = (0..<videos).map { i -> SyntheticDataset.Sequence in
            var s = c
            s.seed = SyntheticDataset.videoSeed(base: UInt64(seed), index: i)
            return SyntheticDataset.Sequence(name: SyntheticDataset.sequenceName(i), config: s)
        }
        let progress = try o.function("progress")
        var callbackError: Error?
        try SyntheticDataset.write(root: out, sequences: sequences) { done, total in
            guard let progress, callbackError == nil else { return }
            do { _ = try call.callFunction(progress, [.int(done), .int(total)]) } catch { callbackError = error }
        }
        if let callbackError { throw callbackError }
        return [.record([("root", .string(out)), ("sequences", .array(sequences.map { .string($0.name) }))])]
    }
}
