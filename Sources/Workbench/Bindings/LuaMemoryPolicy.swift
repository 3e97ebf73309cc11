import CLua
import Foundation
import SAM2

/// A memory policy written in Lua (`sam2.register("memory", name, impl)`): the native tracker calls
/// `impl.select(query)` and `impl.retain(query)` through `LuaCall.callFunction` (protected calls).
///
/// `MemoryPolicy` methods cannot throw, so a failing callback is recorded in the `bridge` and the policy returns
/// something the tracker rejects or ignores (an empty selection; keep everything). The tracker bindings run every
/// predictor call inside `run(call:)`, which re-raises the recorded failure as the Lua error of that call.
/// Callbacks only run while a Lua call of the state that registered the policy is active (`call`), on the thread
/// of that call, so the unchecked Sendable conformance holds.
final class LuaMemoryPolicy: MemoryPolicy, @unchecked Sendable {
    let name: String
    /// Registry references of the callbacks (owned by `definition`, which lives as long as the registration).
    let definition: LuaPolicyDefinition
    /// Resolved registry options, passed to the callbacks as `query.options`.
    let options: [String: OptionValue]
    /// The window in which the callbacks may run, and their first error.
    let bridge: LuaCallbackBridge

    init(definition: LuaPolicyDefinition, options: [String: OptionValue]) {
        name = definition.name
        self.definition = definition
        self.options = options
        bridge = LuaCallbackBridge(label: "memory policy '\(definition.name)'",
                                   usage: "Lua policies run only from Lua trackers", state: definition.state)
    }

    /// Runs `body` (a predictor call) with callbacks enabled on `call` (see `LuaCallbackBridge.run`).
    func run<T>(call: LuaCall, _ body: () throws -> T) throws -> T { try bridge.run(call: call, body) }

    func select(_ query: MemoryQuery, bank: MemoryBank) -> MemorySelection {
        guard bridge.failure == nil else { return MemorySelection() }
        do {
            let results = try invoke("select", query: query, bank: bank)
            return try parseSelection(results.first ?? .nil, query: query)
        } catch {
            bridge.record(error)
            return MemorySelection()
        }
    }

    func retain(_ query: MemoryQuery, bank: MemoryBank) -> Set<Int> {
        let everything = Set(bank.nonConditioningFrames)
        guard bridge.failure == nil, definition.retain != nil else { return everything }
        do {
            let results = try invoke("retain", query: query, bank: bank)
            guard case let .table(t) = results.first ?? .nil else {
                throw failed("retain", "must return a list of frame indices, got \(results.first?.typeName ?? "nothing")")
            }
            return Set(try t.array.enumerated().map { i, v in
                guard let d = v.double, let f = LuaCall.exactInt(d) else {
                    throw failed("retain", "item \(i + 1) of the returned list: frame index expected, got \(v.typeName)")
                }
                return f
            })
        } catch {
            bridge.record(error)
            return everything
        }
    }

    private func failed(_ callback: String, _ problem: String) -> BindingError {
        .invalid("memory policy '\(name)': \(callback)(query) \(problem)")
    }

    private func invoke(_ callback: String, query: MemoryQuery, bank: MemoryBank) throws -> [LuaValue] {
        guard let function = callback == "select" ? definition.select : definition.retain else { return [] }
        return try bridge.invoke(callback, function, [Self.queryTable(query, bank: bank, options: options)])
    }

    /// `{frame, reverse, num_frames, num_maskmem, use_obj_ptrs, signed_ptr_tpos, max_obj_ptrs, cond, non_cond,
    /// stored = {{frame, cond, score}}, options}` (frames 0-based, ascending).
    static func queryTable(_ q: MemoryQuery, bank: MemoryBank, options: [String: OptionValue]) -> LuaValue {
        let cond = bank.conditioningFrames, nonCond = bank.nonConditioningFrames
        let stored: [LuaValue] = (cond.map { ($0, true) } + nonCond.map { ($0, false) }).sorted { $0.0 < $1.0 }.map { f, c in
            .record([("frame", .int(f)), ("cond", .bool(c)),
                     ("score", .number(Double(bank.output(f)?.objectScore ?? 0)))])
        }
        return .record([
            ("frame", .int(q.frameIdx)), ("reverse", .bool(q.reverse)), ("num_frames", .int(q.numFrames)),
            ("num_maskmem", .int(q.settings.numMaskmem)), ("use_obj_ptrs", .bool(q.settings.useObjPtrsInEncoder)),
            ("signed_ptr_tpos", .bool(q.settings.useSignedTposEncToObjPtrs)),
            ("cond", .array(cond.map { .int($0) })), ("non_cond", .array(nonCond.map { .int($0) })),
            ("stored", .array(stored)),
            ("options", .record(options.sorted { $0.key < $1.key }.map { ($0.key, ModelBindings.optionValue($0.value)) })),
        ])
    }

    /// `{memories = {{frame, slot}…}, pointers = {{frame, tpos}…}, pointer_scale = n}`; items may also use the
    /// names `frame`, `slot` / `tpos`.
    func parseSelection(_ value: LuaValue, query: MemoryQuery) throws -> MemorySelection {
        guard case let .table(t) = value else { throw failed("select", "must return a table {memories, pointers}, got \(value.typeName)") }
        for key in t.keys where !["memories", "pointers", "pointer_scale"].contains(key) {
            throw failed("select", "returned unknown key '\(key)' (keys: memories, pointers, pointer_scale)")
        }
        func pairs(_ key: String, second: String) throws -> [(Int, Int)] {
            switch t[key] {
            case .nil: return []
            case let .table(list):
                return try list.array.enumerated().map { i, item in
                    let where_ = "\(key)[\(i + 1)]"
                    guard case let .table(p) = item else { throw failed("select", "returned \(where_): table {frame, \(second)} expected, got \(item.typeName)") }
                    let a = p.array.count >= 1 ? p.array[0] : p["frame"]
                    let b = p.array.count >= 2 ? p.array[1] : p[second]
                    guard let fa = a.double, let frame = LuaCall.exactInt(fa), let fb = b.double, let n = LuaCall.exactInt(fb) else {
                        throw failed("select", "returned \(where_): integers {frame, \(second)} expected")
                    }
                    return (frame, n)
                }
            case let v: throw failed("select", "returned \(key): table expected, got \(v.typeName)")
            }
        }
        let memories = try pairs("memories", second: "slot").map { SelectedMemory(frame: $0.0, tPos: $0.1) }
        let pointers = try pairs("pointers", second: "tpos").map { SelectedPointer(frame: $0.0, tPos: $0.1) }
        // Default scale as the official policy: positions are divided by min(num_frames, 16) − 1.
        var scale = Swift.max(1, Swift.min(query.numFrames, 16) - 1)
        switch t["pointer_scale"] {
        case .nil: break
        case let v:
            guard let d = v.double, let s = LuaCall.exactInt(d), s >= 1 else {
                throw failed("select", "returned pointer_scale: integer >= 1 expected, got \(v.typeName)")
            }
            scale = s
        }
        return MemorySelection(memories: memories, pointers: pointers, pointerTPosScale: scale)
    }
}

/// A Lua policy registration: its state, callbacks (registry references, released with the state) and options.
final class LuaPolicyDefinition: @unchecked Sendable {
    let name: String
    weak var state: LuaState?
    let select: LuaValue
    let retain: LuaValue?

    init(name: String, state: LuaState, select: LuaValue, retain: LuaValue?) {
        self.name = name; self.state = state; self.select = select; self.retain = retain
    }
}

extension LuaCall {
    /// A registry reference to function argument `value` that outlives this call (the references `value`
    /// reads are dropped when the call returns). It is released when the state closes.
    func persistentFunction(_ value: LuaValue) -> LuaValue? {
        guard case let .function(ref) = value else { return nil }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(ref))
        return .function(stackIndex: luaL_ref(L, clua_registryindex()))
    }
}

enum RegisterBindings {
    /// Names registered from Lua (kind, name): only these may be replaced by a later registration.
    nonisolated(unsafe) static var fromLua: Set<String> = []
    static let lock = NSLock()

    /// sam2.register(kind, name, impl): adds a Lua-written component to the shared registry.
    static func register(_ call: LuaCall) throws -> [LuaValue] {
        let kind = try call.string(1)
        let name = try call.string(2)
        guard !name.isEmpty else { throw call.argumentError(2, "name must not be empty") }
        switch kind {
        case ComponentKind.memoryPolicy.rawValue: break
        case ComponentKind.promptSchedule.rawValue: return try registerSchedule(call, name: name)
        default: throw call.argumentError(1, "kind 'memory' or 'prompts' expected, got '\(kind)' (Lua components can be memory policies and prompt schedules)")
        }
        let impl = try call.options(3, known: ["select", "retain", "options", "summary"])
        if case .nil = try call.value(3) { throw call.typeError(3, expected: "table", got: .nil) }
        guard let selectFn = try impl.function("select") else { throw impl.error("select", "function expected, got nil") }
        let retainFn = try impl.function("retain")
        let declared = try declaredOptions(impl, by: "the Lua policy")
        let summary = try impl.string("summary") ?? "memory policy written in Lua"
        let definition = LuaPolicyDefinition(name: name, state: call.state, select: call.persistentFunction(selectFn)!,
                                             retain: retainFn.flatMap { call.persistentFunction($0) })
        let key = "\(kind)/\(name)"
        lock.lock(); defer { lock.unlock() }
        let exists = Registry.shared.components(.memoryPolicy).contains { $0.name == name }
        if exists && !fromLua.contains(key) {
            throw call.argumentError(2, "memory policy '\(name)' is built in and cannot be replaced")
        }
        try Registry.shared.register(ComponentDescriptor(kind: .memoryPolicy, name: name, summary: summary, options: declared),
                                     replace: true) { o in
            LuaMemoryPolicy(definition: definition, options: o.values)
        }
        fromLua.insert(key)
        return [.string(name)]
    }

    /// The `options = {name = default}` of a Lua component, sorted by name.
    static func declaredOptions(_ impl: LuaOptions, by owner: String) throws -> [ComponentOption] {
        var declared: [ComponentOption] = []
        for (key, v) in (try impl.table("options"))?.fields ?? [] {
            let value: OptionValue
            switch v {
            case let .int(i): value = .int(i)
            case let .number(d): value = .number(d)
            case let .bool(b): value = .bool(b)
            case let .string(s): value = .string(s)
            default: throw impl.error("options.\(key)", "default value must be a number, boolean or string, got \(v.typeName)")
            }
            declared.append(ComponentOption(key, value, "declared by \(owner)"))
        }
        return declared.sorted { $0.name < $1.name }
    }
}
