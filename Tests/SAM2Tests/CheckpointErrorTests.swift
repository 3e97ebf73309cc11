import Foundation
import XCTest
import SAM2

/// One test per error kind: corrupted copies of the fixtures must throw a typed error naming the file, never trap.
final class CheckpointErrorTests: XCTestCase {
    let dir = fixturesDir.appendingPathComponent("checkpoint")
    var temps: [URL] = []

    override func tearDown() { for u in temps { try? FileManager.default.removeItem(at: u) } }

    func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: dir.appendingPathComponent(name))) }

    /// Writes `content` to a temporary file with extension `ext` and returns its path.
    func temp(_ content: [UInt8], ext: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-err-\(UUID().uuidString).\(ext)")
        try Data(content).write(to: url)
        temps.append(url)
        return url.path
    }

    func expect(_ path: String, file: StaticString = #filePath, line: UInt = #line,
                _ body: () throws -> Void, _ match: (CheckpointError) -> Bool) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? CheckpointError else { return XCTFail("untyped error \(error)", file: file, line: line) }
            XCTAssertTrue(match(e), "unexpected \(e)", file: file, line: line)
            XCTAssertTrue(e.description.contains(path), "message must name the file: \(e)", file: file, line: line)
        }
    }

    func expectOpen(_ path: String, file: StaticString = #filePath, line: UInt = #line, _ match: (CheckpointError) -> Bool) {
        expect(path, file: file, line: line, { _ = try Checkpoint.open(path) }, match)
    }

    /// Byte offsets where `needle` occurs in `hay`.
    func find(_ needle: String, in hay: [UInt8]) -> [Int] {
        let n = Array(needle.utf8)
        return (0...(hay.count - n.count)).filter { i in hay[i..<i + n.count].elementsEqual(n) }
    }

    func testNotZip() throws {
        var b = try bytes("small.pt"); b[0] ^= 0xFF
        let path = try temp(b, ext: "pt")
        expectOpen(path) { if case .notZip = $0 { return true }; return false }
    }

    func testUnknownFormat() throws {
        let path = try temp(Array("hello, not a model".utf8), ext: "dat")
        expectOpen(path) { if case .unknownFormat = $0 { return true }; return false }
        let missing = "/nonexistent/ckpt.pt"
        expectOpen(missing) { if case .unreadable = $0 { return true }; return false }
    }

    func testTruncated() throws {
        let b = try bytes("small.pt")
        for keep in [b.count / 2, b.count - 10, 40] {
            let path = try temp(Array(b[..<keep]), ext: "pt")
            expectOpen(path) { if case .truncated = $0 { return true }; return false }
        }
        let s = try bytes("small.safetensors")
        let path = try temp(Array(s[..<200]), ext: "safetensors")
        expectOpen(path) { if case .truncated = $0 { return true }; return false }
    }

    func testMissingDataPkl() throws {
        var b = try bytes("small.pt")
        for i in find("data.pkl", in: b) { b[i + 7] = UInt8(ascii: "X") }  // rename in local and central headers
        let path = try temp(b, ext: "pt")
        expectOpen(path) { $0 == .missingEntry(path: path, entry: "<archive>/data.pkl") }
    }

    func testCompressedEntry() throws {
        var b = try bytes("small.pt")
        // The central-directory record of data.pkl starts 46 bytes before its name; method is at +10.
        let name = try XCTUnwrap(find("small/data.pkl", in: b).first { $0 >= 46 && b[($0 - 46)..<($0 - 42)].elementsEqual([0x50, 0x4B, 1, 2]) })
        b[name - 46 + 10] = 8
        let path = try temp(b, ext: "pt")
        expectOpen(path) { $0 == .compressedEntry(path: path, entry: "small/data.pkl", method: 8) }
    }

    func testUnsupportedOpcode() throws {
        var b = try bytes("small.pt")
        let data = 30 + Int(b[26]) | Int(b[27]) << 8
        let pklStart = data + (Int(b[28]) | Int(b[29]) << 8)  // data.pkl is the first member
        XCTAssertEqual(b[pklStart], 0x80)
        b[pklStart + 2] = 0xFF
        let path = try temp(b, ext: "pt")
        expectOpen(path) { $0 == .unsupportedOpcode(path: path, opcode: 0xFF, offset: 2) }
    }

    func testNoStateDict() throws {
        let path = dir.appendingPathComponent("no_tensors.pt").path
        expectOpen(path) { $0 == .noStateDict(path: path) }
    }

    /// A safetensors file built by hand: header JSON, then `data`.
    func safetensors(_ header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        return (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xFF) } + h + data
    }

    func testUnsupportedDType() throws {
        let path = try temp(safetensors(#"{"z":{"dtype":"C64","shape":[2],"data_offsets":[0,16]}}"#, data: .init(repeating: 0, count: 16)), ext: "safetensors")
        let ckpt = try Checkpoint.open(path)
        XCTAssertEqual(ckpt.entry("z")?.dtype, .other("C64"))
        expect(path, { _ = try ckpt.tensor(named: "z") }) { $0 == .unsupportedDType(path: path, key: "z", dtype: "C64") }
    }

    func testMissingKeyAndShapeMismatch() throws {
        let path = dir.appendingPathComponent("small.pt").path
        let ckpt = try Checkpoint.open(path)
        expect(path, { _ = try ckpt.tensor(named: "nope") }) { $0 == .missingKey(path: path, key: "nope") }
        expect(path, { _ = try ckpt.tensor(named: "linear.weight", expectShape: [4, 3]) }) {
            $0 == .shapeMismatch(path: path, key: "linear.weight", expected: [4, 3], got: [3, 4])
        }
        XCTAssertEqual(try ckpt.tensor(named: "linear.weight", expectShape: [3, 4]).shape, [3, 4])
    }

    func testBadSafeTensorsHeader() throws {
        var b = try bytes("small.safetensors"); b[9] = UInt8(ascii: "#")
        let path = try temp(b, ext: "safetensors")
        expectOpen(path) { if case .badHeader = $0 { return true }; return false }
        let notObject = try temp(safetensors(#"{"a":[1,2]}"#, data: []), ext: "safetensors")
        expectOpen(notObject) { if case .badHeader = $0 { return true }; return false }
        let badOffsets = try temp(safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]), ext: "safetensors")
        expectOpen(badOffsets) { if case .badHeader = $0 { return true }; return false }
    }

    func testOffsetsOutOfRange() throws {
        let beyond = try temp(safetensors(#"{"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}"#, data: .init(repeating: 0, count: 16)), ext: "safetensors")
        expectOpen(beyond) { if case .offsetOutOfRange(_, "a", _) = $0 { return true }; return false }
        let wrongSize = try temp(safetensors(#"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)), ext: "safetensors")
        expectOpen(wrongSize) { if case .offsetOutOfRange(_, "a", _) = $0 { return true }; return false }
        // A .pt view reaching past its storage (as a corrupted size/stride/offset would).
        let view = TensorEntry(name: "w", dtype: .float32, shape: [2, 2], strides: [2, 1], storageOffset: 1,
                               storageByteOffset: 0, storageByteCount: 16)
        XCTAssertThrowsError(try view.validate(fileSize: 100, path: "x.pt")) {
            guard case .offsetOutOfRange("x.pt", "w", _)? = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
        let huge = TensorEntry(name: "w", dtype: .float32, shape: [Int.max / 2, 4], strides: [4, 1], storageOffset: 0,
                               storageByteOffset: 0, storageByteCount: 16)
        XCTAssertThrowsError(try huge.validate(fileSize: 100, path: "x.pt"))
    }
}
