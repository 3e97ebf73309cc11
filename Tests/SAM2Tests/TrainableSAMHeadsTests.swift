import Foundation
import XCTest
import SAM2

/// The differentiable prompt encoder + mask decoder (TrainablePromptEncoder, TrainableTwoWayTransformer,
/// TrainableMaskDecoder): forward parity with the inference modules on sam2.1-mini, gradients against the
/// official modules' torch autograd (Scripts/fixtures/make_heads_training_fixtures.py), and the embedded size.
final class TrainableSAMHeadsTests: XCTestCase {
    static let dir = fixturesDir.appendingPathComponent("heads_training")
    static let checkpoint = try! Checkpoint.open(fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path)
    /// The mini decoder's config, read from the checkpoint's shapes as SAM2Model does.
    static let miniDecoderConfig: MaskDecoderConfig = {
        let config = try! SAM2ModelConfig.inferred(from: checkpoint, imageSize: 256, encoder: HieraTests.miniEncoder)
        return config.decoder
    }()

    static func input(_ name: String) throws -> Tensor { try Npy.read(dir.appendingPathComponent(name + ".npy").path) }

    /// R_k[i] = sin(0.1·(k+1)·i + k), as the fixture script makes them.
    static func cotangent(_ k: Int, _ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<n).map { Float(sin(0.1 * Double(k + 1) * Double($0) + Double(k))) })
    }

    /// Trainable modules over a fresh store of the mini checkpoint.
    func makeTrainable(_ store: ParameterStore) throws -> (TrainablePromptEncoder, TrainableMaskDecoder) {
        let pe = try TrainablePromptEncoder(parameters: store.scope("sam_prompt_encoder"), embedDim: 32,
                                            imageEmbeddingSize: (16, 16), inputImageSize: (256, 256))
        let md = try TrainableMaskDecoder(config: Self.miniDecoderConfig, parameters: store.scope("sam_mask_decoder"))
        return (pe, md)
    }

    /// Worst relative error seen by `relativeError` in the current test (printed at its end).
    var worstRelativeError: Float = -1

    override func tearDown() {
        if worstRelativeError >= 0 { print("TrainableSAMHeads \(name): worst relative error \(worstRelativeError)") }
        worstRelativeError = -1
        super.tearDown()
    }

    /// Largest |a − e| relative to max |e|.
    func relativeError(_ a: Tensor, _ e: Tensor) -> Float {
        XCTAssertEqual(a.shape, e.shape)
        var diff: Float = 0, scale: Float = 0
        for i in 0..<e.count {
            diff = max(diff, abs(a.data[i] - e.data[i]))
            scale = max(scale, abs(e.data[i]))
        }
        let r = diff / max(scale, 1e-12)
        worstRelativeError = max(worstRelativeError, r)
        return r
    }

    // MARK: the fused packed multi-head attention op

    /// Against the composed reference (head split, Variable.scaledDotProductAttention, recombine) and against
    /// central finite differences, with Lq ≠ Lk, Dv ≠ D and two heads.
    func testPackedMultiHeadAttentionGradients() throws {
        let (b, lq, lk, heads, d, dv) = (2, 3, 5, 2, 3, 4)
        let qT = randomTensor([b, lq, heads * d], seed: 1, range: -2...2)
        let kT = randomTensor([b, lk, heads * d], seed: 2, range: -2...2)
        let vT = randomTensor([b, lk, heads * dv], seed: 3)
        let r = randomTensor([b, lq, heads * dv], seed: 4)
        func run(_ fused: Bool, _ qT: Tensor, _ kT: Tensor, _ vT: Tensor) -> (Float, [Tensor]) {
            let tape = GradientTape()
            let q = tape.variable(qT), k = tape.variable(kT), v = tape.variable(vT)
            let out: Variable
            if fused {
                out = Variable.packedMultiHeadAttention(q, k, v, heads: heads)
            } else {
                func split(_ x: Variable, _ w: Int) -> Variable {
                    x.reshaped([b, x.shape[1], heads, w]).permuted([0, 2, 1, 3])
                }
                out = Variable.scaledDotProductAttention(split(q, d), split(k, d), split(v, dv))
                    .permuted([0, 2, 1, 3]).reshaped([b, lq, heads * dv])
            }
            let loss = (out * .constant(r)).sum()
            tape.backward(loss)
            return (loss.value.data[0], [q.grad!, k.grad!, v.grad!])
        }
        let (fusedLoss, fused) = run(true, qT, kT, vT)
        let (refLoss, ref) = run(false, qT, kT, vT)
        XCTAssertEqual(fusedLoss, refLoss, accuracy: 1e-5)
        for (a, e) in zip(fused, ref) { assertClose(a, e, atol: 1e-5, "fused vs composed") }
        // Central differences (float32, step 1e-2) on every element.
        let inputs = [qT, kT, vT]
        for (which, t) in inputs.enumerated() {
            var fd = Tensor.zeros(t.shape)
            for i in 0..<t.count {
                var plus = inputs, minus = inputs
                plus[which].data[i] += 1e-2; minus[which].data[i] -= 1e-2
                let lp = run(true, plus[0], plus[1], plus[2]).0, lm = run(true, minus[0], minus[1], minus[2]).0
                fd.data[i] = (lp - lm) / 2e-2
            }
            assertClose(fused[which], fd, atol: 2e-3, rtol: 1e-2, "finite differences input \(which)")
        }
    }

    // MARK: (1) forward parity with the inference PromptEncoder + MaskDecoder

    func testForwardMatchesInferenceModules() throws {
        let w = Weights(Self.checkpoint)
        let infPE = try PromptEncoder(w.scoped("sam_prompt_encoder"), embedDim: 32, imageEmbeddingSize: (16, 16),
                                      inputImageSize: (256, 256))
        var config = Self.miniDecoderConfig
        config.dynamicMultimaskViaStability = false     // the trainable decoder is always in training mode
        let infMD = try MaskDecoder(w.scoped("sam_mask_decoder"), config: config)
        let store = try ParameterStore(checkpoint: Self.checkpoint)
        let (pe, md) = try makeTrainable(store)
        let tape = GradientTape()
        tape.watch(store.trainable)
        XCTAssertEqual(relativeError(pe.denseEmbeddingPE(), infPE.getDensePE()), 0)

        let image = try Self.input("image_embed"), s0 = try Self.input("feat_s0"), s1 = try Self.input("feat_s1")
        let maskIn = try Self.input("mask_input"), coords = try Self.input("point_coords")
        let labels = try Self.input("point_labels"), boxes = try Self.input("boxes")
        // Labels with a pad (−1), a bare-PE label (5) and box-corner labels (2, 3) among clicks.
        let oddLabels = Tensor(shape: [2, 2], data: [-1, 5, 2, 3])
        let cases: [(name: String, points: (coords: Tensor, labels: Tensor)?, boxes: Tensor?, mask: Tensor?, multi: Bool)] = [
            ("points+mask multimask", (coords, labels), nil, maskIn, true),
            ("points+mask single", (coords, labels), nil, maskIn, false),
            ("box single", nil, boxes, nil, false),
            ("points+box multimask", (coords, labels), boxes, nil, true),
            ("odd labels single", (coords, oddLabels), nil, nil, false),
            ("mask only multimask", nil, nil, maskIn, true),
        ]
        for c in cases {
            let (es, ed) = try infPE(points: c.points, boxes: c.boxes, masks: c.mask)
            let (sparse, dense) = try pe(points: c.points, boxes: c.boxes, masks: c.mask.map { Variable.constant($0) })
            XCTAssertLessThanOrEqual(relativeError(sparse.value, es), 1e-5, "\(c.name) sparse")
            XCTAssertLessThanOrEqual(relativeError(dense.value, ed), 1e-5, "\(c.name) dense")
            let expected = try infMD(imageEmbeddings: image, imagePE: infPE.getDensePE(), sparsePromptEmbeddings: es,
                                     densePromptEmbeddings: ed, multimaskOutput: c.multi, repeatImage: false,
                                     highResFeatures: [s0, s1])
            let out = try md(imageEmbeddings: .constant(image), imagePE: pe.denseEmbeddingPE(), sparsePromptEmbeddings: sparse,
                             densePromptEmbeddings: dense, multimaskOutput: c.multi,
                             highResFeatures: [.constant(s0), .constant(s1)])
            // Tolerance: 1e-4 of each output's largest magnitude (mask logits reach ~±30 on the mini model).
            XCTAssertLessThanOrEqual(relativeError(out.masks.value, expected.masks), 1e-4, "\(c.name) masks")
            XCTAssertLessThanOrEqual(relativeError(out.iouPred.value, expected.iouPred), 1e-4, "\(c.name) iou")
            XCTAssertLessThanOrEqual(relativeError(out.samTokensOut.value, expected.samTokensOut), 1e-4, "\(c.name) tokens")
            XCTAssertLessThanOrEqual(relativeError(out.objectScoreLogits.value, expected.objectScoreLogits), 1e-4,
                                     "\(c.name) object score")
        }
    }

    /// A batch-1 image embedding shared by B prompt sets equals the inference decoder's repeat_image path.
    func testSharedImageEmbedding() throws {
        let w = Weights(Self.checkpoint)
        var config = Self.miniDecoderConfig
        config.dynamicMultimaskViaStability = false
        let infMD = try MaskDecoder(w.scoped("sam_mask_decoder"), config: config)
        let store = try ParameterStore(checkpoint: Self.checkpoint)
        let (pe, md) = try makeTrainable(store)
        let tape = GradientTape()
        tape.watch(store.trainable)
        let image = try Self.input("image_embed").slice(axis: 0, start: 0, end: 1)
        let s0 = try Self.input("feat_s0").slice(axis: 0, start: 0, end: 1)
        let s1 = try Self.input("feat_s1").slice(axis: 0, start: 0, end: 1)
        let (sparse, dense) = try pe(points: (try Self.input("point_coords"), try Self.input("point_labels")),
                                     boxes: nil, masks: nil)
        let expected = try infMD(imageEmbeddings: image, imagePE: pe.denseEmbeddingPE(), sparsePromptEmbeddings: sparse.value,
                                 densePromptEmbeddings: dense.value, multimaskOutput: true, repeatImage: true,
                                 highResFeatures: [s0, s1])
        let imageVar = tape.variable(image)
        let out = try md(imageEmbeddings: imageVar, imagePE: pe.denseEmbeddingPE(), sparsePromptEmbeddings: sparse,
                         densePromptEmbeddings: dense, multimaskOutput: true, highResFeatures: [.constant(s0), .constant(s1)])
        XCTAssertLessThanOrEqual(relativeError(out.masks.value, expected.masks), 1e-4, "shared image masks")
        XCTAssertLessThanOrEqual(relativeError(out.iouPred.value, expected.iouPred), 1e-4, "shared image iou")
        tape.backward(out.masks.sum())
        XCTAssertEqual(imageVar.grad?.shape, [1, 32, 16, 16])
    }

    func testShapeErrorsAreThrown() throws {
        let store = try ParameterStore(checkpoint: Self.checkpoint)
        let (pe, md) = try makeTrainable(store)
        let tape = GradientTape()
        tape.watch(store.trainable)
        XCTAssertThrowsError(try pe(points: (Tensor.zeros([1, 2, 3]), Tensor.zeros([1, 2])), boxes: nil, masks: nil))
        XCTAssertThrowsError(try pe(points: nil, boxes: nil, masks: .constant(Tensor.zeros([1, 1, 32, 32]))))
        let (sparse, dense) = try pe(points: nil, boxes: Tensor(shape: [1, 4], data: [0, 0, 10, 10]), masks: nil)
        XCTAssertThrowsError(try md(imageEmbeddings: .constant(Tensor.zeros([1, 32, 16, 16])), imagePE: pe.denseEmbeddingPE(),
                                    sparsePromptEmbeddings: sparse, densePromptEmbeddings: dense,
                                    multimaskOutput: true, highResFeatures: nil))
        let store2 = ParameterStore()
        XCTAssertThrowsError(try TrainableMaskDecoder(config: Self.miniDecoderConfig, parameters: store2.scope("sam_mask_decoder")))
    }

    // MARK: (2) gradients against the official modules' torch autograd

    func testGradientsMatchTorchAutograd() throws {
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.dir.appendingPathComponent("meta.json")))
            as! [String: Any]
        let params = meta["params"] as! [String]
        for (name, useMask, useBox, multi) in [("A", true, false, true), ("B", false, true, false)] {
            let store = try ParameterStore(checkpoint: Self.checkpoint)
            let (pe, md) = try makeTrainable(store)
            let tape = GradientTape()
            tape.watch(store.trainable)
            let image = tape.variable(try Self.input("image_embed"))
            let s0 = tape.variable(try Self.input("feat_s0")), s1 = tape.variable(try Self.input("feat_s1"))
            let maskIn = tape.variable(try Self.input("mask_input"))
            let points = (coords: try Self.input("point_coords"), labels: try Self.input("point_labels"))
            let (sparse, dense) = try pe(points: points, boxes: useBox ? try Self.input("boxes") : nil,
                                         masks: useMask ? maskIn : nil)
            let out = try md(imageEmbeddings: image, imagePE: pe.denseEmbeddingPE(), sparsePromptEmbeddings: sparse,
                             densePromptEmbeddings: dense, multimaskOutput: multi, highResFeatures: [s0, s1])
            let outs = [out.masks, out.iouPred, out.samTokensOut, out.objectScoreLogits]
            var loss = (outs[0] * .constant(Self.cotangent(0, outs[0].shape))).sum()
            for k in 1..<4 { loss = loss + (outs[k] * .constant(Self.cotangent(k, outs[k].shape))).sum() }
            let expectedLoss = try Self.input("\(name)_loss").data[0]
            XCTAssertEqual(loss.value.data[0], expectedLoss, accuracy: 1e-4 * abs(expectedLoss), "\(name) loss")
            tape.backward(loss)

            var inputs: [(String, Variable)] = [("image_embed", image)]
            if name == "A" { inputs += [("feat_s0", s0), ("feat_s1", s1), ("mask_input", maskIn)] }
            for (input, v) in inputs {
                let expected = try Self.input("\(name)_grad_\(input)")
                let grad = try XCTUnwrap(v.grad, "\(name) \(input)")
                XCTAssertLessThanOrEqual(relativeError(grad, expected), 1e-4, "\(name) d/d\(input)")
            }
            for (i, key) in params.enumerated() {
                let expected = try Self.input("\(name)_grad_param\(i)")
                let grad = try store.variable(key).grad ?? Tensor.zeros(expected.shape)
                if expected.data.allSatisfy({ $0 == 0 }) {
                    XCTAssertTrue(grad.data.allSatisfy { $0 == 0 }, "\(name) d/d\(key) should be zero")
                } else {
                    XCTAssertLessThanOrEqual(relativeError(grad, expected), 1e-4, "\(name) d/d\(key)")
                }
            }
        }
    }

    // MARK: (3) the embedded model's size (transformer_dim 64, random weights)

    /// Random parameters for the prompt encoder + mask decoder at hidden dim `c` (the embedded model: 64).
    static func embeddedStore(c: Int = 64, mlpDim: Int = 2048, iouHidden: Int = 256) -> ParameterStore {
        let store = ParameterStore()
        var seed: UInt64 = 1
        func add(_ key: String, _ shape: [Int]) {
            seed += 1
            let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
            let s = shape.count > 1 ? 1 / Float(fanIn).squareRoot() : 0.1
            var t = randomTensor(shape, seed: seed, range: -s...s)
            if key.contains("norm") && key.hasSuffix("weight") || key.contains("downscaling.1.weight")
                || key.contains("downscaling.4.weight") || key.contains("upscaling.1.weight") { t = t + 1 }
            store.add(key, t)
        }
        func linear(_ p: String, _ inF: Int, _ outF: Int) { add(p + ".weight", [outF, inF]); add(p + ".bias", [outF]) }
        func norm(_ p: String, _ n: Int) { add(p + ".weight", [n]); add(p + ".bias", [n]) }
        let e = "sam_prompt_encoder."
        add(e + "pe_layer.positional_encoding_gaussian_matrix", [2, c / 2])
        for i in 0..<4 { add(e + "point_embeddings.\(i).weight", [1, c]) }
        add(e + "not_a_point_embed.weight", [1, c]); add(e + "no_mask_embed.weight", [1, c])
        add(e + "mask_downscaling.0.weight", [4, 1, 2, 2]); add(e + "mask_downscaling.0.bias", [4])
        norm(e + "mask_downscaling.1", 4)
        add(e + "mask_downscaling.3.weight", [16, 4, 2, 2]); add(e + "mask_downscaling.3.bias", [16])
        norm(e + "mask_downscaling.4", 16)
        add(e + "mask_downscaling.6.weight", [c, 16, 1, 1]); add(e + "mask_downscaling.6.bias", [c])
        let d = "sam_mask_decoder."
        func attention(_ p: String, _ internalDim: Int) {
            for x in ["q", "k", "v"] { linear(p + ".\(x)_proj", c, internalDim) }
            linear(p + ".out_proj", internalDim, c)
        }
        for l in 0..<2 {
            let p = d + "transformer.layers.\(l)"
            attention(p + ".self_attn", c)
            attention(p + ".cross_attn_token_to_image", c / 2)
            attention(p + ".cross_attn_image_to_token", c / 2)
            for n in 1...4 { norm(p + ".norm\(n)", c) }
            linear(p + ".mlp.layers.0", c, mlpDim); linear(p + ".mlp.layers.1", mlpDim, c)
        }
        attention(d + "transformer.final_attn_token_to_image", c / 2)
        norm(d + "transformer.norm_final_attn", c)
        add(d + "iou_token.weight", [1, c]); add(d + "mask_tokens.weight", [4, c]); add(d + "obj_score_token.weight", [1, c])
        add(d + "output_upscaling.0.weight", [c, c / 4, 2, 2]); add(d + "output_upscaling.0.bias", [c / 4])
        norm(d + "output_upscaling.1", c / 4)
        add(d + "output_upscaling.3.weight", [c / 4, c / 8, 2, 2]); add(d + "output_upscaling.3.bias", [c / 8])
        for i in 0..<4 {
            let p = d + "output_hypernetworks_mlps.\(i).layers"
            linear(p + ".0", c, c); linear(p + ".1", c, c); linear(p + ".2", c, c / 8)
        }
        linear(d + "iou_prediction_head.layers.0", c, iouHidden)
        linear(d + "iou_prediction_head.layers.1", iouHidden, iouHidden)
        linear(d + "iou_prediction_head.layers.2", iouHidden, 4)
        linear(d + "pred_obj_score_head.layers.0", c, c); linear(d + "pred_obj_score_head.layers.1", c, c)
        linear(d + "pred_obj_score_head.layers.2", c, 1)
        return store
    }

    /// One forward (+ backward) at the embedded size: B prompt sets, one click each, 16×16 embedding.
    /// Inputs of `embeddedStep` for B prompt sets (image, feat_s0, feat_s1, click coords, mask prompt).
    static func embeddedInputs(b: Int, c: Int = 64) -> [Tensor] {
        [randomTensor([b, c, 16, 16], seed: 11), randomTensor([b, c / 8, 64, 64], seed: 12),
         randomTensor([b, c / 4, 32, 32], seed: 13), randomTensor([b, 1, 2], seed: 14, range: 0...255),
         randomTensor([b, 1, 64, 64], seed: 15, range: -5...5)]
    }

    @discardableResult
    static func embeddedStep(pe: TrainablePromptEncoder, md: TrainableMaskDecoder, store: ParameterStore, inputs x: [Tensor],
                             backward: Bool, mask: Bool = false) throws -> TrainableMaskDecoderOutput {
        let b = x[0].shape[0]
        let tape = GradientTape()
        tape.watch(store.trainable)
        let image = tape.variable(x[0]), s0 = tape.variable(x[1]), s1 = tape.variable(x[2])
        let coords = x[3], labels = Tensor(shape: [b, 1], repeating: 1)
        let maskIn = mask ? tape.variable(x[4]) : nil
        let (sparse, dense) = try pe(points: (coords, labels), boxes: nil, masks: maskIn)
        let out = try md(imageEmbeddings: image, imagePE: pe.denseEmbeddingPE(), sparsePromptEmbeddings: sparse,
                         densePromptEmbeddings: dense, multimaskOutput: true, highResFeatures: [s0, s1])
        if backward {
            let loss = out.masks.sum() + out.iouPred.sum() + out.samTokensOut.sum() + out.objectScoreLogits.sum()
            tape.backward(loss)
        }
        return out
    }

    func testEmbeddedSizeRunsForwardAndBackward() throws {
        let store = Self.embeddedStore()
        let pe = try TrainablePromptEncoder(parameters: store.scope("sam_prompt_encoder"), embedDim: 64,
                                            imageEmbeddingSize: (16, 16), inputImageSize: (256, 256))
        let md = try TrainableMaskDecoder(config: MaskDecoderConfig(transformerDim: 64), parameters: store.scope("sam_mask_decoder"))
        let out = try Self.embeddedStep(pe: pe, md: md, store: store, inputs: Self.embeddedInputs(b: 2), backward: true,
                                        mask: true)
        XCTAssertEqual(out.masks.shape, [2, 3, 64, 64])
        XCTAssertEqual(out.iouPred.shape, [2, 3])
        XCTAssertEqual(out.samTokensOut.shape, [2, 3, 64])
        XCTAssertEqual(out.objectScoreLogits.shape, [2, 1])
        // Every parameter is reached except the unselected single-mask hypernetwork (multimask output).
        for (key, v) in store.parameters() {
            if key.contains("output_hypernetworks_mlps.0.") || key.contains("pe_layer") || key.contains("no_mask_embed")
                || key.contains("not_a_point") || key.contains("point_embeddings.0") || key.contains("point_embeddings.2")
                || key.contains("point_embeddings.3") { continue }
            let g = try XCTUnwrap(v.grad, "no gradient for \(key)")
            XCTAssertTrue(g.data.allSatisfy(\.isFinite), "non-finite gradient for \(key)")
        }
    }

    /// Timings at the embedded size (printed, not asserted): one click per prompt set, 16×16 embedding, multimask,
    /// high-res features; B = 1 (with and without a mask prompt) and B = 8.
    func testEmbeddedSizeTimings() throws {
        let store = Self.embeddedStore()
        let pe = try TrainablePromptEncoder(parameters: store.scope("sam_prompt_encoder"), embedDim: 64,
                                            imageEmbeddingSize: (16, 16), inputImageSize: (256, 256))
        let md = try TrainableMaskDecoder(config: MaskDecoderConfig(transformerDim: 64), parameters: store.scope("sam_mask_decoder"))
        for (b, mask) in [(1, false), (1, true), (8, false)] {
            let inputs = Self.embeddedInputs(b: b)
            for backward in [false, true] {
                try Self.embeddedStep(pe: pe, md: md, store: store, inputs: inputs, backward: backward, mask: mask)   // warm-up
                var times: [Double] = []
                for _ in 0..<20 {
                    let start = Date()
                    try Self.embeddedStep(pe: pe, md: md, store: store, inputs: inputs, backward: backward, mask: mask)
                    times.append(Date().timeIntervalSince(start) * 1000)
                }
                times.sort()
                let (ms, best) = (times[times.count / 2], times[0])
                print(String(format: "TrainableSAMHeads embedded B=%d mask=%@ %@: median %.2f ms, best %.2f ms", b,
                             mask ? "yes" : "no", backward ? "forward+backward" : "forward", ms, best))
            }
        }
    }
}
