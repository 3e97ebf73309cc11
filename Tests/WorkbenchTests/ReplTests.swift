import Foundation
import XCTest
import Workbench

/// The REPL's evaluation, pretty printing, completion, and the CLI with piped input.
final class ReplTests: XCTestCase {
    func testEvaluatePrettyPrintsAndContinues() throws {
        let repl = Repl(state: try LuaState(projectRoot: projectRoot))
        XCTAssertEqual(repl.evaluate("1 + 1"), .values("2"))
        XCTAssertEqual(repl.evaluate("x = 5"), .values(nil))
        XCTAssertEqual(repl.evaluate("x, 'a', 2.5, nil"), .values("5\t\"a\"\t2.5\tnil"))
        XCTAssertEqual(repl.evaluate("{3, 2, 1, name = 'n', nested = {a = true}}"), .values("{3, 2, 1, name = \"n\", nested = {a = true}}"))
        XCTAssertEqual(repl.evaluate("function f()"), .incomplete)
        XCTAssertEqual(repl.evaluate("function f()\n return 7\nend"), .values(nil))
        XCTAssertEqual(repl.evaluate("f()"), .values("7"))
        XCTAssertEqual(repl.evaluate("sam2.tensor({{1, 2}, {3, 4}})"), .values("sam2.tensor [2, 2] {1, 2, 3, 4}"))
        XCTAssertEqual(repl.evaluate("local t = {}; t.self = t; return t"), .values("{self = <cycle>}"))
        guard case let .error(message) = repl.evaluate("sam2.image(3)") else { return XCTFail() }
        XCTAssertTrue(message.hasPrefix("stdin:1: bad argument #1 to 'sam2.image' (string expected, got number)"), message)
        guard case let .error(syntax) = repl.evaluate("1 +* 2") else { return XCTFail() }
        XCTAssertTrue(syntax.hasPrefix("stdin:1:"), syntax)
    }

    func testMaskPrettyPrint() throws {
        let s = try LuaState(projectRoot: projectRoot)
        let repl = Repl(state: s)
        try s.execute("m = sam2.load('\(imageFixtures)/sam2.1-mini.pt', {image_size = 256, trunk = \(miniTrunkLua)})")
        guard case let .values(text?) = repl.evaluate("(m:segment(sam2.image('\(imageFixtures)/truck_320.png'), {points = {{200, 120}}}))") else { return XCTFail() }
        XCTAssertTrue(text.contains("sam2.mask 320×213 area=29105 bbox={0, 0, 319, 212} score=0.5632"), text)
    }

    func testCompletion() throws {
        let s = try LuaState(projectRoot: projectRoot)
        let repl = Repl(state: s)
        XCTAssertEqual(repl.completions(for: "sam2.lo"), ["sam2.load"])
        XCTAssertEqual(repl.completions(for: "metrics."), ["metrics.box", "metrics.clicks", "metrics.evaluate", "metrics.interactive", "metrics.jf"])
        XCTAssertEqual(repl.completions(for: "plot."), ["plot.bar", "plot.line", "plot.loss_curve"])
        XCTAssertEqual(repl.completions(for: "workbench.pro"), ["workbench.progress"])
        XCTAssertTrue(repl.completions(for: "sa").contains("sam2"))
        XCTAssertTrue(repl.completions(for: "wh").contains("while"))
        try s.execute("t = sam2.tensor({1})")
        XCTAssertEqual(repl.completions(for: "t:m"), ["t:max", "t:mean", "t:min"])
        XCTAssertEqual(repl.completions(for: "nothing.here."), [])
        XCTAssertEqual(repl.completions(for: "t.x.y"), [])
    }

    func testPipedReplAndRunCommand() throws {
        guard let r = try runWorkbench(["repl"], stdin: "x = 20\nx + 1\nfor i = 1, 2 do\n  print(i)\nend\n{a = 1}\n") else {
            throw XCTSkip("workbench executable not built")
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "21\n1\n2\n{a = 1}\n")
        let failing = try XCTUnwrap(runWorkbench(["repl"], stdin: "error('nope')\nprint('still here')\n"))
        XCTAssertEqual(failing.status, 1)
        XCTAssertEqual(failing.stdout, "still here\n")
        XCTAssertTrue(failing.stderr.hasPrefix("stdin:1: nope\nstack traceback:"), failing.stderr)

        let ok = try XCTUnwrap(runWorkbench(["run", "-e", "print(arg[0], 6 * 7)"]))
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "-e\t42\n")
        let oneLiner = try XCTUnwrap(runWorkbench(["run", "-e", "sam2.load(1)"]))
        XCTAssertEqual(oneLiner.status, 1)
        XCTAssertTrue(oneLiner.stderr.hasPrefix("(command line):1: bad argument #1 to 'sam2.load' (string expected, got number)\nstack traceback:"), oneLiner.stderr)
        let dir = try temporaryFolder(self)
        try write("local n = tonumber(arg[1])\nprint(n * 2)\nlocal t = nil\nprint(t.x)\n", to: dir + "/fail.lua")
        let bad = try XCTUnwrap(runWorkbench(["run", dir + "/fail.lua", "21"]))
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stdout, "42\n")
        XCTAssertTrue(bad.stderr.contains("/fail.lua:4: attempt to index a nil value (local 't')\nstack traceback:\n"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("/fail.lua:4: in main chunk"), bad.stderr)
    }
}
