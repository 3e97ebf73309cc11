import Foundation

/// Initial weights for training SAM 2 from scratch, following what the official modules do at construction:
/// Linear / Conv / ConvTranspose weights and biases uniform in ±1/√fan_in (PyTorch's default, fan_in = size(1)·kernel
/// area), LayerNorm weight 1 / bias 0, nn.Embedding N(0, 1), the prompt encoder's Fourier matrix N(0, 1) (scale 1),
/// CXBlock layer scale 1e-6, Hiera position embeddings 0, and SAM2Base's learned embeddings (maskmem_tpos_enc,
/// no_mem_embed, no_mem_pos_enc, no_obj_ptr, no_obj_embed_spatial) truncated-normal with std 0.02.
/// Each tensor draws from its own stream (seed, key), so adding a key never changes the others.
///
/// One deliberate difference for training from scratch (the official never does: its encoder starts from MAE
/// weights): the memory encoder's `pix_feat_proj` starts at `pixFeatProjScale` (0.05) × the default. The neck's
/// features are ~20× larger than the downsampled mask at initialisation, so with the default the memories of two
/// objects in the same frame differ by ~3 % and memory attention cannot tell objects apart; a first run of the
/// embedded model learned to ignore its memories (every object got the same mask) in 600 steps.
/// And a locality prior for the memory attention's cross-attention (`crossAttentionLocality`): with random query /
/// key projections its attention is nearly uniform over the ~1,800 memory tokens, so an object's few tokens are
/// averaged away (a second run still gave every object the same mask after 400 steps). The q_proj / k_proj biases
/// start as the same vector of magnitude `crossAttentionLocality` on the three highest-frequency RoPE pairs of each
/// axis (weights 0.1× the default): after the rotary encoding, q·k peaks where query and memory token sit at the
/// same place, so each position starts by reading the memories at its own location (every memory frame, as the
/// pointers get no rotation). Training moves freely away from it.
public enum SAM2Initialization {
    /// Bias magnitude of the locality prior (logit contrast ≈ 2 between 0 and 1 token apart at head dim 64).
    public static let crossAttentionLocality: Float = 5
    /// Scale of `memory_encoder.pix_feat_proj` (weight and bias) relative to PyTorch's default initialisation.
    public static let pixFeatProjScale: Float = 0.05

    /// Keys initialised N(0, 1) (nn.Embedding, the random Fourier features).
    static func isEmbedding(_ key: String) -> Bool {
        let embeddings = ["point_embeddings.", "not_a_point_embed.", "no_mask_embed.", "iou_token.", "mask_tokens.",
                          "obj_score_token.", "positional_encoding_gaussian_matrix"]
        return embeddings.contains { key.contains($0) }
    }

    /// The initial value of one state-dict entry; `shapes` gives the sibling weight of a bias.
    public static func initialValue(key: String, shape: [Int], shapes: [String: [Int]], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: SplitMix64.hash(seed, Int(truncatingIfNeeded: SplitMix64.fnv1a(key))))
        let n = shape.reduce(1, *)
        func uniform(_ bound: Double) -> Tensor {
            Tensor(shape: shape, data: (0..<n).map { _ in Float(rng.uniform(-bound...bound)) })
        }
        func normal(_ std: Double, truncated: Bool) -> Tensor {
            Tensor(shape: shape, data: (0..<n).map { _ in
                while true {
                    let z = rng.normal()
                    if !truncated || abs(z * std) <= 2 { return Float(z * std) }   // trunc_normal_ cuts at ±2 absolute
                }
            })
        }
        let leaf = key.split(separator: ".").last.map(String.init) ?? key
        let root = ["maskmem_tpos_enc", "no_mem_embed", "no_mem_pos_enc", "no_obj_ptr", "no_obj_embed_spatial"]
        if root.contains(key) { return normal(0.02, truncated: true) }
        if key.hasSuffix("trunk.pos_embed") || key.hasSuffix("trunk.pos_embed_window") { return Tensor.zeros(shape) }
        if leaf == "gamma" { return Tensor(shape: shape, repeating: 1e-6) }
        if isEmbedding(key) { return normal(1, truncated: false) }
        if leaf == "weight" && shape.count == 1 { return Tensor.ones(shape) }          // LayerNorm / LayerNorm2d
        if leaf == "bias" {
            let weightKey = String(key.dropLast(4)) + "weight"
            guard let w = shapes[weightKey], w.count > 1 else { return Tensor.zeros(shape) }   // norm bias
            return uniform(1 / Double(fanIn(w)).squareRoot())
        }
        if shape.count > 1 { return uniform(1 / Double(fanIn(shape)).squareRoot()) }
        return Tensor.zeros(shape)
    }

    /// `initialValue` with the from-scratch adjustments (see the type's comment); `headDim` is the memory
    /// attention's per-head width (the rotary pairs' layout: x pairs first, then y pairs, per head).
    static func trainingValue(key: String, shape: [Int], shapes: [String: [Int]], seed: UInt64, heads: Int) -> Tensor {
        let v = initialValue(key: key, shape: shape, shapes: shapes, seed: seed)
        if key.hasPrefix("memory_encoder.pix_feat_proj.") { return v * pixFeatProjScale }
        let isCross = key.hasPrefix("memory_attention.layers.") && key.contains(".cross_attn_image.")
        guard isCross, key.hasSuffix("q_proj.weight") || key.hasSuffix("k_proj.weight") || key.hasSuffix("q_proj.bias")
                || key.hasSuffix("k_proj.bias") else { return v }
        if key.hasSuffix(".weight") { return v * 0.1 }
        let inner = shape[0], headDim = inner / max(1, heads), quarter = headDim / 4
        guard headDim % 4 == 0, quarter >= 3 else { return v }
        var b = [Float](repeating: 0, count: inner)
        for h in 0..<max(1, heads) {
            for i in 0..<3 {
                b[h * headDim + 2 * i] = crossAttentionLocality                 // x pair i: real part
                b[h * headDim + 2 * (quarter + i)] = crossAttentionLocality      // y pair i: real part
            }
        }
        return Tensor(shape: shape, data: b)
    }

    /// PyTorch's fan_in: size(1) × receptive field (also for transposed convolutions, as torch computes it).
    static func fanIn(_ shape: [Int]) -> Int { shape.count > 1 ? shape.dropFirst().reduce(1, *) : max(1, shape[0]) }

    /// A full initial state dict for `architecture`.
    public static func stateDict(_ architecture: SAM2Architecture, seed: UInt64) -> [String: Tensor] {
        let shapes = architecture.stateDictShapes
        var out: [String: Tensor] = [:]
        let heads = architecture.memoryAttention.numHeads
        for (key, shape) in shapes { out[key] = trainingValue(key: key, shape: shape, shapes: shapes, seed: seed, heads: heads) }
        return out
    }

    /// A parameter store holding the initial weights of `architecture` (buffers frozen).
    public static func store(_ architecture: SAM2Architecture, seed: UInt64) -> ParameterStore {
        let store = ParameterStore(source: "init(seed: \(seed))")
        for (key, value) in stateDict(architecture, seed: seed).sorted(by: { $0.key < $1.key }) {
            store.add(key, value, requiresGrad: !ParameterStore.isBuffer(key))
        }
        return store
    }
}

extension ParameterStore {
    /// State-dict entries that are buffers in the official modules (saved, never trained).
    public static func isBuffer(_ key: String) -> Bool { key.hasSuffix("positional_encoding_gaussian_matrix") }
}
