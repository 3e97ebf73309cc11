import Foundation
import SAM2

/// `metrics.interactive`: the interactive VOS protocols (`PromptSchedules` + `InteractiveEvaluation`) on a
/// DAVIS-layout dataset.
enum InteractiveBindings {
    static let known = ["schedule", "options", "memory", "memory_options", "sequences", "skip_first_and_last", "bound_th"]

    /// metrics.interactive(model, data [, {schedule, options, memory, memory_options, sequences, skip_first_and_last, bound_th}])
    /// → {schedule, videos = {{name, rounds = {{round, j, f, j_and_f, clicks, corrective_clicks}}, total_clicks,
    /// corrective_clicks, final = {j, f, j_and_f}}}, mean = {j_and_f per round}, mean_j, mean_f}
    static func interactive(_ call: LuaCall) throws -> [LuaValue] {
        let me = try call.object(1, ModelObject.self)
        let root = try call.string(2)
        let o = try call.options(3, known: known)

        let scheduleName = try o.string("schedule") ?? "offline"
        let schedule: any PromptSchedule
        do { schedule = try PromptSchedules.make(scheduleName, options: try o.componentOptions("options")) }
        catch let e as RegistryError {
            if case .unknownComponent = e { throw o.error("schedule", String(describing: e)) }
            throw o.error("options", String(describing: e))
        } catch { throw o.error("options", String(describing: error)) }
        if let lua = schedule as? LuaPromptSchedule, lua.definition.state !== call.state {
            throw o.error("schedule", "prompt schedule '\(scheduleName)' was registered by another Lua state")
        }

        // No memory option: the runner's default (official policy without eviction, so a click on a tracked frame
        // sees that frame's earlier logits, as in the official predictor).
        var policy: (any MemoryPolicy)? = nil
        if o.has("memory") || o.has("memory_options") {
            let name = try o.string("memory") ?? "official"
            policy = try VideoBindings.memoryPolicy(name, options: try o.componentOptions("memory_options"), from: o, call: call)
        }
        let boundTh = try o.number("bound_th") ?? BoundaryMeasure.defaultBoundThreshold
        guard boundTh > 0 else { throw o.error("bound_th", "must be positive, got \(boundTh)") }

        let dataset: DAVISDataset
        do { dataset = try DAVISDataset(root: root) }
        catch { throw call.argumentError(2, String(describing: error)) }
        var names = dataset.sequenceNames
        if let t = try o.table("sequences") {
            names = try t.array.enumerated().map { i, v in
                guard case let .string(s) = v else { throw o.error("sequences", "item \(i + 1): string expected, got \(v.typeName)") }
                guard dataset.sequenceNames.contains(s) else {
                    throw o.error("sequences", "item \(i + 1): no sequence '\(s)' in \(root) (sequences: \(dataset.sequenceNames.joined(separator: ", ")))")
                }
                return s
            }
        }

        let model = try me.videoModel(tracking: try me.trackingBase(), highResFeatures: true)
        let evaluation = InteractiveEvaluation(model: model, policy: policy,
                                               skipFirstAndLast: try o.bool("skip_first_and_last") ?? true, boundTh: boundTh)
        let results: [InteractiveVideoResult] = try names.map { name in
            let video = try GroundTruthVideo(sequence: try dataset.sequence(name))
            // Lua components call back into this call's state: each wraps the evaluation so its callback errors surface.
            func evaluate() throws -> InteractiveVideoResult {
                if let lua = schedule as? LuaPromptSchedule { return try lua.run(call: call) { try evaluation.run(video, schedule: schedule) } }
                return try evaluation.run(video, schedule: schedule)
            }
            if let lua = policy as? LuaMemoryPolicy { return try lua.run(call: call) { try evaluate() } }
            return try evaluate()
        }
        return [table(results, schedule: schedule.name)]
    }

    static func scores(_ r: InteractiveRound) -> [(String, LuaValue)] {
        [("j", .number(r.jMean)), ("f", .number(r.fMean)), ("j_and_f", .number(r.jAndF))]
    }

    /// The Lua result; `mean[k]` averages round k−1 over the videos, a video that stopped early (no click to give)
    /// counting with its last pass.
    static func table(_ results: [InteractiveVideoResult], schedule: String) -> LuaValue {
        let videos: [LuaValue] = results.map { v in
            let initial = v.prompts.reduce(0) { $0 + $1.clicks.count }
            let rounds: [LuaValue] = v.rounds.map { r in
                .record([("round", .int(r.round))] + scores(r) +
                        [("clicks", .int(initial + r.correctiveClicks)), ("corrective_clicks", .int(r.correctiveClicks))])
            }
            var fields: [(String, LuaValue)] = [("name", .string(v.video)), ("rounds", .array(rounds)),
                                                ("total_clicks", .int(v.totalClicks)), ("corrective_clicks", .int(v.correctiveClicks))]
            if let f = v.final { fields.append(("final", .record(scores(f)))) }
            fields.append(("unprompted", .array(v.unprompted.map { .int($0) })))
            return .record(fields)
        }
        let passes = results.map(\.rounds.count).max() ?? 0
        func mean(_ value: (InteractiveRound) -> Double) -> LuaValue {
            .array((0..<passes).map { k in
                let v = results.compactMap { r in r.rounds.isEmpty ? nil : value(r.rounds[min(k, r.rounds.count - 1)]) }
                return .number(v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count))
            })
        }
        return .record([("schedule", .string(schedule)), ("videos", .array(videos)),
                        ("mean", mean(\.jAndF)), ("mean_j", mean(\.jMean)), ("mean_f", mean(\.fMean))])
    }
}
