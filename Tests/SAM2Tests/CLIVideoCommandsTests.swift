import Foundation
import SAM2
import XCTest

/// `workbench track` and `workbench vos` end to end: the built binary (.build/release/workbench; the tests skip
/// when it is missing) on the reduced official model (Fixtures/image_model, image size 256) and the 10-frame
/// 320×180 clip of Fixtures/video_model.
/// References: the official predictor's scenarios (video.json: low-res logits upsampled here as the official
/// `_get_orig_video_res_output` does) — video-resolution logits relative L2 ≤ 1e-3 per object and frame, binary
/// masks ≤ 0.1 % of pixels differing (pixels within rounding of 0); and SAM2VideoPredictor run in-process on
/// the same inputs — written masks exactly equal, logits within 1e-5.
final class CLIVideoCommandsTests: WorkbenchCLITestCase {
    static let videoDir = fixturesDir.appendingPathComponent("video_model")
    let clip = videoDir.appendingPathComponent("frames").path
    let (width, height) = (320, 180)
    // MARK: - helpers

    /// Writes `json` as prompts and runs `track`; returns the run and the output folder.
    func track(_ json: String, _ extra: [String] = [], out: String, frames: String? = nil) throws -> (Run, URL) {
        let prompts = tmp.appendingPathComponent("\(out).json")
        try Data(json.utf8).write(to: prompts)
        let dir = tmp.appendingPathComponent(out)
        let run = try workbench(["track"] + modelArgs + ["--frames", frames ?? clip, "--prompts", prompts.path,
                                                         "--out", dir.path] + extra)
        return (run, dir)
    }

    func assertOK(_ run: Run, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 0, "stderr: \(run.stderr)", file: file, line: line)
    }

    func assertFails(_ run: Run, mentioning parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, "expected exit 1; stderr: \(run.stderr)", file: file, line: line)
        for part in parts {
            XCTAssertTrue(run.stderr.contains(part), "stderr lacks '\(part)': \(run.stderr)", file: file, line: line)
        }
        XCTAssertFalse(run.stderr.contains("Fatal error"), "crashed: \(run.stderr)", file: file, line: line)
    }

    /// Names of the files with extension `ext` in `dir`, sorted.
    func files(_ dir: URL, _ ext: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".\(ext)") }.sorted()
    }

    func names(_ frames: [Int], _ ext: String) -> [String] { frames.sorted().map { String(format: "%05d.\(ext)", $0) } }

    func mask(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws -> IndexMask {
        let m = try ImageIO.readIndexMask(url.path)
        XCTAssertEqual([m.width, m.height], [width, height], url.path, file: file, line: line)
        XCTAssertEqual(Array(m.palette.prefix(DavisPalette.rgb.count)), Array(DavisPalette.rgb.prefix(m.palette.count)),
                       "\(url.lastPathComponent): DAVIS palette", file: file, line: line)
        return m
    }

    func logits(_ dir: URL, object: Int, frame: Int) throws -> Tensor {
        try Npy.read(dir.appendingPathComponent(String(format: "\(object)/%05d.npy", frame)).path)
    }

    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Self.videoDir.appendingPathComponent(name))) as! [String: Any]
    }

    /// Scenario `name`'s propagation `index`: frame order and low-res logits [frames, objects, 64, 64].
    func officialPropagation(_ name: String, _ index: Int) throws -> (order: [Int], lowRes: Tensor) {
        let scenarios = try XCTUnwrap(json("video.json")["scenarios"] as? [[String: Any]])
        let s = try XCTUnwrap(scenarios.first { $0["name"] as? String == name })
        let p = try XCTUnwrap((s["propagations"] as? [[String: Any]])?[index])
        let file = try XCTUnwrap((p["pred_masks"] as? [String: Any])?["file"] as? String)
        return (try XCTUnwrap(p["frame_order"] as? [Int]), try Npy.read(Self.videoDir.appendingPathComponent(file).path))
    }

    /// The official video-resolution logits [H, W] of one object: the 64×64 logits bilinear to (H, W).
    func officialVideoRes(_ lowRes: Tensor, row: Int, object: Int) -> Tensor {
        lowRes.select(axis: 0, index: row).slice(axis: 0, start: object, end: object + 1).unsqueezed(axis: 0)
            .interpolate(size: (height, width), mode: .bilinear, alignCorners: false).reshaped([height, width])
    }

    func relativeL2(_ a: Tensor, _ b: Tensor) -> Float {
        var num: Double = 0, den: Double = 0
        for i in 0..<b.count { let d = Double(a.data[i] - b.data[i]); num += d * d; den += Double(b.data[i]) * Double(b.data[i]) }
        return Float((num / max(den, 1e-30)).squareRoot())
    }

    func differing(_ a: [Bool], _ b: [Bool]) -> Int { zip(a, b).filter { $0 != $1 }.count }

    /// ≤ 0.1 % of the frame: pixels whose logit is within float rounding of 0 may flip.
    var maskTolerance: Int { width * height / 1000 }

    /// The reduced model in-process, optionally as `build_sam2_video_predictor(apply_postprocessing=False)`.
    func videoModel(postprocessing: Bool = true) throws -> SAM2VideoModel {
        let m = try VideoPredictorParityTests.model()
        if postprocessing { return m }
        var config = m.config
        config.binarizeMaskFromPtsForMemEnc = false
        let ckpt = try Checkpoint.open(fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path)
        return try SAM2VideoModel(model: m.model, checkpoint: ckpt, config: config)
    }

    /// A palette PNG of `ids` (0 = background) at the clip's size.
    func writeIndexMask(_ url: URL, _ id: (Int, Int) -> UInt8) throws {
        var m = IndexMask(width: width, height: height)
        for y in 0..<height { for x in 0..<width { m[y, x] = id(y, x) } }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ImageIO.write(m, to: url.path)
    }

    // MARK: - track

    /// Scenario (a): one click on frame 0, forwards. Frame 9's logits against the official video-res logits, and
    /// every frame's PNG and logits against SAM2VideoPredictor run here.
    func testClickMatchesOfficialAndInProcessPredictor() throws {
        let (run, out) = try track(#"[{"frame": 0, "object": 1, "points": [[210, 90]], "labels": [1]}]"#, ["--logits"], out: "a")
        assertOK(run)
        XCTAssertTrue(run.stdout.contains("tracked 10 frames × 1 object"), run.stdout)
        XCTAssertTrue(run.stderr.contains("ETA"), "progress bar with ETA on stderr: \(run.stderr)")
        XCTAssertEqual(files(out, "png"), names(Array(0..<10), "png"))
        XCTAssertEqual(files(out.appendingPathComponent("1"), "npy"), names(Array(0..<10), "npy"))

        let official = try Npy.read(Self.videoDir.appendingPathComponent("a_click/prop0_video_res_f9.npy").path).reshaped([height, width])
        let f9 = try logits(out, object: 1, frame: 9)
        XCTAssertEqual(f9.shape, [height, width])
        XCTAssertLessThanOrEqual(relativeL2(f9, official), 1e-3)
        XCTAssertLessThanOrEqual(differing(try mask(out.appendingPathComponent("00009.png")).indices.map { $0 == 1 },
                                           official.data.map { $0 > 0 }), maskTolerance)

        let predictor = try SAM2VideoPredictor(model: try videoModel(), folder: clip)
        try predictor.addPoints(frame: 0, objectId: 1, points: [[210, 90]], labels: [1])
        var seen: [Int] = []
        try predictor.propagate { r in
            seen.append(r.frameIndex)
            let png = try mask(out.appendingPathComponent(String(format: "%05d.png", r.frameIndex)))
            XCTAssertEqual(png.indices, r.videoResMasks.data.map { $0 > 0 ? 1 : 0 }, "frame \(r.frameIndex): PNG = in-process mask")
            let npy = try logits(out, object: 1, frame: r.frameIndex)
            XCTAssertLessThanOrEqual(npy.maxAbsDifference(r.videoResMasks.reshaped([height, width])), 1e-5, "frame \(r.frameIndex)")
            return true
        }
        XCTAssertEqual(seen, Array(0..<10))
    }

    /// Scenarios (b) box + clicks on two objects, --start 3; (c) a mask PNG, --reverse --start 5, --per-object;
    /// (f) an empty mask + a click, --max-frames 4: frame sets and logits as the official propagations.
    func testOfficialScenarios() throws {
        let b = #"""
            [{"frame": 0, "object": 1, "box": [60, 40, 200, 150]},
             {"frame": 3, "object": 2, "points": [[260, 120], [100, 60]], "labels": [1, 0]}]
            """#
        let (runB, outB) = try track(b, ["--start", "3", "--logits"], out: "b")
        assertOK(runB)
        try compare(outB, scenario: "b_box_two_objects", objects: [1, 2], paletteFrames: true)

        // (c)'s mask prompt as a 0/255 gray PNG beside the prompts.
        let maskInput = try Npy.read(Self.videoDir.appendingPathComponent("c_mask_reverse/call0_mask_input.npy").path)
        let gray = try Image8(width: width, height: height, channels: 1, pixels: maskInput.data.map { $0 != 0 ? 255 : 0 })
        try ImageIO.write(gray, to: tmp.appendingPathComponent("c_mask.png").path)
        let (runC, outC) = try track(#"[{"frame": 5, "object": 1, "mask": "c_mask.png"}]"#,
                                     ["--reverse", "--start", "5", "--per-object", "--logits"], out: "c")
        assertOK(runC)
        XCTAssertEqual(files(outC, "png"), [], "--per-object writes no frame PNGs at the top level")
        try compare(outC, scenario: "c_mask_reverse", objects: [1], paletteFrames: false)

        try writeIndexMask(tmp.appendingPathComponent("f_empty.png")) { _, _ in 0 }
        let f = #"""
            [{"frame": 0, "object": 1, "mask": "f_empty.png"},
             {"frame": 0, "object": 2, "points": [[100, 120]], "labels": [1]}]
            """#
        let (runF, outF) = try track(f, ["--max-frames", "4", "--logits"], out: "f")
        assertOK(runF)
        try compare(outF, scenario: "f_empty_mask", objects: [1, 2], paletteFrames: true)
    }

    /// The written frames are exactly the official frame order; per object and frame the logits and masks
    /// (palette PNG: smallest id wins; per-object PNG: 0/1) agree with the official propagation.
    func compare(_ out: URL, scenario: String, objects: [Int], paletteFrames: Bool,
                 file: StaticString = #filePath, line: UInt = #line) throws {
        let (order, lowRes) = try officialPropagation(scenario, 0)
        let frames = paletteFrames ? files(out, "png") : files(out.appendingPathComponent("\(objects[0])"), "png")
        XCTAssertEqual(frames, names(order, "png"), "\(scenario): frames written", file: file, line: line)
        for (row, frame) in order.enumerated() {
            var expected = [UInt8](repeating: 0, count: width * height)
            for (k, id) in objects.enumerated().reversed() {
                let official = officialVideoRes(lowRes, row: row, object: k)
                let mine = try logits(out, object: id, frame: frame)
                let err = relativeL2(mine, official)
                XCTAssertLessThanOrEqual(err, 1e-3, "\(scenario) frame \(frame) object \(id): logits relL2", file: file, line: line)
                for i in 0..<expected.count where official.data[i] > 0 { expected[i] = UInt8(id) }
                if !paletteFrames {
                    let png = try mask(out.appendingPathComponent(String(format: "\(id)/%05d.png", frame)), file: file, line: line)
                    XCTAssertTrue(png.indices.allSatisfy { $0 <= 1 }, "per-object PNG holds 0/1", file: file, line: line)
                    XCTAssertEqual(png.indices, mine.data.map { $0 > 0 ? 1 : 0 }, "\(scenario) \(id)/\(frame): PNG = logits > 0",
                                   file: file, line: line)
                    XCTAssertLessThanOrEqual(differing(png.indices.map { $0 == 1 }, official.data.map { $0 > 0 }), maskTolerance,
                                             "\(scenario) \(id)/\(frame)", file: file, line: line)
                }
            }
            if paletteFrames {
                let png = try mask(out.appendingPathComponent(String(format: "%05d.png", frame)), file: file, line: line)
                let d = zip(png.indices, expected).filter { $0 != $1 }.count
                XCTAssertLessThanOrEqual(d, maskTolerance, "\(scenario) frame \(frame): palette PNG", file: file, line: line)
            }
        }
    }

    /// Overlapping objects: the palette PNG gives the smallest id, --per-object keeps both, --non-overlap
    /// leaves each pixel to one object.
    func testOverlapPerObjectAndNonOverlap() throws {
        let prompts = #"""
            [{"frame": 0, "object": 1, "points": [[210, 90]], "labels": [1]},
             {"frame": 0, "object": 2, "box": [150, 40, 280, 150]}]
            """#
        let (runA, perObject) = try track(prompts, ["--per-object", "--logits", "--max-frames", "2"], out: "per")
        assertOK(runA)
        let (runB, palette) = try track(prompts, ["--max-frames", "2"], out: "pal")
        assertOK(runB)
        let (runC, separate) = try track(prompts, ["--max-frames", "2", "--per-object", "--non-overlap"], out: "non")
        assertOK(runC)
        var overlap = 0
        for frame in 0...2 {
            let l1 = try logits(perObject, object: 1, frame: frame), l2 = try logits(perObject, object: 2, frame: frame)
            let m1 = try mask(perObject.appendingPathComponent(String(format: "1/%05d.png", frame)))
            let m2 = try mask(perObject.appendingPathComponent(String(format: "2/%05d.png", frame)))
            XCTAssertEqual(m1.indices, l1.data.map { $0 > 0 ? 1 : 0 })
            XCTAssertEqual(m2.indices, l2.data.map { $0 > 0 ? 1 : 0 })
            let expected: [UInt8] = (0..<l1.count).map { l1.data[$0] > 0 ? 1 : l2.data[$0] > 0 ? 2 : 0 }
            XCTAssertEqual(try mask(palette.appendingPathComponent(String(format: "%05d.png", frame))).indices, expected, "frame \(frame)")
            overlap += (0..<l1.count).filter { l1.data[$0] > 0 && l2.data[$0] > 0 }.count
            let n1 = try mask(separate.appendingPathComponent(String(format: "1/%05d.png", frame)))
            let n2 = try mask(separate.appendingPathComponent(String(format: "2/%05d.png", frame)))
            XCTAssertFalse(zip(n1.indices, n2.indices).contains { $0 == 1 && $1 == 1 }, "frame \(frame): --non-overlap")
            XCTAssertGreaterThan(n1.indices.filter { $0 == 1 }.count + n2.indices.filter { $0 == 1 }.count, 0)
        }
        XCTAssertGreaterThan(overlap, 0, "the prompts must make the objects overlap for this test to mean anything")
        XCTAssertEqual(files(perObject, "png"), [])
    }

    /// --reverse / --start / --max-frames select the official propagation order.
    func testFrameSets() throws {
        let click = #"[{"frame": 0, "object": 1, "points": [[210, 90]], "labels": [1]}]"#
        let cases: [([String], [Int])] = [
            (["--start", "3", "--max-frames", "2"], [3, 4, 5]),
            (["--reverse", "--start", "7", "--max-frames", "2"], [5, 6, 7]),
            (["--start", "8"], [8, 9]),
        ]
        for (i, (args, frames)) in cases.enumerated() {
            let (run, out) = try track(click, args, out: "set\(i)")
            assertOK(run)
            XCTAssertEqual(files(out, "png"), names(frames, "png"), args.joined(separator: " "))
        }
    }

    // MARK: - vos

    func copyClip(to dir: URL, frames: Range<Int> = 0..<10) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in frames {
            let name = String(format: "%05d.jpg", f)
            try FileManager.default.copyItem(atPath: clip + "/" + name, toPath: dir.appendingPathComponent(name).path)
        }
    }

    func vos(_ root: URL, _ extra: [String], out: String) throws -> (Run, URL) {
        let dir = tmp.appendingPathComponent(out)
        let run = try workbench(["vos"] + modelArgs + ["--base-video-dir", root.appendingPathComponent("JPEGImages").path,
                                                       "--input-mask-dir", root.appendingPathComponent("Annotations").path,
                                                       "--output-mask-dir", dir.path] + extra)
        return (run, dir)
    }

    /// Two objects of a DAVIS first-frame annotation: every frame's palette PNG equals SAM2VideoPredictor's
    /// masks (official evaluation settings: no hole filling, no binarising, non-overlapping objects).
    func testVosDavisLayoutMatchesInProcessPredictor() throws {
        let root = tmp.appendingPathComponent("davis")
        try copyClip(to: root.appendingPathComponent("JPEGImages/clip"))
        let box1 = { (y: Int, x: Int) in (40..<120).contains(y) && (100..<220).contains(x) }
        let box2 = { (y: Int, x: Int) in (130..<170).contains(y) && (20..<90).contains(x) }
        try writeIndexMask(root.appendingPathComponent("Annotations/clip/00000.png")) { y, x in box1(y, x) ? 1 : box2(y, x) ? 2 : 0 }
        let (run, out) = try vos(root, [], out: "vos")
        assertOK(run)
        XCTAssertTrue(run.stdout.contains("1/1 - running on clip"), run.stdout)
        XCTAssertTrue(run.stderr.contains("ETA"), run.stderr)
        let video = out.appendingPathComponent("clip")
        XCTAssertEqual(files(video, "png"), names(Array(0..<10), "png"))

        let predictor = try SAM2VideoPredictor(model: try videoModel(postprocessing: false), folder: clip, fillHoleArea: 0,
                                               nonOverlapMasks: true)
        for (id, inside) in [(1, box1), (2, box2)] {
            let m = Tensor(shape: [height, width], data: (0..<(width * height)).map { inside($0 / width, $0 % width) ? 1 : 0 })
            try predictor.addMask(frame: 0, objectId: id, mask: m)
        }
        var foreground = 0
        try predictor.propagate { r in
            let plane = width * height
            var expected = [UInt8](repeating: 0, count: plane)
            for (k, id) in r.objectIds.enumerated().reversed() {
                for i in 0..<plane where r.videoResMasks.data[k * plane + i] > 0 { expected[i] = UInt8(id) }
            }
            let png = try mask(video.appendingPathComponent(String(format: "%05d.png", r.frameIndex)))
            XCTAssertEqual(png.indices, expected, "frame \(r.frameIndex)")
            foreground += expected.filter { $0 != 0 }.count
            return true
        }
        XCTAssertGreaterThan(foreground, 0)
    }

    /// SA-V layout with an object first annotated on frame 3: per-object folders 001/002 for every frame; object 2
    /// is empty before frame 3 and both equal a separate in-process predictor per object. Without
    /// --track-object-appearing-later the missing first-frame file is an error that names it.
    func testVosPerObjectFilesAndObjectAppearingLater() throws {
        let root = tmp.appendingPathComponent("sav")
        try copyClip(to: root.appendingPathComponent("JPEGImages/clip"))
        let box1 = { (y: Int, x: Int) in (40..<120).contains(y) && (100..<220).contains(x) }
        let box2 = { (y: Int, x: Int) in (20..<60).contains(y) && (250..<300).contains(x) }
        try writeIndexMask(root.appendingPathComponent("Annotations/clip/001/00000.png")) { y, x in box1(y, x) ? 1 : 0 }
        try writeIndexMask(root.appendingPathComponent("Annotations/clip/002/00003.png")) { y, x in box2(y, x) ? 1 : 0 }

        let (run, out) = try vos(root, ["--per-obj-png-file", "--track-object-appearing-later"], out: "later")
        assertOK(run)
        let video = out.appendingPathComponent("clip")
        for (id, start, inside) in [(1, 0, box1), (2, 3, box2)] {
            let folder = video.appendingPathComponent(String(format: "%03d", id))
            XCTAssertEqual(files(folder, "png"), names(Array(0..<10), "png"), "object \(id)")
            for f in 0..<start {
                XCTAssertTrue(try mask(folder.appendingPathComponent(String(format: "%05d.png", f))).indices.allSatisfy { $0 == 0 },
                              "object \(id) before its first mask, frame \(f)")
            }
            let predictor = try SAM2VideoPredictor(model: try videoModel(postprocessing: false), folder: clip, fillHoleArea: 0)
            let m = Tensor(shape: [height, width], data: (0..<(width * height)).map { inside($0 / width, $0 % width) ? 1 : 0 })
            try predictor.addMask(frame: start, objectId: id, mask: m)
            try predictor.propagate(start: start) { r in
                let png = try mask(folder.appendingPathComponent(String(format: "%05d.png", r.frameIndex)))
                XCTAssertEqual(png.indices, r.videoResMasks.data.map { $0 > 0 ? 1 : 0 }, "object \(id) frame \(r.frameIndex)")
                return true
            }
        }

        let (failed, _) = try vos(root, ["--per-obj-png-file"], out: "first")
        assertFails(failed, mentioning: ["video clip", "002/00000.png", "--track-object-appearing-later"])

        // DAVIS layout: an id only on a later annotated frame needs the flag too.
        let davis = tmp.appendingPathComponent("davis-later")
        try copyClip(to: davis.appendingPathComponent("JPEGImages/clip"), frames: 0..<4)
        try writeIndexMask(davis.appendingPathComponent("Annotations/clip/00000.png")) { y, x in box1(y, x) ? 1 : 0 }
        try writeIndexMask(davis.appendingPathComponent("Annotations/clip/00002.png")) { y, x in box1(y, x) ? 1 : box2(y, x) ? 3 : 0 }
        let (later, _) = try vos(davis, ["--use-all-masks"], out: "davis-later")
        assertFails(later, mentioning: ["object 3", "00002", "--track-object-appearing-later"])
    }

    // MARK: - bad input

    func testBadInputNamesTheProblemAndKeepsWrittenResults() throws {
        let click = #"[{"frame": 0, "object": 1, "points": [[210, 90]], "labels": [1]}]"#

        let (missing, _) = try track(click, out: "missing", frames: tmp.appendingPathComponent("nope").path)
        assertFails(missing, mentioning: ["nope", "not a folder of frames"])

        // A frame of another size in the middle: the frames before it are written, then exit 1 naming the file.
        let sized = tmp.appendingPathComponent("sized")
        try copyClip(to: sized)
        try FileManager.default.removeItem(at: sized.appendingPathComponent("00006.jpg"))
        try ImageIO.write(Image8(width: 100, height: 50, channels: 3, repeating: 128), to: sized.appendingPathComponent("00006.jpg").path)
        let (badSize, outSize) = try track(click, out: "sized-out", frames: sized.path)
        assertFails(badSize, mentioning: ["00006.jpg", "100×50", "320×180"])
        XCTAssertEqual(files(outSize, "png"), names(Array(0..<6), "png"))

        // An unreadable frame.
        let broken = tmp.appendingPathComponent("broken")
        try copyClip(to: broken)
        try Data("not a jpeg".utf8).write(to: broken.appendingPathComponent("00004.jpg"))
        let (badFrame, outBroken) = try track(click, out: "broken-out", frames: broken.path)
        assertFails(badFrame, mentioning: ["00004.jpg"])
        XCTAssertEqual(files(outBroken, "png"), names(Array(0..<4), "png"))

        let cases: [(String, [String])] = [
            (#"[{"frame": 12, "object": 1, "points": [[210, 90]], "labels": [1]}]"#, ["prompt 0", "frame 12 does not exist", "0..<10"]),
            (#"[{"frame": 0, "object": 1, "points": [[210, 90]], "labels": [1]}, {"object": 7, "remove": true}]"#,
             ["prompt 1", "object id 7 does not exist"]),
            (#"[{"frame": 0, "object": 1, "clear": true}]"#, ["prompt 0", "object id 1 does not exist"]),
            ("[{\"frame\": 0,\n \"object\": 1,]", ["not valid JSON", "line 2"]),
            (#"[{"frame": 0, "object": 1, "points": [[210, 90]], "labels": ["1"]}]"#, [#"prompt 0 key "labels[0]""#, "integer"]),
            (#"[{"frame": 0, "object": 1, "points": [[210, 90]], "lables": [1]}]"#, [#"key "lables""#, "unknown key"]),
            (#"[{"frame": 0, "points": [[210, 90]], "labels": [1]}]"#, [#"key "object""#, "missing"]),
            (#"[{"frame": 0, "object": 1, "points": [[210, 90]], "labels": [1, 0]}]"#, [#"key "labels""#, "1 labels"]),
            (#"[{"frame": 0, "object": 1, "mask": "absent.png"}]"#, ["prompt 0", "absent.png"]),
            (#"{"frame": 0}"#, ["expected a list"]),
        ]
        for (i, (json, parts)) in cases.enumerated() {
            let (run, _) = try track(json, out: "bad\(i)")
            assertFails(run, mentioning: parts)
        }
        let (badStart, _) = try track(click, ["--start", "10"], out: "bad-start")
        assertFails(badStart, mentioning: ["--start 10"])

        let root = tmp.appendingPathComponent("no-annotations")
        try copyClip(to: root.appendingPathComponent("JPEGImages/clip"), frames: 0..<2)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Annotations/clip"), withIntermediateDirectories: true)
        let (noMask, _) = try vos(root, [], out: "no-mask")
        assertFails(noMask, mentioning: ["video clip", "Annotations/clip/00000.png"])
    }
}
