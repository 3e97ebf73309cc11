import Foundation
import SAM2

/// A prompt schedule written in Lua (`sam2.register("prompts", name, impl)`): `InteractiveEvaluation` calls
/// `impl.initial(query)` for each object's first prompt and, after each of `rounds` passes, `impl.corrections(query)`
/// for the (object, frame) pairs that get a corrective click (placed by the default error-centre rule).
///
/// `offlineCorrections` cannot throw, so a failing callback is recorded in the `bridge` and the schedule asks for no
/// click (the runner then stops); `metrics.interactive` runs the evaluation inside `run(call:)`, which re-raises the
/// recorded failure as the Lua error of that call. Callbacks only run while a Lua call of the registering state is
/// active (`call`), on the thread of that call, so the unchecked Sendable conformance holds.
final class LuaPromptSchedule: PromptSchedule, @unchecked Sendable {
    let name: String
    /// Registry references of the callbacks (owned by `definition`, which lives as long as the registration).
    let definition: LuaScheduleDefinition
    /// Resolved registry options, passed to the callbacks as `query.options`.
    let options: [String: OptionValue]
    /// The window in which the callbacks may run, and their first error.
    let bridge: LuaCallbackBridge

    init(definition: LuaScheduleDefinition, options: [String: OptionValue]) {
        name = definition.name
        self.definition = definition
        self.options = options
        bridge = LuaCallbackBridge(label: "prompt schedule '\(definition.name)'",
                                   usage: "Lua schedules run only from metrics.interactive", state: definition.state)
    }

    var correctionRounds: Int { definition.rounds }

    /// Runs `body` (an evaluation) with callbacks enabled on `call` (see `LuaCallbackBridge.run`).
    func run<T>(call: LuaCall, _ body: () throws -> T) throws -> T { try bridge.run(call: call, body) }

    func initialPrompt(groundTruth: BinaryMask, objectId: Int,
                       predict: ([Click]) throws -> BinaryMask) throws -> ObjectPrompt? {
        let query: LuaValue = .record([
            ("object", .int(objectId)), ("ground_truth", .object(MaskObject(groundTruth))),
            ("width", .int(groundTruth.width)), ("height", .int(groundTruth.height)), ("options", optionsTable),
        ])
        do {
            let result = try invoke("initial", definition.initial, query)
            return try parsePrompt(result.first ?? .nil, groundTruth: groundTruth)
        } catch {
            bridge.record(error)
            throw error
        }
    }

    func offlineCorrections(round: Int, scores: [ObjectFrameScore], clicksUsed: Int) -> [ObjectFrameScore] {
        guard bridge.failure == nil, let corrections = definition.corrections else { return [] }
        let query: LuaValue = .record([
            ("round", .int(round)),
            ("scores", .array(scores.map { .record([("object", .int($0.objectId)), ("frame", .int($0.frame)), ("iou", .number($0.iou))]) })),
            ("clicks_used", .int(clicksUsed)), ("options", optionsTable),
        ])
        do {
            let result = try invoke("corrections", corrections, query)
            return try parsePicks(result.first ?? .nil, scores: scores)
        } catch {
            bridge.record(error)
            return []
        }
    }

    private var optionsTable: LuaValue {
        .record(options.sorted { $0.key < $1.key }.map { ($0.key, ModelBindings.optionValue($0.value)) })
    }

    private func failed(_ callback: String, _ problem: String) -> BindingError {
        .invalid("prompt schedule '\(name)': \(callback)(query) \(problem)")
    }

    private func invoke(_ callback: String, _ function: LuaValue, _ query: LuaValue) throws -> [LuaValue] {
        try bridge.invoke(callback, function, [query])
    }

    /// A pixel coordinate: any finite number, floored, inside the image.
    private func pixel(_ v: LuaValue, limit: Int, _ what: String) throws -> Int {
        guard let d = v.double, d.isFinite, d >= 0, d < Double(limit) else {
            throw failed("initial", "returned \(what): a number in [0, \(limit)) expected, got \(v.double.map { "\($0)" } ?? v.typeName)")
        }
        return Int(d.rounded(.down))
    }

    /// `nil` (leave the object unprompted), `{points = {{x, y[, label]}…}}`, `{box = {x0, y0, x1, y1}}` or
    /// `{mask = true | sam2.mask}`.
    func parsePrompt(_ value: LuaValue, groundTruth gt: BinaryMask) throws -> ObjectPrompt? {
        if case .nil = value { return nil }
        guard case let .table(t) = value else {
            throw failed("initial", "must return {points = …}, {box = …}, {mask = …} or nil, got \(value.typeName)")
        }
        let keys = t.keys
        for key in keys where !["points", "box", "mask"].contains(key) {
            throw failed("initial", "returned unknown key '\(key)' (keys: points, box, mask)")
        }
        guard keys.count == 1 else {
            throw failed("initial", "must return exactly one of points, box, mask, got \(keys.isEmpty ? "none" : keys.joined(separator: ", "))")
        }
        switch (keys[0], t[keys[0]]) {
        case let ("points", .table(list)):
            guard !list.array.isEmpty else { throw failed("initial", "returned an empty points list (return nil to leave the object unprompted)") }
            return .clicks(try list.array.enumerated().map { i, item in
                let where_ = "points[\(i + 1)]"
                guard case let .table(p) = item, (2...3).contains(p.array.count) else {
                    throw failed("initial", "returned \(where_): {x, y[, label]} expected, got \(item.typeName)")
                }
                let x = try pixel(p.array[0], limit: gt.width, "\(where_) x")
                let y = try pixel(p.array[1], limit: gt.height, "\(where_) y")
                var positive = true
                if p.array.count == 3 {
                    switch p.array[2].double {
                    case 1?: positive = true
                    case 0?: positive = false
                    default: throw failed("initial", "returned \(where_) label: 1 (positive) or 0 (negative) expected")
                    }
                }
                return Click(x: x, y: y, positive: positive)
            })
        case let ("box", .table(b)):
            let c = b.array.compactMap(\.double)
            guard b.array.count == 4, c.count == 4, c.allSatisfy(\.isFinite), c[0] <= c[2], c[1] <= c[3] else {
                throw failed("initial", "returned box: {x0, y0, x1, y1} with x0 <= x1, y0 <= y1 expected")
            }
            return .box(BoxPrompt(x0: c[0], y0: c[1], x1: c[2], y1: c[3]))
        case ("mask", .bool(true)):
            return gt.area == 0 ? nil : .mask(gt)
        case let ("mask", .object(obj)):
            guard let m = obj as? MaskObject else { throw failed("initial", "returned mask: true or a sam2.mask expected, got \(obj.luaDescription)") }
            guard m.mask.width == gt.width, m.mask.height == gt.height else {
                throw failed("initial", "returned a \(m.mask.width)×\(m.mask.height) mask, the video is \(gt.width)×\(gt.height)")
            }
            return .mask(m.mask)
        case let (key, v):
            throw failed("initial", "returned \(key): \(key == "mask" ? "true or a sam2.mask" : "table") expected, got \(v.typeName)")
        }
    }

    /// A list of `{object, frame}` (or `{object = …, frame = …}`); nil means no click.
    func parsePicks(_ value: LuaValue, scores: [ObjectFrameScore]) throws -> [ObjectFrameScore] {
        if case .nil = value { return [] }
        guard case let .table(t) = value else {
            throw failed("corrections", "must return a list of {object, frame}, got \(value.typeName)")
        }
        return try t.array.enumerated().map { i, item in
            guard case let .table(p) = item else {
                throw failed("corrections", "item \(i + 1) of the returned list: {object, frame} expected, got \(item.typeName)")
            }
            let a = p.array.count >= 1 ? p.array[0] : p["object"]
            let b = p.array.count >= 2 ? p.array[1] : p["frame"]
            guard let da = a.double, let object = LuaCall.exactInt(da), let db = b.double, let frame = LuaCall.exactInt(db) else {
                throw failed("corrections", "item \(i + 1) of the returned list: integers {object, frame} expected")
            }
            let iou = scores.first { $0.objectId == object && $0.frame == frame }?.iou ?? 0
            return ObjectFrameScore(objectId: object, frame: frame, iou: iou)
        }
    }
}

/// A Lua schedule registration: its state, callbacks (registry references, released with the state) and rounds.
final class LuaScheduleDefinition: @unchecked Sendable {
    let name: String
    weak var state: LuaState?
    let initial: LuaValue
    let corrections: LuaValue?
    let rounds: Int

    init(name: String, state: LuaState, initial: LuaValue, corrections: LuaValue?, rounds: Int) {
        self.name = name; self.state = state; self.initial = initial; self.corrections = corrections; self.rounds = rounds
    }
}

extension RegisterBindings {
    /// sam2.register("prompts", name, {initial, corrections, rounds, summary, options}).
    static func registerSchedule(_ call: LuaCall, name: String) throws -> [LuaValue] {
        let impl = try call.options(3, known: ["initial", "corrections", "rounds", "options", "summary"])
        if case .nil = try call.value(3) { throw call.typeError(3, expected: "table", got: .nil) }
        guard let initialFn = try impl.function("initial") else { throw impl.error("initial", "function expected, got nil") }
        let correctionsFn = try impl.function("corrections")
        let rounds = try impl.int("rounds") ?? (correctionsFn == nil ? 0 : 1)
        guard rounds >= 0 else { throw impl.error("rounds", "correction passes >= 0 expected, got \(rounds)") }
        if rounds > 0 && correctionsFn == nil { throw impl.error("rounds", "\(rounds) correction passes need a corrections function") }
        let declared = try declaredOptions(impl, by: "the Lua schedule")
        let summary = try impl.string("summary") ?? "prompt schedule written in Lua"
        let definition = LuaScheduleDefinition(name: name, state: call.state, initial: call.persistentFunction(initialFn)!,
                                               corrections: correctionsFn.flatMap { call.persistentFunction($0) }, rounds: rounds)
        let key = "prompts/\(name)"
        lock.lock(); defer { lock.unlock() }
        if Registry.shared.components(.promptSchedule).contains(where: { $0.name == name }) && !fromLua.contains(key) {
            throw call.argumentError(2, "prompt schedule '\(name)' is built in and cannot be replaced")
        }
        try Registry.shared.register(ComponentDescriptor(kind: .promptSchedule, name: name, summary: summary, options: declared),
                                     replace: true) { o in
            LuaPromptSchedule(definition: definition, options: o.values)
        }
        fromLua.insert(key)
        return [.string(name)]
    }
}
