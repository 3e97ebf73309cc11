import Foundation
import XCTest
import SAM2
import Workbench

/// `metrics.interactive` on a tiny synth.generate dataset (5 frames of 64×48, 2 objects) with the reduced
/// random-weights model: J&F values are meaningless, so the tests check the result's structure, click budgets,
/// equality with `InteractiveEvaluation` driven from Swift on the same files, and error messages.
final class InteractiveBindingsTests: XCTestCase {
    func state(_ dir: String) throws -> LuaState {
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute("""
            model = sam2.load('\(imageFixtures)/sam2.1-mini.pt', {image_size = 256, trunk = \(miniTrunkLua)})
            data = synth.generate{out = '\(dir)/synth', videos = 1, frames = 5, size = {64, 48}, objects = 2, seed = 3}
            """)
        return s
    }

    func record(_ v: LuaValue?, _ key: String) -> LuaValue {
        guard case let .table(t)? = v else { return .nil }
        return t[key]
    }

    func text(_ v: LuaValue) -> String? {
        if case let .string(s) = v { return s }
        return nil
    }

    func list(_ v: LuaValue) -> [LuaValue] {
        guard case let .table(t) = v else { return [] }
        return t.array
    }

    /// Lua result == Swift runner result (tolerance 0: same code path on the same files), rounds numbered 0…n,
    /// clicks within 2 first clicks + budget 3.
    func testOfflineMatchesSwiftRunner() throws {
        let dir = try temporaryFolder(self)
        let s = try state(dir)
        let values = try s.execute("""
            return metrics.interactive(model, data.root, {schedule = "offline", options = {rounds = 2, budget = 3}}), model
            """)
        let result = values.first
        XCTAssertEqual(text(record(result, "schedule")), "offline")
        let videos = list(record(result, "videos"))
        XCTAssertEqual(videos.count, 1)
        let video = try XCTUnwrap(videos.first)
        XCTAssertEqual(text(record(video, "name")), "synth_0000")
        let rounds = list(record(video, "rounds"))
        XCTAssertTrue((1...3).contains(rounds.count), "\(rounds.count) rounds")
        XCTAssertEqual(rounds.map { record($0, "round").double }, (0..<rounds.count).map { Double($0) })
        let total = try XCTUnwrap(record(video, "total_clicks").double)
        let corrective = try XCTUnwrap(record(video, "corrective_clicks").double)
        XCTAssertLessThanOrEqual(corrective, 3)
        XCTAssertEqual(total, corrective + 2)  // one first-frame click per object
        XCTAssertEqual(record(rounds.last, "clicks").double, total)
        XCTAssertEqual(record(rounds.first, "clicks").double, 2)
        XCTAssertEqual(record(record(video, "final"), "j_and_f").double, record(rounds.last, "j_and_f").double)
        let mean = list(record(result, "mean"))
        XCTAssertEqual(mean.map(\.double), rounds.map { record($0, "j_and_f").double })

        // The same evaluation from Swift.
        guard case let .object(obj)? = values.dropFirst().first, let me = obj as? ModelObject else { return XCTFail("no model") }
        let model = try SAM2VideoModel(model: me.model, checkpoint: try Checkpoint.open(me.model.checkpointPath))
        let sequence = try DAVISDataset(root: dir + "/synth").sequence("synth_0000")
        let schedule = try PromptSchedules.make("offline", options: ["rounds": .int(2), "budget": .int(3)])
        let expected = try InteractiveEvaluation(model: model).run(try GroundTruthVideo(sequence: sequence), schedule: schedule)
        XCTAssertEqual(rounds.count, expected.rounds.count)
        for (r, e) in zip(rounds, expected.rounds) {
            XCTAssertEqual(record(r, "j").double, e.jMean)
            XCTAssertEqual(record(r, "f").double, e.fMean)
            XCTAssertEqual(record(r, "j_and_f").double, e.jAndF)
            XCTAssertEqual(record(r, "corrective_clicks").double, Double(e.correctiveClicks))
        }
        XCTAssertEqual(total, Double(expected.totalClicks))
        XCTAssertEqual(corrective, Double(expected.correctiveClicks))
    }

    /// Unknown schedules / options and bad values name the option and carry the registry's message.
    func testErrors() throws {
        let dir = try temporaryFolder(self)
        let s = try state(dir)
        let cases: [(String, [String])] = [
            ("{schedule = 'lasso'}", ["option 'schedule'", "lasso", "offline"]),
            ("{schedule = 'clicks', options = {kk = 1}}", ["option 'options'", "kk"]),
            ("{options = {rounds = '2'}}", ["option 'options'", "rounds", "int"]),
            ("{options = {budget = -1}}", ["option 'options'", "budget"]),
            ("{options = {rounds = {}}}", ["options.rounds"]),
            ("{sequences = {'nope'}}", ["option 'sequences'", "nope", "synth_0000"]),
            ("{memory = 'nope'}", ["option 'memory'", "nope"]),
            ("{bound_th = 0}", ["option 'bound_th'"]),
            ("{colour = 1}", ["colour"]),
        ]
        for (options, expected) in cases {
            XCTAssertThrowsError(try s.execute("metrics.interactive(model, data.root, \(options))"), options) { e in
                for part in expected { XCTAssertTrue("\(e)".contains(part), "\(options): \(e) lacks \(part)") }
            }
        }
        XCTAssertThrowsError(try s.execute("metrics.interactive(model, '\(dir)/none')")) { e in
            XCTAssertTrue("\(e)".contains("#2"), "\(e)")
        }
        XCTAssertThrowsError(try s.execute("metrics.interactive(data.root)")) { e in
            XCTAssertTrue("\(e)".contains("sam2.model"), "\(e)")
        }
    }
}
