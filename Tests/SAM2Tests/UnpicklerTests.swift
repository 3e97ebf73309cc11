import Foundation
import XCTest
import SAM2

/// The pickle decoder on hand-assembled opcode streams (expected values from the pickle protocol definition).
final class UnpicklerTests: XCTestCase {
    func load(_ bytes: [UInt8]) throws -> PickleValue { try Unpickler(path: "test.pkl").load(bytes) }

    func testScalarsAndContainers() throws {
        // PROTO 2, EMPTY_DICT, MARK, 'k' LONG1(-2), 'f' BINFLOAT(1.5), 'l' EMPTY_LIST MARK BININT2(300) NEWTRUE NONE APPENDS,
        // 't' TUPLE3(BININT(-5), SHORT_BINUNICODE 'é', BININT1 7), SETITEMS, STOP
        var p: [UInt8] = [0x80, 2, 0x7D, 0x71, 0, 0x28]
        p += [0x8C, 1, 0x6B, 0x8A, 1, 0xFE]
        p += [0x8C, 1, 0x66, 0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0]
        p += [0x8C, 1, 0x6C, 0x5D, 0x28, 0x4D, 0x2C, 0x01, 0x88, 0x4E, 0x65]
        p += [0x8C, 1, 0x74, 0x4A, 0xFB, 0xFF, 0xFF, 0xFF, 0x8C, 2, 0xC3, 0xA9, 0x4B, 7, 0x87]
        p += [0x75, 0x2E]
        guard case let .dict(d) = try load(p) else { return XCTFail("not a dict") }
        XCTAssertEqual(d["k"]?.intValue, -2)
        if case let .float(f)? = d["f"] { XCTAssertEqual(f, 1.5) } else { XCTFail("f") }
        let l = try XCTUnwrap(d["l"]?.sequence)
        XCTAssertEqual(l.count, 3); XCTAssertEqual(l[0].intValue, 300); XCTAssertEqual(l[1].intValue, 1)
        let t = try XCTUnwrap(d["t"]?.sequence)
        XCTAssertEqual(t[0].intValue, -5); XCTAssertEqual(t[1].stringValue, "é"); XCTAssertEqual(t[2].intValue, 7)
    }

    func testMemoSharesMutableContainers() throws {
        // EMPTY_LIST BINPUT 0, BINGET 0 (second reference), then APPEND to the first: both must see the item.
        let p: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x68, 0, 0x86, 0x71, 1, 0x68, 0, 0x4B, 9, 0x61, 0x30, 0x2E]
        let pair = try XCTUnwrap(try load(p).sequence)
        XCTAssertEqual(pair[1].sequence?.first?.intValue, 9)
    }

    func testUnknownGlobalsBecomeOpaqueObjects() throws {
        // GLOBAL 'argparse Namespace', EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, BUILD, STOP
        let p: [UInt8] = [0x80, 2, 0x63] + Array("argparse\nNamespace\n".utf8) + [0x29, 0x81, 0x7D, 0x62, 0x2E]
        guard case let .object(o) = try load(p), case let .global(m, n) = o.callable else { return XCTFail("not an object") }
        XCTAssertEqual(m, "argparse"); XCTAssertEqual(n, "Namespace"); XCTAssertNotNil(o.state)
    }

    func testErrors() {
        XCTAssertThrowsError(try load([0x80, 2, 0xFF, 0x2E])) {
            XCTAssertEqual($0 as? CheckpointError, .unsupportedOpcode(path: "test.pkl", opcode: 0xFF, offset: 2))
        }
        XCTAssertThrowsError(try load([0x80, 2, 0x4E])) {
            guard case .truncated? = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try load([0x80, 2, 0x58, 0xFF, 0, 0, 0, 0x41])) {
            guard case .malformedPickle(_, 2, _)? = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try load([0x80, 2, 0x68, 3, 0x2E])) {
            guard case .malformedPickle(_, 2, _)? = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try load([0x80, 2, 0x30, 0x2E])) {
            guard case .malformedPickle? = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
    }
}
