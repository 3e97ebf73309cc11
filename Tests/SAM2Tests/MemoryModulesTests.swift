import XCTest
import SAM2

/// Parity of the memory modules (axial RoPE, RoPEAttention, MemoryAttention, MemoryEncoder, object-pointer
/// helpers) with the official sam2 1.1.0 modules, from Scripts/fixtures/make_memory_fixtures.py (see
/// Fixtures/memory/README.md). Memory-attention fixtures are batch-first [B, L, C] (official (L, B, C) transposed).
/// Tolerances: RoPE tables and sine encodings 2e-6 absolute (float32 cos/sin of angles ≤ 15 rad, values ≤ 1);
/// attention outputs 2e-5; multi-layer modules 1e-4 (values O(1), several layer norms and sums of hundreds of terms).
final class MemoryModulesTests: XCTestCase {
    static let modulesPath = fixturesDir.appendingPathComponent("memory/modules.safetensors").path

    static func weights() throws -> Weights { Weights(try Checkpoint.open(modulesPath)) }

    /// Official [B, H, L, D] → packed [B, L, H·D].
    func packed(_ t: Tensor) -> Tensor {
        t.permuted([0, 2, 1, 3]).reshaped([t.shape[0], t.shape[2], t.shape[1] * t.shape[3]])
    }

    func testAxialRotaryTables() throws {
        assertClose(AxialRotaryTable(dim: 16, endX: 8, endY: 8).freqsCis, try fixture("memory/rope_table_d16_8x8.npy"),
                    atol: 2e-6, "compute_axial_cis(16, 8, 8)")
        assertClose(AxialRotaryTable(dim: 8, endX: 6, endY: 4).freqsCis, try fixture("memory/rope_table_d8_6x4.npy"),
                    atol: 2e-6, "compute_axial_cis(8, 6, 4)")
        // RoPEAttention's recomputation for a non-square query count (end_x = end_y = √12 as floats).
        assertClose(AxialRotaryTable(dim: 8, squareLength: 12).freqsCis, try fixture("memory/rope_table_d8_sqrt12.npy"),
                    atol: 2e-6, "compute_axial_cis(8, √12, √12)")
        XCTAssertEqual(AxialRotaryTable(dim: 16, squareLength: 64).freqsCis.data,
                       AxialRotaryTable(dim: 16, endX: 8, endY: 8).freqsCis.data)
    }

    func testApplyRotaryEncWithRepeatedFreqs() throws {
        let table = AxialRotaryTable(dim: 16, endX: 8, endY: 8)
        let q = packed(try fixture("memory/rotary_xq.npy")), k = packed(try fixture("memory/rotary_xk.npy"))
        let expectedK = packed(try fixture("memory/rotary_k_out.npy"))
        let out = table.applyRotaryEnc(q: q, k: k, heads: 2, repeatFreqsK: true)
        assertClose(out.q, packed(try fixture("memory/rotary_q_out.npy")), atol: 1e-5, "apply_rotary_enc q")
        assertClose(out.k, expectedK, atol: 1e-5, "apply_rotary_enc k (repeat_freqs_k)")
        // Excluding the last 64 keys: the first 128 rotate as before, the excluded ones are untouched.
        let excl = table.applyRotaryEnc(q: q, k: k, heads: 2, repeatFreqsK: true, numKExcludeRope: 64).k
        assertClose(excl.slice(axis: 1, 0..<128), expectedK.slice(axis: 1, 0..<128), atol: 1e-5, "rotated keys")
        XCTAssertEqual(excl.slice(axis: 1, 128..<192).data, k.slice(axis: 1, 128..<192).data)
    }

    func testRoPECrossAttentionWithRepeatAndExcludedPointerTokens() throws {
        let attn = try RoPEAttention(Self.weights().scoped("rope_cross"), embeddingDim: 32, numHeads: 2, kvInDim: 16,
                                     ropeKRepeat: true, featSizes: [8, 8])
        let out = attn(q: try fixture("memory/rope_cross_q.npy"), k: try fixture("memory/rope_cross_k.npy"),
                       v: try fixture("memory/rope_cross_v.npy"), numKExcludeRope: 4)
        assertClose(out, try fixture("memory/rope_cross_out.npy"), atol: 2e-5, "RoPEAttention cross")
        // kv 16 = head dim 16: values projected first by default; the reordered path must agree too.
        XCTAssertFalse(attn.projectValuesAfterAttention)
        var late = attn
        late.projectValuesAfterAttention = true
        let outLate = late(q: try fixture("memory/rope_cross_q.npy"), k: try fixture("memory/rope_cross_k.npy"),
                           v: try fixture("memory/rope_cross_v.npy"), numKExcludeRope: 4)
        assertClose(outLate, try fixture("memory/rope_cross_out.npy"), atol: 2e-5, "RoPEAttention cross, v_proj after")
    }

    func testRoPESelfAttentionRecomputesTableForOtherLengths() throws {
        let attn = try RoPEAttention(Self.weights().scoped("rope_self"), embeddingDim: 32, numHeads: 2,
                                     downsampleRate: 2, featSizes: [8, 8])
        XCTAssertEqual(attn.headDim, 8)
        let x = try fixture("memory/rope_self_x.npy")
        let expected = try fixture("memory/rope_self_out.npy")
        assertClose(attn(q: x, k: x, v: x), expected, atol: 2e-5, "RoPEAttention on 12×12 (table recomputed)")
        assertClose(attn(q: x, k: x, v: x), expected, atol: 2e-5, "again (memoised table)")
        XCTAssertEqual(attn.table(forQueryLength: 144).length, 144)
        XCTAssertEqual(attn.table(forQueryLength: 64).freqsCis.data, attn.freqsCis.freqsCis.data)
    }

    static let smallConfig: MemoryAttentionConfig = {
        var c = MemoryAttentionConfig(dModel: 32, kvInDim: 16, featSizes: [16, 16])
        c.dimFeedforward = 64
        c.numHeads = 2
        c.numLayers = 2
        return c
    }()

    struct MemoryInputs { var curr, currPos, memory, memoryPos: Tensor }

    func memoryInputs(_ prefix: String = "memattn") throws -> MemoryInputs {
        MemoryInputs(curr: try fixture("memory/\(prefix)_curr.npy"), currPos: try fixture("memory/\(prefix)_curr_pos.npy"),
                     memory: try fixture("memory/\(prefix)_memory.npy"), memoryPos: try fixture("memory/\(prefix)_memory_pos.npy"))
    }

    func testMemoryAttentionLayer() throws {
        let i = try memoryInputs()
        let layer = try MemoryAttentionLayer(Self.weights().scoped("memory_attention.layers.0"), config: Self.smallConfig)
        let out = layer(tgt: i.curr + 0.1 * i.currPos, memory: i.memory, pos: i.memoryPos, queryPos: i.currPos,
                        numKExcludeRope: 4)
        assertClose(out, try fixture("memory/memattn_layer0_out.npy"), atol: 1e-4, "MemoryAttentionLayer 0")
    }

    func testMemoryAttentionTwoLayersTwoFramesFourPointers() throws {
        let i = try memoryInputs()
        let attn = try MemoryAttention(Self.weights().scoped("memory_attention"), config: Self.smallConfig)
        XCTAssertEqual(attn.layers.count, 2)
        let out = attn(curr: i.curr, memory: i.memory, currPos: i.currPos, memoryPos: i.memoryPos, numObjPtrTokens: 4)
        assertClose(out, try fixture("memory/memattn_out.npy"), atol: 1e-4, "MemoryAttention (released flags)")
    }

    func testMemoryAttentionWithEveryFlagFlipped() throws {
        let i = try memoryInputs()
        var c = Self.smallConfig
        c.numLayers = 1
        c.activation = .gelu
        c.posEncAtAttn = true; c.posEncAtCrossAttnQueries = true; c.posEncAtCrossAttnKeys = false; c.posEncAtInput = false
        let attn = try MemoryAttention(Self.weights().scoped("memory_attention_flipped"), config: c)
        let out = attn(curr: i.curr, memory: i.memory, currPos: i.currPos, memoryPos: i.memoryPos, numObjPtrTokens: 4)
        assertClose(out, try fixture("memory/memattn_flipped_out.npy"), atol: 1e-4, "MemoryAttention (flags flipped)")
    }

    static let smallEncoderConfig: MemoryEncoderConfig = {
        var c = MemoryEncoderConfig(inDim: 32, outDim: 16)
        c.maskTotalStride = 4
        return c
    }()

    func testMemoryEncoder() throws {
        let w = try Self.weights().scoped("memory_encoder")
        let enc = try MemoryEncoder(w, config: Self.smallEncoderConfig)
        XCTAssertEqual(enc.maskDownsampler.convs.count, 2)
        let pix = try fixture("memory/memenc_pix_feat.npy"), masks = try fixture("memory/memenc_masks.npy")
        assertClose(enc.fuser.layers[0](pix), try fixture("memory/memenc_cxblock0_out.npy"), atol: 2e-5, "CXBlock")
        assertClose(enc.maskDownsampler(masks.sigmoid()), try fixture("memory/memenc_downsampled.npy"), atol: 2e-5,
                    "MaskDownSampler")
        let out = enc(pixFeat: pix, masks: masks)
        assertClose(out.visionFeatures, try fixture("memory/memenc_features.npy"), atol: 1e-4, "vision_features")
        assertClose(out.visionPosEnc, try fixture("memory/memenc_pos.npy"), atol: 2e-6, "vision_pos_enc")
        let skipped = enc(pixFeat: pix, masks: masks, skipMaskSigmoid: true)
        assertClose(skipped.visionFeatures, try fixture("memory/memenc_skip_sigmoid_features.npy"), atol: 1e-4,
                    "vision_features (skip_mask_sigmoid)")
    }

    func testGet1dSinePE() throws {
        assertClose(MemoryEmbeddings.get1dSinePE(try fixture("memory/sine_pe_pos.npy"), dim: 32),
                    try fixture("memory/sine_pe_d32.npy"), atol: 2e-6, "get_1d_sine_pe dim 32")
        assertClose(MemoryEmbeddings.get1dSinePE(try fixture("memory/sine_pe_signed_pos.npy"), dim: 10),
                    try fixture("memory/sine_pe_signed_d10.npy"), atol: 2e-6, "get_1d_sine_pe signed, dim 10")
    }

    func testObjPtrTokensSplitPointersAsOfficial() throws {
        let ptrs = randomTensor([2, 3, 32], seed: 7)
        let emb = try MemoryEmbeddings(Weights(try Checkpoint.open(Self.miniPath)), hiddenDim: 32, memDim: 16)
        let tokens = emb.objPtrTokens(ptrs)
        XCTAssertEqual(tokens.shape, [2, 6, 16])
        // Official (seq-first): reshape(N, B, C/m, m).permute(0, 2, 1, 3).flatten(0, 1): token i·k + j = chunk j of ptr i.
        for b in 0..<2 { for i in 0..<3 { for j in 0..<2 { for c in 0..<16 {
            XCTAssertEqual(tokens[b, i * 2 + j, c], ptrs[b, i, j * 16 + c])
        } } } }
    }

    // MARK: the reduced real model (Fixtures/image_model/sam2.1-mini.pt: hidden 32, mem dim 16, 16×16 features)

    static let miniPath = fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path

    func testMiniModelMemoryEncoder() throws {
        let w = Weights(try Checkpoint.open(Self.miniPath)).scoped("memory_encoder")
        let enc = try MemoryEncoder(w, config: MemoryEncoderConfig(inDim: 32, outDim: 16))
        XCTAssertEqual(enc.maskDownsampler.convs.count, 4)
        let out = enc(pixFeat: try fixture("memory/mini_pix_feat.npy"), masks: try fixture("memory/mini_masks.npy"))
        assertClose(out.visionFeatures, try fixture("memory/mini_memenc_features.npy"), atol: 1e-4, "mini vision_features")
        assertClose(out.visionPosEnc, try fixture("memory/mini_memenc_pos.npy"), atol: 2e-6, "mini vision_pos_enc")
    }

    func testMiniModelMemoryAttention() throws {
        let i = try memoryInputs("mini")
        var c = MemoryAttentionConfig(dModel: 32, kvInDim: 16, featSizes: [16, 16])
        c.dimFeedforward = 64
        let attn = try MemoryAttention(Weights(try Checkpoint.open(Self.miniPath)).scoped("memory_attention"), config: c)
        XCTAssertEqual(attn.layers.count, 4)
        XCTAssertTrue(attn.layers[0].crossAttnImage.projectValuesAfterAttention)  // kv 16 < head dim 32
        XCTAssertFalse(attn.layers[0].selfAttn.projectValuesAfterAttention)
        let out = attn(curr: i.curr, memory: i.memory, currPos: i.currPos, memoryPos: i.memoryPos, numObjPtrTokens: 4)
        assertClose(out, try fixture("memory/mini_memattn_out.npy"), atol: 1e-4, "mini memory_attention")
    }

    func testMiniModelEmbeddingsSam21AndSam2() throws {
        let tokens = try fixture("memory/mini_ptr_tokens.npy")
        let e21 = try MemoryEmbeddings(Weights(try Checkpoint.open(Self.miniPath)), hiddenDim: 32, memDim: 16)
        XCTAssertEqual(e21.numMaskmem, 7)
        XCTAssertNotNil(e21.noObjEmbedSpatial)
        XCTAssertNotNil(e21.noObjPtr)
        XCTAssertTrue(e21.addTposEncToObjPtrs)
        guard case .mlp(let mlp) = e21.objPtrProj else { return XCTFail("obj_ptr_proj should be the 3-layer MLP") }
        XCTAssertEqual(mlp.layers.count, 3)
        assertClose(e21.objPtrProj(tokens), try fixture("memory/mini_obj_ptr.npy"), atol: 2e-5, "obj_ptr_proj")
        // Pointers 1, −2, 5, 15 frames away; t_diff_max = 16 − 1.
        assertClose(e21.objPtrTemporalEncoding([1, -2, 5, 15]), try fixture("memory/mini_tpos_enc.npy"), atol: 2e-5,
                    "obj_ptr_tpos_proj(get_1d_sine_pe)")

        let sam2Path = fixturesDir.appendingPathComponent("image_model/sam2-mini.safetensors").path
        let e2 = try MemoryEmbeddings(Weights(try Checkpoint.open(sam2Path)), hiddenDim: 32, memDim: 16)
        XCTAssertNil(e2.noObjEmbedSpatial)
        XCTAssertNil(e2.objPtrTposProj)
        XCTAssertFalse(e2.addTposEncToObjPtrs)
        assertClose(e2.objPtrProj(tokens), try fixture("memory/mini_sam2_obj_ptr.npy"), atol: 2e-5, "sam2 obj_ptr_proj")
        XCTAssertEqual(e2.objPtrTemporalEncoding([1, 2]).data, [Float](repeating: 0, count: 32))
    }

    func testWrongSizesNameTheKey() throws {
        let w = Weights(try Checkpoint.open(Self.miniPath))
        XCTAssertThrowsError(try MemoryEmbeddings(w, hiddenDim: 32, memDim: 64)) { error in
            XCTAssertTrue("\(error)".contains("obj_ptr_tpos_proj.weight"), "\(error)")
        }
        XCTAssertThrowsError(try MemoryAttention(w.scoped("memory_attention"), config: MemoryAttentionConfig())) { error in
            XCTAssertTrue("\(error)".contains("memory_attention.layers.0"), "\(error)")
        }
    }

    // MARK: full size (manual)

    /// Full-size memory attention (hidden 256, kv 64, 4 layers, 4096 queries, 7×4096 + 64 memory tokens) against
    /// Scripts/fixtures/dump_memory_attention_reference.py's output; runs when SAM2_MEMATTN_FULL_CKPT (the
    /// checkpoint) and SAM2_MEMATTN_FULL_REF (that script's output folder) are set. Tolerance 1e-3 absolute
    /// (4 layers over 28,736 keys; outputs are layer-normed, O(1)); prints the timings.
    func testFullSizeMemoryAttention() throws {
        let env = ProcessInfo.processInfo.environment
        guard let ckpt = env["SAM2_MEMATTN_FULL_CKPT"], let ref = env["SAM2_MEMATTN_FULL_REF"] else {
            throw XCTSkip("set SAM2_MEMATTN_FULL_CKPT and SAM2_MEMATTN_FULL_REF to run")
        }
        func load(_ name: String) throws -> Tensor { try Npy.read(ref + "/" + name + ".npy") }
        let attn = try MemoryAttention(Weights(try Checkpoint.open(ckpt)).scoped("memory_attention"))
        let curr = try load("curr"), currPos = try load("curr_pos"), memory = try load("memory")
        let memoryPos = try load("memory_pos"), expected = try load("out")
        let pointers = memory.shape[1] - 7 * curr.shape[1]
        var out = curr
        let t = GemmBenchmark.time(repeats: 2) {
            out = attn(curr: curr, memory: memory, currPos: currPos, memoryPos: memoryPos, numObjPtrTokens: pointers)
        }
        print("full-size memory attention (\(Parallel.threadCount) threads, 1 warm-up + 2 runs): best \(t.best) s, "
              + "least CPU \(t.cpu) s, max abs diff \(out.maxAbsDifference(expected))")
        assertClose(out, expected, atol: 1e-3, "full-size memory attention")
    }
}
