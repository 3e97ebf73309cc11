import Foundation
import XCTest
import SAM2

/// The differentiable image encoder (TrainableHiera + TrainableFpnNeck) against the inference `HieraImageEncoder`
/// (forward) and the official PyTorch module's autograd (gradients, Fixtures/encoder_training from
/// Scripts/fixtures/make_encoder_training_fixtures.py), both on the reduced sam2.1-mini weights.
///
/// Tolerances: forward max abs diff ≤ 1e-4 × the level's max |value| (same float32 maths in a different op
/// order); gradients max abs diff ≤ 1e-4 × max |expected| per tensor (torch float32 autograd vs ours). The
/// observed relative errors are printed.
final class TrainableImageEncoderTests: XCTestCase {
    static let miniTrunk = HieraConfig(embedDim: 8, numHeads: 1, stages: [1, 2, 3, 2], windowSpec: [8, 4, 14, 7],
                                       globalAttBlocks: [4], windowPosEmbedBkgSpatialSize: [7, 7])
    static let miniEncoder = HieraImageEncoder.Config(
        trunk: miniTrunk, neck: FpnNeck.Config(dModel: 32, backboneChannelList: [64, 32, 16, 8]), scalp: 1)
    /// The embedded model of the training work (COMMON.md); window_pos_embed_bkg_spatial_size (7, 7) as tiny/small/large.
    static let embeddedTrunk = HieraConfig(embedDim: 16, numHeads: 1, stages: [1, 2, 2, 1], qPool: 3,
                                           windowSpec: [8, 4, 16, 8], globalAttBlocks: [4],
                                           windowPosEmbedBkgSpatialSize: [7, 7])
    static let embeddedEncoder = HieraImageEncoder.Config(
        trunk: embeddedTrunk, neck: FpnNeck.Config(dModel: 64, backboneChannelList: [128, 64, 32, 16]), scalp: 1)

    static let miniPath = fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path

    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = b.data.reduce(Float(0)) { Swift.max($0, abs($1)) }
        return a.maxAbsDifference(b) / Swift.max(scale, 1e-12)
    }

    func testForwardMatchesInferenceEncoderOnMini() throws {
        let ckpt = try Checkpoint.open(Self.miniPath)
        let reference = try HieraImageEncoder(Weights(ckpt, prefix: "image_encoder"), config: Self.miniEncoder)
        let store = try ParameterStore(checkpoint: ckpt)
        let encoder = try TrainableImageEncoder(config: Self.miniEncoder, parameters: store.scope("image_encoder"))
        let image = randomTensor([1, 3, 256, 256], seed: 11, range: -2...2)
        let expected = try reference.encode(image)
        let tape = GradientTape()
        tape.watch(encoder.parameters)
        let got = try encoder(tape.variable(image, requiresGrad: false))
        XCTAssertEqual(got.backboneFPN.count, expected.backboneFPN.count)
        for (i, (g, e)) in zip(got.backboneFPN, expected.backboneFPN).enumerated() {
            let r = relativeError(g.value, e)
            print("TrainableImageEncoderTests forward level \(i) \(e.shape): relative max error \(r)")
            XCTAssertEqual(g.shape, e.shape)
            XCTAssertLessThanOrEqual(r, 1e-4, "level \(i)")
        }
        for (i, (g, e)) in zip(got.visionPosEnc, expected.visionPosEnc).enumerated() {
            XCTAssertEqual(g.shape, e.shape)
            XCTAssertEqual(g.maxAbsDifference(e), 0, "pos enc \(i)")
        }
        XCTAssertEqual(got.visionFeatures.value.maxAbsDifference(expected.visionFeatures), got.backboneFPN[2].value.maxAbsDifference(expected.visionFeatures))
    }

    func testGradientsMatchOfficialAutogradOnMini() throws {
        let store = try ParameterStore(checkpoint: try Checkpoint.open(Self.miniPath))
        let encoder = try TrainableImageEncoder(config: Self.miniEncoder, parameters: store.scope("image_encoder"))
        let tape = GradientTape()
        tape.watch(encoder.parameters)
        let x = tape.variable(try fixture("encoder_training/x.npy"))
        let out = try encoder(x)
        XCTAssertEqual(out.backboneFPN.count, 3)
        var loss: Variable? = nil
        for (i, f) in out.backboneFPN.enumerated() {
            let r = relativeError(f.value, try fixture("encoder_training/fpn\(i).npy"))
            print("TrainableImageEncoderTests official fpn\(i): relative max error \(r)")
            XCTAssertLessThanOrEqual(r, 1e-4, "fpn\(i)")
            let term = (f * Variable.constant(try fixture("encoder_training/r\(i).npy"))).sum()
            loss = loss.map { $0 + term } ?? term
        }
        let expectedLoss = try fixture("encoder_training/loss.npy").data[0]
        XCTAssertEqual(loss!.value.data[0], expectedLoss, accuracy: 1e-4 * abs(expectedLoss))
        tape.backward(loss!)
        var checks: [(String, Tensor?)] = [("x", x.grad)]
        let meta = try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixturesDir.appendingPathComponent("encoder_training/meta.json"))) as! [String: Any]
        for name in meta["params"] as! [String] {
            checks.append((name, try store.variable("image_encoder." + name).grad))
        }
        XCTAssertEqual(checks.count, 10)
        for (name, grad) in checks {
            let expected = try fixture("encoder_training/" + (name == "x" ? "x_grad" : "grad_" + name) + ".npy")
            guard let grad = try XCTUnwrap(grad, name) as Tensor? else { continue }
            XCTAssertEqual(grad.shape, expected.shape, name)
            let r = relativeError(grad, expected)
            print("TrainableImageEncoderTests grad \(name) \(expected.shape): relative max error \(r)")
            XCTAssertLessThanOrEqual(r, 1e-4, name)
        }
        // Every encoder parameter receives a gradient.
        for (key, v) in store.parameters(matching: ["image_encoder."]) {
            XCTAssertNotNil(v.grad, key)
        }
    }

    /// A random-weight checkpoint (RandomCheckpoint) of the image encoder of `config` and a ParameterStore of it.
    static func randomModel(_ config: HieraImageEncoder.Config) throws -> (Checkpoint, ParameterStore) {
        let shapes = RandomCheckpoint.shapes(encoder: config, memoryAttention: MemoryAttentionConfig())
        let ckpt = try RandomCheckpoint.make(shapes: shapes.filter { $0.key.hasPrefix("image_encoder.") }, seed: 9)
        return (ckpt, try ParameterStore(checkpoint: ckpt))
    }

    func testEmbeddedConfigForwardBackwardBatchOfTwo() throws {
        let config = Self.embeddedEncoder
        let (ckpt, store) = try Self.randomModel(config)
        let encoder = try TrainableImageEncoder(config: config, parameters: store.scope("image_encoder"))
        let tape = GradientTape()
        tape.watch(encoder.parameters)
        let x = tape.variable(randomTensor([2, 3, 256, 256], seed: 3, range: -2...2))
        let out = try encoder(x)
        XCTAssertEqual(out.backboneFPN.map(\.shape), [[2, 64, 64, 64], [2, 64, 32, 32], [2, 64, 16, 16]])
        XCTAssertEqual(out.visionPosEnc.map(\.shape), [[2, 64, 64, 64], [2, 64, 32, 32], [2, 64, 16, 16]])
        let loss = out.backboneFPN.map { ($0 * $0).mean() }.reduce(Variable.constant(Tensor(scalar: 0)), +)
        tape.backward(loss)
        XCTAssertEqual(x.grad?.shape, [2, 3, 256, 256])
        for p in encoder.parameters {
            let g = try XCTUnwrap(p.grad)
            XCTAssertTrue(g.data.allSatisfy(\.isFinite))
        }
        // Same forward as the inference encoder on these random weights.
        let reference = try HieraImageEncoder(Weights(ckpt, prefix: "image_encoder"), config: config)
        let e = try reference.encode(x.value)
        for (g, ev) in zip(out.backboneFPN, e.backboneFPN) { XCTAssertLessThanOrEqual(relativeError(g.value, ev), 1e-4) }
    }

    /// Wall time of one 256² frame at the embedded config (printed, not asserted; meaningful in release builds).
    func testEmbeddedConfigTiming() throws {
        let config = Self.embeddedEncoder
        let (_, store) = try Self.randomModel(config)
        let encoder = try TrainableImageEncoder(config: config, parameters: store.scope("image_encoder"))
        let image = randomTensor([1, 3, 256, 256], seed: 5, range: -2...2)
        var forward: [Double] = [], total: [Double] = []
        for _ in 0..<(ProcessInfo.processInfo.environment["ENC_TIMING_REPS"].flatMap { Int($0) } ?? 4) {
            let tape = GradientTape()
            tape.watch(encoder.parameters)
            for p in encoder.parameters { p.zeroGrad() }
            let x = tape.variable(image, requiresGrad: false)
            let t0 = Date()
            let out = try encoder(x)
            let t1 = Date()
            let loss = out.backboneFPN.map { $0.sum() }.reduce(Variable.constant(Tensor(scalar: 0)), +)
            tape.backward(loss)
            let t2 = Date()
            forward.append(t1.timeIntervalSince(t0)); total.append(t2.timeIntervalSince(t0))
        }
        print(String(format: "TrainableImageEncoderTests timing (embedded, 1×256²): forward %.1f ms, forward+backward %.1f ms (best of %d)",
                     forward.min()! * 1000, total.min()! * 1000, forward.count))
    }

    // MARK: - Variable.fusedAttention (FusedAttentionOps.swift)

    /// Central finite differences (Double accumulation) of sum(fusedAttention(q, k, v) · R) for every input element,
    /// plus equality of the forward with the composed `scaledDotProductAttention`.
    func testFusedAttentionGradientsByFiniteDifferences() {
        let inputs = [randomTensor([2, 2, 5, 4], seed: 46), randomTensor([2, 2, 6, 4], seed: 47), randomTensor([2, 2, 6, 3], seed: 48)]
        let r = randomTensor([2, 2, 5, 3], seed: 99)
        func loss(_ xs: [Tensor]) -> Double {
            let y = Variable.fusedAttention(.constant(xs[0]), .constant(xs[1]), .constant(xs[2]), scale: 0.7).value
            return (0..<y.count).reduce(0.0) { $0 + Double(y.data[$1]) * Double(r.data[$1]) }
        }
        let tape = GradientTape()
        let vars = inputs.map { tape.variable($0) }
        let out = Variable.fusedAttention(vars[0], vars[1], vars[2], scale: 0.7)
        let composed = Variable.scaledDotProductAttention(.constant(inputs[0]), .constant(inputs[1]), .constant(inputs[2]), scale: 0.7)
        assertClose(out.value, composed.value, atol: 1e-6, "forward")
        tape.backward((out * Variable.constant(r)).sum())
        let eps: Float = 1e-2
        for (k, x) in inputs.enumerated() {
            let analytic = vars[k].grad!
            for i in 0..<x.count {
                var xs = inputs
                xs[k].data[i] = x.data[i] + eps
                let up = loss(xs)
                xs[k].data[i] = x.data[i] - eps
                let numeric = Float((up - loss(xs)) / (2 * Double(eps)))
                XCTAssertEqual(analytic.data[i], numeric, accuracy: 1e-3 + 1e-2 * abs(numeric), "input \(k) element \(i)")
            }
        }
    }

    // MARK: - Variable.maxPool2dChannelsLast (ChannelsLastPoolingOps.swift)

    /// Equals the NCHW `maxPool2d` (value and gradient) on odd sizes (floor mode drops the last row/column), with a
    /// tie inside one window; plus central finite differences.
    func testMaxPool2dChannelsLastMatchesMaxPool2d() {
        var x = randomTensor([2, 5, 7, 3], seed: 21)
        x.data[0] = x.data[3]  // (0, 0, 0, 0) ties (0, 0, 1, 0): the first wins
        let r = randomTensor([2, 2, 3, 3], seed: 22)
        let tape = GradientTape()
        let a = tape.variable(x), b = tape.variable(x)
        let ya = a.maxPool2dChannelsLast(2, 2)
        let yb = b.permuted([0, 3, 1, 2]).maxPool2d(kernelSize: 2).permuted([0, 2, 3, 1])
        XCTAssertEqual(ya.value.shape, [2, 2, 3, 3])
        XCTAssertEqual(ya.value.maxAbsDifference(yb.value), 0)
        tape.backward(((ya + yb) * Variable.constant(r)).sum())
        XCTAssertEqual(a.grad!.maxAbsDifference(b.grad!), 0)
        let eps: Float = 1e-3
        for i in 0..<x.count {
            var up = x, down = x
            up.data[i] += eps; down.data[i] -= eps
            func loss(_ t: Tensor) -> Double {
                let y = Variable.constant(t).maxPool2dChannelsLast(2, 2).value
                return (0..<y.count).reduce(0.0) { $0 + Double(y.data[$1]) * Double(r.data[$1]) }
            }
            if i == 0 || i == 3 { continue }  // the tie is not differentiable
            XCTAssertEqual(a.grad!.data[i], Float((loss(up) - loss(down)) / (2 * Double(eps))), accuracy: 1e-3, "element \(i)")
        }
    }
}
