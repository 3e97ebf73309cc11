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
