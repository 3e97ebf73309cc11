import Foundation
import XCTest
import SAM2

/// The benchmark library: the analytic FLOP counts (exact, against sums done by hand in the comments), the
/// random-weight shapes (against the official state-dict shapes), and that a run on a reduced model works.
/// No timing is asserted.
final class BenchmarkTests: XCTestCase {
    /// Three stages (1, 1, 3 blocks), 8 channels, query pooling at block 1 only, windows 2, 2, 3 with block 4 global:
    /// covers a channel change without pooling (block 2), window padding (block 3: 4×4 grid in 3×3 windows) and
    /// global attention.
    let trunk = HieraConfig(embedDim: 8, numHeads: 1, stages: [1, 1, 3], qPool: 1, qStride: [2, 2], windowSpec: [2, 2, 3],
                            globalAttBlocks: [4], windowPosEmbedBkgSpatialSize: [2, 2])
    var encoder: HieraImageEncoder.Config {
        HieraImageEncoder.Config(trunk: trunk, neck: FpnNeck.Config(dModel: 16, backboneChannelList: trunk.channelList))
    }
    var memoryAttention: MemoryAttentionConfig {
        var c = MemoryAttentionConfig(dModel: 16, kvInDim: 8, featSizes: [2, 2])
        c.dimFeedforward = 32
        c.numLayers = 2
        return c
    }

    func testImageEncoderFlopsByHand() {
        let f = ModelFlops.imageEncoder(encoder, imageSize: 32)
        // 32² image → 8×8 tokens of 8 channels; patch embed 2·64·8·(3·7·7).
        XCTAssertEqual(f.flops(of: "patch_embed"), 150_528)
        // Block 0 (8→8, 16 windows of 2×2): qkv 2·16·4·8·24 = 24,576, attention 4·16·4·4·8 = 8,192,
        // proj 2·16·4·8·8 = 8,192, mlp 4·64·8·32 = 65,536.
        XCTAssertEqual(f.flops(of: "trunk stage 1"), 106_496)
        // Block 1 (8→16, windows 2×2 pooled to 1 query, 8×8 → 4×4): proj 2·64·8·16 = 16,384, qkv 2·16·4·8·48 = 49,152,
        // attention 4·16·1·4·16 = 4,096, attn.proj 2·16·1·16·16 = 8,192, mlp 4·16·16·64 = 65,536.
        XCTAssertEqual(f.flops(of: "trunk stage 2"), 143_360)
        // Block 2 (16→32, window 2 lags a stage, 4 windows): 16,384 + 49,152 + 8,192 + 32,768 + 262,144 = 368,640.
        // Block 3 (window 3: 4×4 padded to 6×6, 4 windows of 9): qkv 2·36·32·96 = 221,184, attention 4·4·9·9·32 =
        // 41,472, proj 2·36·32·32 = 73,728, mlp 262,144 → 598,528.
        // Block 4 (global, 16 tokens): 98,304 + 32,768 + 32,768 + 262,144 = 425,984.
        XCTAssertEqual(f.flops(of: "trunk stage 3"), 368_640 + 598_528 + 425_984)
        // Neck (d 16) on 8×8×8, 4×4×16, 4×4×32: 16,384 + 8,192 + 16,384.
        XCTAssertEqual(f.flops(of: "neck"), 40_960)
        // conv_s0 2·64·16·2 + conv_s1 2·16·16·4.
        XCTAssertEqual(f.flops(of: "conv_s0/s1"), 6_144)
        XCTAssertEqual(f.total, 150_528 + 106_496 + 143_360 + 1_393_152 + 40_960 + 6_144)
        XCTAssertEqual(ModelFlops.imageEncoder(encoder, imageSize: 32, highResProjection: false).flops(of: "conv_s0/s1"), 0)
    }

    func testMemoryAttentionFlopsByHand() {
        // L = 4 queries, M = 7·4 + 4 = 32 memory tokens, d = 16, kv 8, F 32, 2 layers.
        let f = ModelFlops.memoryAttention(memoryAttention, queries: 4, memoryTokens: 32)
        // Self: projections 4·2·4·16·16 = 8,192, attention 4·4·4·16 = 1,024.
        XCTAssertEqual(f.flops(of: "self_attn"), 2 * 9_216)
        // Cross: q/out 2·2·4·16·16 = 4,096, k/v 2·2·32·8·16 = 16,384, attention 4·4·32·16 = 8,192.
        XCTAssertEqual(f.flops(of: "cross_attn_image"), 2 * 28_672)
        // MLP: 2·2·4·16·32.
        XCTAssertEqual(f.flops(of: "mlp"), 2 * 8_192)
        XCTAssertEqual(f.total, 18_432 + 57_344 + 16_384)
    }

    /// The released memory attention at 7 memories: ~605 GFLOP, the figure the performance issue budgets.
    func testReleasedMemoryAttentionFlopsMagnitude() {
        let f = ModelFlops.memoryAttention(MemoryAttentionConfig(), queries: 4096, memoryTokens: 7 * 4096 + 64)
        // Cross-attention products alone: 4 layers · 4·4096·28,736·256.
        XCTAssertGreaterThan(f.flops(of: "cross_attn_image"), 4 * 4 * 4096 * 28_736 * 256)
        XCTAssertEqual(Double(f.total) / 1e9, 605, accuracy: 5)
    }

    /// The random-weight key set and shapes equal the official state dict's for forward_image and memory_attention.
    func testRandomCheckpointShapesMatchOfficial() throws {
        for (name, size) in [("sam2.1_hiera_t", InferredModelConfig.Size.tiny), ("sam2_hiera_s", .small)] {
            let url = fixturesDir.appendingPathComponent("checkpoint/shapes/\(name).json")
            let official = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [Int]])
            let wanted = official.filter {
                $0.key.hasPrefix("image_encoder.") || $0.key.hasPrefix("memory_attention.") || $0.key.hasPrefix("sam_mask_decoder.conv_s")
            }
            let ours = RandomCheckpoint.shapes(encoder: .official(size), memoryAttention: MemoryAttentionConfig())
            XCTAssertEqual(Set(ours.keys), Set(wanted.keys), name)
            for (k, v) in wanted { XCTAssertEqual(ours[k], v, "\(name) \(k)") }
        }
    }

    /// Both benchmarks run end to end on the reduced model; the report carries the analytic FLOPs and one time per run.
    func testRunOnReducedModel() throws {
        let model = try ModelBenchmark.Model.random(name: "reduced", encoder: encoder, memoryAttention: memoryAttention,
                                                    imageSize: 32, seed: 1)
        var options = ModelBenchmark.Options(repeats: 2)
        options.pointerTokens = 4
        options.sgemmSize = [64, 64, 64]
        let report = try ModelBenchmark.run(ModelBenchmark.Kind.allCases, models: [model], options: options)
        XCTAssertEqual(report.measurements.map(\.benchmark), ["encoder", "attention"])
        let enc = report.measurements[0], attn = report.measurements[1]
        XCTAssertEqual(enc.flops, ModelFlops.imageEncoder(encoder, imageSize: 32))
        XCTAssertEqual(attn.flops, ModelFlops.memoryAttention(memoryAttention, queries: 4, memoryTokens: 32))
        for m in report.measurements {
            XCTAssertEqual(m.seconds.count, 2)
            XCTAssertTrue(m.bestSeconds > 0 && m.bestSeconds <= m.medianSeconds, "\(m.benchmark)")
            XCTAssertTrue(m.gflops.isFinite && m.gflops > 0, "\(m.benchmark)")
        }
        XCTAssertTrue(report.machine.sgemmGflops > 0)
        XCTAssertTrue(report.table.contains("attention"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        XCTAssertNotNil(json["measurements"] as? [[String: Any]])
        XCTAssertNotNil((json["machine"] as? [String: Any])?["sgemm_gflops"])
    }

    func testInvalidOptionsAreTyped() throws {
        XCTAssertThrowsError(try ModelBenchmark.machine(ModelBenchmark.Options(repeats: 0))) { error in
            XCTAssertEqual(error as? BenchmarkError, .invalidOption(name: "repeats", reason: "must be ≥ 1, got 0"))
        }
        XCTAssertThrowsError(try ModelBenchmark.Model.random(config: "sam3_hiera_t")) { error in
            XCTAssertTrue(error is SAM2ModelError)
        }
    }
}
