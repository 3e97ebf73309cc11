import Foundation
import XCTest
import SAM2

/// SAM2VideoModel's pieces against the official modules on the reduced model (Fixtures/video_model/modules.json):
/// `_encode_new_memory` (4 cases), `_apply_non_overlapping_constraints`, `fill_holes_in_mask_scores`, and the
/// predictor's argument errors and prompt bookkeeping.
final class VideoModelModulesTests: XCTestCase {
    let dir = fixturesDir.appendingPathComponent("video_model")

    func modules() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("modules.json"))) as! [String: Any]
    }

    func load(_ rec: Any?) throws -> Tensor {
        try Npy.read(dir.appendingPathComponent((rec as! [String: Any])["file"] as! String).path)
    }

    func testEncodeNewMemory() throws {
        let m = try VideoPredictorParityTests.model()
        let meta = try modules()["encode_new_memory"] as! [String: Any]
        let feat = try load(meta["current_vision_feat"]).reshaped([256, 32]).permuted([1, 0]).reshaped([1, 32, 16, 16])
        let masks = try fixture("video_model/modules/memenc_mask_logits.npy") * 3
        for c in meta["cases"] as! [[String: Any]] {
            let out = m.encodeNewMemory(visionFeatures: feat, predMasksHighRes: masks,
                                        objectScoreLogits: Tensor(shape: [1, 1], data: [Float(c["object_score_logits"] as! Double)]),
                                        isMaskFromPts: c["is_mask_from_pts"] as! Bool)
            // conv stack in float32: 1e-4 absolute on values of order 1.
            assertClose(out, try load(c["maskmem_features"]), atol: 1e-4, rtol: 1e-4, c["name"] as! String)
        }
        assertClose(m.maskmemPosEncTokens, try load(meta["maskmem_pos_enc"]).reshaped([1, 16, 256]).permuted([0, 2, 1]), atol: 1e-6, "pos enc")
    }

    func testNonOverlapAndHoleFilling() throws {
        let post = try modules()["postprocess"] as! [String: Any]
        assertClose(SAM2VideoModel.applyNonOverlappingConstraints(try load(post["non_overlap_input"])),
                    try load(post["non_overlap_output"]), atol: 0, "non-overlap")
        assertClose(SAM2Transforms.fillHolesInMaskScores(try load(post["input"]), maxArea: 8), try load(post["output"]), atol: 0, "fill holes")
    }

    func testPromptBookkeepingAndErrors() throws {
        let m = try VideoPredictorParityTests.model()
        let p = try SAM2VideoPredictor(model: m, folder: dir.appendingPathComponent("frames").path)
        XCTAssertThrowsError(try p.propagation()) { XCTAssertEqual($0 as? VideoPredictorError, .noPrompts) }
        XCTAssertThrowsError(try p.addPoints(frame: 10, objectId: 1, points: [[1, 1]], labels: [1])) {
            XCTAssertEqual($0 as? VideoPredictorError, .frameOutOfRange(frame: 10, count: 10))
        }
        XCTAssertThrowsError(try p.addPoints(frame: 0, objectId: 1, points: [[1, 1]], labels: [])) { XCTAssertTrue("\($0)".contains("labels")) }
        XCTAssertThrowsError(try p.removeObject(3)) { XCTAssertEqual($0 as? VideoPredictorError, .unknownObject(id: 3, known: [])) }
        XCTAssertThrowsError(try p.addMask(frame: 0, objectId: 1, mask: Tensor.zeros([5]))) { XCTAssertTrue("\($0)".contains("mask")) }

        let r1 = try p.addPoints(frame: 2, objectId: 7, points: [[210, 90]], labels: [1])
        let r2 = try p.addPoints(frame: 2, objectId: 3, box: [60, 40, 200, 150])
        XCTAssertEqual(r1.objectIds, [7])
        XCTAssertEqual(r2.objectIds, [7, 3])
        XCTAssertEqual(r2.videoResMasks.shape, [2, 1, 180, 320])
        // Object 7's row is its earlier output, unchanged by object 3's prompt.
        XCTAssertEqual(Array(r2.videoResMasks.data[0..<(180 * 320)]), Array(r1.videoResMasks.data))
        // Another frame: object 7 has no output there → −1024.
        let r3 = try p.addPoints(frame: 5, objectId: 3, points: [[100, 100]], labels: [1])
        XCTAssertTrue(r3.videoResMasks.data[0..<(180 * 320)].allSatisfy { $0 == -1024 })
        XCTAssertNil(r3.objectScores[0])

        var frames: [Int] = []
        try p.propagate(start: 2, maxFrames: 3) { frames.append($0.frameIndex); return true }
        XCTAssertEqual(frames, [2, 3, 4, 5])
        XCTAssertEqual(p.memoryBank(objectId: 3)?.conditioningFrames, [2, 5])
        XCTAssertEqual(p.memoryBank(objectId: 7)?.conditioningFrames, [2])
        XCTAssertEqual(p.memoryBank(objectId: 7)?.nonConditioningFrames, [3, 4, 5])

        // Clearing a conditioning frame's prompts downgrades its output.
        try p.clearPrompts(frame: 5, objectId: 3)
        XCTAssertEqual(p.memoryBank(objectId: 3)?.conditioningFrames, [2])
        XCTAssertEqual(p.memoryBank(objectId: 3)?.nonConditioningFrames, [3, 4, 5])
        let updated = try p.removeObject(7)
        XCTAssertEqual(updated.map(\.frameIndex), [2])
        XCTAssertEqual(p.objectIds, [3])
        var reverse: [Int] = []
        try p.propagate(start: 4, reverse: true) { reverse.append($0.frameIndex); return $0.frameIndex > 1 }
        XCTAssertEqual(reverse, [4, 3, 2, 1])
        p.reset()
        XCTAssertEqual(p.objectIds, [])
        XCTAssertLessThanOrEqual(p.framesEncoded, 10)
    }
}
