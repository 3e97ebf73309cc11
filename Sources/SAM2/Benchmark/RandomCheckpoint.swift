import Foundation

/// Random-weight checkpoints for benchmarks, built from a config without Python or a download.
///
/// A `Checkpoint` reads from a mapped file, so the tensors are written to a temporary safetensors file that is
/// unlinked as soon as it is mapped (the mapping keeps the data; nothing is left on disk).
public enum RandomCheckpoint {
    /// The state-dict shapes of `forward_image` (image_encoder.trunk/neck and sam_mask_decoder.conv_s0/s1) and of
    /// `memory_attention` for the given configs, under the official key names.
    public static func shapes(encoder: HieraImageEncoder.Config, memoryAttention: MemoryAttentionConfig) -> [String: [Int]] {
        var s: [String: [Int]] = [:]
        let t = encoder.trunk, trunk = "image_encoder.trunk."
        s[trunk + "pos_embed"] = [1, t.embedDim] + t.windowPosEmbedBkgSpatialSize
        s[trunk + "pos_embed_window"] = [1, t.embedDim, t.windowSpec[0], t.windowSpec[0]]
        s[trunk + "patch_embed.proj.weight"] = [t.embedDim, 3, 7, 7]
        s[trunk + "patch_embed.proj.bias"] = [t.embedDim]
        for (i, b) in t.blocks.enumerated() {
            let p = trunk + "blocks.\(i)."
            let hidden = Int(Double(b.dimOut) * b.mlpRatio)
            s[p + "norm1.weight"] = [b.dim]; s[p + "norm1.bias"] = [b.dim]
            s[p + "attn.qkv.weight"] = [3 * b.dimOut, b.dim]; s[p + "attn.qkv.bias"] = [3 * b.dimOut]
            s[p + "attn.proj.weight"] = [b.dimOut, b.dimOut]; s[p + "attn.proj.bias"] = [b.dimOut]
            s[p + "norm2.weight"] = [b.dimOut]; s[p + "norm2.bias"] = [b.dimOut]
            s[p + "mlp.layers.0.weight"] = [hidden, b.dimOut]; s[p + "mlp.layers.0.bias"] = [hidden]
            s[p + "mlp.layers.1.weight"] = [b.dimOut, hidden]; s[p + "mlp.layers.1.bias"] = [b.dimOut]
            if b.dim != b.dimOut { s[p + "proj.weight"] = [b.dimOut, b.dim]; s[p + "proj.bias"] = [b.dimOut] }
        }
        let d = encoder.neck.dModel
        for (i, c) in encoder.neck.backboneChannelList.enumerated() {
            s["image_encoder.neck.convs.\(i).conv.weight"] = [d, c, 1, 1]
            s["image_encoder.neck.convs.\(i).conv.bias"] = [d]
        }
        for (name, out) in [("conv_s0", d / 8), ("conv_s1", d / 4)] {
            s["sam_mask_decoder.\(name).weight"] = [out, d, 1, 1]
            s["sam_mask_decoder.\(name).bias"] = [out]
        }
        let m = memoryAttention, inner = m.dModel / Swift.max(1, m.downsampleRate)
        for l in 0..<m.numLayers {
            let p = "memory_attention.layers.\(l)."
            for (attn, kvIn) in [("self_attn", m.dModel), ("cross_attn_image", m.kvInDim)] {
                for (proj, inDim) in [("q_proj", m.dModel), ("k_proj", kvIn), ("v_proj", kvIn)] {
                    s[p + "\(attn).\(proj).weight"] = [inner, inDim]; s[p + "\(attn).\(proj).bias"] = [inner]
                }
                s[p + "\(attn).out_proj.weight"] = [m.dModel, inner]; s[p + "\(attn).out_proj.bias"] = [m.dModel]
            }
            s[p + "linear1.weight"] = [m.dimFeedforward, m.dModel]; s[p + "linear1.bias"] = [m.dimFeedforward]
            s[p + "linear2.weight"] = [m.dModel, m.dimFeedforward]; s[p + "linear2.bias"] = [m.dModel]
            for n in ["norm1", "norm2", "norm3"] { s[p + n + ".weight"] = [m.dModel]; s[p + n + ".bias"] = [m.dModel] }
        }
        s["memory_attention.norm.weight"] = [m.dModel]; s["memory_attention.norm.bias"] = [m.dModel]
        return s
    }

    /// The full SAM2Base state-dict shapes (what `SAM2VideoModel` loads): `shapes(encoder:memoryAttention:)` plus the
    /// prompt encoder, the rest of the mask decoder, the memory encoder and the learned embeddings (SAM 2.1 keys:
    /// `no_obj_embed_spatial`, `obj_ptr_tpos_proj`), under the official key names. Hidden dim = the neck's d_model,
    /// memory dim = the memory attention's kv_in_dim.
    public static func sam2Shapes(encoder: HieraImageEncoder.Config, memoryAttention: MemoryAttentionConfig,
                                  decoder: MaskDecoderConfig? = nil, numMaskmem: Int = 7) -> [String: [Int]] {
        var s = shapes(encoder: encoder, memoryAttention: memoryAttention)
        let c = encoder.neck.dModel, m = memoryAttention.kvInDim
        let dec = decoder ?? MaskDecoderConfig(transformerDim: c)
        func linear(_ p: String, _ i: Int, _ o: Int) { s[p + ".weight"] = [o, i]; s[p + ".bias"] = [o] }
        func conv(_ p: String, _ i: Int, _ o: Int, _ k: Int) { s[p + ".weight"] = [o, i, k, k]; s[p + ".bias"] = [o] }
        func norm(_ p: String, _ n: Int) { s[p + ".weight"] = [n]; s[p + ".bias"] = [n] }
        func mlp(_ p: String, _ i: Int, _ h: Int, _ o: Int, _ layers: Int) {
            for l in 0..<layers { linear(p + ".layers.\(l)", l == 0 ? i : h, l == layers - 1 ? o : h) }
        }
        // Learned embeddings (SAM2Base).
        s["maskmem_tpos_enc"] = [numMaskmem, 1, 1, m]
        s["no_mem_embed"] = [1, 1, c]; s["no_mem_pos_enc"] = [1, 1, c]
        s["no_obj_ptr"] = [1, c]; s["no_obj_embed_spatial"] = [1, m]
        conv("mask_downsample", 1, 1, 4)
        mlp("obj_ptr_proj", c, c, c, 3)
        linear("obj_ptr_tpos_proj", c, m)
        // Prompt encoder (mask_in_chans 16).
        let pe = "sam_prompt_encoder."
        s[pe + "pe_layer.positional_encoding_gaussian_matrix"] = [2, c / 2]
        for i in 0..<4 { s[pe + "point_embeddings.\(i).weight"] = [1, c] }
        s[pe + "not_a_point_embed.weight"] = [1, c]; s[pe + "no_mask_embed.weight"] = [1, c]
        conv(pe + "mask_downscaling.0", 1, 4, 2); norm(pe + "mask_downscaling.1", 4)
        conv(pe + "mask_downscaling.3", 4, 16, 2); norm(pe + "mask_downscaling.4", 16)
        conv(pe + "mask_downscaling.6", 16, c, 1)
        // Mask decoder (conv_s0/conv_s1 are already in `shapes`).
        let md = "sam_mask_decoder.", ci = c / dec.attentionDownsampleRate, tokens = dec.numMultimaskOutputs + 1
        func attention(_ p: String, _ inner: Int) {
            linear(p + ".q_proj", c, inner); linear(p + ".k_proj", c, inner); linear(p + ".v_proj", c, inner)
            linear(p + ".out_proj", inner, c)
        }
        for l in 0..<dec.transformerDepth {
            let p = md + "transformer.layers.\(l)."
            attention(p + "self_attn", c)
            attention(p + "cross_attn_token_to_image", ci)
            attention(p + "cross_attn_image_to_token", ci)
            mlp(p + "mlp", c, dec.transformerMLPDim, c, 2)
            for n in 1...4 { norm(p + "norm\(n)", c) }
        }
        attention(md + "transformer.final_attn_token_to_image", ci)
        norm(md + "transformer.norm_final_attn", c)
        s[md + "iou_token.weight"] = [1, c]; s[md + "mask_tokens.weight"] = [tokens, c]
        if dec.predObjScores { s[md + "obj_score_token.weight"] = [1, c] }
        s[md + "output_upscaling.0.weight"] = [c, c / 4, 2, 2]; s[md + "output_upscaling.0.bias"] = [c / 4]
        norm(md + "output_upscaling.1", c / 4)
        s[md + "output_upscaling.3.weight"] = [c / 4, c / 8, 2, 2]; s[md + "output_upscaling.3.bias"] = [c / 8]
        for t in 0..<tokens { mlp(md + "output_hypernetworks_mlps.\(t)", c, c, c / 8, 3) }
        mlp(md + "iou_prediction_head", c, dec.iouHeadHiddenDim, tokens, dec.iouHeadDepth)
        if dec.predObjScores {
            if dec.predObjScoresMLP { mlp(md + "pred_obj_score_head", c, c, 1, 3) } else { linear(md + "pred_obj_score_head", c, 1) }
        }
        // Memory encoder (MaskDownSampler: 4 × (3×3 stride-2 conv, ×4 channels, LayerNorm2d, GELU) + 1×1; 2 CXBlocks).
        let me = "memory_encoder.", mec = MemoryEncoderConfig(inDim: c, outDim: m)
        var ch = 1, layer = 0, reach = 1
        while reach < mec.maskTotalStride {
            let out = ch * mec.maskStride * mec.maskStride
            conv(me + "mask_downsampler.encoder.\(3 * layer)", ch, out, mec.maskKernelSize)
            norm(me + "mask_downsampler.encoder.\(3 * layer + 1)", out)
            ch = out; layer += 1; reach *= mec.maskStride
        }
        conv(me + "mask_downsampler.encoder.\(3 * layer)", ch, c, 1)
        conv(me + "pix_feat_proj", c, c, 1)
        for l in 0..<mec.fuserNumLayers {
            let p = me + "fuser.layers.\(l)."
            s[p + "gamma"] = [c]
            s[p + "dwconv.weight"] = [c, 1, mec.cxKernelSize, mec.cxKernelSize]; s[p + "dwconv.bias"] = [c]
            norm(p + "norm", c)
            linear(p + "pwconv1", c, 4 * c); linear(p + "pwconv2", 4 * c, c)
        }
        if m != c { conv(me + "out_proj", c, m, 1) }
        return s
    }

    /// A checkpoint holding seeded uniform noise of the given shapes: weights scaled by 1/√fan_in (as PyTorch's
    /// default init bounds them), 1-d tensors (biases, norms) by 0.1, so activations stay finite through deep stacks.
    public static func make(shapes: [String: [Int]], seed: UInt64 = 0) throws -> Checkpoint {
        var tensors: [String: Tensor] = [:]
        for (i, (name, shape)) in shapes.sorted(by: { $0.key < $1.key }).enumerated() {
            let count = shape.reduce(1, *)
            let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 0
            let scale: Float = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0.1
            var values = GemmBenchmark.noise(count, seed: seed &* 1_000_003 &+ UInt64(i) &+ 1)
            for k in values.indices { values[k] *= scale }
            tensors[name] = Tensor(shape: shape, data: values)
        }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("sam2-random-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).safetensors").path
        try SafeTensors.write(tensors, metadata: ["source": "RandomCheckpoint seed \(seed)"], to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Checkpoint.open(path)
    }
}
