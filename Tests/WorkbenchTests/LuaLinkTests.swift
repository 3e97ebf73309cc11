import XCTest
import Workbench

final class LuaLinkTests: XCTestCase {
    func testEmbeddedLuaIs54() {
        XCTAssertEqual(WorkbenchInfo.luaVersion, "Lua 5.4")
    }
}
