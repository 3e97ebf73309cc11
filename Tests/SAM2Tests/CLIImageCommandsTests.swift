import Foundation
import SAM2
import XCTest

/// `workbench segment` and `workbench everything` end to end: the built binary (.build/release/workbench; the
/// tests skip when it is missing) on the reduced official model of Fixtures/image_model at image size 256,
/// compared with what the official predictor / generator returned for the same prompts (prompts.json, amg.json,
/// and Fixtures/cli from Scripts/fixtures/make_cli_fixtures.py).
/// Tolerances: IoU and object scores 1e-4 (float32 model run vs PyTorch); low-res logits 1e-4; binary masks
/// at most 2 differing pixels (pixels whose logit is within rounding of the threshold).
final class CLIImageCommandsTests: WorkbenchCLITestCase {
    let model = fixturesDir.appendingPathComponent("image_model")
    var photo: String { model.appendingPathComponent("truck_320.png").path }

    // MARK: - helpers

    func segment(_ prompt: [String], out: String, image: String? = nil) throws -> Run {
        try workbench(["segment", image ?? photo] + modelArgs + prompt + ["--out", tmp.appendingPathComponent(out).path])
    }

    func json(_ url: URL) throws -> Any { try JSONSerialization.jsonObject(with: Data(contentsOf: url)) }

    func officialRecord(_ name: String) throws -> [String: Any] {
        let records = try XCTUnwrap(json(model.appendingPathComponent("prompts.json")) as? [[String: Any]])
        return try XCTUnwrap(records.first { $0["name"] as? String == name })
    }

    func numbers(_ any: Any?) -> [Double] { (any as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? [] }

    /// A written mask PNG: 1-channel, 320×213, only 0 and 255; returned as 0/1 floats.
    func readMask(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        guard case let .pixels(img) = try ImageIO.read(url.path) else {
            XCTFail("\(url.lastPathComponent): not a gray PNG", file: file, line: line); return []
        }
        XCTAssertEqual([img.width, img.height, img.channels], [320, 213, 1], url.lastPathComponent, file: file, line: line)
        XCTAssertTrue(img.pixels.allSatisfy { $0 == 0 || $0 == 255 }, "\(url.lastPathComponent) is not 0/255", file: file, line: line)
        return img.pixels.map { $0 > 0 ? 1 : 0 }
    }

    func assertSameMask(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let differing = zip(a, b).filter { $0 != $1 }.count
        XCTAssertLessThanOrEqual(differing, 2, "\(what): \(differing) pixels differ", file: file, line: line)
    }

    // MARK: - segment

    func testSegmentMultimaskMatchesOfficialPredictor() throws {
        let r = try segment(["--point", "200,120", "--multimask", "--logits"], out: "seg")
        XCTAssertEqual(r.status, 0, r.stderr)
        let dir = tmp.appendingPathComponent("seg")
        for f in ["mask_0.png", "mask_1.png", "mask_2.png", "overlay.png", "scores.json", "mask_0.npy", "mask_1.npy",
                  "mask_2.npy", "low_res_logits.npy"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), "missing \(f)")
        }
        let official = try officialRecord("point1_multi")
        let scores = try XCTUnwrap(json(dir.appendingPathComponent("scores.json")) as? [String: Any])
        for key in ["iou", "object_score", "prompt", "model", "timing", "best", "masks", "image", "threshold"] {
            XCTAssertNotNil(scores[key], "scores.json lacks \(key)")
        }
        let iou = numbers(scores["iou"]), expected = numbers(official["iou_predictions"])
        XCTAssertEqual(iou.count, 3)
        for (a, b) in zip(iou, expected) { XCTAssertEqual(a, b, accuracy: 1e-4, "iou") }
        let objectScore = try XCTUnwrap((official["object_score_logits"] as? [[Double]])?.first?.first)
        XCTAssertEqual((scores["object_score"] as? NSNumber)?.doubleValue ?? .nan, objectScore, accuracy: 1e-4)
        XCTAssertEqual(scores["best"] as? Int, 0)
        let prompt = try XCTUnwrap(scores["prompt"] as? [String: Any])
        XCTAssertEqual(prompt["points"] as? [[Double]], [[200, 120, 1]])
        XCTAssertTrue(prompt["box"] is NSNull)
        XCTAssertEqual(prompt["multimask"] as? Bool, true)
        let timing = try XCTUnwrap(scores["timing"] as? [String: Double])
        XCTAssertGreaterThan(timing["total_s"] ?? 0, 0)

        let masks = try fixture("image_model/prompts/point1_multi_masks.npy")
        for i in 0..<3 {
            let png = try readMask(dir.appendingPathComponent("mask_\(i).png"))
            assertSameMask(png, masks.select(axis: 0, index: i).data, "mask_\(i).png vs official")
            let npy = try Npy.read(dir.appendingPathComponent("mask_\(i).npy").path)
            XCTAssertEqual(npy.shape, [213, 320])
            XCTAssertEqual(npy.data.map { $0 > 0 ? Float(1) : 0 }, png, "mask_\(i).npy thresholded at 0 = mask_\(i).png")
        }
        let low = try Npy.read(dir.appendingPathComponent("low_res_logits.npy").path)
        assertClose(low, try fixture("image_model/prompts/point1_multi_low_res_masks.npy"), atol: 1e-4, rtol: 0, "low_res_logits")

        guard case let .pixels(overlay) = try ImageIO.read(dir.appendingPathComponent("overlay.png").path) else {
            return XCTFail("overlay.png is not an RGB PNG")
        }
        XCTAssertEqual([overlay.width, overlay.height, overlay.channels], [320, 213, 3])
        XCTAssertNotEqual(overlay, try ImageIO.readRGB(photo), "overlay draws the mask and the click")
    }

    func testSegmentLogitsMatchOfficialReturnLogits() throws {
        let r = try segment(["--point", "40,30", "--logits"], out: "logits")
        XCTAssertEqual(r.status, 0, r.stderr)
        let npy = try Npy.read(tmp.appendingPathComponent("logits/mask_0.npy").path)
        let official = try fixture("image_model/prompts/point_logits_single_masks.npy")
        assertClose(npy, official.reshaped([213, 320]), atol: 1e-3, rtol: 1e-4, "mask_0.npy vs return_logits=True")
        let low = try Npy.read(tmp.appendingPathComponent("logits/low_res_logits.npy").path)
        XCTAssertEqual(low.shape, [1, 64, 64])
    }

    func testSegmentBoxMatchesOfficialPredictor() throws {
        let r = try segment(["--box", "60,40,260,190"], out: "box")
        XCTAssertEqual(r.status, 0, r.stderr)
        let scores = try XCTUnwrap(json(tmp.appendingPathComponent("box/scores.json")) as? [String: Any])
        let official = try officialRecord("box_single")
        XCTAssertEqual(numbers(scores["iou"]).first ?? .nan, numbers(official["iou_predictions"]).first ?? 0, accuracy: 1e-4)
        XCTAssertEqual((scores["prompt"] as? [String: Any])?["box"] as? [Double], [60, 40, 260, 190])
        let png = try readMask(tmp.appendingPathComponent("box/mask_0.png"))
        assertSameMask(png, try fixture("image_model/prompts/box_single_masks.npy").data, "box mask vs official")
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("box/mask_0.npy").path),
                       "no logits without --logits")
    }

    /// A previous run's low_res_logits.npy as --mask-input (best mask by the scores.json beside it) reproduces
    /// the official points_mask_single (mask_input = best low-res mask of point1_multi).
    func testSegmentMaskInputFromPreviousRun() throws {
        XCTAssertEqual(try segment(["--point", "200,120", "--multimask", "--logits"], out: "first").status, 0)
        let previous = tmp.appendingPathComponent("first/low_res_logits.npy").path
        let r = try segment(["--point", "200,120", "--point", "90,150,0", "--mask-input", previous], out: "second")
        XCTAssertEqual(r.status, 0, r.stderr)
        let scores = try XCTUnwrap(json(tmp.appendingPathComponent("second/scores.json")) as? [String: Any])
        let official = try officialRecord("points_mask_single")
        XCTAssertEqual(numbers(scores["iou"]).first ?? .nan, numbers(official["iou_predictions"]).first ?? 0, accuracy: 1e-4)
        XCTAssertEqual((scores["prompt"] as? [String: Any])?["mask_input"] as? String, "low_res_logits.npy[0]")
    }

    /// A binary PNG as --mask-input, converted as documented; expected values from the official predictor
    /// given the same conversion (Scripts/fixtures/make_cli_fixtures.py).
    func testSegmentPNGMaskInputMatchesOfficialConvention() throws {
        let cli = fixturesDir.appendingPathComponent("cli")
        let expected = try XCTUnwrap((json(cli.appendingPathComponent("expected.json")) as? [String: Any])?["png_mask_input"] as? [String: Any])
        let r = try segment(["--point", "200,120", "--mask-input", cli.appendingPathComponent("ellipse_mask.png").path], out: "png")
        XCTAssertEqual(r.status, 0, r.stderr)
        let scores = try XCTUnwrap(json(tmp.appendingPathComponent("png/scores.json")) as? [String: Any])
        XCTAssertEqual(numbers(scores["iou"]).first ?? .nan, numbers(expected["iou_predictions"]).first ?? 0, accuracy: 1e-4)
        assertSameMask(try readMask(tmp.appendingPathComponent("png/mask_0.png")),
                       try readMask(cli.appendingPathComponent("png_mask_expected.png")), "PNG mask prompt vs official")
    }

    /// Prompts outside the image warn and are used as given, as the official predictor does.
    func testSegmentOutsidePromptsWarnAndMatchOfficial() throws {
        let cli = fixturesDir.appendingPathComponent("cli")
        let expected = try XCTUnwrap((json(cli.appendingPathComponent("expected.json")) as? [String: Any])?["outside_prompts"] as? [String: Any])
        let r = try segment(["--point", "-12,100", "--point", "330,50,0", "--box", "-20,10,340,230"], out: "outside")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: --point -12.0,100.0 lies outside the 320×213 image"), r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: --box"), r.stderr)
        let scores = try XCTUnwrap(json(tmp.appendingPathComponent("outside/scores.json")) as? [String: Any])
        XCTAssertEqual(numbers(scores["iou"]).first ?? .nan, numbers(expected["iou_predictions"]).first ?? 0, accuracy: 1e-4)
        let area = try readMask(tmp.appendingPathComponent("outside/mask_0.png")).reduce(0, +)
        XCTAssertEqual(Double(area), (expected["mask_area"] as? NSNumber)?.doubleValue ?? -1, accuracy: 2)
    }

    func testSegmentErrorsNameTheArgument() throws {
        // (arguments, exit status, text stderr must contain)
        let corrupt = tmp.appendingPathComponent("corrupt.png")
        try Data(contentsOf: URL(fileURLWithPath: photo)).prefix(120).write(to: corrupt)
        let notImage = tmp.appendingPathComponent("notes.png")
        try Data("not an image\n".utf8).write(to: notImage)
        let cases: [([String], Int32, String)] = [
            (["--point", "1,a"], 64, "--point"),
            (["--point", "1,a"], 64, "'a' is not a finite number"),
            (["--point", "7"], 64, "got 1 field"),
            (["--point", "10,10,2"], 64, "LABEL 1 (positive) or 0 (negative)"),
            (["--box", "10,10,5"], 64, "--box"),
            (["--box", "50,50,10,10"], 64, "X0 ≤ X1 and Y0 ≤ Y1"),
            ([], 64, "no prompt"),
            (["--point", "10,10", "--mask-input", model.appendingPathComponent("groceries_301x217.png").path], 1,
             "mask is 301×217, the image is 320×213"),
            (["--point", "10,10", "--mask-input", model.appendingPathComponent("prompts/box_single_sparse.npy").path], 1,
             "expected low-res logits [C, 64, 64]"),
        ]
        for (args, status, text) in cases {
            let r = try segment(args, out: "err")
            XCTAssertEqual(r.status, status, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(text), "\(args): stderr lacks '\(text)': \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Stack dump"), r.stderr)
        }
        let missing = tmp.appendingPathComponent("missing.pt").path
        var r = try workbench(["segment", photo, "--checkpoint", missing, "--point", "1,1", "--out", tmp.appendingPathComponent("e").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(missing): cannot read"), r.stderr)
        r = try segment(["--point", "1,1"], out: "e", image: corrupt.path)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("error: \(corrupt.path): corrupt or truncated PNG"), r.stderr)
        r = try segment(["--point", "1,1"], out: "e", image: notImage.path)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("\(notImage.path): not a PNG or JPEG file"), r.stderr)
        // Without the --hiera-* options the reduced trunk is unknown: the message says which options to give.
        r = try workbench(["segment", photo, "--checkpoint", modelArgs[1], "--image-size", "256", "--point", "1,1",
                           "--out", tmp.appendingPathComponent("e").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--hiera-window-spec"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("e/scores.json").path))
    }

    // MARK: - everything

    func testEverythingMatchesOfficialGenerator() throws {
        let flags = ["points_per_side": "--points-per-side", "points_per_batch": "--points-per-batch",
                     "pred_iou_thresh": "--pred-iou-thresh", "stability_score_thresh": "--stability-score-thresh",
                     "stability_score_offset": "--stability-score-offset", "box_nms_thresh": "--box-nms-thresh",
                     "crop_n_layers": "--crop-n-layers", "crop_n_points_downscale_factor": "--crop-n-points-downscale-factor"]
        let amg = try XCTUnwrap(json(model.appendingPathComponent("amg.json")) as? [String: Any])
        let runs = try XCTUnwrap(amg["runs"] as? [[String: Any]])
        for name in ["default", "no_nms", "crop1", "single_mask"] {
            let run = try XCTUnwrap(runs.first { $0["name"] as? String == name })
            var args: [String] = []
            for (k, v) in try XCTUnwrap(run["args"] as? [String: Any]).sorted(by: { $0.key < $1.key }) {
                if k == "multimask_output" { args.append("--no-multimask"); continue }
                args += [try XCTUnwrap(flags[k], k), "\(v)"]
            }
            let dir = tmp.appendingPathComponent(name)
            let r = try workbench(["everything", photo] + modelArgs + args + ["--out", dir.path])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("everything") && r.stderr.contains("100%") && r.stderr.contains("ETA"),
                          "\(name): progress bar on stderr: \(r.stderr)")
            let ours = try XCTUnwrap(json(dir.appendingPathComponent("masks.json")) as? [[String: Any]])
            let official = try XCTUnwrap(run["masks"] as? [[String: Any]])
            XCTAssertEqual(ours.count, official.count, name)
            for (a, b) in zip(ours, official) {
                XCTAssertEqual(Set(a.keys), Set(b.keys), name)
                let sa = try XCTUnwrap(a["segmentation"] as? [String: Any]), sb = try XCTUnwrap(b["segmentation"] as? [String: Any])
                XCTAssertEqual(sa["size"] as? [Int], sb["size"] as? [Int], name)
                XCTAssertEqual(sa["counts"] as? String, sb["counts"] as? String, "\(name): COCO RLE counts")
                XCTAssertEqual(a["area"] as? Int, b["area"] as? Int, name)
                for key in ["bbox", "crop_box"] { XCTAssertEqual(numbers(a[key]), numbers(b[key]), "\(name) \(key)") }
                XCTAssertEqual((a["point_coords"] as? [[Double]]), (b["point_coords"] as? [[Double]]), name)
                for key in ["predicted_iou", "stability_score"] {
                    XCTAssertEqual((a[key] as? NSNumber)?.doubleValue ?? .nan, (b[key] as? NSNumber)?.doubleValue ?? 0,
                                   accuracy: 1e-4, "\(name) \(key)")
                }
            }
            guard case let .pixels(overlay) = try ImageIO.read(dir.appendingPathComponent("overlay.png").path) else {
                return XCTFail("overlay.png is not an RGB PNG")
            }
            XCTAssertEqual([overlay.width, overlay.height, overlay.channels], [320, 213, 3])
        }
    }

    /// The three official output modes describe the same masks.
    func testEverythingOutputModesAgree() throws {
        let common = ["--points-per-side", "4", "--pred-iou-thresh", "0.5", "--stability-score-thresh", "0.7", "--box-nms-thresh", "1.0"]
        var segmentations: [String: [Any]] = [:]
        for mode in ["coco_rle", "uncompressed_rle", "binary_mask"] {
            let dir = tmp.appendingPathComponent(mode)
            let r = try workbench(["everything", photo] + modelArgs + common + ["--output-mode", mode, "--out", dir.path])
            XCTAssertEqual(r.status, 0, "\(mode): \(r.stderr)")
            let records = try XCTUnwrap(json(dir.appendingPathComponent("masks.json")) as? [[String: Any]])
            segmentations[mode] = records.map { $0["segmentation"] as Any }
        }
        let coco = try XCTUnwrap(segmentations["coco_rle"]), raw = try XCTUnwrap(segmentations["uncompressed_rle"])
        let files = try XCTUnwrap(segmentations["binary_mask"])
        XCTAssertGreaterThan(coco.count, 1)
        XCTAssertEqual(coco.count, raw.count); XCTAssertEqual(coco.count, files.count)
        for (k, (c, (u, f))) in zip(coco, zip(raw, files)).enumerated() {
            let cd = try XCTUnwrap(c as? [String: Any]), ud = try XCTUnwrap(u as? [String: Any])
            let size = numbers(ud["size"]).map { Int($0) }
            let rle = UncompressedRLE(size: size, counts: numbers(ud["counts"]).map { Int($0) })
            XCTAssertEqual(rle.coco.counts, cd["counts"] as? String, "mask \(k)")
            let png = try readMask(tmp.appendingPathComponent("binary_mask").appendingPathComponent(try XCTUnwrap(f as? String)))
            XCTAssertEqual(png, try rle.decode().data, "mask \(k): PNG vs RLE")
        }
    }

    func testEverythingRejectsBadOptions() throws {
        for (args, text) in [(["--points-per-side", "0"], "--points-per-side must be ≥ 1"),
                             (["--crop-overlap-ratio", "1.5"], "--crop-overlap-ratio"),
                             (["--points-per-batch", "x"], "--points-per-batch")] {
            let r = try workbench(["everything", photo] + modelArgs + args + ["--out", tmp.appendingPathComponent("e").path])
            XCTAssertEqual(r.status, 64, "\(args)")
            XCTAssertTrue(r.stderr.contains(text), "\(args): \(r.stderr)")
        }
    }
}
