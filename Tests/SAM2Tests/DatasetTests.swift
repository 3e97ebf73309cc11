import Foundation
import XCTest
import SAM2

/// Dataset readers on tiny layouts generated in a temp folder (exact listings, ids and masks), and typed errors
/// naming the missing / malformed piece.
final class DatasetTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("vosdata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    func jpg(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: (path(relative) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try ImageIO.write(Image8(width: 12, height: 8, channels: 3, repeating: 90), to: path(relative))
    }

    func png(_ relative: String, _ fill: [(y: Int, x: Int, id: UInt8)]) throws {
        try FileManager.default.createDirectory(atPath: (path(relative) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var m = IndexMask(width: 12, height: 8)
        for p in fill { m[p.y, p.x] = p.id }
        try ImageIO.write(m, to: path(relative))
    }

    func write(_ relative: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path(relative) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path(relative), atomically: true, encoding: .utf8)
    }

    func makeDAVIS() throws {
        for seq in ["bear", "camel"] {
            for t in 0..<3 { try jpg("JPEGImages/480p/\(seq)/0000\(t).jpg") }
        }
        for t in 0..<3 { try png("Annotations/480p/bear/0000\(t).png", [(1, 1, 1), (2, 3, 2), (0, 0, 255), (5, 5, 3 + UInt8(t))]) }
        try write("ImageSets/2017/val.txt", "bear\ncamel\n")
        try write("ImageSets/2016/val.txt", "/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png\n/JPEGImages/480p/bear/00001.jpg /Annotations/480p/bear/00001.png\n")
    }

    func testDAVIS2017() throws {
        try makeDAVIS()
        let davis = try DAVISDataset(root: root.path, year: .davis2017, split: "val")
        XCTAssertEqual(davis.sequenceNames, ["bear", "camel"])
        let bear = try davis.sequence("bear")
        XCTAssertEqual(bear.frames.map(\.name), ["00000", "00001", "00002"])
        XCTAssertEqual(bear.frames[2].index, 2)
        XCTAssertEqual(bear.objects.map(\.id), [1, 2, 3])  // 1…max of the first frame, void excluded
        XCTAssertEqual(bear.annotations.map(\.frameIndex), [0, 1, 2])
        let objects = try bear.annotations[1].loadObjects()
        XCTAssertEqual(objects.keys.sorted(), [1, 2, 4])
        XCTAssertEqual(objects[2]?.count, 1)
        XCTAssertTrue(objects[2]?[2, 3] ?? false)
        let image = try bear.frames[0].loadImage()
        XCTAssertEqual([image.width, image.height, image.channels], [12, 8, 3])
        // camel has frames but no annotation folder.
        XCTAssertThrowsError(try davis.sequence("camel")) { error in
            guard case VOSDatasetError.missingFolder(let p, let layout)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("Annotations/480p/camel")); XCTAssertTrue(layout.contains("ImageSets/2017/val.txt"))
        }
        XCTAssertThrowsError(try davis.sequence("dog")) { XCTAssertTrue("\($0)".contains("dog")) }
    }

    func testDAVIS2016IsBinary() throws {
        try makeDAVIS()
        let davis = try DAVISDataset(root: root.path, year: .davis2016, split: "val")
        XCTAssertEqual(davis.sequenceNames, ["bear"])  // from the 2016 list's path lines
        let bear = try davis.sequence("bear")
        XCTAssertEqual(bear.objects.map(\.id), [1])
        let objects = try bear.annotations[0].loadObjects()
        XCTAssertEqual(Array(objects.keys), [1])
        XCTAssertEqual(objects[1]?.count, 4)
        XCTAssertEqual(Set(try bear.annotations[0].loadIndexMask().indices), [0, 1])
    }

    func testDAVISMalformed() throws {
        XCTAssertThrowsError(try DAVISDataset(root: root.path)) { error in
            guard case VOSDatasetError.missingFolder(let p, _)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("JPEGImages/480p"), p)
        }
        try makeDAVIS()
        XCTAssertThrowsError(try DAVISDataset(root: root.path, split: "test-dev")) { error in
            guard case VOSDatasetError.missingFile(let p, _)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("ImageSets/2017/test-dev.txt"), p)
        }
        XCTAssertThrowsError(try DAVISDataset(root: root.path, resolution: "Full-Resolution"))
        try write("ImageSets/2017/empty.txt", "\n")
        XCTAssertThrowsError(try DAVISDataset(root: root.path, split: "empty")) { XCTAssertTrue("\($0)".contains("no sequences")) }
    }

    func makeYouTubeVOS() throws {
        for t in ["00000", "00005", "00010"] { try jpg("valid/JPEGImages/v1/\(t).jpg") }
        try png("valid/Annotations/v1/00000.png", [(1, 1, 1)])
        try png("valid/Annotations/v1/00005.png", [(4, 4, 2)])
        try write("valid/meta.json", """
        {"videos": {"v1": {"objects": {"2": {"category": "cat", "frames": ["00005", "00010"]},
                                       "1": {"category": "person", "frames": ["00000", "00005", "00010"]}}}}}
        """)
    }

    func testYouTubeVOS() throws {
        try makeYouTubeVOS()
        let ytvos = try YouTubeVOSDataset(root: root.path, split: "valid")
        XCTAssertEqual(ytvos.sequenceNames, ["v1"])
        let v1 = try ytvos.sequence("v1")
        XCTAssertEqual(v1.frames.map(\.name), ["00000", "00005", "00010"])
        XCTAssertEqual(v1.objects.map(\.id), [1, 2])
        XCTAssertEqual(v1.objects[1].firstFrame, "00005")  // appears after the first frame
        XCTAssertEqual(v1.objects[1].category, "cat")
        XCTAssertEqual(v1.annotations.map(\.frame), ["00000", "00005"])
        XCTAssertEqual(try v1.annotation(for: "00005")?.loadObjects().keys.sorted(), [2])
    }

    func testYouTubeVOSMalformed() throws {
        for t in ["00000"] { try jpg("valid/JPEGImages/v1/\(t).jpg") }
        XCTAssertThrowsError(try YouTubeVOSDataset(root: root.path)) { error in
            guard case VOSDatasetError.missingFolder(let p, _)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("valid/Annotations"), p)
        }
        try png("valid/Annotations/v1/00000.png", [(1, 1, 1)])
        XCTAssertThrowsError(try YouTubeVOSDataset(root: root.path)) { error in
            guard case VOSDatasetError.missingFile(let p, _)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("valid/meta.json"), p)
        }
        try write("valid/meta.json", "{\"videos\": {\"v1\": {\"objects\": {\"x\": {}}}}}")
        XCTAssertThrowsError(try YouTubeVOSDataset(root: root.path)) { error in
            guard case VOSDatasetError.malformed(let p, let reason)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("meta.json")); XCTAssertTrue(reason.contains("objects.x"), reason)
        }
        try write("valid/meta.json", "{\"videos\": {\"v2\": {\"objects\": {}}}}")
        let ytvos = try YouTubeVOSDataset(root: root.path)
        XCTAssertThrowsError(try ytvos.sequence("v2")) { XCTAssertTrue("\($0)".contains("JPEGImages/v2"), "\($0)") }
    }

    func testSAV() throws {
        for t in 0..<9 { try jpg("JPEGImages_24fps/sav_000001/0000\(t).jpg") }
        try png("Annotations_6fps/sav_000001/000/00000.png", [(1, 1, 255)])
        try png("Annotations_6fps/sav_000001/000/00004.png", [(1, 2, 255)])
        try png("Annotations_6fps/sav_000001/001/00004.png", [(3, 3, 255)])
        try png("Annotations_6fps/sav_000001/001/00008.png", [(3, 4, 255)])
        let sav = try SAVDataset(root: root.path)
        XCTAssertEqual(sav.sequenceNames, ["sav_000001"])
        let s = try sav.sequence("sav_000001")
        XCTAssertEqual(s.frames.count, 9)
        XCTAssertEqual(s.objects.map(\.id), [0, 1])
        XCTAssertEqual(s.objects[1].firstFrame, "00004")
        XCTAssertEqual(s.annotations.map(\.frame), ["00000", "00004", "00008"])
        XCTAssertEqual(s.annotations.map(\.frameIndex), [0, 4, 8])
        let objects = try s.annotations[1].loadObjects()
        XCTAssertEqual(objects.keys.sorted(), [0, 1])
        XCTAssertTrue(objects[0]?[1, 2] ?? false)
        let merged = try s.annotations[1].loadIndexMask()
        XCTAssertEqual(merged[1, 2], 1); XCTAssertEqual(merged[3, 3], 2); XCTAssertEqual(merged.objectIDs, [1, 2])

        try FileManager.default.createDirectory(atPath: path("Annotations_6fps/sav_000001/abc"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try sav.sequence("sav_000001")) { error in
            guard case VOSDatasetError.malformed(let p, _)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("sav_000001/abc"), p)
        }
    }

    func testSAVMalformed() throws {
        try FileManager.default.createDirectory(atPath: path("JPEGImages_24fps"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try SAVDataset(root: root.path)) { error in
            guard case VOSDatasetError.missingFolder(let p, let layout)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("Annotations_6fps"), p); XCTAssertTrue(layout.contains("<object id>"))
        }
        try png("Annotations_6fps/v/000/00000.png", [(1, 1, 1)])
        let sav = try SAVDataset(root: root.path)
        XCTAssertThrowsError(try sav.sequence("v")) { error in
            guard case VOSDatasetError.missingFolder(let p, _)? = error as? VOSDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(p.hasSuffix("JPEGImages_24fps/v"), p)
        }
    }
}
