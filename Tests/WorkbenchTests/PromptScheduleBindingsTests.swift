import Foundation
import XCTest
import SAM2
import Workbench

/// `sam2.register("prompts", …)`: Lua prompt schedules run by `metrics.interactive` on a tiny synth.generate dataset
/// (5 frames of 64×48, 2 objects) with the reduced random-weights model. J&F values are meaningless, so the tests
/// compare a Lua schedule mirroring a built-in with that built-in (tolerance 0: the same clicks reach the same
/// predictor), and check listing and error paths.
final class PromptScheduleBindingsTests: XCTestCase {
    func state(_ dir: String) throws -> LuaState {
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute("""
            model = sam2.load('\(imageFixtures)/sam2.1-mini.pt', {image_size = 256, trunk = \(miniTrunkLua)})
            data = synth.generate{out = '\(dir)/synth', videos = 1, frames = 5, size = {64, 48}, objects = 2, seed = 3}
            -- Every round's {round, clicks, corrective_clicks, j, f, j_and_f} of a run, as one string.
            function digest(r)
              local parts = {}
              for _, v in ipairs(r.videos) do
                for _, x in ipairs(v.rounds) do
                  parts[#parts + 1] = string.format("%s %d %d %d %.17g %.17g %.17g", v.name, x.round, x.clicks,
                                                    x.corrective_clicks, x.j, x.f, x.j_and_f)
                end
                parts[#parts + 1] = "total " .. v.total_clicks
              end
              return table.concat(parts, "; ")
            end
            function first_click(q)
              return {points = metrics.clicks(q.ground_truth, 1, function() error("k = 1 needs no prediction") end)}
            end
            """)
        return s
    }

    /// A Lua schedule giving the built-in "clicks" k = 1 first click gives the identical result.
    func testLuaClicksMatchesBuiltIn() throws {
        let s = try state(try temporaryFolder(self))
        let lua = try XCTUnwrap(try s.string("""
            sam2.register('prompts', 'lua_clicks', {initial = first_click})
            local r = metrics.interactive(model, data.root, {schedule = 'lua_clicks'})
            assert(r.schedule == 'lua_clicks' and #r.videos[1].rounds == 1)
            return digest(r)
            """))
        let builtIn = try XCTUnwrap(try s.string("return digest(metrics.interactive(model, data.root, {schedule = 'clicks', options = {k = 1}}))"))
        XCTAssertEqual(lua, builtIn)
        XCTAssertTrue(lua.contains("total 2"), lua)
    }

    /// A Lua mirror of "offline" (worst frame per object, ties to the earlier frame, objects in id order, budget
    /// as an option) gives the built-in's result, corrective clicks included.
    func testLuaOfflineMatchesBuiltIn() throws {
        let s = try state(try temporaryFolder(self))
        let lua = try XCTUnwrap(try s.string("""
            sam2.register('prompts', 'lua_offline', {
              rounds = 2, options = {budget = 8}, initial = first_click,
              corrections = function(q)
                local worst, ids = {}, {}
                for _, x in ipairs(q.scores) do
                  local w = worst[x.object]
                  if x.iou < 1 and (not w or x.iou < w.iou or (x.iou == w.iou and x.frame < w.frame)) then
                    if not w then ids[#ids + 1] = x.object end
                    worst[x.object] = x
                  end
                end
                table.sort(ids)
                local picks = {}
                for i = 1, math.min(#ids, math.max(0, q.options.budget - q.clicks_used)) do
                  picks[i] = {object = ids[i], frame = worst[ids[i]].frame}
                end
                return picks
              end,
            })
            return digest(metrics.interactive(model, data.root, {schedule = 'lua_offline', options = {budget = 3}}))
            """))
        let builtIn = try XCTUnwrap(try s.string(
            "return digest(metrics.interactive(model, data.root, {schedule = 'offline', options = {rounds = 2, budget = 3}}))"))
        XCTAssertEqual(lua, builtIn)
    }

    /// Registered schedules are listed (Lua and registry) with their summary and options; built-ins cannot be replaced.
    func testListing() throws {
        let s = try LuaState(projectRoot: projectRoot)
        XCTAssertEqual(try s.string("""
            sam2.register('prompts', 'listed_schedule', {summary = 'for the listing test', options = {n = 2},
                                                         initial = function(q) return {mask = true} end})
            for _, c in ipairs(sam2.components('prompts')) do
              if c.name == 'listed_schedule' then return c.summary .. ' ' .. c.options[1].name end
            end
            """), "for the listing test n")
        XCTAssertTrue(Registry.shared.components(.promptSchedule).contains { $0.name == "listed_schedule" })
        XCTAssertThrowsError(try s.execute("sam2.register('prompts', 'clicks', {initial = print})")) { e in
            XCTAssertTrue("\(e)".contains("built in"), "\(e)")
        }
    }

    /// Errors in callbacks and malformed results are Lua errors of the metrics.interactive call naming the schedule
    /// and callback; the state stays usable afterwards.
    func testCallbackErrors() throws {
        let s = try state(try temporaryFolder(self))
        let cases: [(String, [String])] = [
            ("initial = function(q) error('boom') end", ["prompt schedule 'bad': error in initial(query)", "boom"]),
            ("initial = function(q) return {points = {{1000, 1}}} end", ["prompt schedule 'bad': initial(query)", "points[1] x"]),
            ("initial = function(q) return {lasso = 1} end", ["initial(query)", "unknown key 'lasso'"]),
            ("initial = function(q) return 3 end", ["initial(query)", "number"]),
            ("initial = first_click, corrections = function(q) error('late') end",
             ["prompt schedule 'bad': error in corrections(query)", "late"]),
            ("initial = first_click, corrections = function(q) return {{'a', 1}} end",
             ["corrections(query)", "item 1"]),
        ]
        for (impl, expected) in cases {
            XCTAssertThrowsError(try s.execute("""
                sam2.register('prompts', 'bad', {\(impl)})
                metrics.interactive(model, data.root, {schedule = 'bad'})
                """), impl) { e in
                for part in expected { XCTAssertTrue("\(e)".contains(part), "\(impl): \(e) lacks \(part)") }
            }
        }
        let registration: [(String, String)] = [
            ("sam2.register('prompts', 'r', {})", "initial"),
            ("sam2.register('prompts', 'r', {initial = print, rounds = 2})", "corrections"),
            ("sam2.register('prompts', 'r', {initial = print, rounds = -1})", "rounds"),
            ("sam2.register('prompts', 'r', {initial = print, colour = 1})", "colour"),
        ]
        for (code, part) in registration {
            XCTAssertThrowsError(try s.execute(code), code) { e in XCTAssertTrue("\(e)".contains(part), "\(code): \(e)") }
        }
        // The host survives and the next run works.
        XCTAssertEqual(try s.number("""
            sam2.register('prompts', 'bad', {initial = first_click})
            return metrics.interactive(model, data.root, {schedule = 'bad'}).videos[1].total_clicks
            """), 2)
    }
}
