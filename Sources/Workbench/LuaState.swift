import CLua
import Foundation

/// A Swift function callable from Lua: reads its arguments from the call, returns its results.
public typealias LuaFunction = (LuaCall) throws -> [LuaValue]

/// The single entry point from C into Swift for every registered function (see the design comment in
/// Sources/CLua/shim.h): it never throws and never raises a Lua error; it returns a result count, or a
/// sentinel telling the C dispatcher to raise the error it left on the stack once this frame is gone.
private let swiftEntry: clua_SwiftEntry = { L in
    guard let L, let raw = clua_extraspace(L).pointee else { return 0 }
    let state = Unmanaged<LuaState>.fromOpaque(raw).takeUnretainedValue()
    return state.invoke(id: Int(clua_swiftfunction_id(L)), L)
}

/// `__gc` and `__close` of every boxed Swift object: drops the userdata's reference (once). A plain
/// lua_CFunction because it only touches the userdata's memory, never the state, and cannot raise; it checks
/// the metatable marker so a script calling the metamethod on a foreign userdata cannot make it misread memory.
private let releaseEntry: lua_CFunction = { L in
    guard let L, LuaState.isSwiftBox(L, 1), let slot = lua_touserdata(L, 1) else { return 0 }
    let box = slot.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    if let object = box.pointee {
        box.pointee = nil
        Unmanaged<LuaObject>.fromOpaque(object).release()
    }
    return 0
}

/// One Lua 5.4 interpreter with the workbench libraries, owning its `lua_State` (closed on `close()` or deinit).
///
/// Lua errors never unwind through Swift frames: Swift functions are reached through the C dispatcher in
/// the CLua shim, Swift only uses API calls that cannot raise, and Lua code that Swift runs goes through
/// `lua_pcall`. Swift objects live in userdata holding one retained reference, released by `__gc`/`__close`.
public final class LuaState {
    struct Registered {
        var name: String
        var isMethod: Bool
        var body: LuaFunction
    }

    /// The raw state (nil after `close()`).
    public private(set) var L: OpaquePointer?
    /// The project root found at start (holds Scripts/), if any.
    public let projectRoot: String?
    private var functions: [Registered] = []
    /// Method names and property names per userdata type (REPL completion, docs).
    public private(set) var typeMembers: [String: [String]] = [:]

    /// A fresh interpreter: standard libraries, `package.path` with Scripts/ (of `projectRoot`) and the
    /// folders in $SAM2_WORKBENCH_PATH, and the workbench libraries (sam2, metrics, synth, workbench).
    public init(projectRoot: String? = ProjectRoot.discover(), installBindings: Bool = true) throws {
        guard let L = luaL_newstate() else { throw LuaError.stateUnavailable }
        self.L = L
        self.projectRoot = projectRoot
        luaL_openlibs(L)
        clua_extraspace(L).pointee = Unmanaged.passUnretained(self).toOpaque()
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["SAM2_WORKBENCH_PATH"] {
            dirs += env.split(whereSeparator: { $0 == ";" || $0 == ":" }).map(String.init).filter { !$0.isEmpty }
        }
        if let root = projectRoot { dirs.append(root + "/Scripts") }
        try prependSearchPaths(dirs)
        if installBindings { try Bindings.install(into: self) }
    }

    deinit { close() }

    /// Closes the interpreter: every userdata is collected (releasing its Swift object).
    public func close() {
        guard let L else { return }
        lua_close(L)
        self.L = nil
    }

    // MARK: Running code

    /// Adds folders (or `?` templates) in front of `package.path`, in the given order.
    public func prependSearchPaths(_ entries: [String]) throws {
        let templates = entries.flatMap { $0.contains("?") ? [$0] : [$0 + "/?.lua", $0 + "/?/init.lua"] }
        guard !templates.isEmpty else { return }
        try execute("package.path = ... .. ';' .. package.path", chunkName: "=(package.path)",
                    arguments: [templates.joined(separator: ";")])
    }

    /// Runs a script file with `arg` set (arg[0] = path, arg[1…] = arguments, also passed as `...`); the
    /// script's folder is searched first by `require`. Errors come back as `LuaError` with file:line and traceback.
    public func run(file path: String, arguments: [String] = []) throws {
        guard let L else { throw LuaError.closed }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try prependSearchPaths([folder])
        setArg(script: path, arguments: arguments)
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw LuaError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        let status = luaL_loadfilex(L, path, nil)
        guard status == clua_ok() else { throw LuaError.syntax(message: popString(L)) }
        for a in arguments { lua_pushstring(L, a) }
        try protectedCall(L, arguments: Int32(arguments.count), results: 0)
    }

    /// Runs a chunk of Lua source; returns its results copied into Swift (functions come back as `.other`).
    @discardableResult
    public func execute(_ code: String, chunkName: String = "=(string)", arguments: [String] = []) throws -> [LuaValue] {
        guard let L else { throw LuaError.closed }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        try load(code, chunkName: chunkName)
        for a in arguments { lua_pushstring(L, a) }
        try protectedCall(L, arguments: Int32(arguments.count), results: clua_multret())
        let reader = LuaCall(state: self, L: L, function: "execute", isMethod: false, keepsFunctions: false)
        return try (top + 1 ..< lua_gettop(L) + 1).map { try reader.value(Int($0)) }
    }

    /// Sets the global `arg` table.
    public func setArg(script: String, arguments: [String]) {
        guard let L else { return }
        lua_createtable(L, Int32(arguments.count), 1)
        lua_pushstring(L, script)
        lua_rawseti(L, -2, 0)
        for (i, a) in arguments.enumerated() {
            lua_pushstring(L, a)
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
        lua_setglobal(L, "arg")
    }

    /// Compiles `code`, leaving the function on the stack.
    func load(_ code: String, chunkName: String) throws {
        guard let L else { throw LuaError.closed }
        let status = code.withCString { clua_loadbuffer(L, $0, strlen($0), chunkName) }
        guard status == clua_ok() else { throw LuaError.syntax(message: popString(L)) }
    }

    /// `lua_pcall` with the traceback message handler; on error pops the message and throws.
    func protectedCall(_ L: OpaquePointer, arguments: Int32, results: Int32) throws {
        let base = lua_gettop(L) - arguments
        clua_pushmsghandler(L)
        clua_insert(L, base)
        let status = clua_pcall(L, arguments, results, base)
        clua_remove(L, base)
        guard status == clua_ok() else {
            let text = popString(L)
            if let r = text.range(of: "\nstack traceback:") {
                throw LuaError.runtime(message: String(text[..<r.lowerBound]), traceback: String(text[r.lowerBound...].dropFirst()))
            }
            throw LuaError.runtime(message: text, traceback: "")
        }
    }

    func popString(_ L: OpaquePointer) -> String {
        defer { clua_pop(L, 1) }
        return LuaState.string(L, -1) ?? "(error object is a \(String(cString: clua_typename_at(L, -1))) value)"
    }

    /// The string at `idx` (bytes decoded as UTF-8), only when it is a string (numbers are not converted in place).
    static func string(_ L: OpaquePointer, _ idx: Int32) -> String? {
        guard lua_type(L, idx) == LUA_TSTRING else { return nil }
        var length = 0
        guard let p = lua_tolstring(L, idx, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
    }

    // MARK: Registering Swift functions and types

    /// Registers a Swift function; the returned id is what `.swiftFunction(id:)` pushes.
    @discardableResult
    public func register(_ name: String, isMethod: Bool = false, _ body: @escaping LuaFunction) -> Int {
        functions.append(Registered(name: name, isMethod: isMethod, body: body))
        return functions.count - 1
    }

    /// Defines a global library table (also `require`-able) of Swift functions named "lib.fn" in errors.
    public func setLibrary(_ name: String, _ members: [(String, LuaFunction)]) {
        guard let L else { return }
        lua_createtable(L, 0, Int32(members.count))
        for (fn, body) in members {
            let id = register("\(name).\(fn)", body)
            clua_pushswiftfunction(L, swiftEntry, lua_Integer(id))
            lua_setfield(L, -2, fn)
        }
        lua_pushvalue(L, -1)
        lua_setglobal(L, name)
        _ = lua_getfield(L, clua_registryindex(), "_LOADED")
        lua_pushvalue(L, -2)
        lua_setfield(L, -2, name)
        clua_pop(L, 2)
    }

    /// Creates the metatable of a userdata type: `__index` (properties, then methods), `__tostring`,
    /// `__gc`, `__close`, `__name`, and `__metatable` so scripts cannot reach the metamethods.
    public func defineType<T: LuaObject>(_ type: T.Type,
                                         methods: [(String, (LuaCall, T) throws -> [LuaValue])] = [],
                                         properties: [(String, (T) throws -> LuaValue)] = []) {
        guard let L else { return }
        let name = type.luaTypeName
        var methodIDs: [String: Int] = [:]
        for (m, body) in methods {
            methodIDs[m] = register(m, isMethod: true) { call in try body(call, try call.object(1, T.self)) }
        }
        let getters = Dictionary(properties, uniquingKeysWith: { a, _ in a })
        let index = register("__index") { call in
            if case let .other(typeName) = try call.value(1), typeName.hasPrefix("closed ") {
                throw BindingError.invalid("attempt to use a \(typeName)")
            }
            let me = try call.object(1, T.self)
            guard case let .string(key) = try call.value(2) else { return [.nil] }
            if let get = getters[key] { return [try get(me)] }
            if let id = methodIDs[key] { return [.swiftFunction(id: id)] }
            return [.nil]
        }
        let tostring = register("__tostring") { call in
            let v = try call.value(1)
            if case let .object(o) = v { return [.string(o.luaDescription)] }
            return [.string("\(name) (closed)")]
        }
        typeMembers[name] = (methods.map(\.0) + properties.map(\.0)).sorted()
        _ = luaL_newmetatable(L, name)
        clua_pushswiftfunction(L, swiftEntry, lua_Integer(index)); lua_setfield(L, -2, "__index")
        clua_pushswiftfunction(L, swiftEntry, lua_Integer(tostring)); lua_setfield(L, -2, "__tostring")
        clua_pushcfunction(L, releaseEntry); lua_setfield(L, -2, "__gc")
        clua_pushcfunction(L, releaseEntry); lua_setfield(L, -2, "__close")
        lua_pushstring(L, name); lua_setfield(L, -2, "__metatable")
        lua_pushboolean(L, 1); lua_setfield(L, -2, "__swiftbox")
        clua_pop(L, 1)
    }

    /// Whether the value at `idx` is a userdata made by `push(object:)` (raw access only: cannot raise).
    static func isSwiftBox(_ L: OpaquePointer, _ idx: Int32) -> Bool {
        guard lua_type(L, idx) == LUA_TUSERDATA, lua_getmetatable(L, idx) != 0 else { return false }
        lua_pushstring(L, "__swiftbox")
        lua_rawget(L, -2)
        let marked = lua_toboolean(L, -1) != 0
        clua_pop(L, 2)
        return marked
    }

    /// The metatable `__name` of the userdata at `idx` ("userdata" when it has none).
    static func userdataTypeName(_ L: OpaquePointer, _ idx: Int32) -> String {
        guard lua_getmetatable(L, idx) != 0 else { return "userdata" }
        lua_pushstring(L, "__name")
        lua_rawget(L, -2)
        let name = string(L, -1) ?? "userdata"
        clua_pop(L, 2)
        return name
    }

    // MARK: Calls from Lua

    /// Runs registered function `id` for the C dispatcher; see `swiftEntry`.
    func invoke(id: Int, _ L: OpaquePointer) -> Int32 {
        guard functions.indices.contains(id) else {
            lua_pushstring(L, "internal error: unknown Swift function \(id)")
            return CLUA_SWIFT_ERROR
        }
        let fn = functions[id]
        let call = LuaCall(state: self, L: L, function: fn.name, isMethod: fn.isMethod, keepsFunctions: true)
        defer { call.releaseReferences() }
        do {
            let results = try fn.body(call)
            guard lua_checkstack(L, Int32(results.count) + 8) != 0 else {
                lua_pushstring(L, "\(fn.name): too many results")
                return CLUA_SWIFT_ERROR
            }
            for r in results { push(r, L) }
            return Int32(results.count)
        } catch let e as LuaCallbackError {
            if e.reference != LUA_NOREF {
                lua_rawgeti(L, clua_registryindex(), lua_Integer(e.reference))
                luaL_unref(L, clua_registryindex(), e.reference)
            } else {
                lua_pushstring(L, e.message)
            }
            return CLUA_SWIFT_RETHROW
        } catch {
            lua_pushstring(L, String(describing: error))
            return CLUA_SWIFT_ERROR
        }
    }

    /// Pushes a Swift value (tables recursively, objects as new userdata boxes).
    func push(_ value: LuaValue, _ L: OpaquePointer) {
        _ = lua_checkstack(L, 4)
        switch value {
        case .nil, .other: lua_pushnil(L)
        case let .bool(b): lua_pushboolean(L, b ? 1 : 0)
        case let .int(i): lua_pushinteger(L, lua_Integer(i))
        case let .number(d): lua_pushnumber(L, d)
        case let .string(s): _ = s.withCString { lua_pushstring(L, $0) }
        case let .table(t):
            lua_createtable(L, Int32(t.array.count), Int32(t.fields.count))
            for (i, v) in t.array.enumerated() {
                push(v, L)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            for (k, v) in t.fields {
                lua_pushstring(L, k)
                push(v, L)
                lua_rawset(L, -3)
            }
        case let .object(o): push(object: o, L)
        case let .function(ref): lua_rawgeti(L, clua_registryindex(), lua_Integer(ref))
        case let .swiftFunction(id): clua_pushswiftfunction(L, swiftEntry, lua_Integer(id))
        }
    }

    /// Boxes `object` in a new userdata holding one retained reference, with its type's metatable.
    func push(object: LuaObject, _ L: OpaquePointer) {
        let name = type(of: object).luaTypeName
        guard let slot = clua_newuserdata(L, MemoryLayout<UnsafeMutableRawPointer?>.size) else { lua_pushnil(L); return }
        slot.assumingMemoryBound(to: UnsafeMutableRawPointer?.self).pointee = Unmanaged.passRetained(object).toOpaque()
        clua_getmetatable_named(L, name)
        if lua_type(L, -1) != LUA_TTABLE {
            clua_pop(L, 1)
            defineType(type(of: object))
            clua_getmetatable_named(L, name)
        }
        lua_setmetatable(L, -2)
    }
}
