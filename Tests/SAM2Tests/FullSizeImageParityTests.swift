import Foundation
import XCTest
import SAM2

/// Manual parity run at full size (not in CI: the checkpoint is 156 MB and made locally). Point
/// SAM2_FULL_IMAGE_REFERENCE at the folder written by Scripts/fixtures/dump_full_size_reference.py; its
/// reference.json names the checkpoint and image, and the official outputs sit beside it.
final class FullSizeImageParityTests: XCTestCase {
    func testFullSizeImagePredictorAgainstOfficialDump() throws {
        guard let dirPath = ProcessInfo.processInfo.environment["SAM2_FULL_IMAGE_REFERENCE"] else {
            throw XCTSkip("set SAM2_FULL_IMAGE_REFERENCE to a dump_full_size_reference.py output folder")
        }
        let dir = URL(fileURLWithPath: dirPath)
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as? [String: Any])
        func npy(_ name: String) throws -> Tensor { try Npy.read(dir.appendingPathComponent(name).path) }

        var t = Date()
        let model = try SAM2Model(checkpoint: reference["checkpoint"] as! String)
        let loadTime = Date().timeIntervalSince(t)
        XCTAssertEqual(model.config.name, reference["config"] as? String)
        let predictor = SAM2ImagePredictor(model: model)
        let image = try ImageIO.readRGB(reference["image"] as! String)
        t = Date()
        try predictor.setImage(image)
        let setImageTime = Date().timeIntervalSince(t)
        let f = try XCTUnwrap(predictor.features)
        let embedDiff = f.imageEmbed.maxAbsDifference(try npy("image_embed.npy"))
        let s0Diff = f.highResFeatures[0].maxAbsDifference(try npy("high_res_feat_s0.npy"))
        XCTAssertLessThan(embedDiff, 1e-3)
        XCTAssertLessThan(s0Diff, 1e-3)
        var report = String(format: "load %.3f s, set_image %.3f s (official %.3f s); image_embed max |Δ| %.2e, feat_s0 %.2e",
                            loadTime, setImageTime, (reference["timings_s"] as! [String: Double])["set_image"] ?? .nan,
                            embedDiff, s0Diff)
        for set in reference["prompt_sets"] as! [[String: Any]] {
            let name = set["name"] as! String
            let args = set["args"] as! [String: Any]
            func tensor(_ key: String) -> Tensor? {
                guard let v = args[key] else { return nil }
                if let rows = v as? [[NSNumber]] { return Tensor(shape: [rows.count, rows[0].count], data: rows.flatMap { $0.map(\.floatValue) }) }
                let row = (v as! [NSNumber]).map(\.floatValue)
                return Tensor(shape: [row.count], data: row)
            }
            t = Date()
            let out = try predictor.predict(pointCoords: tensor("point_coords"), pointLabels: tensor("point_labels"),
                                            box: tensor("box"), multimaskOutput: args["multimask_output"] as? Bool ?? true)
            let predictTime = Date().timeIntervalSince(t)
            let lowDiff = out.lowResMasks.squeezed(axis: 0).maxAbsDifference(try npy("\(name)_low_res_masks.npy"))
            let expectedMasks = try npy("\(name)_masks.npy")
            let got = out.masks.squeezed(axis: 0)
            let flipped = zip(got.data, expectedMasks.data).filter { $0 != $1 }.count
            let iou = (set["iou_predictions"] as! [NSNumber]).map(\.floatValue)
            let iouDiff = zip(out.iouPredictions.data, iou).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(lowDiff, 1e-2, name)
            XCTAssertLessThan(iouDiff, 1e-4, name)
            XCTAssertLessThan(Double(flipped) / Double(got.count), 1e-4, name)
            report += String(format: "\n%@: predict %.3f s; low-res logits max |Δ| %.2e; IoU max |Δ| %.2e; %d of %d mask pixels differ",
                             name, predictTime, lowDiff, iouDiff, flipped, got.count)
        }
        print("FullSizeImageParity: " + report)
    }
}
