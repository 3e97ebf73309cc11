import CEdit
import CLua
import Foundation

/// The interactive loop: evaluates expressions (`return <line>` first, as lua.c does) or statements,
/// continues incomplete chunks on the next line, pretty-prints results with `workbench.pretty`.
/// With a terminal it uses libedit (line editing, history in ~/.sam2_workbench_history, tab completion
/// of globals, library members and userdata methods); otherwise it reads plain lines without prompts.
public final class Repl {
    /// What one chunk of input did.
    public enum Outcome: Equatable {
        /// Ran; the pretty-printed results joined by tabs (nil when there were none).
        case values(String?)
        /// The chunk is not finished (more lines needed).
        case incomplete
        /// Failed to compile or raised: the message (with traceback for runtime errors).
        case error(String)
    }

    /// The interpreter.
    public let state: LuaState
    /// Lua keywords offered by completion at the start of a name.
    static let keywords = ["and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
                           "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"]

    /// A REPL over `state`.
    public init(state: LuaState) {
        self.state = state
        state.setArg(script: "repl", arguments: [])
    }

    /// Evaluates one (possibly multi-line) chunk.
    public func evaluate(_ source: String) -> Outcome {
        guard let L = state.L else { return .error(LuaError.closed.description) }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        do {
            do { try state.load("return " + source + "\n", chunkName: "=stdin") }
            catch { try state.load(source, chunkName: "=stdin") }
        } catch let LuaError.syntax(message) {
            return message.hasSuffix("<eof>") ? .incomplete : .error(message)
        } catch {
            return .error(String(describing: error))
        }
        do { try state.protectedCall(L, arguments: 0, results: clua_multret()) }
        catch { return .error(String(describing: error)) }
        let count = lua_gettop(L) - top
        guard count > 0 else { return .values(nil) }
        var shown: [String] = []
        for i in 1...count { shown.append(pretty(L, top + i)) }
        return .values(shown.joined(separator: "\t"))
    }

    /// `workbench.pretty(value)` under pcall; falls back to the type name if the printer itself fails.
    private func pretty(_ L: OpaquePointer, _ idx: Int32) -> String {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        _ = lua_checkstack(L, 4)
        _ = lua_getfield(L, clua_registryindex(), "_LOADED")
        lua_pushstring(L, "workbench"); lua_rawget(L, -2)
        guard lua_type(L, -1) == LUA_TTABLE else { return String(cString: clua_typename_at(L, idx)) }
        lua_pushstring(L, "pretty"); lua_rawget(L, -2)
        lua_pushvalue(L, idx)
        guard clua_pcall(L, 1, 1, 0) == clua_ok(), let s = LuaState.string(L, -1) else {
            return "<\(String(cString: clua_typename_at(L, idx)))>"
        }
        return s
    }

    /// Completions of the name ending the input: globals and keywords, `lib.member`, `obj:method`.
    public func completions(for text: String) -> [String] {
        guard let L = state.L else { return [] }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        _ = lua_checkstack(L, 8)
        let separators: Set<Character> = [".", ":"]
        guard let cut = text.lastIndex(where: { separators.contains($0) }) else {
            lua_rawgeti(L, clua_registryindex(), lua_Integer(LUA_RIDX_GLOBALS))
            let names = Set(tableKeys(L, -1) + Repl.keywords)
            return names.filter { $0.hasPrefix(text) }.sorted()
        }
        let base = String(text[..<cut]), partial = String(text[text.index(after: cut)...])
        let separator = text[cut]
        lua_rawgeti(L, clua_registryindex(), lua_Integer(LUA_RIDX_GLOBALS))
        for part in base.split(separator: ".", omittingEmptySubsequences: false) {
            guard lua_type(L, -1) == LUA_TTABLE, !part.isEmpty, !part.contains(":") else { return [] }
            lua_pushstring(L, String(part))
            lua_rawget(L, -2)
        }
        var names: [String] = []
        if lua_type(L, -1) == LUA_TTABLE, separator == "." {
            names = tableKeys(L, -1)
        } else if LuaState.isSwiftBox(L, -1) {
            names = state.typeMembers[LuaState.userdataTypeName(L, -1)] ?? []
        }
        return names.filter { $0.hasPrefix(partial) }.sorted().map { base + String(separator) + $0 }
    }

    /// Identifier keys of the table at `idx` (raw iteration).
    private func tableKeys(_ L: OpaquePointer, _ idx: Int32) -> [String] {
        let t = lua_absindex(L, idx)
        var keys: [String] = []
        lua_pushnil(L)
        while lua_next(L, t) != 0 {
            if lua_type(L, -2) == LUA_TSTRING, let k = LuaState.string(L, -2),
               k.first.map({ $0.isLetter || $0 == "_" }) == true, !k.hasPrefix("_") || k == "_G" || k == "_VERSION" {
                keys.append(k)
            }
            clua_pop(L, 1)
        }
        return keys
    }

    /// Runs the loop until end of input; returns the number of chunks that failed.
    @discardableResult
    public func run(interactive: Bool = isatty(0) != 0) -> Int {
        var failures = 0
        let home = ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        let history = home + "/.sam2_workbench_history"
        if interactive {
            ReplLineEditor.install(self)
            _ = read_history(history)
            print("SAM 2 workbench — Lua 5.4 (libraries: \(Bindings.libraries.joined(separator: ", "))). Ctrl-D quits.")
        }
        defer { if interactive { _ = write_history(history) } }
        var buffer = ""
        while true {
            let prompt = buffer.isEmpty ? "> " : ">> "
            guard let line = interactive ? ReplLineEditor.readLine(prompt) : Swift.readLine(strippingNewline: true) else { break }
            if interactive, !line.trimmingCharacters(in: .whitespaces).isEmpty { _ = add_history(line) }
            buffer = buffer.isEmpty ? line : buffer + "\n" + line
            if buffer.trimmingCharacters(in: .whitespaces).isEmpty { buffer = ""; continue }
            switch evaluate(buffer) {
            case .incomplete: continue
            case let .values(text):
                if let text { print(text) }
            case let .error(message):
                failures += 1
                fflush(stdout)
                FileHandle.standardError.write(Data((message + "\n").utf8))
            }
            buffer = ""
            fflush(stdout)
        }
        if !buffer.isEmpty {
            failures += 1
            FileHandle.standardError.write(Data("incomplete input at end: \(buffer)\n".utf8))
        }
        if interactive { print("") }
        return failures
    }
}

/// libedit glue: prompt, completion callbacks (C function pointers, so the active REPL is a global).
enum ReplLineEditor {
    nonisolated(unsafe) static weak var active: Repl?
    nonisolated(unsafe) static var candidates: [String] = []
    nonisolated(unsafe) static var next = 0
    // Word breaks without '.' and ':' so "sam2.lo" and "m:seg" complete as one word; the strings live forever.
    nonisolated(unsafe) static let breaks = strdup(" \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]")

    static func install(_ repl: Repl) {
        active = repl
        rl_readline_name = UnsafePointer(strdup("sam2_workbench"))
        rl_basic_word_break_characters = UnsafePointer(breaks)
        rl_completer_word_break_characters = breaks
        rl_completion_append_character = 0
        rl_attempted_completion_function = { text, _, _ in
            rl_attempted_completion_over = 1
            return rl_completion_matches(text, { text, state in
                if state == 0 {
                    ReplLineEditor.candidates = ReplLineEditor.active?.completions(for: text.map { String(cString: $0) } ?? "") ?? []
                    ReplLineEditor.next = 0
                }
                guard ReplLineEditor.next < ReplLineEditor.candidates.count else { return nil }
                defer { ReplLineEditor.next += 1 }
                return strdup(ReplLineEditor.candidates[ReplLineEditor.next])
            })
        }
    }

    static func readLine(_ prompt: String) -> String? {
        guard let p = readline(prompt) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
