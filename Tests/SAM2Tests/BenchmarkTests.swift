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
        XCTAssertEqual(report.machine.blasCore?.isEmpty, false)
        XCTAssertTrue(report.table.contains("OpenBLAS core \(Parallel.blasCore.name)"), report.table)
    }

    /// OpenBLAS runs kernels for this CPU's vector width: Debian's 0.3.21 falls back to the SSE3 "Prescott" set on
    /// CPUs newer than it knows (Emerald Rapids: sgemm at half speed) unless the workbench corrects it at start-up.
    func testOpenBLASUsesTheCPUsVectorKernels() throws {
        let core = Parallel.blasCore.name
        XCTAssertFalse(core.isEmpty, "Debian's OpenBLAS names its kernel set (openblas_get_corename)")
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            throw XCTSkip("the kernel set is forced by OPENBLAS_CORETYPE, or /proc/cpuinfo is unreadable")
        }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) {
            XCTAssertTrue(["SkylakeX", "Cooperlake", "SapphireRapids"].contains(core), "AVX-512 CPU runs \(core)")
        } else if flags.contains("avx2") && flags.contains("fma") {
            XCTAssertFalse(["Prescott", "Core2", "Nehalem", "Sandybridge"].contains(core), "AVX2 CPU runs \(core)")
        }
    }

    /// The mini Hiera at 256² with a 2-layer, 32-d memory attention (random weights, the full SAM 2 state dict).
    private func miniTrackingModel() throws -> (ModelBenchmark.Model, MemoryAttentionConfig) {
        var attention = MemoryAttentionConfig(dModel: 32, kvInDim: 16, featSizes: [16, 16])
        attention.dimFeedforward = 64
        attention.numLayers = 2
        let model = try ModelBenchmark.Model.random(name: "mini", encoder: HieraTests.miniEncoder, memoryAttention: attention,
                                                    imageSize: 256, seed: 1)
        return (model, attention)
    }

    /// `--precision bf16`: the timed runs use bfloat16, one float32 run is compared with them, and the process-wide
    /// setting is float32 again afterwards. Errors: bf16 operands (2⁻⁹ relative rounding) through a few layers of
    /// random weights stay well below 5% relative L2; masks are compared as IoU in [0, 1].
    func testBFloat16RunsReportFidelityAgainstFloat32() throws {
        let (model, _) = try miniTrackingModel()
        var options = ModelBenchmark.Options(repeats: 1)
        options.sgemmSize = [64, 64, 64]
        options.pointerTokens = 4
        options.precision = .bfloat16
        let report = try ModelBenchmark.run(ModelBenchmark.Kind.allCases, models: [model], options: options)
        XCTAssertEqual(ComputePrecision.current, .float32)
        let enc = try XCTUnwrap(report.measurements[0].fidelity), attn = try XCTUnwrap(report.measurements[1].fidelity)
        XCTAssertEqual(enc.outputs.map(\.name).suffix(2), ["conv_s0", "conv_s1"])
        XCTAssertEqual(attn.outputs.map(\.name), ["output"])
        for o in enc.outputs + attn.outputs {
            XCTAssertTrue(o.relativeL2 > 0 && o.relativeL2 < 0.05, "\(o.name): \(o.relativeL2)")
            XCTAssertTrue(o.maxAbsError > 0 && o.maxAbsError < o.referenceMaxAbs, "\(o.name)")
        }
        XCTAssertEqual(report.measurements[0].precision, "bfloat16")
        XCTAssertTrue(report.table.contains("bfloat16 vs float32"))

        let video = try TrackBenchmark.videoModel(model)
        let m = try TrackBenchmark.measure(model: model, videoModel: video, objects: 2, frames: 9, options: options,
                                           machine: report.machine)
        XCTAssertEqual(ComputePrecision.current, .float32)
        let iou = try XCTUnwrap(m.fidelity?.maskIoU)
        XCTAssertEqual(iou.count, 2 * 9)
        XCTAssertTrue(iou.allSatisfy { (0...1).contains($0) })
        XCTAssertEqual(m.fidelity?.outputs.count, 1)
    }

    /// Memory encoder at the reduced size: in_dim 16, out_dim 8, 32² mask → 2×2 features (N = 4).
    func testMemoryEncoderFlopsByHand() {
        let f = ModelFlops.memoryEncoder(MemoryEncoderConfig(inDim: 16, outDim: 8), imageSize: 32)
        // Mask downsampler, 3×3 stride-2 convs 1→4 (16²), 4→16 (8²), 16→64 (4²), 64→256 (2²):
        // 2·256·1·4·9 = 18,432; 2·64·4·16·9 = 73,728; 2·16·16·64·9 = 294,912; 2·4·64·256·9 = 1,179,648;
        // then 1×1 256→16 on 4 pixels: 2·4·256·16 = 32,768.
        XCTAssertEqual(f.flops(of: "mask_downsampler"), 18_432 + 73_728 + 294_912 + 1_179_648 + 32_768)
        XCTAssertEqual(f.flops(of: "pix_feat_proj"), 2 * 4 * 16 * 16)                  // 2,048
        // Per CXBlock: depthwise 7×7 2·4·16·49 = 6,272; pwconv1 + pwconv2 2·2·4·16·64 = 16,384.
        XCTAssertEqual(f.flops(of: "fuser"), 2 * (6_272 + 16_384))
        XCTAssertEqual(f.flops(of: "out_proj"), 2 * 4 * 16 * 8)                        // 1,024
        XCTAssertEqual(f.total, 1_599_488 + 2_048 + 45_312 + 1_024)
        XCTAssertEqual(ModelFlops.memoryEncoder(MemoryEncoderConfig(inDim: 16, outDim: 16), imageSize: 32).flops(of: "out_proj"), 0)
    }

    /// Mask decoder at C = 16 (Cᵢ 8), MLP dim 32, IoU head hidden 16, on a 2×2 embedding (N = 4), 2 sparse tokens:
    /// T = 1 (obj score) + 1 (iou) + 4 (masks) + 2 = 8 tokens.
    func testMaskDecoderFlopsByHand() {
        var c = MaskDecoderConfig(transformerDim: 16)
        c.transformerMLPDim = 32
        c.iouHeadHiddenDim = 16
        let f = ModelFlops.maskDecoder(c, embeddingSize: 2, sparseTokens: 2)
        // Per block: self 8·8·256 + 4·64·16 = 16,384 + 4,096; token→image q/out 4·8·16·8 = 4,096, k/v 4·4·16·8 = 2,048,
        // attention 4·8·4·8 = 1,024 (7,168); MLP 4·8·16·32 = 16,384; image→token q/out 2,048, k/v 4,096, attention
        // 1,024 (7,168). Block 20,480 + 7,168 + 16,384 + 7,168 = 51,200; two blocks + a final token→image 7,168.
        XCTAssertEqual(f.flops(of: "transformer"), 2 * 51_200 + 7_168)
        // Transposed convs: 2·4·16·4·4 = 2,048; 2·16·4·2·4 = 1,024.
        XCTAssertEqual(f.flops(of: "output_upscaling"), 3_072)
        // Hypernetworks 4 · 2·(2·256 + 16·2) = 4,352; products 2·4·2·64 = 1,024.
        XCTAssertEqual(f.flops(of: "hypernetworks + masks"), 5_376)
        // IoU MLP 2·(16·16 + 16·16 + 16·4) = 1,152; object score MLP 2·(2·256 + 16) = 1,056.
        XCTAssertEqual(f.flops(of: "iou/object-score heads"), 2_208)
        XCTAssertEqual(f.total, 109_568 + 3_072 + 5_376 + 2_208)
    }

    /// The full random state dict equals the official sam2.1_hiera_t one, key for key and shape for shape.
    func testRandomSAM2ShapesMatchOfficial() throws {
        let url = fixturesDir.appendingPathComponent("checkpoint/shapes/sam2.1_hiera_t.json")
        let official = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [Int]])
        let ours = RandomCheckpoint.sam2Shapes(encoder: .official(.tiny), memoryAttention: MemoryAttentionConfig())
        XCTAssertEqual(Set(ours.keys).subtracting(official.keys), [])
        XCTAssertEqual(Set(official.keys).subtracting(ours.keys), [])
        for (k, v) in official { XCTAssertEqual(ours[k], v, k) }
    }

    /// The synthetic video is the bytes Scripts/bench/pytorch_reference.py draws (its numpy `synthetic_frame(3, 64)`:
    /// sum 1,712,780; two pixels).
    func testSyntheticFrameMatchesPythonReference() {
        let f = TrackBenchmark.frame(3, size: 64)
        XCTAssertEqual(f.pixels.reduce(0) { $0 + Int($1) }, 1_712_780)
        XCTAssertEqual(Array(f.pixels[(20 * 64 + 17) * 3..<(20 * 64 + 17) * 3 + 3]), [226, 66, 56])
        XCTAssertEqual(Array(f.pixels[(40 * 64 + 50) * 3..<(40 * 64 + 50) * 3 + 3]), [222, 173, 207])
    }

    /// bench track runs end to end on a reduced model (the mini Hiera of the parity fixtures, d 32, memory dim 16,
    /// 256² input; random full state dict): 3 objects, frames 8 and 9 timed, 7 memories each, parts and FLOPs
    /// filled in. No timing is asserted.
    func testTrackOnReducedModel() throws {
        let (model, attention) = try miniTrackingModel()
        let video = try TrackBenchmark.videoModel(model)
        var options = ModelBenchmark.Options(repeats: 1)
        options.sgemmSize = [64, 64, 64]
        let machine = try ModelBenchmark.machine(options)
        let m = try TrackBenchmark.measure(model: model, videoModel: video, objects: 3, frames: 10, options: options, machine: machine)
        XCTAssertEqual(m.benchmark, "track 3")
        XCTAssertEqual(m.seconds.count, 2)
        XCTAssertTrue(m.shape.contains("7 mem + 8–9 ptr"), m.shape)
        XCTAssertEqual(m.parts?.map(\.name), ["encoder", "memory attention", "decoder", "memory encoder", "other"])
        XCTAssertTrue(m.parts!.allSatisfy { $0.meanSeconds >= 0 && $0.meanSeconds.isFinite })
        XCTAssertGreaterThan(m.parts![1].meanSeconds, 0)
        // Frames 8 and 9: 7 memories of 16² tokens and 8 / 9 pointers of 32/16 = 2 tokens each, per object.
        let perFrame = [8, 9].map { ModelFlops.memoryAttention(attention, queries: 256, memoryTokens: 7 * 256 + 2 * $0).total }
        XCTAssertEqual(m.flops.flops(of: "memory attention"), 3 * (perFrame[0] + perFrame[1]) / 2)
        XCTAssertEqual(m.flops.flops(of: "memory encoder"),
                       3 * ModelFlops.memoryEncoder(MemoryEncoderConfig(inDim: 32, outDim: 16), imageSize: 256).total)
        XCTAssertEqual(m.flops.flops(of: "encoder"), ModelFlops.imageEncoder(HieraTests.miniEncoder, imageSize: 256).total)
        XCTAssertTrue(m.gflops.isFinite && m.gflops > 0)
        let report = ModelBenchmark.Report(machine: machine, repeats: 2, measurements: [m])
        XCTAssertTrue(report.table.contains("memory attention"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        let parts = ((json["measurements"] as? [[String: Any]])?.first?["parts"] as? [[String: Any]])
        XCTAssertNotNil(parts?.first?["mean_seconds"])
        XCTAssertThrowsError(try TrackBenchmark.measure(model: model, videoModel: video, objects: 4, frames: 10,
                                                        options: options, machine: machine)) { error in
            XCTAssertTrue(error is BenchmarkError)
        }
    }

    /// A run longer than 50 frames records the peak-RSS curve (frame 50, the last) and prints it; the reduced model's
    /// bank is full long before frame 50, so its peak stays within the 5%.
    func testLongTrackRunRecordsPeakRSSCurve() throws {
        var attention = MemoryAttentionConfig(dModel: 32, kvInDim: 16, featSizes: [16, 16])
        attention.dimFeedforward = 64
        attention.numLayers = 2
        let model = try ModelBenchmark.Model.random(name: "mini", encoder: HieraTests.miniEncoder, memoryAttention: attention,
                                                    imageSize: 256, seed: 1)
        let video = try TrackBenchmark.videoModel(model)
        var options = ModelBenchmark.Options(repeats: 1)
        options.sgemmSize = [64, 64, 64]
        let machine = try ModelBenchmark.machine(options)
        let frames = TrackBenchmark.longRunFrames + 6
        let m = try TrackBenchmark.measure(model: model, videoModel: video, objects: 1, frames: frames, options: options, machine: machine)
        XCTAssertEqual(m.seconds.count, frames - TrackBenchmark.steadyStateFrame)
        guard FileManager.default.fileExists(atPath: "/proc/self/clear_refs") else { return }
        let curve = try XCTUnwrap(m.peakRSSByFrame)
        XCTAssertEqual(curve.map(\.frame), [TrackBenchmark.rssFirstFrame, frames])
        XCTAssertLessThanOrEqual(curve[0].peakBytes, curve[1].peakBytes)   // a high-water mark never falls
        XCTAssertLessThan(Double(curve[1].peakBytes) / Double(curve[0].peakBytes), 1.05)
        let table = ModelBenchmark.Report(machine: machine, repeats: 1, measurements: [m]).table
        XCTAssertTrue(table.contains("peak RSS after frame (MiB): 50: "), table)
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
