import Foundation
import XCTest
import SAM2

/// Differentiable memory modules (Sources/SAM2/Training/TrainableMemory*.swift, TrainableRoPEAttention.swift,
/// Autodiff/RotaryOps.swift):
/// - forward parity with the inference MemoryAttention / MemoryEncoder / MemoryEmbeddings on sam2.1-mini.pt,
///   max abs diff ≤ 1e-4 · max|expected| (plus 1e-6);
/// - gradients against the official modules' torch autograd (Scripts/fixtures/make_memory_training_fixtures.py,
///   eval mode = dropout off, as the trainable modules): ≤ 1e-4 · max|expected| per tensor (plus 1e-7), loss to 1e-4
///   relative;
/// - the rotary op against central finite differences;
/// - the embedded config (d_model 64, memory dim 32, 2 layers, ff 256, random weights) forward + backward with
///   7 memories + 16 pointer tokens, with timings printed (no timed assertions).
final class TrainableMemoryTests: XCTestCase {
    static let miniPath = fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path
    static let gradsPath = fixturesDir.appendingPathComponent("memory_training/grads.safetensors").path

    static var miniAttentionConfig: MemoryAttentionConfig {
        var c = MemoryAttentionConfig(dModel: 32, kvInDim: 16, featSizes: [16, 16])
        c.dimFeedforward = 64
        return c
    }

    func mt(_ name: String) throws -> Tensor { try fixture("memory_training/\(name).npy") }

    /// max|a − e| ≤ rel·max|e| + abs, reported with the actual ratio.
    func assertRelClose(_ a: Tensor, _ e: Tensor, rel: Float = 1e-4, abs absTol: Float = 1e-7, _ message: String,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, e.shape, "shape \(message)", file: file, line: line)
        guard a.shape == e.shape else { return }
        var maxDiff: Float = 0, scale: Float = 0
        for i in 0..<e.count {
            maxDiff = Swift.max(maxDiff, Swift.abs(a.data[i] - e.data[i]))
            scale = Swift.max(scale, Swift.abs(e.data[i]))
        }
        XCTAssertFalse(maxDiff.isNaN, "\(message): NaN", file: file, line: line)
        if ProcessInfo.processInfo.environment["TRAINABLE_MEMORY_VERBOSE"] != nil {
            print("\(message): max diff \(maxDiff), scale \(scale), ratio \(maxDiff / Swift.max(scale, 1e-30))")
        }
        XCTAssertLessThanOrEqual(maxDiff, rel * scale + absTol,
                                 "\(message): max diff \(maxDiff) vs scale \(scale) (ratio \(maxDiff / Swift.max(scale, 1e-30)))",
                                 file: file, line: line)
    }

    func miniStore() throws -> ParameterStore { try ParameterStore(checkpoint: try Checkpoint.open(Self.miniPath)) }

    /// Runs a forward pass without recording (parameters require gradients, so they must be bound to a tape).
    func forwardOnly<R>(_ store: ParameterStore, _ body: () throws -> R) rethrows -> R {
        let tape = GradientTape()
        tape.watch(store.parameters().map(\.variable))
        return try tape.noGrad(body)
    }

    // MARK: Rotary op

    func testRotaryOpMatchesTableAndFiniteDifferences() throws {
        let table = AxialRotaryTable(dim: 8, endX: 2, endY: 2)
        // 2 heads, 4 queries; 8 + 3 keys with the last 3 excluded (table tiled twice over the first 8).
        let x = randomTensor([2, 11, 16], seed: 3)
        var expected = x
        table.rotate(&expected, heads: 2, tokens: 8)
        let tape = GradientTape()
        let v = tape.variable(x)
        let y = v.rotaryEncoded(table, heads: 2, tokens: 8)
        XCTAssertEqual(y.value.data, expected.data)
        let r = randomTensor(x.shape, seed: 4)
        tape.backward((y * Variable.constant(r)).sum())
        let analytic = try XCTUnwrap(v.grad)
        // The op is linear: d/dx Σ rot(x)·r is constant; central differences on a few elements suffice.
        func loss(_ t: Tensor) -> Double {
            var t = t
            table.rotate(&t, heads: 2, tokens: 8)
            var s = 0.0
            for i in 0..<t.count { s += Double(t.data[i]) * Double(r.data[i]) }
            return s
        }
        for i in stride(from: 0, to: x.count, by: 7) {
            var up = x, down = x
            up.data[i] += 1e-2; down.data[i] -= 1e-2
            let numeric = Float((loss(up) - loss(down)) / 2e-2)
            XCTAssertEqual(analytic.data[i], numeric, accuracy: 1e-3, "element \(i)")
        }
        // Excluded tokens pass the gradient through unchanged.
        XCTAssertEqual(analytic.slice(axis: 1, 8..<11).data, r.slice(axis: 1, 8..<11).data)
    }

    // MARK: Forward parity with the inference modules (sam2.1-mini)

    func testMemoryAttentionForwardMatchesInference() throws {
        let store = try miniStore()
        let c = Self.miniAttentionConfig
        let trainable = try TrainableMemoryAttention(config: c, parameters: store.scope("memory_attention"))
        let inference = try MemoryAttention(Weights(try Checkpoint.open(Self.miniPath)).scoped("memory_attention"), config: c)
        let curr = try fixture("memory/mini_curr.npy"), currPos = try fixture("memory/mini_curr_pos.npy")
        let memory = try fixture("memory/mini_memory.npy"), memoryPos = try fixture("memory/mini_memory_pos.npy")
        let expected = inference(curr: curr, memory: memory, currPos: currPos, memoryPos: memoryPos, numObjPtrTokens: 4)
        let out = try forwardOnly(store) {
            try trainable(curr: .constant(curr), memory: .constant(memory), currPos: currPos,
                          memoryPos: .constant(memoryPos), numObjPtrTokens: 4)
        }
        assertRelClose(out.value, expected, rel: 1e-4, abs: 1e-6, "memory attention vs inference (4 pointer tokens)")
        assertRelClose(out.value, try fixture("memory/mini_memattn_out.npy"), rel: 1e-4, abs: 1e-6, "vs official")
        // Without pointer tokens (every memory token rotated).
        let none = inference(curr: curr, memory: memory.slice(axis: 1, 0..<512), currPos: currPos,
                             memoryPos: memoryPos.slice(axis: 1, 0..<512), numObjPtrTokens: 0)
        let noneT = try forwardOnly(store) {
            try trainable(curr: .constant(curr), memory: .constant(memory.slice(axis: 1, 0..<512)), currPos: currPos,
                          memoryPos: .constant(memoryPos.slice(axis: 1, 0..<512)), numObjPtrTokens: 0)
        }
        assertRelClose(noneT.value, none, rel: 1e-4, abs: 1e-6, "memory attention without pointers")
    }

    /// Two heads and every flag flipped (GELU, pos enc at self-attention and cross-attention queries, none at keys or
    /// input): the standalone official modules of Fixtures/memory/modules.safetensors (see MemoryModulesTests).
    func testMemoryAttentionTwoHeadsAndFlippedFlagsMatchOfficial() throws {
        let store = try ParameterStore(checkpoint: try Checkpoint.open(fixturesDir.appendingPathComponent("memory/modules.safetensors").path))
        var c = MemoryAttentionConfig(dModel: 32, kvInDim: 16, featSizes: [16, 16])
        c.dimFeedforward = 64
        c.numHeads = 2
        c.numLayers = 2
        let curr = try fixture("memory/memattn_curr.npy"), currPos = try fixture("memory/memattn_curr_pos.npy")
        let memory = try fixture("memory/memattn_memory.npy"), memoryPos = try fixture("memory/memattn_memory_pos.npy")
        let attn = try TrainableMemoryAttention(config: c, parameters: store.scope("memory_attention"))
        let out = try forwardOnly(store) {
            try attn(curr: .constant(curr), memory: .constant(memory), currPos: currPos, memoryPos: .constant(memoryPos),
                     numObjPtrTokens: 4)
        }
        assertRelClose(out.value, try fixture("memory/memattn_out.npy"), rel: 1e-4, abs: 1e-6, "2 heads")
        c.numLayers = 1
        c.activation = .gelu
        c.posEncAtAttn = true; c.posEncAtCrossAttnQueries = true; c.posEncAtCrossAttnKeys = false; c.posEncAtInput = false
        let flipped = try TrainableMemoryAttention(config: c, parameters: store.scope("memory_attention_flipped"))
        let outF = try forwardOnly(store) {
            try flipped(curr: .constant(curr), memory: .constant(memory), currPos: currPos, memoryPos: .constant(memoryPos),
                        numObjPtrTokens: 4)
        }
        assertRelClose(outF.value, try fixture("memory/memattn_flipped_out.npy"), rel: 1e-4, abs: 1e-6, "flags flipped")
    }

    func testMemoryEncoderForwardMatchesInference() throws {
        let store = try miniStore()
        let c = MemoryEncoderConfig(inDim: 32, outDim: 16)
        let trainable = try TrainableMemoryEncoder(config: c, parameters: store.scope("memory_encoder"))
        let inference = try MemoryEncoder(Weights(try Checkpoint.open(Self.miniPath)).scoped("memory_encoder"), config: c)
        let pix = try fixture("memory/mini_pix_feat.npy"), masks = try fixture("memory/mini_masks.npy").sigmoid()
        let expected = inference(pixFeat: pix, masks: masks, skipMaskSigmoid: true)
        let out = try forwardOnly(store) { try trainable(pixFeat: .constant(pix), masks: .constant(masks)) }
        assertRelClose(out.features.value, expected.visionFeatures, rel: 1e-4, abs: 1e-6, "memory encoder features")
        XCTAssertEqual(out.posEnc.data, expected.visionPosEnc.data)
        assertRelClose(out.features.value, try fixture("memory/mini_memenc_features.npy"), rel: 1e-4, abs: 1e-6,
                       "vs official (sigmoid inside)")
        XCTAssertThrowsError(try forwardOnly(store) {
            try trainable(pixFeat: .constant(pix), masks: .constant(masks.slice(axis: 2, 0..<128)))
        })
    }

    func testMemoryEmbeddingsForwardMatchesInference() throws {
        let store = try miniStore()
        let emb = try TrainableMemoryEmbeddings(parameters: store.scope(), hiddenDim: 32, memDim: 16)
        let ref = try MemoryEmbeddings(Weights(try Checkpoint.open(Self.miniPath)), hiddenDim: 32, memDim: 16)
        XCTAssertEqual(emb.numMaskmem, 7)
        XCTAssertNotNil(emb.noObjPtr)
        XCTAssertNotNil(emb.noObjEmbedSpatial)
        XCTAssertEqual(emb.maskmemTposEnc.value.data, ref.maskmemTposEnc.data)
        XCTAssertEqual(emb.noMemEmbed.value.data, ref.noMemEmbed.data)
        XCTAssertEqual(emb.noMemPosEnc.value.data, ref.noMemPosEnc.data)
        let tokens = try fixture("memory/mini_ptr_tokens.npy")
        let (proj, tpos) = forwardOnly(store) {
            (emb.objPtrProj(.constant(tokens)).value, emb.objPtrTemporalEncoding([1, -2, 5, 15], maxObjPtrsInEncoder: 16).value)
        }
        assertRelClose(proj, ref.objPtrProj(tokens), rel: 1e-5, abs: 1e-6, "obj_ptr_proj")
        assertRelClose(tpos, ref.objPtrTemporalEncoding([1, -2, 5, 15]), rel: 1e-5, abs: 1e-6, "obj_ptr_tpos_proj")
        let ptrs = randomTensor([2, 3, 32], seed: 7)
        XCTAssertEqual(emb.objPtrTokens(.constant(ptrs)).value.data, ref.objPtrTokens(ptrs).data)
        let mask = randomTensor([1, 1, 64, 64], seed: 9)
        let tracking = Weights(try Checkpoint.open(Self.miniPath))
        let conv = try Conv2d(tracking.scoped("mask_downsample"), inChannels: 1, outChannels: 1, kernelSize: 4, stride: 4)
        let down = try forwardOnly(store) { try emb.maskDownsample(.constant(mask)).value }
        assertRelClose(down, conv(mask), rel: 1e-5, abs: 1e-6, "mask_downsample")
    }

    // MARK: Gradients vs the official autograd (memory_training fixtures)

    /// The official loss of a scenario (losses.json: loss_attn, loss_enc).
    func officialLoss(_ name: String) throws -> Float {
        let data = try Data(contentsOf: fixturesDir.appendingPathComponent("memory_training/losses.json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return Float(try XCTUnwrap(json[name] as? Double))
    }

    func checkParameterGradients(_ store: ParameterStore, prefixes: [String], file: StaticString = #filePath,
                                 line: UInt = #line) throws {
        let grads = try Checkpoint.open(Self.gradsPath)
        var checked = 0
        for key in grads.keys where prefixes.contains(where: { key.hasPrefix($0) }) {
            let g = try XCTUnwrap(try store.variable(key).grad, "no gradient for \(key)", file: file, line: line)
            assertRelClose(g, try grads.tensor(named: key), rel: 1e-4, abs: 1e-7, key, file: file, line: line)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0, "no parameter gradients under \(prefixes)", file: file, line: line)
    }

    func testMemoryAttentionGradientsMatchOfficial() throws {
        let store = try miniStore()
        let attn = try TrainableMemoryAttention(config: Self.miniAttentionConfig, parameters: store.scope("memory_attention"))
        let tape = GradientTape()
        tape.watch(store.parameters().map(\.variable))
        let curr = tape.variable(try mt("curr")), memory = tape.variable(try mt("memory"))
        let memoryPos = tape.variable(try mt("memory_pos"))
        let out = try attn(curr: curr, memory: memory, currPos: try mt("curr_pos"), memoryPos: memoryPos, numObjPtrTokens: 8)
        assertRelClose(out.value, try mt("attn_out"), rel: 1e-4, abs: 1e-6, "forward")
        let loss = (out * Variable.constant(try mt("r_attn"))).sum()
        let expectedLoss = try officialLoss("loss_attn")
        XCTAssertEqual(loss.value.data[0], expectedLoss, accuracy: 1e-4 * Swift.abs(expectedLoss), "loss")
        tape.backward(loss)
        assertRelClose(try XCTUnwrap(curr.grad), try mt("curr_grad"), "d/d curr")
        assertRelClose(try XCTUnwrap(memory.grad), try mt("memory_grad"), "d/d memory")
        assertRelClose(try XCTUnwrap(memoryPos.grad), try mt("memory_pos_grad"), "d/d memoryPos")
        try checkParameterGradients(store, prefixes: ["memory_attention."])
    }

    /// The whole memory path as SAM2Base forms it: spatial memories + maskmem_tpos_enc slots, object pointers through
    /// obj_ptr_proj split into tokens, pointer positions through obj_ptr_tpos_proj.
    func testMemoryPathGradientsThroughEmbeddingsMatchOfficial() throws {
        let store = try miniStore()
        let attn = try TrainableMemoryAttention(config: Self.miniAttentionConfig, parameters: store.scope("memory_attention"))
        let emb = try TrainableMemoryEmbeddings(parameters: store.scope(), hiddenDim: 32, memDim: 16)
        let tape = GradientTape()
        tape.watch(store.parameters().map(\.variable))
        let curr = tape.variable(try mt("curr")), memSpatial = tape.variable(try mt("mem_spatial"))
        let posSpatial = tape.variable(try mt("pos_spatial")), samTokens = tape.variable(try mt("sam_tokens"))
        // maskmem_tpos_enc[slot] per frame ([1, 1, 16] each, broadcast over the frame's 256 tokens).
        let tpos = Variable.concat([6, 4].map { slot in
            emb.maskmemTposEnc.select(axis: 0, index: slot).reshaped([1, 1, 16]).expanded(to: [1, 256, 16])
        }, axis: 1)
        let ptrTokens = emb.objPtrTokens(emb.objPtrProj(samTokens))
        let ptrPos = emb.objPtrTemporalEncoding([1, -2, 5, 15], maxObjPtrsInEncoder: 16)
            .repeatInterleaved(2, axis: 0).unsqueezed(axis: 0)
        let memory = Variable.concat([memSpatial, ptrTokens], axis: 1)
        let memoryPos = Variable.concat([posSpatial + tpos, ptrPos], axis: 1)
        assertRelClose(memory.value, try mt("memory"), rel: 1e-5, abs: 1e-6, "memory tokens")
        assertRelClose(memoryPos.value, try mt("memory_pos"), rel: 1e-5, abs: 1e-6, "memory pos")
        let out = try attn(curr: curr, memory: memory, currPos: try mt("curr_pos"), memoryPos: memoryPos, numObjPtrTokens: 8)
        tape.backward((out * Variable.constant(try mt("r_attn"))).sum())
        assertRelClose(try XCTUnwrap(curr.grad), try mt("curr_grad"), "d/d curr")
        assertRelClose(try XCTUnwrap(memSpatial.grad), try mt("mem_spatial_grad"), "d/d spatial memory")
        assertRelClose(try XCTUnwrap(posSpatial.grad), try mt("pos_spatial_grad"), "d/d spatial pos")
        assertRelClose(try XCTUnwrap(samTokens.grad), try mt("sam_tokens_grad"), "d/d SAM output tokens")
        try checkParameterGradients(store, prefixes: ["memory_attention.", "obj_ptr_proj.", "obj_ptr_tpos_proj.",
                                                      "maskmem_tpos_enc"])
    }

    func testMemoryEncoderGradientsMatchOfficial() throws {
        let store = try miniStore()
        let enc = try TrainableMemoryEncoder(config: MemoryEncoderConfig(inDim: 32, outDim: 16),
                                             parameters: store.scope("memory_encoder"))
        let tape = GradientTape()
        tape.watch(store.parameters().map(\.variable))
        let pix = tape.variable(try mt("pix_feat")), masks = tape.variable(try mt("masks"))
        let out = try enc(pixFeat: pix, masks: masks)
        assertRelClose(out.features.value, try mt("enc_features"), rel: 1e-4, abs: 1e-6, "forward")
        let loss = (out.features * Variable.constant(try mt("r_enc"))).sum()
        let expectedLoss = try officialLoss("loss_enc")
        XCTAssertEqual(loss.value.data[0], expectedLoss, accuracy: 1e-4 * Swift.abs(expectedLoss), "loss")
        tape.backward(loss)
        assertRelClose(try XCTUnwrap(pix.grad), try mt("pix_feat_grad"), "d/d pixFeat")
        assertRelClose(try XCTUnwrap(masks.grad), try mt("masks_grad"), "d/d masks")
        try checkParameterGradients(store, prefixes: ["memory_encoder."])
    }

    // MARK: Embedded config (random weights): forward + backward, timings

    /// Random parameters under `prefix` for every key a module reads (weights ~ U(−1/√fan_in, 1/√fan_in), norms 1/0).
    static func addRandom(_ store: ParameterStore, _ key: String, _ shape: [Int], seed: inout UInt64) {
        seed += 1
        if key.hasSuffix("norm.weight") || key.contains(".norm") && key.hasSuffix(".weight") && shape.count == 1 {
            store.add(key, Tensor(shape: shape, repeating: 1)); return
        }
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : shape[0]
        let bound = 1 / Float(fanIn).squareRoot()
        store.add(key, randomTensor(shape, seed: seed, range: -bound...bound))
    }

    static func embeddedStore(attention c: MemoryAttentionConfig, encoder e: MemoryEncoderConfig) -> ParameterStore {
        let store = ParameterStore(source: "random embedded")
        var seed: UInt64 = 100
        func lin(_ k: String, _ o: Int, _ i: Int) {
            addRandom(store, k + ".weight", [o, i], seed: &seed); addRandom(store, k + ".bias", [o], seed: &seed)
        }
        func norm(_ k: String, _ d: Int) {
            store.add(k + ".weight", Tensor(shape: [d], repeating: 1)); store.add(k + ".bias", Tensor(shape: [d], repeating: 0))
        }
        func conv(_ k: String, _ o: Int, _ i: Int, _ ks: Int) {
            addRandom(store, k + ".weight", [o, i, ks, ks], seed: &seed); addRandom(store, k + ".bias", [o], seed: &seed)
        }
        for l in 0..<c.numLayers {
            let p = "memory_attention.layers.\(l)"
            for n in ["q_proj", "k_proj", "v_proj"] { lin("\(p).self_attn.\(n)", c.dModel, c.dModel) }
            lin("\(p).self_attn.out_proj", c.dModel, c.dModel)
            lin("\(p).cross_attn_image.q_proj", c.dModel, c.dModel)
            lin("\(p).cross_attn_image.k_proj", c.dModel, c.kvInDim)
            lin("\(p).cross_attn_image.v_proj", c.dModel, c.kvInDim)
            lin("\(p).cross_attn_image.out_proj", c.dModel, c.dModel)
            lin("\(p).linear1", c.dimFeedforward, c.dModel)
            lin("\(p).linear2", c.dModel, c.dimFeedforward)
            for n in ["norm1", "norm2", "norm3"] { norm("\(p).\(n)", c.dModel) }
        }
        norm("memory_attention.norm", c.dModel)
        var ch = 1, j = 0, reach = 1
        while reach < e.maskTotalStride {
            conv("memory_encoder.mask_downsampler.encoder.\(3 * j)", ch * 4, ch, e.maskKernelSize)
            norm("memory_encoder.mask_downsampler.encoder.\(3 * j + 1)", ch * 4)
            ch *= 4; j += 1; reach *= e.maskStride
        }
        conv("memory_encoder.mask_downsampler.encoder.\(3 * j)", e.inDim, ch, 1)
        conv("memory_encoder.pix_feat_proj", e.inDim, e.inDim, 1)
        for l in 0..<e.fuserNumLayers {
            let p = "memory_encoder.fuser.layers.\(l)"
            conv("\(p).dwconv", e.inDim, 1, e.cxKernelSize)
            norm("\(p).norm", e.inDim)
            lin("\(p).pwconv1", 4 * e.inDim, e.inDim)
            lin("\(p).pwconv2", e.inDim, 4 * e.inDim)
            store.add("\(p).gamma", Tensor(shape: [e.inDim], repeating: 0.1))
        }
        conv("memory_encoder.out_proj", e.outDim, e.inDim, 1)
        return store
    }

    func testEmbeddedConfigForwardBackwardWithTimings() throws {
        var c = MemoryAttentionConfig(dModel: 64, kvInDim: 32, featSizes: [16, 16])
        c.numLayers = 2
        c.dimFeedforward = 256
        let e = MemoryEncoderConfig(inDim: 64, outDim: 32)
        let store = Self.embeddedStore(attention: c, encoder: e)
        let attn = try TrainableMemoryAttention(config: c, parameters: store.scope("memory_attention"))
        let enc = try TrainableMemoryEncoder(config: e, parameters: store.scope("memory_encoder"))
        let l = 256, m = 7 * 256 + 16
        let curr = randomTensor([1, l, 64], seed: 1), currPos = randomTensor([1, l, 64], seed: 2)
        let memory = randomTensor([1, m, 32], seed: 3), memoryPos = randomTensor([1, m, 32], seed: 4)
        let pix = randomTensor([1, 64, 16, 16], seed: 5), masks = randomTensor([1, 1, 256, 256], seed: 6, range: 0...1)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trainable-memory-\(getpid()).safetensors").path
        try SafeTensors.write(store.stateDict, to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let inference = try MemoryAttention(Weights(try Checkpoint.open(path)).scoped("memory_attention"), config: c)
        let reference = inference(curr: curr, memory: memory, currPos: currPos, memoryPos: memoryPos, numObjPtrTokens: 16)

        func time(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
            try body()  // warm-up
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<runs { try body() }
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(runs)
        }
        var lastOut: Tensor?
        let attnForward = try time(5) {
            lastOut = try forwardOnly(store) {
                try attn(curr: .constant(curr), memory: .constant(memory), currPos: currPos,
                         memoryPos: .constant(memoryPos), numObjPtrTokens: 16).value
            }
        }
        assertRelClose(try XCTUnwrap(lastOut), reference, rel: 1e-4, abs: 1e-6, "embedded forward vs inference")
        var grads: [Variable] = []
        let attnBackward = try time(5) {
            let tape = GradientTape()
            let params = store.parameters(matching: ["memory_attention."]).map(\.variable)
            tape.watch(params)
            params.forEach { $0.zeroGrad() }
            let cv = tape.variable(curr), mv = tape.variable(memory), pv = tape.variable(memoryPos)
            let out = try attn(curr: cv, memory: mv, currPos: currPos, memoryPos: pv, numObjPtrTokens: 16)
            tape.backward(out.sum())
            grads = [cv, mv, pv] + params
        }
        for g in grads { XCTAssertNotNil(g.grad); XCTAssertTrue(g.grad?.data.allSatisfy(\.isFinite) ?? false) }
        let encForward = try time(5) { _ = try forwardOnly(store) { try enc(pixFeat: .constant(pix), masks: .constant(masks)) } }
        let encBackward = try time(5) {
            let tape = GradientTape()
            let params = store.parameters(matching: ["memory_encoder."]).map(\.variable)
            tape.watch(params)
            params.forEach { $0.zeroGrad() }
            let pv = tape.variable(pix), mv = tape.variable(masks)
            tape.backward(try enc(pixFeat: pv, masks: mv).features.sum())
            XCTAssertNotNil(pv.grad); XCTAssertNotNil(mv.grad)
        }
        let maskBackward = time(5) {
            let tape = GradientTape()
            let params = store.parameters(matching: ["memory_encoder.mask_downsampler."]).map(\.variable)
            tape.watch(params)
            params.forEach { $0.zeroGrad() }
            tape.backward(enc.downsampleMask(tape.variable(masks)).sum())
        }
        let inferenceForward = time(5) {
            _ = inference(curr: curr, memory: memory, currPos: currPos, memoryPos: memoryPos, numObjPtrTokens: 16)
        }
        print(String(format: "TrainableMemory embedded timings (B=1): memory attention (2 layers, 256 queries, %d memory tokens incl. 16 pointers) forward %.1f ms (inference module %.1f ms), forward+backward %.1f ms; memory encoder (64→32, 16×16, masks 256²) forward %.1f ms, forward+backward %.1f ms (of which mask downsampler %.1f ms)",
                     m, attnForward, inferenceForward, attnBackward, encForward, encBackward, maskBackward))
    }
}
