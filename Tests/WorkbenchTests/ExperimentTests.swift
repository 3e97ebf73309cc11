import Foundation
import XCTest
import SAM2
import Workbench

/// workbench.experiment (grid, keys, seeds, result files, resume, failures, interrupts), the plot library and
/// the prompt simulation bindings.
final class ExperimentTests: XCTestCase {
    /// A toy experiment: `calls` counts cells run; cell (a=3, d2) fails; j = a + (d2 and 1 or 0).
    func toy(out: String, seed: Int = 3, extra: String = "") -> String {
        """
        calls = calls or 0
        result = workbench.experiment{
          name = "toy", out = '\(out)', seed = \(seed), progress = false, \(extra)
          vary = {b = {"x", "y"}, a = {1, 2, 3}},
          data = {"d1", "d2"},
          run = function(cell)
            calls = calls + 1
            seeds = seeds or {}
            seeds[cell.key] = cell.seed
            if cell.variant.a == 3 and cell.data == "d2" and not fixed then error("boom " .. cell.variant.b) end
            local s = {}
            for i = 1, 4 do s[i] = cell.variant.a * i + (cell.data == "d2" and 1 or 0) end
            return {j = cell.variant.a + (cell.data == "d2" and 1 or 0), tag = cell.variant.b, per_frame = {j = s}}
          end,
        }
        """
    }

    func testGridCrossProductKeysAndSeeds() throws {
        let grid = try ExperimentGrid(axes: [ExperimentAxis(name: "stride", values: [.int(1), .int(2)]),
                                             ExperimentAxis(name: "num_maskmem", values: [.int(1), .int(3), .int(7)])],
                                      data: [.string("/data/a/00000.jpg"), .string("/data/b/00000.jpg"), .record([("name", .string("c"))])],
                                      prompts: [.string("box"), .number(0.5)], seed: 11)
        XCTAssertEqual(grid.cells.count, 3 * 2 * 3 * 2)
        XCTAssertEqual(grid.axes.map(\.name), ["num_maskmem", "stride"])  // sorted: Lua tables have no order
        // Same basename twice → made unique with the position; tables use their name.
        XCTAssertEqual(grid.data.map(\.label), ["00000.jpg#1", "00000.jpg#2", "c"])
        XCTAssertEqual(grid.cells[0].key, "num_maskmem=1,stride=1 | 00000.jpg#1 | box | seed=11")
        XCTAssertEqual(grid.cells[1].key, "num_maskmem=1,stride=1 | 00000.jpg#1 | 0.5 | seed=11")
        XCTAssertEqual(grid.cells.last?.key, "num_maskmem=7,stride=2 | c | 0.5 | seed=11")
        XCTAssertEqual(Set(grid.cells.map(\.key)).count, grid.cells.count)
        XCTAssertEqual(grid.variantNames.count, 6)
        XCTAssertEqual(grid.conditionNames.count, 12)
        // The cell seed: FNV-1a of "variant|data|prompt", mixed with the experiment seed (independent code here).
        func fnv(_ s: String) -> UInt64 {
            var h: UInt64 = 14695981039346656037
            for b in s.utf8 { h ^= UInt64(b); h = h &* 1099511628211 }
            return h
        }
        for cell in grid.cells {
            let text = "\(cell.variantName)|\(cell.data.label)|\(cell.prompt!.label)"
            XCTAssertEqual(cell.seed, Int(SplitMix64.mix(fnv(text) ^ SplitMix64.mix(11)) & 0x7FFF_FFFF))
        }
        let again = try ExperimentGrid(axes: grid.axes, data: grid.data.map(\.value), prompts: grid.prompts.map(\.value), seed: 11)
        XCTAssertEqual(again.cells.map(\.seed), grid.cells.map(\.seed))
        let other = try ExperimentGrid(axes: grid.axes, data: grid.data.map(\.value), prompts: grid.prompts.map(\.value), seed: 12)
        XCTAssertNotEqual(other.cells.map(\.seed), grid.cells.map(\.seed))
        XCTAssertThrowsError(try ExperimentGrid(axes: [ExperimentAxis(name: "k", values: [])], data: [.nil], prompts: [], seed: 0))
    }

    func testResultFilesAndFailingCell() throws {
        let out = try temporaryFolder(self) + "/res"
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute(toy(out: out))
        XCTAssertEqual(try s.number("return calls"), 12)  // the grid went on after the failures
        XCTAssertEqual(try s.number("return result.done"), 10)
        XCTAssertEqual(try s.number("return result.failed"), 2)
        XCTAssertEqual(try s.string("return result.results[10].error"), "(string):10: boom x")

        let csv = try String(contentsOfFile: out + "/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 13)
        XCTAssertEqual(csv[0], "key,a,b,data,seed,status,seconds,j,tag,error")
        XCTAssertTrue(csv[1].hasPrefix("\"a=1,b=x | d1 | - | seed=3\",1,x,d1,"))
        XCTAssertTrue(csv[1].contains(",ok,") && csv[1].hasSuffix(",1,x,"), String(csv[1]))  // j = 1, tag = x, no error
        XCTAssertTrue(csv[10].contains(",error,") && csv[10].hasSuffix(",,,(string):10: boom x"), String(csv[10]))
        let jsonl = try String(contentsOfFile: out + "/results.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(jsonl.count, 12)

        // results.json: means and sample stds over the two data items, computed here independently.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as? [String: Any])
        XCTAssertEqual(json["done"] as? Int, 10)
        let summary = try XCTUnwrap(json["summary"] as? [[String: Any]])
        XCTAssertEqual(summary.map { $0["condition"] as? String }, ["a=1,b=x", "a=1,b=y", "a=2,b=x", "a=2,b=y", "a=3,b=x", "a=3,b=y"])
        for (row, a) in zip(summary, [1.0, 1, 2, 2, 3, 3]) {
            let j = try XCTUnwrap((row["metrics"] as? [String: Any])?["j"] as? [String: Any])
            if a < 3 {
                XCTAssertEqual(j["mean"] as? Double ?? .nan, a + 0.5, accuracy: 1e-12)
                XCTAssertEqual(j["std"] as? Double ?? .nan, (0.5).squareRoot(), accuracy: 1e-12)  // {a, a+1}: s = √½
                let curve = try XCTUnwrap((row["per_frame"] as? [String: Any])?["j"] as? [Double])
                XCTAssertEqual(curve, (1...4).map { a * Double($0) + 0.5 })
            } else {
                XCTAssertEqual(j["n"] as? Int, 1)
                XCTAssertEqual(row["failed"] as? Int, 1)
            }
        }
        let md = try String(contentsOfFile: out + "/results.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| a | b | done | failed | j |"), md)
        XCTAssertTrue(md.contains("| 1 | x | 2/2 | 0 | 1.5000 ± 0.7071 |"), md)
        XCTAssertTrue(md.contains("- `a=3,b=y | d2 | - | seed=3`: (string):10: boom y"), md)
        for plot in ["bar_j.png", "per_frame_j.png"] {
            let image = try ImageIO.readRGB(out + "/" + plot)
            XCTAssertEqual(image.width, 720); XCTAssertEqual(image.height, 420)
        }
    }

    func testResumeSkipsFinishedCellsAndRetriesFailures() throws {
        let out = try temporaryFolder(self) + "/res"
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute(toy(out: out))
        try s.execute("calls = 0")
        try s.execute(toy(out: out, extra: "retry_failed = false,"))
        XCTAssertEqual(try s.number("return calls"), 0)
        XCTAssertEqual(try s.number("return result.skipped"), 12)
        // The bug is fixed: only the two failed cells run again.
        try s.execute("calls = 0; fixed = true")
        try s.execute(toy(out: out))
        XCTAssertEqual(try s.number("return calls"), 2)
        XCTAssertEqual(try s.number("return result.done"), 12)
        XCTAssertEqual(try String(contentsOfFile: out + "/results.csv", encoding: .utf8).split(separator: "\n").count, 13)
        XCTAssertEqual(try String(contentsOfFile: out + "/results.jsonl", encoding: .utf8).split(separator: "\n").count, 14)
        // A changed seed is a different experiment: every cell runs.
        try s.execute("calls = 0")
        try s.execute(toy(out: out, seed: 4))
        XCTAssertEqual(try s.number("return calls"), 12)
    }

    /// A crash in the middle of writing a line leaves a partial last line; the resumed run ignores it.
    func testResumeAfterCrashMidLine() throws {
        let out = try temporaryFolder(self) + "/res"
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute(toy(out: out))
        let path = out + "/results.jsonl"
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines = Array(lines.prefix(5)) + [String(lines[5].prefix(40))]
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try s.execute("calls = 0; fixed = true")
        try s.execute(toy(out: out))
        XCTAssertEqual(try s.number("return calls"), 7)
        XCTAssertEqual(try s.number("return result.done"), 12)
    }

    /// The script dies mid-experiment (os.exit in cell 4); the re-run skips the 3 finished cells.
    func testScriptDyingMidExperimentResumes() throws {
        let dir = try temporaryFolder(self)
        let script = dir + "/exp.lua"
        try write("""
            local die = arg[1] == "die"
            local r = workbench.experiment{
              name = "dies", out = '\(dir)/res', progress = false, vary = {k = {1, 2, 3, 4, 5, 6}},
              run = function(cell)
                if die and cell.variant.k == 4 then os.exit(3) end
                io.write("ran ", cell.variant.k, "\\n")
                return {v = cell.variant.k * 10}
              end,
            }
            print("done", r.done, "skipped", r.skipped)
            """, to: script)
        guard let first = try runWorkbench(["run", script, "die"]) else { throw XCTSkip("workbench executable not built") }
        XCTAssertEqual(first.status, 3)
        XCTAssertEqual(first.stdout, "ran 1\nran 2\nran 3\n")
        let second = try XCTUnwrap(try runWorkbench(["run", script]))
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.stdout, "ran 4\nran 5\nran 6\ndone\t6\tskipped\t3\n")
    }

    func testSeedsAreRepeatable() throws {
        let dir = try temporaryFolder(self)
        let s = try LuaState(projectRoot: projectRoot)
        let code = { (out: String, seed: Int) in """
            local r = workbench.experiment{out = '\(out)', seed = \(seed), progress = false, plots = false,
              vary = {n = {1, 2}}, data = {"a", "b"}, prompts = {"p", "q"},
              run = function(cell) math.randomseed(cell.seed); return {x = math.random()} end}
            local xs = {}
            for _, rec in ipairs(r.results) do xs[#xs + 1] = string.format("%.17g", rec.metrics.x) end
            return table.concat(xs, ",")
            """ }
        let a = try XCTUnwrap(s.string(code(dir + "/a", 5)))
        let b = try XCTUnwrap(s.string(code(dir + "/b", 5)))
        let c = try XCTUnwrap(s.string(code(dir + "/c", 6)))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(Set(a.split(separator: ",")).count, 8)  // every cell has its own stream
    }

    func testInterruptStopsBetweenCellsAndResumes() throws {
        let out = try temporaryFolder(self) + "/res"
        let s = try LuaState(projectRoot: projectRoot)
        // A real SIGINT from inside cell 2: the handler only sets the flag, so cell 2 still completes.
        s.setLibrary("testhooks", [("sigint", { _ in raise(SIGINT); return [] })])
        let code = """
            calls = 0
            r = workbench.experiment{out = '\(out)', progress = false, exit_on_interrupt = false, vary = {k = {1, 2, 3, 4}},
              run = function(cell)
                calls = calls + 1
                if cell.variant.k == 2 and not resumed then testhooks.sigint(); assert(workbench.interrupted()) end
                return {v = cell.variant.k}
              end}
            """
        try s.execute(code)
        XCTAssertEqual(try s.number("return calls"), 2)
        XCTAssertEqual(try s.execute("return r.interrupted").first.flatMap { if case let .bool(b) = $0 { return b } else { return nil } }, true)
        XCTAssertEqual(try s.number("return r.done"), 2)
        XCTAssertTrue(try String(contentsOfFile: out + "/results.md", encoding: .utf8).contains("Interrupted: re-run to resume."))
        try s.execute("resumed = true")
        try s.execute(code)
        XCTAssertEqual(try s.number("return calls"), 2)
        XCTAssertEqual(try s.number("return r.done"), 4)
        XCTAssertEqual(try s.execute("return workbench.interrupted()").first.flatMap { if case let .bool(b) = $0 { return b } else { return nil } }, false)
    }

    /// Ctrl-C in the CLI: the finished cells are on disk, the summary is written and the exit code is 130.
    func testSigintExitsWith130() throws {
        let dir = try temporaryFolder(self)
        let script = dir + "/exp.lua"
        try write("""
            workbench.experiment{out = '\(dir)/res', progress = false, vary = {k = {1, 2, 3}},
              run = function(cell)
                if cell.variant.k == 2 then
                  -- system() ignores SIGINT while it waits, so the signal comes from a background job.
                  os.execute("(sleep 0.2; kill -INT $PPID) &")
                  local t = os.time()
                  while not workbench.interrupted() and os.time() - t < 10 do end
                end
                return {v = cell.variant.k}
              end}
            print("not reached")
            """, to: script)
        guard let r = try runWorkbench(["run", script]) else { throw XCTSkip("workbench executable not built") }
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("interrupted, 2 of 3 cells recorded"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: dir + "/res/results.jsonl", encoding: .utf8).split(separator: "\n").count, 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/res/results.md"))
    }

    func testBadSpecificationsAndResults() throws {
        let s = try LuaState(projectRoot: projectRoot)
        let dir = try temporaryFolder(self)
        s.assertErrors([
            ("workbench.experiment()", "bad argument #1 to 'workbench.experiment' (table expected, got nil)"),
            ("workbench.experiment{run = print}", "option 'out': required (the results folder)"),
            ("workbench.experiment{out = '\(dir)/x'}", "option 'run': required: a function(cell) returning a table of metrics"),
            ("workbench.experiment{out = '\(dir)/x', run = print, vary = {k = {}}}", "option 'vary': 'k': at least one value expected"),
            ("workbench.experiment{out = '\(dir)/x', run = print, data = 3}", "option 'data': list or folder expected, got number"),
            ("workbench.experiment{out = '\(dir)/x', run = print, data = '\(dir)/none'}", "option 'data': experiment: data: folder \(dir)/none not found"),
            ("workbench.experiment{out = '\(dir)/x', run = print, colour = 1}", "unknown option 'colour'"),
        ])
        try s.execute("""
            r = workbench.experiment{out = '\(dir)/y', progress = false, data = {1, 2, 3},
              run = function(cell)
                if cell.data == 1 then return 5 end
                if cell.data == 2 then return {per_frame = {j = {1, "x"}}} end
                return {mask = sam2.tensor({1}), ok = true}
              end}
            """)
        XCTAssertEqual(try s.string("return r.results[1].error"), "run returned a number; a table of metrics expected")
        XCTAssertEqual(try s.string("return r.results[2].error"), "run returned per_frame.j[2]: number expected, got string")
        XCTAssertEqual(try s.string("return r.results[3].values.ok"), "true")
    }

    func testDatasetFolderItems() throws {
        let dir = try temporaryFolder(self)
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute("""
            synth.generate{out = '\(dir)/d', videos = 2, frames = 2, size = {32, 24}, objects = 1}
            names = {}
            r = workbench.experiment{out = '\(dir)/r', progress = false, data = '\(dir)/d',
              run = function(cell)
                names[#names + 1] = cell.data_name .. ":" .. cell.data.annotations:sub(-27)
                return {area = sam2.mask(cell.data.annotations .. "/00000.png", 1).area}
              end}
            """)
        XCTAssertEqual(try s.string("return table.concat(names, ' ')"),
                       "synth_0000:Annotations/480p/synth_0000 synth_0001:Annotations/480p/synth_0001")
        XCTAssertEqual(try s.number("return r.done"), 2)
    }

    func testPlotsDrawWhereTheDataIs() throws {
        let dir = try temporaryFolder(self)
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute("""
            img = plot.bar{categories = {"a"}, values = {1}, y_min = 0, y_max = 1, width = 300, height = 200,
                           title = "Bar", out = '\(dir)/bar.png'}
            plot.line{series = {{name = "flat", y = {0.5, 0.5, 0.5}}}, y_min = 0, y_max = 1, width = 320, height = 240,
                      x_label = "frame", y_label = "J", out = '\(dir)/line.png'}
            plot.bar{categories = {"a long variant name one", "a long variant name two"},
                     series = {{name = "j", values = {0.3, 0.6}, errors = {0.1, 0.05}}, {name = "f", values = {0.4, 0.2}}},
                     out = '\(dir)/grouped.png'}
            """)
        XCTAssertEqual(try s.number("return img.width"), 300)
        let bar = try ImageIO.readRGB(dir + "/bar.png")
        XCTAssertEqual(bar.width, 300); XCTAssertEqual(bar.height, 200)
        // The single bar fills the middle of the plot area in the first palette colour.
        let c = Plot.palette[0]
        func isColor(_ im: Image8, _ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) -> Bool {
            im[y, x, 0] == c.0 && im[y, x, 1] == c.1 && im[y, x, 2] == c.2
        }
        XCTAssertTrue(isColor(bar, bar.width / 2 + 10, bar.height / 2, c))
        let line = try ImageIO.readRGB(dir + "/line.png")
        XCTAssertEqual(line.width, 320); XCTAssertEqual(line.height, 240)
        // The line y = 0.5 is a row of the first colour across the plot area.
        let rows = (0..<line.height).filter { y in (0..<line.width).filter { isColor(line, $0, y, c) }.count > line.width / 3 }
        XCTAssertFalse(rows.isEmpty)
        let grouped = try ImageIO.readRGB(dir + "/grouped.png")
        XCTAssertEqual(grouped.width, 640); XCTAssertEqual(grouped.height, 400)
        XCTAssertGreaterThan(grouped.pixels.indices.filter { $0 % 3 == 0 && isColor(grouped, ($0 / 3) % 640, ($0 / 3) / 640, Plot.palette[1]) }.count, 500)
        s.assertErrors([
            ("plot.bar{categories = {'a', 'b'}, values = {1}}", "plot: series 1 ('value'): 1 values for 2 categories"),
            ("plot.line{series = {{y = {1}, x = {1, 2}}}}", "plot: series 1 ('series 1'): 2 x values for 1 y values"),
            ("plot.line{series = {{y = {1}}}, width = 10}", "plot: size 10×400 outside"),
            ("plot.line{series = {}}", "option 'series': a list of {name, y [, x]} expected"),
        ])
    }

    /// A value above y_max is drawn at the plot area's top edge, not over the title; plot.loss_curve redraws a
    /// training log with its moving median.
    func testLinesStayInThePlotAreaAndLossCurveRedraws() throws {
        let dir = try temporaryFolder(self)
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute("""
            plot.line{series = {{name = "spike", y = {0.5, 100, 0.5}}}, y_min = 0, y_max = 1, width = 320, height = 240,
                      title = "t", markers = false, out = '\(dir)/spike.png'}
            plot.line{series = {{name = "spike", y = {0.5, 0.5, 0.5}}}, y_min = 0, y_max = 1, width = 320, height = 240,
                      title = "t", markers = false, out = '\(dir)/flat.png'}
            """)
        let c = Plot.palette[0]
        func colouredRows(_ path: String) throws -> [Int] {
            let im = try ImageIO.readRGB(path)
            return (0..<im.height).filter { y in (0..<im.width).contains { x in
                im[y, x, 0] == c.0 && im[y, x, 1] == c.1 && im[y, x, 2] == c.2 } }
        }
        // The legend swatch is the only first-colour mark above the line in the flat chart; the spike reaches up
        // to the plot area's top, which lies below the legend's first row.
        let flatTop = try colouredRows(dir + "/flat.png").min()!, spikeTop = try colouredRows(dir + "/spike.png").min()!
        // (Unclamped, y = 100 on a 0…1 axis would run off the image's top row.)
        XCTAssertGreaterThanOrEqual(spikeTop, flatTop - 2, "the spike must stay in the plot area (± the line's width)")
        let spikeRows = try colouredRows(dir + "/spike.png")
        XCTAssertGreaterThan(spikeRows.count, try colouredRows(dir + "/flat.png").count + 50)

        var log = "step,lr,loss,loss_mask,loss_dice,loss_iou,loss_class,mean_iou,frames,seconds\n"
        for i in 1...200 { log += "\(i),0.001,\(i % 25 == 0 ? 500.0 : 2.0 + Double(i % 3)),0,0,0,0,0.9,8,0.5\n" }
        try write(log, to: dir + "/train_log.csv")
        XCTAssertEqual(try s.string("return plot.loss_curve{log = '\(dir)/train_log.csv', out = '\(dir)/curve.png'}"),
                       dir + "/curve.png")
        let curve = try ImageIO.readRGB(dir + "/curve.png")
        XCTAssertEqual([curve.width, curve.height], [800, 450])
        try write("step,lr,loss\n", to: dir + "/empty.csv")
        s.assertErrors([
            ("plot.loss_curve{log = '\(dir)/empty.csv', out = '\(dir)/e.png'}", "has no step rows"),
            ("plot.loss_curve{log = '\(dir)/missing.csv', out = '\(dir)/e.png'}", "\(dir)/missing.csv: cannot read"),
            ("plot.loss_curve{out = '\(dir)/e.png'}", "option 'log': required"),
            ("plot.loss_curve{log = 'x', out = 'y', window = 0}", "option 'window'"),
        ])
    }

    /// Ticks are 1/2/5 steps covering the range; labels carry the step's decimals.
    func testNiceTicks() {
        XCTAssertEqual(Plot.ticks(0, 1).values, [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        XCTAssertEqual(Plot.ticks(0, 3.2).values, [0, 1, 2, 3, 4])
        XCTAssertEqual(Plot.ticks(5, 5).values.count > 1, true)
        XCTAssertEqual(Plot.format(0.6000000000000001, step: 0.2), "0.6")
        XCTAssertEqual(Plot.format(40, step: 10), "40")
    }

    func testClickAndBoxPrompts() throws {
        let dir = try temporaryFolder(self)
        // A 9×7 rectangle at (4…12, 3…9) in a 20×15 mask, and an empty mask.
        var index = IndexMask(width: 20, height: 15)
        for y in 3...9 { for x in 4...12 { index.indices[y * 20 + x] = 1 } }
        try ImageIO.write(index, to: dir + "/gt.png")
        try ImageIO.write(IndexMask(width: 20, height: 15), to: dir + "/empty.png")
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute("""
            gt = sam2.mask('\(dir)/gt.png'); empty = sam2.mask('\(dir)/empty.png')
            box = metrics.box(gt)
            exact = metrics.clicks(gt, 5, function(points) return gt end)
            calls = 0
            missed = metrics.clicks(gt, 3, function(points) calls = calls + 1; return empty end)
            """)
        XCTAssertEqual(try s.string("return table.concat(box, ',')"), "4.0,3.0,12.0,9.0")
        XCTAssertEqual(try s.number("return #exact"), 1)  // the prediction is exact after one click
        let first = try XCTUnwrap(ClickSimulation.firstClick(BinaryMask(index, id: 1)))
        XCTAssertEqual(try s.string("return table.concat(exact[1], ',')"), "\(first.x),\(first.y),1")
        XCTAssertEqual(try s.number("return #missed"), 3)
        XCTAssertEqual(try s.number("return calls"), 2)
        XCTAssertEqual(try s.number("return missed[2][3]"), 1)  // a positive click in the missed region
        XCTAssertEqual(try s.execute("return metrics.box(empty)").first.map { if case .nil = $0 { return true } else { return false } }, true)
        s.assertErrors([
            ("metrics.clicks(gt, 0, print)", "bad argument #2 to 'metrics.clicks' (at least 1 click expected, got 0)"),
            ("metrics.clicks(gt, 2, function() return 1 end)", "predict must return a sam2.mask, got number"),
            ("metrics.clicks(gt, 2, function() error('inner') end)", "inner"),
            ("metrics.box(gt, {noise = 'pink'})", "option 'noise': 'none', 'gaussian' or 'uniform' expected, got 'pink'"),
        ])
    }
}

/// The ready-made prompt ablation runs on the reduced model (one video: 2 objects × 4 prompt types).
final class PromptAblationScriptTests: XCTestCase {
    func testPromptAblationScriptRuns() throws {
        let out = try temporaryFolder(self) + "/pa"
        let s = try LuaState(projectRoot: projectRoot)
        try s.run(file: projectRoot + "/Scripts/prompt_ablation_image.lua", arguments: [out, "--videos", "1"])
        let md = try String(contentsOfFile: out + "/results.md", encoding: .utf8)
        XCTAssertTrue(md.contains("8 cells: 8 done, 0 failed."), md)
        for prompt in ["1 click", "3 clicks", "5 clicks", "box"] { XCTAssertTrue(md.contains("| \(prompt) | 2/2 | 0 |"), md) }
        for plot in ["bar_j.png", "bar_f.png", "bar_jf.png", "per_frame_j.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + plot), plot)
        }
    }
}
