import Foundation
import XCTest
import SAM2
import Workbench

/// The Lua bindings on the reduced model and the evaluation / synthetic-data code.
final class BindingsTests: XCTestCase {
    func loadModel(_ s: LuaState) throws {
        try s.execute("""
            model = sam2.load('\(imageFixtures)/sam2.1-mini.pt', {image_size = 256, trunk = \(miniTrunkLua)})
            image = sam2.image('\(imageFixtures)/truck_320.png')
            """)
    }

    /// IoU scores of one positive click equal the official predictor's (prompts.json point1_multi), within 1e-4.
    func testSegmentMatchesOfficialScores() throws {
        let s = try LuaState(projectRoot: projectRoot)
        try loadModel(s)
        let values = try s.execute("""
            local masks, scores = model:segment(image, {points = {{200, 120}}})
            local out = {}
            for i, m in ipairs(masks) do
              assert(m.score == scores[i] and m.width == 320 and m.height == 213)
              out[#out + 1] = scores[i]
            end
            return table.unpack(out)
            """).compactMap(\.double)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: imageFixtures + "/prompts.json"))) as! [[String: Any]]
        let record = try XCTUnwrap(json.first { $0["name"] as? String == "point1_multi" })
        let ious = record["iou_predictions"] as? [Double] ?? (record["iou_predictions"] as? [[Double]])?.first
        let expected = try XCTUnwrap(ious).sorted(by: >)
        XCTAssertEqual(values.count, 3)
        for (a, e) in zip(values, expected) { XCTAssertEqual(a, e, accuracy: 1e-4) }
    }

    func testMaskPropertiesMethodsAndFiles() throws {
        let s = try LuaState(projectRoot: projectRoot)
        try loadModel(s)
        let dir = try temporaryFolder(self)
        try ImageIO.write(IndexMask(width: 4, height: 4), to: dir + "/small.png")
        try s.execute("""
            masks = model:segment(image, {points = {{200, 120}}})
            best = masks[1]
            assert(best:iou(best) == 1)
            assert(best.area > 0 and #best.bbox == 4)
            assert(best.logits.shape[2] == 64 and best.logits.shape[3] == 64)
            best:save('\(dir)/sub/mask.png')
            best:overlay(image, '\(dir)/overlay.png', {alpha = 0.4})
            back = sam2.mask('\(dir)/sub/mask.png')
            jf = metrics.jf(back, best)
            refined = model:segment(image, {box = {50, 40, 250, 180}, mask = best, multimask = false})
            from_tensor = model:segment(image, {points = {{10, 10, 0}, {200, 120}}, mask = best.logits, multimask = false})
            plain_mask = model:segment(image, {points = {{200, 120}}, mask = back})
            """)
        // The area and bounds agree with an independent count over the mask's 0/1 tensor.
        let area = try XCTUnwrap(s.number("return best.area"))
        let sum = try XCTUnwrap(s.number("local t = best:tensor(); return t:mean() * t.numel"))
        XCTAssertEqual(area, sum, accuracy: 0.5)
        XCTAssertEqual(try s.number("return jf.j"), 1)
        XCTAssertEqual(try s.number("return jf.f"), 1)
        XCTAssertEqual(try s.number("return back.area"), area)
        XCTAssertEqual(try s.number("return #refined"), 1)
        XCTAssertEqual(try s.number("return #from_tensor"), 1)
        XCTAssertEqual(try s.number("return #plain_mask"), 3)
        let overlay = try ImageIO.readRGB(dir + "/overlay.png")
        XCTAssertEqual(overlay.width, 320); XCTAssertEqual(overlay.height, 213)
        XCTAssertTrue(try XCTUnwrap(s.string("return tostring(best)")).hasPrefix("sam2.mask 320×213 area="))
        // Prompt errors.
        s.assertErrors([
            ("model:segment(image, {})", "bad argument #2 to 'segment' (prompts expected: points, box or mask)"),
            ("model:segment(image, {points = {{1}}})", "option 'points': item 1: {x, y[, label]} expected, got 1 numbers"),
            ("model:segment(image, {points = {{1, 2, 5}}})", "option 'points': item 1: label must be 1 (positive) or 0 (negative), got 5.0"),
            ("model:segment(image, {box = {1, 2, 3}})", "option 'box': 4 numbers expected, got 3"),
            ("model:segment(image, {mask = sam2.tensor({1, 2})})", "option 'mask': low-res logits [64, 64] expected, got tensor [2]"),
            ("model:segment(best, {points = {{1, 2}}})", "bad argument #1 to 'segment' (sam2.image expected, got sam2.mask)"),
            ("best:iou(sam2.mask('\(dir)/small.png'))", "bad argument #1 to 'iou' (mask 4×4 does not match 320×213)"),
            ("sam2.mask('\(imageFixtures)/truck_320.png')", "an index mask must be a palette or gray PNG"),
        ])
    }

    func testInfoEverythingComponents() throws {
        let s = try LuaState(projectRoot: projectRoot)
        try loadModel(s)
        XCTAssertEqual(try s.string("return model:info().family"), "sam2.1")
        XCTAssertEqual(try s.number("return model:info().hidden_dim"), 32)
        XCTAssertEqual(try s.number("return model:info().image_size"), 256)
        XCTAssertEqual(try s.string("return model:info().encoder .. '/' .. model:info().decoder"), "hiera/sam2")
        // The automatic generator with permissive filters (random weights) and a progress callback.
        let r = try s.execute("""
            local batches = 0
            local masks = model:everything(image, {points_per_side = 4, points_per_batch = 8, pred_iou_thresh = 0,
                                                   stability_score_thresh = 0, progress = function() batches = batches + 1 end})
            return #masks, batches, masks[1].score ~= nil and masks[1].stability ~= nil
            """)
        XCTAssertGreaterThan(r[0].double ?? 0, 0)
        XCTAssertEqual(r[1].double, 2)
        XCTAssertThrowsError(try s.execute("model:everything(image, {points_per_sid = 4})"))
        // Components mirror Registry.shared.
        let names = try s.execute("""
            local out = {}
            for _, c in ipairs(sam2.components()) do out[#out + 1] = c.kind .. ':' .. c.name .. ':' .. #c.options end
            return table.concat(out, ',')
            """)
        let expected = Registry.shared.components().map { "\($0.kind.rawValue):\($0.name):\($0.options.count)" }.joined(separator: ",")
        if case let .string(got) = names[0] { XCTAssertEqual(got, expected) } else { XCTFail() }
        XCTAssertEqual(try s.string("return sam2.components('decoder')[1].options[1].name"), "dynamic_multimask_via_stability")
        // Decoder options reach the registry, which checks them.
        XCTAssertThrowsError(try s.execute("sam2.load('\(imageFixtures)/sam2.1-mini.pt', {image_size = 256, trunk = \(miniTrunkLua), decoder_options = {stability_thresh = 'x'}})")) { e in
            XCTAssertTrue("\(e)".contains("option 'stability_thresh' expects number, got string"), "\(e)")
        }
    }

    /// metrics.jf against an independent count; synth + evaluate of ground truth against itself.
    func testMetricsAndSynth() throws {
        let s = try LuaState(projectRoot: projectRoot)
        let dir = try temporaryFolder(self)
        // Two 64×48 squares: 20×20 at (10,10) and 20×20 at (20,10): intersection 10×20, union 30×20 → J = 1/3.
        var a = [UInt8](repeating: 0, count: 64 * 48), b = a
        for y in 10..<30 { for x in 10..<30 { a[y * 64 + x] = 1 }; for x in 20..<40 { b[y * 64 + x] = 1 } }
        try ImageIO.write(try IndexMask(width: 64, height: 48, indices: a), to: dir + "/a.png")
        try ImageIO.write(try IndexMask(width: 64, height: 48, indices: b), to: dir + "/b.png")
        let jf = try s.execute("local r = metrics.jf(sam2.mask('\(dir)/a.png'), sam2.mask('\(dir)/b.png', 1)); return r.j, r.f, r.jf")
        XCTAssertEqual(jf[0].double ?? -1, 1.0 / 3.0, accuracy: 1e-12)
        let bitsA = try BitMask(width: 64, height: 48, bits: a.map { $0 != 0 }), bitsB = try BitMask(width: 64, height: 48, bits: b.map { $0 != 0 })
        XCTAssertEqual(jf[1].double ?? -1, BoundaryMeasure.fMeasure(foreground: bitsA, groundTruth: bitsB), accuracy: 1e-12)
        XCTAssertEqual(jf[2].double ?? -1, ((jf[0].double ?? 0) + (jf[1].double ?? 0)) / 2, accuracy: 1e-12)

        let r = try s.execute("""
            local d = synth.generate{out = '\(dir)/synth', videos = 2, frames = 4, size = {64, 48}, objects = 2, seed = 3}
            local g = metrics.evaluate('\(dir)/synth/Annotations/480p', '\(dir)/synth/Annotations/480p')
            return #d.sequences, g.j_and_f, g.j_mean, g.f_mean, #g.sequences, #g.sequences[1].objects, #g.missing
            """)
        XCTAssertEqual(r.compactMap(\.double), [2, 1, 1, 1, 2, 2, 0])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/synth/JPEGImages/480p/synth_0001/00003.jpg"))
        XCTAssertThrowsError(try s.execute("synth.generate{out = '\(dir)/x', size = {8, 8}}")) { e in
            XCTAssertTrue("\(e)".contains("size must be 16…16384"), "\(e)")
        }
        XCTAssertThrowsError(try s.execute("metrics.evaluate('\(dir)/none', '\(dir)/none')"))
        // The interval of a perfect prediction is a point; against itself as the baseline the difference is 0.
        let gt = "\(dir)/synth/Annotations/480p"
        let c = try s.execute("""
            local g = metrics.evaluate('\(gt)', '\(gt)', {baseline = '\(gt)', resamples = 100})
            return g.j_and_f_interval.lower, g.j_and_f_interval.upper, g.j_and_f_interval.sequences, g.baseline_j_and_f, g.difference.estimate, g.difference.upper
            """)
        XCTAssertEqual(c.compactMap(\.double), [1, 1, 2, 1, 0, 0])
        XCTAssertThrowsError(try s.execute("metrics.evaluate('\(gt)', '\(gt)', {resamples = 0})")) { e in
            XCTAssertTrue("\(e)".contains("resamples"), "\(e)")
        }
    }

    func testTensorBinding() throws {
        let s = try LuaState(projectRoot: projectRoot)
        let dir = try temporaryFolder(self)
        try Npy.write(Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]), to: dir + "/t.npy")
        let r = try s.execute("""
            local t = sam2.npy('\(dir)/t.npy')
            local n = sam2.tensor({{1, 2, 3}, {4, 5, 6}})
            return t:get(2, 3), t.rank, t.numel, t:min(), t:max(), t:mean(), n:totable()[2][1], tostring(n)
            """)
        XCTAssertEqual(r.prefix(7).compactMap(\.double), [6, 2, 6, 1, 6, 3.5, 4])
        if case let .string(text) = r[7] { XCTAssertEqual(text, "sam2.tensor [2, 3] {1, 2, 3, 4, 5, 6}") } else { XCTFail() }
    }
}
