import CLua
import SAM2

/// The Lua 5.4 host's version string, read from the linked interpreter.
public enum WorkbenchInfo {
    /// Version of the embedded Lua interpreter, e.g. "Lua 5.4".
    public static var luaVersion: String {
        guard let L = luaL_newstate() else { return "unavailable" }
        defer { lua_close(L) }
        luaL_openlibs(L)
        lua_getglobal(L, "_VERSION")
        return clua_tostring(L, -1).map { String(cString: $0) } ?? "unknown"
    }
}
