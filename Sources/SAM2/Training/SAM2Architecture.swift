import Foundation

/// The sizes of a SAM 2 model to train from scratch (the arguments of the official config YAML that differ between
/// sizes). Stored as JSON in the metadata of every checkpoint the trainer writes, so the inference side can load a
/// model whose trunk is not one of the released four without being told its window spec or input size.
public struct SAM2Architecture: Codable, Sendable, Equatable {
    /// Side of the square input (256 or 512 for small models).
    public var imageSize: Int
    /// Hiera `embed_dim`, `num_heads`, `stages`, `window_spec`, `global_att_blocks`,
    /// `window_pos_embed_bkg_spatial_size` (q_pool 3, q_stride 2, mlp_ratio 4 as the official trunk).
    public var hieraEmbedDim: Int
    public var hieraNumHeads: Int
    public var hieraStages: [Int]
    public var hieraWindowSpec: [Int]
    public var hieraGlobalAttBlocks: [Int]
    public var hieraWindowPosEmbedBkgSpatialSize: [Int]
    /// Hidden dim of neck, prompt encoder, mask decoder and memory attention (256 released).
    public var hiddenDim: Int
    /// Memory feature dim (64 released).
    public var memDim: Int
    /// Memory-attention layers and MLP width (4 and 2048 released).
    public var memoryAttentionLayers: Int
    public var memoryAttentionFeedforward: Int
    /// Temporal memory slots (`num_maskmem`, 7 released).
    public var numMaskmem: Int

    /// An architecture from its sizes (argument names as the fields).
    public init(imageSize: Int, hieraEmbedDim: Int, hieraNumHeads: Int, hieraStages: [Int], hieraWindowSpec: [Int],
                hieraGlobalAttBlocks: [Int], hieraWindowPosEmbedBkgSpatialSize: [Int], hiddenDim: Int, memDim: Int,
                memoryAttentionLayers: Int, memoryAttentionFeedforward: Int, numMaskmem: Int) {
        self.imageSize = imageSize; self.hieraEmbedDim = hieraEmbedDim; self.hieraNumHeads = hieraNumHeads
        self.hieraStages = hieraStages; self.hieraWindowSpec = hieraWindowSpec; self.hieraGlobalAttBlocks = hieraGlobalAttBlocks
        self.hieraWindowPosEmbedBkgSpatialSize = hieraWindowPosEmbedBkgSpatialSize; self.hiddenDim = hiddenDim; self.memDim = memDim
        self.memoryAttentionLayers = memoryAttentionLayers; self.memoryAttentionFeedforward = memoryAttentionFeedforward
        self.numMaskmem = numMaskmem
    }

    /// The embedded default model: 256² input, a 6-block Hiera at width 16, hidden 64, memory 32, 2 memory-attention
    /// layers; the SAM heads keep the official hard-coded sizes (two-way MLP 2048, 8 heads, IoU head 256).
    public static let embedded = SAM2Architecture(
        imageSize: 256, hieraEmbedDim: 16, hieraNumHeads: 1, hieraStages: [1, 2, 2, 1], hieraWindowSpec: [8, 4, 16, 8],
        hieraGlobalAttBlocks: [4], hieraWindowPosEmbedBkgSpatialSize: [8, 8], hiddenDim: 64, memDim: 32,
        memoryAttentionLayers: 2, memoryAttentionFeedforward: 256, numMaskmem: 7)

    /// Metadata key under which checkpoints carry the architecture as JSON.
    public static let metadataKey = "sam2_workbench_architecture"

    /// The Hiera trunk.
    public var trunk: HieraConfig {
        HieraConfig(embedDim: hieraEmbedDim, numHeads: hieraNumHeads, stages: hieraStages, windowSpec: hieraWindowSpec,
                    globalAttBlocks: hieraGlobalAttBlocks, windowPosEmbedBkgSpatialSize: hieraWindowPosEmbedBkgSpatialSize)
    }

    /// Trunk + FPN neck (d_model = hidden dim, official top-down levels and scalp).
    public var encoder: HieraImageEncoder.Config {
        HieraImageEncoder.Config(trunk: trunk, neck: FpnNeck.Config(dModel: hiddenDim, backboneChannelList: trunk.channelList))
    }

    /// Memory attention (RoPE on the stride-16 grid).
    public var memoryAttention: MemoryAttentionConfig {
        var c = MemoryAttentionConfig(dModel: hiddenDim, kvInDim: memDim, featSizes: [imageSize / 16, imageSize / 16])
        c.numLayers = memoryAttentionLayers
        c.dimFeedforward = memoryAttentionFeedforward
        return c
    }

    /// Mask decoder (official defaults at this hidden dim).
    public var decoder: MaskDecoderConfig { MaskDecoderConfig(transformerDim: hiddenDim) }

    /// Memory encoder.
    public var memoryEncoder: MemoryEncoderConfig { MemoryEncoderConfig(inDim: hiddenDim, outDim: memDim) }

    /// Every state-dict key and shape of this model (official names, SAM 2.1 layout).
    public var stateDictShapes: [String: [Int]] {
        RandomCheckpoint.sam2Shapes(encoder: encoder, memoryAttention: memoryAttention, decoder: decoder, numMaskmem: numMaskmem)
    }

    /// Checks the sizes are usable; throws naming the field.
    public func validate() throws {
        func bad(_ f: String, _ r: String) -> HieraError { .invalidConfig(field: f, reason: r) }
        guard imageSize > 0, imageSize % 32 == 0 else { throw bad("imageSize", "a positive multiple of 32 expected, got \(imageSize)") }
        guard hieraStages.count == 4, hieraStages.allSatisfy({ $0 > 0 }) else { throw bad("hieraStages", "4 positive counts expected, got \(hieraStages)") }
        guard hieraWindowSpec.count == 4 else { throw bad("hieraWindowSpec", "4 sizes expected, got \(hieraWindowSpec)") }
        guard hiddenDim % 8 == 0, hiddenDim >= 16 else { throw bad("hiddenDim", "a multiple of 8 ≥ 16 expected, got \(hiddenDim)") }
        guard memDim > 0, hiddenDim % memDim == 0 else { throw bad("memDim", "must divide hiddenDim \(hiddenDim), got \(memDim)") }
        guard numMaskmem >= 1 else { throw bad("numMaskmem", "≥ 1 expected, got \(numMaskmem)") }
        guard memoryAttentionLayers >= 1, memoryAttentionFeedforward >= 1 else {
            throw bad("memoryAttentionLayers", "≥ 1 layer with a positive feed-forward width expected")
        }
    }

    /// JSON text (for checkpoint metadata and model cards).
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The architecture recorded in a checkpoint's metadata, nil when it has none.
    public static func recorded(in checkpoint: Checkpoint) throws -> SAM2Architecture? {
        guard let text = checkpoint.metadata[metadataKey] else { return nil }
        do { return try JSONDecoder().decode(SAM2Architecture.self, from: Data(text.utf8)) }
        catch { throw CheckpointError.badHeader(path: checkpoint.path, reason: "metadata \(metadataKey) is not a SAM2Architecture JSON: \(error)") }
    }
}
