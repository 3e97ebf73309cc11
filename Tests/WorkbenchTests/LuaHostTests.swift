import Foundation
import XCTest
import Workbench
import SAM2

/// The host core: errors never crash it, userdata lifetime, require paths, `arg`.
final class LuaHostTests: XCTestCase {
    func makeState() throws -> LuaState { try LuaState(projectRoot: projectRoot) }

    /// A runtime error message from `execute`.
    func failure(_ state: LuaState, _ code: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try state.execute(code, chunkName: "=t.lua")
            XCTFail("no error from: \(code)", file: file, line: line)
            return ""
        } catch let e as LuaError {
            return e.message
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return ""
        }
    }

    func testWrongTypesAndMissingArgumentsNameTheArgument() throws {
        let s = try makeState()
        XCTAssertEqual(failure(s, "sam2.load(42)"), "t.lua:1: bad argument #1 to 'sam2.load' (string expected, got number)")
        XCTAssertEqual(failure(s, "sam2.load()"), "t.lua:1: bad argument #1 to 'sam2.load' (string expected, got nil)")
        XCTAssertEqual(failure(s, "sam2.load('x.pt', 'opts')"), "t.lua:1: bad argument #2 to 'sam2.load' (table expected, got string)")
        XCTAssertEqual(failure(s, "sam2.load('x.pt', {image_size = 'big'})"),
                       "t.lua:1: bad argument #2 to 'sam2.load' (option 'image_size': number expected, got string)")
        XCTAssertTrue(failure(s, "sam2.load('x.pt', {imagesize = 256})").contains("unknown option 'imagesize'"))
        // Checked before the checkpoint is opened, and leaves the process-wide precision alone.
        let precision = failure(s, "sam2.load('x.pt', {precision = 'fp16'})")
        XCTAssertTrue(precision.contains("option 'precision'") && precision.contains("unknown precision 'fp16'"), precision)
        XCTAssertEqual(ComputePrecision.current, .float32)
        XCTAssertEqual(failure(s, "metrics.jf(sam2.tensor({1}), 1)"),
                       "t.lua:1: bad argument #1 to 'metrics.jf' (sam2.mask expected, got sam2.tensor)")
        // Methods: self is not counted, a bad self is reported as such.
        XCTAssertEqual(failure(s, "local t = sam2.tensor({1}); t.get('x', 1)"),
                       "t.lua:1: calling 'get' on bad self (sam2.tensor expected, got string)")
        XCTAssertEqual(failure(s, "local t = sam2.tensor({1}); t:get('x')"),
                       "t.lua:1: bad argument #1 to 'get' (number expected, got string)")
        XCTAssertEqual(failure(s, "local t = sam2.tensor({1}); t:get(2)"),
                       "t.lua:1: bad argument #1 to 'get' (index 2 out of range 1…1)")
        XCTAssertEqual(failure(s, "sam2.tensor({{1, 2}, {3}})"),
                       "t.lua:1: bad argument #1 to 'sam2.tensor' (item [2]: a table of 2 values expected (not rectangular))")
        XCTAssertEqual(failure(s, "sam2.components('memories')"),
                       "t.lua:1: bad argument #1 to 'sam2.components' (unknown kind 'memories' (kinds: encoder, decoder, memory, prompts))")
        // A cyclic table argument is an error, not a stack overflow.
        XCTAssertTrue(failure(s, "local t = {}; t[1] = t; sam2.tensor(t)").contains("nested too deeply"))
        // The state is still usable after all of that.
        XCTAssertEqual(try s.number("return 6 * 7"), 42)
    }

    func testSwiftErrorsBecomeLuaErrorsWithTheSwiftMessage() throws {
        let s = try makeState()
        XCTAssertEqual(failure(s, "sam2.image('/nonexistent/x.png')"), "t.lua:1: /nonexistent/x.png: cannot read image: no such file")
        XCTAssertTrue(failure(s, "sam2.load('/nonexistent/x.pt')").hasPrefix("t.lua:1: /nonexistent/x.pt: "))
        // Inside pcall the message is a plain Lua value scripts can inspect.
        XCTAssertEqual(try s.string("local ok, e = pcall(sam2.image, '/nonexistent/y.png'); assert(not ok); return e"),
                       "/nonexistent/y.png: cannot read image: no such file")
        let garbage = try temporaryFolder(self) + "/garbage.pt"
        try write("not a zip", to: garbage)
        let m = failure(s, "sam2.load('\(garbage)')")
        XCTAssertTrue(m.hasPrefix("t.lua:1: \(garbage)"), m)
    }

    func testErrorsInsideLuaCallbacksAndNestedPcall() throws {
        let s = try makeState()
        let out = try temporaryFolder(self)
        // A callback error propagates through the Swift frames unchanged (string with its own position, or a table).
        XCTAssertEqual(failure(s, "synth.generate{out = '\(out)/a', frames = 2, size = {32, 32}, progress = function() error('cb failed') end}"),
                       "t.lua:1: cb failed")
        XCTAssertEqual(try s.number("""
            local ok, e = pcall(synth.generate, {out = '\(out)/b', frames = 2, size = {32, 32},
                                                 progress = function() error({code = 7}) end})
            assert(not ok); return e.code
            """), 7)
        // Nested pcall: inner errors caught inside the callback do not disturb the outer call.
        let counts = try s.execute("""
            local calls, inner = 0, 0
            local r = synth.generate{out = '\(out)/c', frames = 3, size = {32, 32}, progress = function(done, total)
              calls = calls + 1
              local ok, e = pcall(function() return pcall(sam2.load, 1) end)
              if ok then inner = inner + 1 end
              local ok2 = pcall(error, 'x')
              assert(not ok2)
            end}
            assert(#r.sequences == 1 and r.sequences[1] == 'synth_0000')
            return calls, inner
            """).compactMap(\.double)
        XCTAssertEqual(counts.count, 2)
        XCTAssertGreaterThan(counts.first ?? 0, 0)
        XCTAssertEqual(counts.first, counts.last)
        // Deeply nested pcall around Swift errors.
        XCTAssertEqual(try s.string("""
            local function f(n) if n == 0 then return sam2.image(1) end; local ok, e = pcall(f, n - 1); error(e, 0) end
            local ok, e = pcall(f, 20); return e
            """), "(string):1: bad argument #1 to 'sam2.image' (string expected, got number)")
        // Coroutines: errors inside a coroutine calling Swift come back to resume.
        XCTAssertEqual(try s.string("""
            local co = coroutine.create(function() coroutine.yield(1); sam2.image(false) end)
            coroutine.resume(co); local ok, e = coroutine.resume(co); return e
            """), "(string):1: bad argument #1 to 'sam2.image' (string expected, got boolean)")
        XCTAssertEqual(try s.number("return 1 + 1"), 2)
    }

    func testScriptErrorsReportFileLineAndTraceback() throws {
        let dir = try temporaryFolder(self)
        try write("local M = {}\nfunction M.fail()\n  error('module failure')\nend\nreturn M\n", to: dir + "/failing.lua")
        try write("local x = nil\nreturn x.field\n", to: dir + "/broken_at_load.lua")
        try write("return (\n", to: dir + "/syntax.lua")
        try write("local f = require 'failing'\n\nf.fail()\n", to: dir + "/main.lua")
        try write("require 'broken_at_load'\n", to: dir + "/main2.lua")
        try write("require 'syntax'\n", to: dir + "/main3.lua")
        try write("local x = \n", to: dir + "/bad.lua")

        func runError(_ script: String) throws -> LuaError {
            let s = try makeState()
            do { try s.run(file: dir + "/" + script); XCTFail("no error"); return .closed }
            catch let e as LuaError { return e }
        }
        guard case let .runtime(message, traceback) = try runError("main.lua") else { return XCTFail() }
        // Lua shortens long chunk names from the left ("...tail"), so the checks look at the tail.
        XCTAssertTrue(message.hasSuffix("/failing.lua:3: module failure"), message)
        XCTAssertTrue(traceback.hasPrefix("stack traceback:"), traceback)
        XCTAssertTrue(traceback.contains("/failing.lua:3: in function"), traceback)
        XCTAssertTrue(traceback.contains("/main.lua:3: in main chunk"), traceback)
        let loadMessage = try runError("main2.lua").message
        XCTAssertTrue(loadMessage.hasSuffix("/broken_at_load.lua:2: attempt to index a nil value (local 'x')"), loadMessage)
        let syntaxMessage = try runError("main3.lua").message
        XCTAssertTrue(syntaxMessage.contains("/syntax.lua:2:"), syntaxMessage)
        guard case let .syntax(m) = try runError("bad.lua") else { return XCTFail() }
        XCTAssertTrue(m.hasSuffix("/bad.lua:2: unexpected symbol near <eof>"), m)
        guard case .unreadable = try runError("missing.lua") else { return XCTFail() }
    }

    func testUserdataLifetime() throws {
        let before = LuaObject.liveCount
        let s = try makeState()
        try s.execute("""
            for i = 1, 200 do local t = sam2.tensor({i, i}); local m = t.shape end
            collectgarbage(); collectgarbage()
            """)
        XCTAssertEqual(LuaObject.liveCount, before, "dropped userdata are collected")
        try s.execute("kept = {sam2.tensor({1}), sam2.tensor({2})}")
        XCTAssertEqual(LuaObject.liveCount, before + 2)
        try s.execute("kept[1] = nil; collectgarbage(); collectgarbage()")
        XCTAssertEqual(LuaObject.liveCount, before + 1)
        // __close releases at scope end, and a closed value is an error (not a dangling pointer) when used.
        try s.execute("local t = sam2.tensor({1}); escaped_get = t.get")
        XCTAssertEqual(try s.string("""
            local escaped
            do local t <close> = sam2.tensor({1, 2, 3}); escaped = t; assert(workbench.live_objects() >= 2) end
            local ok, e = pcall(function() return escaped:get(1) end)
            local ok2, e2 = pcall(escaped_get, escaped, 1)
            return tostring(escaped) .. ' | ' .. e .. ' | ' .. e2
            """), "sam2.tensor (closed) | (string):3: attempt to use a closed sam2.tensor | calling 'get' on bad self (sam2.tensor expected, got closed sam2.tensor)")
        try s.execute("collectgarbage(); collectgarbage()")
        XCTAssertEqual(LuaObject.liveCount, before + 1)
        // The metamethods are hidden, and calling __gc on a foreign userdata cannot happen from scripts.
        XCTAssertEqual(try s.string("return getmetatable(sam2.tensor({1}))"), "sam2.tensor")
        s.close()
        XCTAssertEqual(LuaObject.liveCount, before, "closing the state releases everything still referenced")
        XCTAssertThrowsError(try s.execute("return 1"))
    }

    func testRequireFromScriptsFolderScriptFolderAndEnvironment() throws {
        let root = try temporaryFolder(self)
        try write("return {name = 'from Scripts'}\n", to: root + "/Scripts/shared_mod.lua")
        try write("return {name = 'from init'}\n", to: root + "/Scripts/pkg/init.lua")
        try write("return {name = 'from env'}\n", to: root + "/extra/env_mod.lua")
        try write("return {name = 'beside the script'}\n", to: root + "/experiments/local_mod.lua")
        try write("""
            result = {require('shared_mod').name, require('pkg').name, require('local_mod').name, require('env_mod').name,
                      arg[0], arg[1], arg[2], #arg, select('#', ...), (...)}
            """, to: root + "/experiments/main.lua")
        setenv("SAM2_WORKBENCH_PATH", root + "/extra", 1)
        defer { unsetenv("SAM2_WORKBENCH_PATH") }
        let s = try LuaState(projectRoot: root)
        try s.run(file: root + "/experiments/main.lua", arguments: ["first", "2"])
        let r = try s.execute("return table.unpack(result)")
        let strings = r.map { v -> String in
            switch v { case let .string(x): return x; case let .int(i): return String(i); default: return "?" } }
        XCTAssertEqual(strings, ["from Scripts", "from init", "beside the script", "from env",
                                 root + "/experiments/main.lua", "first", "2", "2", "2", "first"])
    }

    func testProgressBarFromLuaCountsAndChecksItsArguments() throws {
        let s = try makeState()
        XCTAssertEqual(try s.string("""
            local bar = workbench.progress{total = 5, label = "cells", unit = "cells"}
            bar:advance(); bar:advance(3); bar:status("loss 0.1")
            local before = bar.done
            bar:finish(); bar:finish()
            return before .. "/" .. bar.total .. " " .. tostring(bar)
            """), "4/5 workbench.progress cells (4/5 cells)")
        XCTAssertTrue(failure(s, "workbench.progress{}").contains("option 'total': required"))
        XCTAssertTrue(failure(s, "workbench.progress{total = -1}").contains("option 'total'"))
        XCTAssertTrue(failure(s, "workbench.progress{total = 3, steps = 2}").contains("unknown option 'steps'"))
        XCTAssertTrue(failure(s, "workbench.progress{total = 3}:advance(-2)").contains("≥ 0 expected, got -2"))
    }

    /// The video scripts' command line (Scripts/video_ablation.lua): unknown flags and bad counts name the argument.
    func testVideoScriptArgumentsRejectUnknownFlagsAndBadCounts() throws {
        func parse(_ args: [String]) throws -> [LuaValue] {
            let s = try makeState()
            s.setArg(script: "x.lua", arguments: args)
            return try s.execute("""
                local a = require("video_ablation").parse_args("out/x", {videos = 10, frames = 60})
                return a.out, a.checkpoint, a.videos, a.frames
                """)
        }
        let r = try parse(["o", "m.safetensors", "--frames", "8"])
        XCTAssertEqual(r.count, 4)
        if case let .string(out) = r[0], case let .string(ckpt) = r[1], case let .int(v) = r[2], case let .int(f) = r[3] {
            XCTAssertEqual([out, ckpt], ["o", "m.safetensors"]); XCTAssertEqual([v, f], [10, 8])
        } else { XCTFail("\(r)") }
        XCTAssertThrowsError(try parse(["o", "--out", "p"])) { e in
            XCTAssertTrue("\(e)".contains("--out: unknown option"), "\(e)")
        }
        XCTAssertThrowsError(try parse(["--videos", "two"])) { e in
            XCTAssertTrue("\(e)".contains("--videos: a positive whole number expected, got two"), "\(e)")
        }
    }

    func testDiscoveredRootHasScripts() {
        XCTAssertTrue(ProjectRoot.isRoot(projectRoot))
    }
}
