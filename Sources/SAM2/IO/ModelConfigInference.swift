import Foundation

/// Which official SAM 2 model a state dict belongs to, inferred from tensor names and shapes alone.
public struct InferredModelConfig: Equatable, Sendable, CustomStringConvertible {
    /// Release family: SAM 2 (July 2024) or SAM 2.1 (September 2024, adds `no_obj_embed_spatial` and `obj_ptr_tpos_proj`).
    public enum Family: String, Sendable { case sam2 = "sam2", sam2_1 = "sam2.1" }
    /// Hiera trunk size, named as in the official config files (`sam2.1_hiera_b+.yaml`…).
    public enum Size: String, Sendable, CaseIterable {
        case tiny = "t", small = "s", basePlus = "b+", large = "l"

        /// Hiera `embed_dim` of the first stage.
        public var embedDim: Int { switch self { case .tiny, .small: return 96; case .basePlus: return 112; case .large: return 144 } }
        /// Blocks per stage (`stages` in the official configs).
        public var stages: [Int] {
            switch self {
            case .tiny: return [1, 2, 7, 2]
            case .small: return [1, 2, 11, 2]
            case .basePlus: return [2, 3, 16, 3]
            case .large: return [2, 6, 36, 4]
            }
        }
    }

    /// The family, nil when the keys fit neither release.
    public let family: Family?
    /// The trunk size, nil when the trunk matches no official size.
    public let size: Size?
    /// Hiera embedding dimension (output channels of `patch_embed`), nil when absent.
    public let embedDim: Int?
    /// Blocks per Hiera stage, split where a block projects to a wider dimension.
    public let stages: [Int]

    /// The official config name (`sam2.1_hiera_t`), or "unknown".
    public var name: String {
        guard let family, let size else { return "unknown" }
        return "\(family.rawValue)_hiera_\(size.rawValue)"
    }

    public var description: String { name }

    /// Infers the config from a name → shape map (e.g. `Checkpoint.shapes`).
    public static func infer(shapes: [String: [Int]]) -> InferredModelConfig {
        let trunk = "image_encoder.trunk.blocks."
        var blocks = Set<Int>(), widening = Set<Int>()
        for key in shapes.keys where key.hasPrefix(trunk) {
            let rest = key.dropFirst(trunk.count)
            guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]) else { continue }
            blocks.insert(i)
            // In Hiera only the first block of a new stage has `proj` (dim → dim_out); attention has `attn.proj`.
            if rest[rest.index(after: dot)...] == "proj.weight" { widening.insert(i) }
        }
        var stages: [Int] = []
        if let last = blocks.max(), blocks.count == last + 1 {
            let starts = [0] + widening.sorted().filter { $0 > 0 }
            for (j, s) in starts.enumerated() { stages.append((j + 1 < starts.count ? starts[j + 1] : last + 1) - s) }
        }
        let embedDim = shapes["image_encoder.trunk.patch_embed.proj.weight"]?.first
        let size = Size.allCases.first { $0.embedDim == embedDim && $0.stages == stages }

        let core = ["sam_mask_decoder.iou_token.weight", "sam_prompt_encoder.point_embeddings.0.weight",
                    "memory_encoder.out_proj.weight", "memory_attention.layers.0.self_attn.q_proj.weight",
                    "maskmem_tpos_enc", "no_obj_ptr"]
        let v21 = ["no_obj_embed_spatial", "obj_ptr_tpos_proj.weight", "obj_ptr_tpos_proj.bias"].map { shapes[$0] != nil }
        var family: Family? = nil
        if core.allSatisfy({ shapes[$0] != nil }) {
            if v21.allSatisfy({ $0 }) { family = .sam2_1 } else if !v21.contains(true) { family = .sam2 }
        }
        return InferredModelConfig(family: family, size: size, embedDim: embedDim, stages: stages)
    }

    /// Infers the config of a loaded checkpoint.
    public static func infer(_ checkpoint: Checkpoint) -> InferredModelConfig { infer(shapes: checkpoint.shapes) }
}
