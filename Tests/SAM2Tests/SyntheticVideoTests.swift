import Foundation
import XCTest
import SAM2

final class SyntheticVideoTests: XCTestCase {
    func smallConfig(seed: UInt64 = 1) -> SyntheticVideoConfig {
        var c = SyntheticVideoConfig()
        c.width = 160; c.height = 120; c.frames = 120; c.objects = 3; c.seed = seed
        return c
    }

    func area(_ f: SyntheticFrame, _ id: Int) -> Int { f.mask.indices.reduce(0) { $0 + (Int($1) == id ? 1 : 0) } }

    func testDeterministicFromSeed() throws {
        var c = smallConfig(seed: 42)
        c.occlusion = .both; c.distractors = 2; c.disappear = true
        let a = try SyntheticVideoGenerator(config: c), b = try SyntheticVideoGenerator(config: c)
        for i in [0, 17, 63, 119] { XCTAssertEqual(try a.frame(i), try b.frame(i), "frame \(i)") }
        XCTAssertEqual(a.events, b.events)
        c.seed = 43
        let other = try SyntheticVideoGenerator(config: c)
        XCTAssertNotEqual(try a.frame(10).image, try other.frame(10).image)
        // Frames are independent of the order in which they are rendered (closed-form trajectories).
        var img = Image8(width: 1, height: 1, channels: 3), mask = IndexMask(width: 1, height: 1)
        try a.render(63, into: &img, mask: &mask, parallel: false)
        XCTAssertEqual(SyntheticFrame(image: img, mask: mask), try a.frame(63))
    }

    /// Flat textures: every annotated pixel has exactly its object's colour and no other pixel does
    /// (with an occluding object, so hidden parts must be unannotated too).
    func testMaskMatchesRendering() throws {
        var c = smallConfig(seed: 7)
        c.texture = .flat; c.occlusion = .objects
        let g = try SyntheticVideoGenerator(config: c)
        for i in stride(from: 0, to: c.frames, by: 7) {
            let f = try g.frame(i)
            for id in g.objectIDs {
                let col = g.baseColor(objectID: id)!
                var colored = 0, annotated = 0
                for p in 0..<(c.width * c.height) {
                    let isColor = f.image.pixels[3 * p] == col.r && f.image.pixels[3 * p + 1] == col.g && f.image.pixels[3 * p + 2] == col.b
                    if Int(f.mask.indices[p]) == id {
                        annotated += 1
                        XCTAssertTrue(isColor, "frame \(i) pixel \(p) annotated \(id) but not its colour")
                        if !isColor { return }
                    }
                    if isColor { colored += 1 }
                }
                XCTAssertEqual(colored, annotated, "frame \(i) object \(id): colour pixels vs mask area")
            }
        }
    }

    func testOcclusionHidesAndReturns() throws {
        for mode in [SyntheticOcclusion.objects, .bar] {
            var c = smallConfig(seed: 3)
            c.objects = 2; c.occlusion = mode; c.hiddenFrames = 6; c.frames = 150
            let g = try SyntheticVideoGenerator(config: c)
            XCTAssertFalse(g.events.isEmpty, "\(mode): no events scheduled")
            for e in g.events where e.frames.upperBound + 10 < c.frames {
                if mode == .objects { XCTAssertEqual(e.kind, .behindObject(occluder: 2)) } else { XCTAssertEqual(e.kind, .behindBar) }
                XCTAssertGreaterThan(area(try g.frame(max(0, e.start - 1)), e.objectID), 0, "\(mode) visible before \(e)")
                for t in e.hiddenFrames { XCTAssertEqual(area(try g.frame(t), e.objectID), 0, "\(mode) frame \(t) of \(e)") }
                let after = try (e.frames.upperBound..<(e.frames.upperBound + 10)).map { area(try g.frame($0), e.objectID) }
                XCTAssertGreaterThan(after.max()!, 0, "\(mode) reappears after \(e)")
                // The sprite is still on screen while hidden: it is covered, not gone.
                let p = g.pose(objectID: e.objectID, frame: e.hiddenFrames.lowerBound)!
                XCTAssertTrue(p.centerX > 0 && p.centerX < Double(c.width), "\(mode) occluded object is inside the frame")
            }
        }
    }

    func testDisappearanceAndReappearance() throws {
        var c = smallConfig(seed: 11)
        c.disappear = true; c.hiddenFrames = 5
        let g = try SyntheticVideoGenerator(config: c)
        var checked = 0
        for e in g.events where e.frames.upperBound + 10 < c.frames {
            guard case .exit = e.kind else { return XCTFail("expected exits only, got \(e)") }
            for t in e.hiddenFrames {
                XCTAssertEqual(area(try g.frame(t), e.objectID), 0, "frame \(t) of \(e)")
                let p = g.pose(objectID: e.objectID, frame: t)!
                let reach = p.radius * p.scale
                let outside = p.centerX + reach < 0 || p.centerX - reach > Double(c.width) ||
                    p.centerY + reach < 0 || p.centerY - reach > Double(c.height)
                XCTAssertTrue(outside, "object \(e.objectID) at frame \(t) should be outside the frame: \(p)")
            }
            let after = try (e.frames.upperBound..<(e.frames.upperBound + 10)).map { area(try g.frame($0), e.objectID) }
            XCTAssertGreaterThan(after.max()!, 0, "reappears after \(e)")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 3)
        XCTAssertEqual(g.hiddenFrames(objectID: 1), g.events.filter { $0.objectID == 1 }.map(\.hiddenFrames))
    }

    func testDistractorsLookAlikeButAreNotAnnotated() throws {
        var c = smallConfig(seed: 5)
        c.texture = .flat; c.distractors = 3; c.objects = 2; c.objectSize = 0.08...0.1
        let g = try SyntheticVideoGenerator(config: c)
        var extra = 0
        for i in stride(from: 0, to: 120, by: 10) {
            let f = try g.frame(i)
            XCTAssertTrue(Set(f.mask.objectIDs).isSubset(of: [1, 2]))
            let col = g.baseColor(objectID: 1)!
            for p in 0..<(c.width * c.height) where f.mask.indices[p] == 0 {
                if f.image.pixels[3 * p] == col.r && f.image.pixels[3 * p + 1] == col.g && f.image.pixels[3 * p + 2] == col.b { extra += 1 }
            }
        }
        XCTAssertGreaterThan(extra, 500, "distractors copying object 1 should show its colour, unannotated")
    }

    func testDavisLayoutIsWrittenAndReadable() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var c = smallConfig(seed: 9)
        c.width = 64; c.height = 48; c.frames = 5; c.jpegQuality = 95; c.occlusion = .bar
        var c2 = c; c2.seed = 10
        var calls: [Int] = []
        try SyntheticDataset.write(root: root, sequences: [.init(name: "a", config: c), .init(name: "b", config: c2)]) { done, total in
            XCTAssertEqual(total, 10); calls.append(done)
        }
        XCTAssertEqual(calls.last, 10)
        XCTAssertEqual(try String(contentsOfFile: root + "/ImageSets/2017/val.txt", encoding: .utf8), "a\nb\n")
        let g = try SyntheticVideoGenerator(config: c2)
        for i in 0..<5 {
            let name = String(format: "%05d", i)
            let f = try g.frame(i)
            let mask = try ImageIO.readIndexMask("\(root)/Annotations/480p/b/\(name).png")
            XCTAssertEqual(mask.indices, f.mask.indices)
            XCTAssertEqual(Array(mask.palette.prefix(12)), Array(DavisPalette.rgb.prefix(12)))
            let img = try ImageIO.readRGB("\(root)/JPEGImages/480p/b/\(name).jpg")
            XCTAssertEqual(img.width, 64); XCTAssertEqual(img.height, 48)
            let mad = zip(img.pixels, f.image.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
            XCTAssertLessThan(Double(mad) / Double(img.pixels.count), 6, "JPEG q95 mean abs error")
        }
        let info = try JSONDecoder().decode(SyntheticSequenceInfo.self,
                                            from: Data(contentsOf: URL(fileURLWithPath: root + "/Synthetic/b.json")))
        XCTAssertEqual(info.config, c2); XCTAssertEqual(info.events, g.events)
    }

    /// Rewriting a sequence with fewer frames leaves no frame of the earlier run behind; other files stay.
    func testRewritingASequenceRemovesStaleFrames() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var c = smallConfig(seed: 3)
        c.width = 48; c.height = 32; c.frames = 6
        try SyntheticDataset.write(root: root, sequences: [.init(name: "s", config: c)])
        let notes = root + "/JPEGImages/480p/s/notes.txt"
        try "keep".write(toFile: notes, atomically: true, encoding: .utf8)
        c.frames = 3
        try SyntheticDataset.write(root: root, sequences: [.init(name: "s", config: c)])
        for sub in ["JPEGImages", "Annotations"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(sub)/480p/s").sorted()
            let ext = sub == "JPEGImages" ? "jpg" : "png"
            XCTAssertEqual(names.filter { $0.hasSuffix(ext) }, ["00000", "00001", "00002"].map { "\($0).\(ext)" }, sub)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: notes))
    }

    func testLongVideoIsFastWithFlatMemory() throws {
        var c = smallConfig(seed: 12)
        c.frames = 2000; c.objects = 4; c.distractors = 2; c.occlusion = .both; c.disappear = true
        let g = try SyntheticVideoGenerator(config: c)
        var img = Image8(width: 1, height: 1, channels: 3), mask = IndexMask(width: 1, height: 1)
        try g.render(0, into: &img, mask: &mask)
        let rss0 = residentBytes()
        let t0 = Date()
        var visible = 0
        for i in 0..<c.frames {
            try g.render(i, into: &img, mask: &mask)
            if mask.indices[(c.height / 2) * c.width + c.width / 2] != 0 { visible += 1 }
        }
        let dt = Date().timeIntervalSince(t0)
        let grown = residentBytes() - rss0
        print("2000 frames 160×120: \(String(format: "%.2f", dt)) s (\(Int(Double(c.frames) / dt)) frames/s), RSS growth \(grown / 1024) KiB")
        XCTAssertLessThan(dt, 20, "2000 small frames should render quickly")
        XCTAssertLessThan(grown, 16 << 20, "memory must not grow with the video length")
        XCTAssertGreaterThan(visible, 0)
        XCTAssertEqual(SyntheticFrame(image: img, mask: mask), try g.frame(1999))
        XCTAssertGreaterThan(g.events.count, 20)
    }

    func testRenderSpeedAt854x480() throws {
        var c = SyntheticVideoConfig()
        c.frames = 60; c.objects = 5; c.distractors = 2; c.occlusion = .both; c.disappear = true
        let g = try SyntheticVideoGenerator(config: c)
        var img = Image8(width: 1, height: 1, channels: 3), mask = IndexMask(width: 1, height: 1)
        try g.render(0, into: &img, mask: &mask)
        let t0 = Date()
        for i in 0..<c.frames { try g.render(i, into: &img, mask: &mask) }
        let fps = Double(c.frames) / Date().timeIntervalSince(t0)
        print("render 854×480, 5 objects + 2 distractors + bar: \(Int(fps)) frames/s")
        XCTAssertGreaterThan(fps, 10)
    }

    func testInvalidConfigIsRejected() {
        var c = smallConfig()
        c.objects = 1; c.occlusion = .objects
        XCTAssertThrowsError(try SyntheticVideoGenerator(config: c)) { e in
            XCTAssertTrue("\(e)".contains("occlusion"), "\(e)")
        }
        c = smallConfig(); c.jpegQuality = 0
        XCTAssertThrowsError(try SyntheticVideoGenerator(config: c))
        let g = try? SyntheticVideoGenerator(config: smallConfig())
        XCTAssertThrowsError(try g?.frame(120)) { e in
            XCTAssertEqual(e as? SyntheticVideoError, .frameOutOfRange(index: 120, frames: 120))
        }
    }

    func testProgressBarLogsSparseLines() {
        var lines: [String] = []
        let bar = ProgressBar(total: 1000, label: "t", unit: "frames", isTerminal: false, output: { lines.append($0) })
        for _ in 0..<1000 { bar.advance() }
        bar.finish()
        XCTAssertEqual(lines.count, 11, "one line per 10 %: \(lines)")
        XCTAssertTrue(lines.last!.contains("100% 1000/1000"), lines.last!)
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("\n") && $0.contains("ETA") })
        XCTAssertEqual(ProgressBar.formatDuration(3725), "1:02:05")
    }

    /// Resident set size from /proc/self/statm (Linux).
    func residentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let parts = s.split(separator: " ")
        return parts.count > 1 ? (Int(parts[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }
}
