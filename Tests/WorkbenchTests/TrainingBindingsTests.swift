import Foundation
import XCTest
import SAM2
import Workbench

/// `sam2.train`: option errors name the option; the callback sees every step and can stop the run; an error in the
/// callback is the call's error.
final class TrainingBindingsTests: XCTestCase {
    /// A tiny architecture file (128² input) so steps take a fraction of a second.
    func architecture(_ dir: String) throws -> String {
        let arch = SAM2Architecture(imageSize: 128, hieraEmbedDim: 8, hieraNumHeads: 1, hieraStages: [1, 1, 1, 1],
                                    hieraWindowSpec: [8, 4, 8, 4], hieraGlobalAttBlocks: [2],
                                    hieraWindowPosEmbedBkgSpatialSize: [4, 4], hiddenDim: 32, memDim: 16,
                                    memoryAttentionLayers: 1, memoryAttentionFeedforward: 64, numMaskmem: 3)
        try write(arch.json, to: dir + "/arch.json")
        return dir + "/arch.json"
    }

    func testOptionErrorsNameTheOption() throws {
        let dir = try temporaryFolder(self)
        let arch = try architecture(dir)
        let s = try LuaState(projectRoot: projectRoot)
        let cases: [(String, String)] = [
            ("sam2.train{data = 'synthetic:1', steps = 1, out = '\(dir)/a'}", "model"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', stepz = 3}", "stepz"),
            ("sam2.train{model = '\(arch)', data = 'nowhere', steps = 1, out = '\(dir)/a'}", "--data"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 0, out = '\(dir)/a'}", "steps"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', freeze = {'nothing_here'}}", "nothing_here"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', lr_scale = {image_encoder = 0}}", "lr_scale"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', lr_scale = {elsewhere = 0.5}}", "elsewhere"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', scale_parameters = {['x.*'] = 0.5}}", "x.*"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', scale_parameters = {no_obj_ptr = 'big'}}", "scale_parameters"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', reappearance_fraction = 2}", "reappearance fraction"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', batch_size = 0}", "batch size: expected 1…64, got 0"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', loss_weights = {klass = 2}}", "NAME one of mask, dice, iou, class"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', loss_weights = {class = -1}}", "a weight ≥ 0, got 'class=-1.0'"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', ema = 1}", "ema: expected a decay in [0, 1)"),
            ("sam2.train{model = '\(arch)', data = 'synthetic:1', steps = 1, out = '\(dir)/a', hold = 5}", "hold: expected 0…steps − warm-up (1), got 5"),
        ]
        for (code, needle) in cases {
            XCTAssertThrowsError(try s.execute(code), code) { e in
                XCTAssertTrue("\(e)".contains(needle), "\(e) vs \(needle)")
            }
        }
    }

    func testCallbackSeesStepsAndStopsTheRun() throws {
        let dir = try temporaryFolder(self)
        let arch = try architecture(dir)
        let s = try LuaState(projectRoot: projectRoot)
        let common = "model = '\(arch)', data = 'synthetic:1:2', out = '\(dir)/run', clip_length = 2, max_objects = 1, correction_clicks = 1, val_videos = 1, val_frames = 6, synthetic_frames = 10"
        try s.execute("""
            rows = {}
            run = sam2.train{\(common), steps = 5, on_step = function(row) rows[#rows + 1] = row; return row.step < 2 end}
            """)
        XCTAssertEqual(try s.number("return #rows"), 2)
        XCTAssertEqual(try s.number("return run.steps"), 2)
        XCTAssertEqual(try s.number("return rows[2].step"), 2)
        XCTAssertTrue(try s.number("return rows[1].loss")!.isFinite)
        XCTAssertEqual(try s.number("return #run.validation"), 2)   // the model's memory and 1 memory, at the stop
        let jf = try XCTUnwrap(s.number("return run.validation[1].j_and_f"))
        XCTAssertTrue((0...1).contains(jf))
        XCTAssertEqual(try s.string("return sam2.load(run.model):info().image_size .. ''"), "128")
        XCTAssertEqual(try s.string("return tostring(run.model_ema)"), "nil")
        // With a moving average of the weights: its model file, and validation of both.
        try s.execute("ema_run = sam2.train{\(common.replacingOccurrences(of: "/run'", with: "/ema'")), steps = 2, ema = 0.9}")
        XCTAssertEqual(try s.string("return sam2.load(ema_run.model_ema):info().image_size .. ''"), "128")
        XCTAssertEqual(try s.string("return ema_run.validation[3].setting"), "3 memories ema")
        XCTAssertEqual(try s.number("return #ema_run.validation"), 4)
        // Resumes at step 2; an error raised by the callback ends the call with it.
        XCTAssertThrowsError(try s.execute("sam2.train{\(common), steps = 5, on_step = function(row) error('stop here ' .. row.step) end}")) { e in
            XCTAssertTrue("\(e)".contains("stop here 3"), "\(e)")
        }
    }
}
