import CLua
import SAM2
import Foundation

/// The arguments of one call from Lua into Swift, with typed accessors whose errors name the argument the
/// way Lua's own library functions do ("bad argument #2 to 'sam2.load' (table expected, got string)").
/// Every accessor uses API calls that cannot raise a Lua error (see Sources/CLua/shim.h).
public final class LuaCall {
    /// The state the call runs in.
    public let state: LuaState
    /// The thread (main state or coroutine) the call runs on.
    let L: OpaquePointer
    /// The function's name in error messages.
    public let function: String
    /// Methods count `self` as argument 1 in positions but not in messages.
    public let isMethod: Bool
    private let keepsFunctions: Bool
    private var references: [Int32] = []

    init(state: LuaState, L: OpaquePointer, function: String, isMethod: Bool, keepsFunctions: Bool) {
        self.state = state; self.L = L; self.function = function; self.isMethod = isMethod
        self.keepsFunctions = keepsFunctions
    }

    /// Number of arguments (including self for methods).
    public var count: Int { Int(lua_gettop(L)) }

    /// An error about argument `position` (stack position; self is 1 for methods).
    public func argumentError(_ position: Int, _ problem: String) -> LuaArgumentError {
        LuaArgumentError(position: position, function: function, isMethod: isMethod, problem: problem)
    }

    /// "X expected, got Y" for argument `position`.
    public func typeError(_ position: Int, expected: String, got value: LuaValue) -> LuaArgumentError {
        argumentError(position, "\(expected) expected, got \(value.typeName)")
    }

    // MARK: Reading values

    /// The value at stack position `position` copied into Swift (tables deeply, at most 32 levels).
    public func value(_ position: Int) throws -> LuaValue {
        guard position >= 1, position <= count else { return .nil }
        return try read(Int32(position), depth: 0, position: position)
    }

    private func read(_ idx: Int32, depth: Int, position: Int) throws -> LuaValue {
        switch lua_type(L, idx) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, idx) != 0)
        case LUA_TNUMBER:
            return clua_isinteger(L, idx) != 0 ? .int(Int(clua_tointeger(L, idx))) : .number(clua_tonumber(L, idx))
        case LUA_TSTRING: return .string(LuaState.string(L, idx) ?? "")
        case LUA_TTABLE:
            guard depth < 32 else { throw argumentError(position, "table nested too deeply (a cycle?)") }
            guard lua_checkstack(L, 4) != 0 else { throw argumentError(position, "table too large") }
            let t = lua_absindex(L, idx)
            var table = LuaTable()
            let n = Int(lua_rawlen(L, t))
            table.array.reserveCapacity(n)
            for i in 0..<n {
                lua_rawgeti(L, t, lua_Integer(i + 1))
                defer { clua_pop(L, 1) }
                table.array.append(try read(-1, depth: depth + 1, position: position))
            }
            lua_pushnil(L)
            while lua_next(L, t) != 0 {
                // Only string keys are read as fields; the key is never converted in place (lua_next needs it).
                if lua_type(L, -2) == LUA_TSTRING, let key = LuaState.string(L, -2) {
                    do { table.fields.append((key, try read(-1, depth: depth + 1, position: position))) }
                    catch { clua_pop(L, 2); throw error }
                }
                clua_pop(L, 1)
            }
            return .table(table)
        case LUA_TFUNCTION:
            guard keepsFunctions else { return .other(typeName: "function") }
            lua_pushvalue(L, idx)
            let ref = luaL_ref(L, clua_registryindex())
            references.append(ref)
            return .function(stackIndex: ref)
        case LUA_TUSERDATA:
            if LuaState.isSwiftBox(L, idx) {
                let name = LuaState.userdataTypeName(L, idx)
                guard let slot = lua_touserdata(L, idx),
                      let raw = slot.assumingMemoryBound(to: UnsafeMutableRawPointer?.self).pointee else {
                    return .other(typeName: "closed \(name)")
                }
                return .object(Unmanaged<LuaObject>.fromOpaque(raw).takeUnretainedValue())
            }
            return .other(typeName: LuaState.userdataTypeName(L, idx))
        default:
            return .other(typeName: String(cString: clua_typename_at(L, idx)))
        }
    }

    /// Drops the registry references taken for function arguments (after the call).
    func releaseReferences() {
        for r in references { luaL_unref(L, clua_registryindex(), r) }
        references.removeAll()
    }

    // MARK: Typed arguments

    /// A required string (numbers are not coerced).
    public func string(_ position: Int) throws -> String {
        let v = try value(position)
        guard case let .string(s) = v else { throw typeError(position, expected: "string", got: v) }
        return s
    }

    /// An optional string.
    public func optString(_ position: Int) throws -> String? {
        let v = try value(position)
        if case .nil = v { return nil }
        guard case let .string(s) = v else { throw typeError(position, expected: "string", got: v) }
        return s
    }

    /// A required number.
    public func number(_ position: Int) throws -> Double {
        let v = try value(position)
        guard let d = v.double else { throw typeError(position, expected: "number", got: v) }
        return d
    }

    /// A required integer (floats with an integral value are accepted).
    public func int(_ position: Int) throws -> Int {
        let v = try value(position)
        guard let d = v.double else { throw typeError(position, expected: "number", got: v) }
        guard let i = LuaCall.exactInt(d) else { throw argumentError(position, "number has no integer representation") }
        return i
    }

    /// A required table.
    public func table(_ position: Int) throws -> LuaTable {
        let v = try value(position)
        guard case let .table(t) = v else { throw typeError(position, expected: "table", got: v) }
        return t
    }

    /// A required Swift object of type `T`.
    public func object<T: LuaObject>(_ position: Int, _ type: T.Type) throws -> T {
        let v = try value(position)
        guard case let .object(o) = v, let t = o as? T else { throw typeError(position, expected: type.luaTypeName, got: v) }
        return t
    }

    /// Option table at `position` (nil or absent → empty); keys outside `known` are errors naming them.
    public func options(_ position: Int, known: [String]) throws -> LuaOptions {
        let v = try value(position)
        switch v {
        case .nil: return LuaOptions(call: self, position: position, table: LuaTable())
        case let .table(t):
            for key in t.keys where !known.contains(key) {
                throw argumentError(position, "unknown option '\(key)' (options: \(known.joined(separator: ", ")))")
            }
            return LuaOptions(call: self, position: position, table: t)
        default: throw typeError(position, expected: "table", got: v)
        }
    }

    static func exactInt(_ d: Double) -> Int? {
        guard d.isFinite, d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    // MARK: Calling back into Lua

    /// Calls a Lua function argument under `lua_pcall`; a Lua error becomes `LuaCallbackError`, which the
    /// host re-raises unchanged after the Swift frames have returned.
    public func callFunction(_ function: LuaValue, _ arguments: [LuaValue]) throws -> [LuaValue] {
        guard case .function = function else { throw LuaCallbackError(message: "not a function", reference: LUA_NOREF) }
        let top = lua_gettop(L)
        guard lua_checkstack(L, Int32(arguments.count) + 4) != 0 else {
            throw LuaCallbackError(message: "stack overflow calling a Lua callback", reference: LUA_NOREF)
        }
        state.push(function, L)
        for a in arguments { state.push(a, L) }
        let status = clua_pcall(L, Int32(arguments.count), clua_multret(), 0)
        guard status == clua_ok() else {
            let message = LuaState.string(L, -1) ?? "(error object is a \(String(cString: clua_typename_at(L, -1))) value)"
            let ref = luaL_ref(L, clua_registryindex())
            lua_settop(L, top)
            throw LuaCallbackError(message: message, reference: ref)
        }
        defer { lua_settop(L, top) }
        return try (top + 1 ..< lua_gettop(L) + 1).map { try value(Int($0)) }
    }
}

/// Typed access to an option table passed as argument `position`; errors name the option.
public struct LuaOptions {
    let call: LuaCall
    /// Stack position of the table.
    public let position: Int
    /// The table's contents.
    public let table: LuaTable

    /// Whether the option is present (non-nil).
    public func has(_ key: String) -> Bool {
        if case .nil = table[key] { return false }
        return true
    }

    /// An error about option `key`.
    public func error(_ key: String, _ problem: String) -> LuaArgumentError {
        call.argumentError(position, "option '\(key)': \(problem)")
    }

    /// Raw value of option `key`.
    public subscript(key: String) -> LuaValue { table[key] }

    /// An integer option.
    public func int(_ key: String) throws -> Int? {
        let v = table[key]
        if case .nil = v { return nil }
        guard let d = v.double else { throw error(key, "number expected, got \(v.typeName)") }
        guard let i = LuaCall.exactInt(d) else { throw error(key, "number has no integer representation") }
        return i
    }

    /// A number option.
    public func number(_ key: String) throws -> Double? {
        let v = table[key]
        if case .nil = v { return nil }
        guard let d = v.double else { throw error(key, "number expected, got \(v.typeName)") }
        return d
    }

    /// A boolean option.
    public func bool(_ key: String) throws -> Bool? {
        let v = table[key]
        switch v {
        case .nil: return nil
        case let .bool(b): return b
        default: throw error(key, "boolean expected, got \(v.typeName)")
        }
    }

    /// A string option.
    public func string(_ key: String) throws -> String? {
        let v = table[key]
        switch v {
        case .nil: return nil
        case let .string(s): return s
        default: throw error(key, "string expected, got \(v.typeName)")
        }
    }

    /// A table option.
    public func table(_ key: String) throws -> LuaTable? {
        let v = table[key]
        switch v {
        case .nil: return nil
        case let .table(t): return t
        default: throw error(key, "table expected, got \(v.typeName)")
        }
    }

    /// A function option (to pass to `LuaCall.callFunction`).
    public func function(_ key: String) throws -> LuaValue? {
        let v = table[key]
        switch v {
        case .nil: return nil
        case .function: return v
        default: throw error(key, "function expected, got \(v.typeName)")
        }
    }

    /// A list of exactly `count` numbers (count nil: any length), e.g. a box {x0, y0, x1, y1}.
    public func numbers(_ key: String, count: Int? = nil) throws -> [Double]? {
        guard let t = try table(key) else { return nil }
        return try LuaOptions.numbers(t, count: count) { self.error(key, $0) }
    }

    /// Numbers of a sequence; `fail` words the error.
    static func numbers(_ t: LuaTable, count: Int?, fail: (String) -> Error) throws -> [Double] {
        if let count, t.array.count != count { throw fail("\(count) numbers expected, got \(t.array.count)") }
        return try t.array.enumerated().map { i, v in
            guard let d = v.double else { throw fail("item \(i + 1): number expected, got \(v.typeName)") }
            return d
        }
    }

    /// A table of component options ({name = value}) as registry option values.
    public func componentOptions(_ key: String) throws -> [String: OptionValue] {
        guard let t = try table(key) else { return [:] }
        var out: [String: OptionValue] = [:]
        for (k, v) in t.fields {
            switch v {
            case let .int(i): out[k] = .int(i)
            case let .number(d): out[k] = .number(d)
            case let .bool(b): out[k] = .bool(b)
            case let .string(s): out[k] = .string(s)
            default: throw error("\(key).\(k)", "number, boolean or string expected, got \(v.typeName)")
            }
        }
        return out
    }
}
