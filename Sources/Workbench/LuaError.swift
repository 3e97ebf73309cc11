/// Errors of the Lua host: a script that failed to load or run, or a bad argument passed from Lua.
public enum LuaError: Error, CustomStringConvertible, Equatable {
    /// The chunk did not compile: "file:line: message".
    case syntax(message: String)
    /// The chunk raised an error while running: "file:line: message" and Lua's stack traceback.
    case runtime(message: String, traceback: String)
    /// A script file could not be read.
    case unreadable(path: String, reason: String)
    /// The interpreter could not be created (out of memory).
    case stateUnavailable
    /// The state was already closed.
    case closed

    public var description: String {
        switch self {
        case let .syntax(message): return message
        case let .runtime(message, traceback): return traceback.isEmpty ? message : message + "\n" + traceback
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case .stateUnavailable: return "cannot create a Lua state"
        case .closed: return "the Lua state is closed"
        }
    }

    /// The error message alone (no traceback).
    public var message: String {
        switch self {
        case let .syntax(message), let .runtime(message, _): return message
        default: return description
        }
    }
}

/// A bad argument passed from Lua to a Swift function; rendered the way luaL_argerror words it.
public struct LuaArgumentError: Error, CustomStringConvertible {
    /// 1-based stack position of the argument (self counts as 1 for methods).
    public var position: Int
    /// The function's name as Lua sees it.
    public var function: String
    /// Whether the function is a method (`obj:fn(...)`): positions shift by one and #1 is "self".
    public var isMethod: Bool
    /// What is wrong, e.g. "sam2.model expected, got string".
    public var problem: String

    public var description: String {
        if isMethod {
            if position == 1 { return "calling '\(function)' on bad self (\(problem))" }
            return "bad argument #\(position - 1) to '\(function)' (\(problem))"
        }
        return "bad argument #\(position) to '\(function)' (\(problem))"
    }
}

/// An error raised by a Lua function that Swift called (a callback); the Lua error value is kept in the
/// registry so the host re-raises it unchanged once the Swift frames have returned.
public struct LuaCallbackError: Error, CustomStringConvertible {
    /// The error value as text (tostring of the Lua value).
    public var message: String
    /// Registry reference of the original error value (LUA_NOREF when it was not kept).
    var reference: Int32

    public var description: String { message }
}
