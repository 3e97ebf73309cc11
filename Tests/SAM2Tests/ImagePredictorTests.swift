import Foundation
import XCTest
import SAM2

/// End-to-end parity of `SAM2ImagePredictor` and `SAM2AutomaticMaskGenerator` with the official
/// SAM2ImagePredictor / SAM2AutomaticMaskGenerator on the reduced SAM 2.1 model (Fixtures/image_model).
final class ImagePredictorTests: XCTestCase {
    static let dir = fixturesDir.appendingPathComponent("image_model")

    /// The reduced model, built from its .pt exactly as a user loads a checkpoint (config from shapes,
    /// trunk hyper-parameters given since the mini trunk is not a released size).
    static let model: SAM2Model = {
        let ckpt = try! Checkpoint.open(dir.appendingPathComponent("sam2.1-mini.pt").path)
        let config = try! SAM2ModelConfig.inferred(from: ckpt, imageSize: 256, encoder: HieraTests.miniEncoder)
        return try! SAM2Model(checkpoint: ckpt, config: config)
    }()

    static func image(_ name: String) throws -> Image8 { try ImageIO.readRGB(dir.appendingPathComponent(name).path) }

    static let prompts: [[String: Any]] = {
        let data = try! Data(contentsOf: dir.appendingPathComponent("prompts.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [[String: Any]]
    }()

    /// Nested JSON numbers → Tensor of the given shape (flattened in order).
    static func tensor(_ value: Any?, shape: [Int]) -> Tensor? {
        guard let value else { return nil }
        var flat: [Float] = []
        func walk(_ v: Any) {
            if let a = v as? [Any] { a.forEach(walk) } else if let n = v as? NSNumber { flat.append(n.floatValue) }
        }
        walk(value)
        return Tensor(shape: shape, data: flat)
    }

    static func arg(_ value: Any?) throws -> Tensor? {
        guard let value else { return nil }
        if let spec = value as? [String: Any], let file = spec["file"] as? String {
            return try Npy.read(dir.appendingPathComponent(file).path)
        }
        var shape: [Int] = []
        var v: Any = value
        while let a = v as? [Any] { shape.append(a.count); guard let f = a.first else { break }; v = f }
        return tensor(value, shape: shape)
    }

    func testPreprocessingMatchesOfficialTransforms() throws {
        let predictor = SAM2ImagePredictor(model: Self.model)
        for name in ["truck_320", "groceries_301x217"] {
            let x = predictor.transforms(try Self.image("\(name).png"))
            assertClose(x, try fixture("image_model/preprocess/\(name).npy"), atol: 2e-6, name)
        }
    }

    func testImageEmbeddingMatchesOfficialPredictor() throws {
        let predictor = SAM2ImagePredictor(model: Self.model)
        try predictor.setImage(try Self.image("truck_320.png"))
        let f = try XCTUnwrap(predictor.features)
        assertClose(f.imageEmbed, try fixture("image_model/stages/image_embed.npy"), atol: 2e-5, rtol: 1e-5, "image_embed")
        assertClose(f.highResFeatures[0], try fixture("image_model/stages/high_res_feat_s0.npy"), atol: 2e-5, rtol: 1e-5, "feat_s0")
        assertClose(f.highResFeatures[1], try fixture("image_model/stages/high_res_feat_s1.npy"), atol: 2e-5, rtol: 1e-5, "feat_s1")
    }

    /// Every recorded `predict` call: IoU, object score, clamped low-res logits and (where stored) full masks.
    func testPredictMatchesOfficialPredictorOnEveryPromptSet() throws {
        let predictor = SAM2ImagePredictor(model: Self.model)
        var current = ""
        var checked = 0
        for record in Self.prompts {
            let name = record["name"] as! String
            if name == "predict_batch" { continue }
            let imageName = name.hasPrefix("odd_") ? "groceries_301x217.png" : "truck_320.png"
            if imageName != current { try predictor.setImage(try Self.image(imageName)); current = imageName }
            let args = record["args"] as! [String: Any]
            let out = try predictor.predict(
                pointCoords: try Self.arg(args["point_coords"]), pointLabels: try Self.arg(args["point_labels"]),
                box: try Self.arg(args["box"]), maskInput: try Self.arg(args["mask_input"]),
                multimaskOutput: args["multimask_output"] as? Bool ?? true,
                returnLogits: args["return_logits"] as? Bool ?? false,
                normalizeCoords: args["normalize_coords"] as? Bool ?? true)

            let batched = out.masks.shape[0] > 1
            // The official predict() squeezes the batch dimension of a single prompt set.
            let iou = batched ? out.iouPredictions : out.iouPredictions.squeezed(axis: 0)
            let expectedIoU = Self.tensor(record["iou_predictions"], shape: iou.shape)!
            assertClose(iou, expectedIoU, atol: 1e-5, "\(name) iou")
            let objectScores = Self.tensor(record["object_score_logits"], shape: out.objectScoreLogits.shape)!
            assertClose(out.objectScoreLogits, objectScores, atol: 1e-4, rtol: 1e-5, "\(name) object score")
            let low = try fixture("image_model/" + ((record["low_res_masks"] as! [String: Any])["file"] as! String))
            assertClose(batched ? out.lowResMasks : out.lowResMasks.squeezed(axis: 0), low, atol: 1e-4, rtol: 1e-5, "\(name) low-res")
            if let masks = record["masks"] as? [String: Any], let file = masks["file"] as? String {
                let expected = try fixture("image_model/" + file)
                let got = batched ? out.masks : out.masks.squeezed(axis: 0)
                if args["return_logits"] as? Bool == true {
                    assertClose(got, expected, atol: 1e-4, rtol: 1e-5, "\(name) logits")
                } else {
                    // Binary masks: pixels whose logit is within float noise of the threshold may flip.
                    let differing = zip(got.data, expected.data).filter { $0 != $1 }.count
                    XCTAssertLessThanOrEqual(differing, 2, "\(name): \(differing) mask pixels differ")
                }
            }
            checked += 1
        }
        XCTAssertEqual(checked, 12)
    }

    func testPredictErrorsNameTheArgument() throws {
        let predictor = SAM2ImagePredictor(model: Self.model)
        XCTAssertThrowsError(try predictor.predict(pointCoords: Tensor(shape: [1, 2], data: [1, 2]), pointLabels: Tensor(shape: [1], data: [1]))) {
            XCTAssertEqual($0 as? ImagePredictorError, .noImageSet)
        }
        try predictor.setImage(try Self.image("truck_320.png"))
        XCTAssertThrowsError(try predictor.predict(pointCoords: Tensor(shape: [1, 3], data: [1, 2, 3]), pointLabels: Tensor(shape: [1], data: [1]))) {
            XCTAssertTrue("\($0)".contains("point_coords"), "\($0)")
        }
        XCTAssertThrowsError(try predictor.predict(pointCoords: Tensor(shape: [1, 2], data: [1, 2]))) {
            XCTAssertTrue("\($0)".contains("point_labels"), "\($0)")
        }
        XCTAssertThrowsError(try predictor.predict(maskInput: Tensor.zeros([1, 32, 32]))) {
            XCTAssertTrue("\($0)".contains("mask_input") && "\($0)".contains("64"), "\($0)")
        }
        XCTAssertThrowsError(try predictor.predict(box: Tensor(shape: [3], data: [1, 2, 3]))) {
            XCTAssertTrue("\($0)".contains("box"), "\($0)")
        }
    }

    /// The automatic mask generator runs of amg.json: same masks (COCO RLE), boxes, scores and points.
    func testAutomaticMaskGeneratorMatchesOfficialRuns() throws {
        let data = try Data(contentsOf: Self.dir.appendingPathComponent("amg.json"))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let runs = try XCTUnwrap(root["runs"] as? [[String: Any]])
        let image = try Self.image("truck_320.png")
        var compared = 0
        for run in runs {
            let name = run["name"] as! String
            guard let args = run["args"] as? [String: Any], let records = run["masks"] as? [[String: Any]] else { continue }
            var o = AutomaticMaskGeneratorOptions()
            if let v = args["points_per_side"] as? Int { o.pointsPerSide = v }
            if let v = args["points_per_batch"] as? Int { o.pointsPerBatch = v }
            if let v = args["pred_iou_thresh"] as? Double { o.predIoUThresh = v }
            if let v = args["stability_score_thresh"] as? Double { o.stabilityScoreThresh = v }
            if let v = args["stability_score_offset"] as? Double { o.stabilityScoreOffset = v }
            if let v = args["box_nms_thresh"] as? Double { o.boxNMSThresh = v }
            if let v = args["crop_n_layers"] as? Int { o.cropNLayers = v }
            if let v = args["crop_nms_thresh"] as? Double { o.cropNMSThresh = v }
            if let v = args["crop_n_points_downscale_factor"] as? Int { o.cropNPointsDownscaleFactor = v }
            if let v = args["min_mask_region_area"] as? Int { o.minMaskRegionArea = v }
            if let v = args["use_m2m"] as? Bool { o.useM2M = v }
            if let v = args["multimask_output"] as? Bool { o.multimaskOutput = v }
            // Without its CUDA extension the official run skips hole/sprinkle removal; we always do it
            // (DESIGN.md), so that run is compared with the area filter off.
            if name == "min_region" { o.minMaskRegionArea = 0 }
            let masks = try SAM2AutomaticMaskGenerator(model: Self.model, options: o).generate(image)
            XCTAssertEqual(masks.count, records.count, "\(name): mask count")
            for (m, r) in zip(masks, records) {
                let seg = r["segmentation"] as! [String: Any]
                XCTAssertEqual(m.rle.coco.counts, seg["counts"] as? String, "\(name): COCO RLE")
                XCTAssertEqual(m.area, r["area"] as? Int, "\(name): area")
                XCTAssertEqual(m.bbox.map(Double.init), (r["bbox"] as! [NSNumber]).map(\.doubleValue), "\(name): bbox")
                XCTAssertEqual(Double(m.predictedIoU), (r["predicted_iou"] as! NSNumber).doubleValue, accuracy: 1e-5, "\(name): iou")
                XCTAssertEqual(Double(m.stabilityScore), (r["stability_score"] as! NSNumber).doubleValue, accuracy: 1e-4, "\(name): stability")
                let point = (r["point_coords"] as! [[NSNumber]])[0].map(\.doubleValue)
                XCTAssertEqual(m.pointCoords.map(Double.init), point, "\(name): point")
                XCTAssertEqual(m.cropBox, (r["crop_box"] as! [NSNumber]).map(\.intValue), "\(name): crop box")
            }
            compared += 1
        }
        XCTAssertEqual(compared, 6)
    }

    func testConfigNamesOverrideInferenceAndMismatchesNameTheKey() throws {
        XCTAssertEqual(SAM2ModelConfig.releasedNames.count, 8)
        XCTAssertEqual(SAM2ModelConfig.parseName("sam2.1_hiera_large")?.1, .large)
        XCTAssertEqual(SAM2ModelConfig.parseName("sam2_hiera_b+")?.0, .sam2)
        XCTAssertNil(SAM2ModelConfig.parseName("sam3_hiera_t"))
        let path = Self.dir.appendingPathComponent("sam2.1-mini.pt").path
        XCTAssertThrowsError(try SAM2Model(checkpoint: path, config: "hiera_huge")) {
            XCTAssertTrue("\($0)".contains("unknown model config 'hiera_huge'"), "\($0)")
        }
        // Without a name the mini trunk is not a released size: the error says so.
        XCTAssertThrowsError(try SAM2Model(checkpoint: path)) { XCTAssertTrue("\($0)".contains("sam2.1-mini.pt") || "\($0)".contains("trunk"), "\($0)") }
        // A released name whose preset does not fit the weights fails on the first mismatching key.
        XCTAssertThrowsError(try SAM2Model(checkpoint: path, config: "sam2.1_hiera_t")) {
            XCTAssertTrue("\($0)".contains("image_encoder.trunk") && "\($0)".contains("expected"), "\($0)")
        }
    }
}
