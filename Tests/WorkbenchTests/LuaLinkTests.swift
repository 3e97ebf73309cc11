import CLua
import XCTest
import Workbench

/// Exercises the CLua shim's wrappers for Lua's API macros against the real interpreter.
final class LuaLinkTests: XCTestCase {
    func testEmbeddedLuaIs54() {
        XCTAssertEqual(WorkbenchInfo.luaVersion, "Lua 5.4")
    }

    func testShimRunsChunksAndReportsErrors() throws {
        let L = try XCTUnwrap(luaL_newstate())
        defer { lua_close(L) }
        luaL_openlibs(L)

        // A chunk that returns a computed value: loadbuffer + pcall + tonumber + pop.
        let ok = "return 6 * 7, string.format('%s-%d', 'sam', 2)"
        XCTAssertEqual(clua_loadbuffer(L, ok, ok.utf8.count, "=ok"), clua_ok())
        XCTAssertEqual(clua_pcall(L, 0, 2, 0), clua_ok())
        XCTAssertEqual(clua_tonumber(L, -2), 42)
        XCTAssertEqual(String(cString: try XCTUnwrap(clua_tostring(L, -1))), "sam-2")
        clua_pop(L, 2)
        XCTAssertEqual(lua_gettop(L), 0)

        // A runtime error comes back as a status and a message naming the chunk and line.
        let bad = "local t = nil\nreturn t.x"
        XCTAssertEqual(clua_loadbuffer(L, bad, bad.utf8.count, "=bad.lua"), clua_ok())
        XCTAssertNotEqual(clua_pcall(L, 0, 0, 0), clua_ok())
        let message = String(cString: try XCTUnwrap(clua_tostring(L, -1)))
        XCTAssertTrue(message.hasPrefix("bad.lua:2:"), message)
        clua_pop(L, 1)

        // A syntax error is reported by load, before anything runs.
        let syntax = "return ("
        XCTAssertNotEqual(clua_loadbuffer(L, syntax, syntax.utf8.count, "=syntax.lua"), clua_ok())
        clua_pop(L, 1)

        // Tables and integers through the wrappers.
        clua_newtable(L)
        lua_pushinteger(L, 7)
        lua_setfield(L, -2, "n")
        lua_getfield(L, -1, "n")
        XCTAssertEqual(clua_tointeger(L, -1), 7)
        clua_pop(L, 2)
        XCTAssertEqual(lua_gettop(L), 0)
    }
}
