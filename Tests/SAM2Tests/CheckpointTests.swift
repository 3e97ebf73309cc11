import Foundation
import XCTest
import SAM2

/// Reading torch.save archives and safetensors against values PyTorch wrote (Scripts/fixtures/make_checkpoint_fixtures.py).
/// Every comparison is exact (atol 0): conversion to Float32 is exact for all fixture dtypes.
final class CheckpointTests: XCTestCase {
    let dir = fixturesDir.appendingPathComponent("checkpoint")

    /// Keys and shapes in state-dict order, as torch listed them.
    func expectedKeys() throws -> [(String, [Int])] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("small_keys.json"))) as! [[Any]]
        return json.map { ($0[0] as! String, ($0[1] as! [Any]).map { ($0 as! NSNumber).intValue }) }
    }

    func testPyTorchStateDictMatchesTorchValues() throws {
        let ckpt = try Checkpoint.open(dir.appendingPathComponent("small.pt").path)
        XCTAssertEqual(ckpt.format, .pytorch)
        let expected = try expectedKeys()
        XCTAssertEqual(ckpt.keys, expected.map(\.0))
        for (key, shape) in expected {
            XCTAssertEqual(ckpt.entry(key)?.shape, shape, key)
            assertClose(try ckpt.tensor(named: key), try fixture("checkpoint/expected/\(key).npy"), atol: 0, key)
        }
        // Non-tensor parts, including an argparse.Namespace (an unknown global), did not stop loading.
        XCTAssertEqual(ckpt.metadata["epoch"], "7")
        XCTAssertEqual(ckpt.metadata["name"], "fixture")
        XCTAssertEqual(ckpt.metadata["loss"], "0.125")
    }

    func testPyTorchViewsKeepStridesOffsetsAndSharedStorage() throws {
        let ckpt = try Checkpoint.open(dir.appendingPathComponent("small.pt").path)
        let t = try XCTUnwrap(ckpt.entry("transposed"))
        XCTAssertEqual(t.strides, [1, 5]); XCTAssertFalse(t.isContiguous)
        XCTAssertEqual(ckpt.entry("strided")?.strides, [6, 2])
        XCTAssertEqual(ckpt.entry("offset_slice")?.storageOffset, 2)
        let a = try XCTUnwrap(ckpt.entry("shared.a")), b = try XCTUnwrap(ckpt.entry("shared.b"))
        XCTAssertEqual(a.storageByteOffset, b.storageByteOffset)
        XCTAssertEqual(a.storageOffset, 4)
        XCTAssertEqual(b.strides, [1, 4]); XCTAssertEqual(b.storageOffset, 2)
        XCTAssertEqual(ckpt.entry("bf16.weight")?.dtype, .bfloat16)
        XCTAssertEqual(ckpt.entry("half")?.dtype, .float16)
        XCTAssertEqual(ckpt.entry("scalar")?.shape, [])
        XCTAssertEqual(try ckpt.tensor(named: "empty").shape, [0, 3])
    }

    func testZip64ArchiveReadsLikeThePlainOne() throws {
        let plain = try Checkpoint.open(dir.appendingPathComponent("small.pt").path)
        let zip64 = try Checkpoint.open(dir.appendingPathComponent("small_zip64.pt").path)
        XCTAssertEqual(zip64.keys, plain.keys)
        for key in plain.keys { assertClose(try zip64.tensor(named: key), try plain.tensor(named: key), atol: 0, key) }
    }

    func testSafeTensorsMatchesTorchValues() throws {
        let ckpt = try Checkpoint.open(dir.appendingPathComponent("small.safetensors").path)
        XCTAssertEqual(ckpt.format, .safetensors)
        XCTAssertEqual(ckpt.count, 12)
        XCTAssertEqual(ckpt.metadata, ["format": "pt", "note": "fixture"])
        for key in ckpt.keys {
            assertClose(try ckpt.tensor(named: key), try fixture("checkpoint/expected/\(key).npy"), atol: 0, key)
        }
        XCTAssertEqual(ckpt.entry("bf16.weight")?.dtype, .bfloat16)
        XCTAssertEqual(ckpt.entry("mask")?.dtype, .bool)
    }

    func testSafeTensorsWriteRoundTripAndLayout() throws {
        let tensors = ["b.weight": randomTensor([3, 5], seed: 1), "a": randomTensor([7], seed: 2),
                       "scalar": Tensor(scalar: -2.5), "empty": Tensor.zeros([0, 4]), "quote\"key": randomTensor([2, 2], seed: 3)]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-roundtrip-\(UUID().uuidString)")  // no extension: magic decides
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(tensors, metadata: ["format": "pt"], to: url.path)

        let bytes = [UInt8](try Data(contentsOf: url))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + n) % 8, 0, "data must start 8-byte aligned")
        let header = String(decoding: bytes[8..<8 + n], as: UTF8.self)
        let order = ["\"a\"", "\"b.weight\"", "\"empty\"", "\"quote\\\"key\"", "\"scalar\""].map { header.range(of: $0)!.lowerBound }
        XCTAssertEqual(order, order.sorted(), "keys sorted")
        XCTAssertTrue(header.hasPrefix("{\"__metadata__\":{\"format\":\"pt\"}"))

        let back = try Checkpoint.open(url.path)
        XCTAssertEqual(back.format, .safetensors)
        XCTAssertEqual(Set(back.keys), Set(tensors.keys))
        XCTAssertEqual(back.metadata, ["format": "pt"])
        for (k, t) in tensors { assertClose(try back.tensor(named: k), t, atol: 0, k) }
    }

    func testInfoSummary() throws {
        let info = try CheckpointInfo.load(dir.appendingPathComponent("small.pt").path)
        XCTAssertEqual(info.format, .pytorch)
        XCTAssertEqual(info.tensorCount, 18)
        XCTAssertEqual(info.parameterCount, try expectedKeys().reduce(0) { $0 + $1.1.reduce(1, *) })
        XCTAssertEqual(info.dtypeCounts["bfloat16"], 1)
        XCTAssertEqual(info.config.name, "unknown")
        XCTAssertTrue(info.lines.contains("config: unknown"))
    }

    /// A full-size random-weights checkpoint made by `make_checkpoint_fixtures.py --full` (skipped when absent).
    func testFullSizeRandomCheckpointIfPresent() throws {
        let path = ProcessInfo.processInfo.environment["SAM2_TEST_CHECKPOINT"] ?? "/work/checkpoints/sam2.1_hiera_t_random.pt"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) not present") }
        let ckpt = try Checkpoint.open(path)
        let info = CheckpointInfo(ckpt)
        XCTAssertNotEqual(info.config.name, "unknown")
        let w = try ckpt.tensor(named: "image_encoder.trunk.patch_embed.proj.weight")
        XCTAssertEqual(w.shape, [info.config.embedDim ?? -1, 3, 7, 7])
        XCTAssertTrue(w.data.allSatisfy { $0.isFinite })
    }
}
