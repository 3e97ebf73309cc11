import Foundation

/// Errors building a Hiera trunk / image encoder config or running it on an input it cannot take.
public enum HieraError: Error, CustomStringConvertible, Equatable {
    /// A config field is out of range (names the field and why).
    case invalidConfig(field: String, reason: String)
    /// The checkpoint's trunk matches no official size and the config cannot be read from its shapes alone.
    case unknownTrunk(prefix: String, embedDim: Int?, stages: [Int])
    /// The input tensor does not fit the model (names the expected layout).
    case invalidInput(shape: [Int], expected: String)

    public var description: String {
        switch self {
        case let .invalidConfig(field, reason): return "HieraConfig.\(field): \(reason)"
        case let .unknownTrunk(prefix, embedDim, stages):
            return "\(prefix): trunk (embed_dim \(embedDim.map(String.init) ?? "missing"), stages \(stages)) matches no "
                + "official Hiera size (t, s, b+, l); pass a HieraConfig explicitly"
        case let .invalidInput(shape, expected): return "image encoder input \(shape): expected \(expected)"
        }
    }
}

/// Hyper-parameters of the official `Hiera` trunk (sam2/modeling/backbones/hieradet.py), named as its
/// constructor arguments; the defaults are the constructor's defaults (which the b+ configs rely on).
public struct HieraConfig: Sendable, Equatable {
    /// `embed_dim`: channels after the patch embedding (first stage).
    public var embedDim: Int
    /// `num_heads`: attention heads of the first stage.
    public var numHeads: Int
    /// `stages`: blocks per stage.
    public var stages: [Int]
    /// `q_pool`: how many stage transitions pool the query (and so halve the resolution).
    public var qPool: Int
    /// `q_stride`: max-pool kernel and stride (rows, columns) at those transitions.
    public var qStride: [Int]
    /// `window_spec`: attention window size per stage.
    public var windowSpec: [Int]
    /// `global_att_blocks`: blocks that attend over the whole token grid instead of windows.
    public var globalAttBlocks: [Int]
    /// `window_pos_embed_bkg_spatial_size`: (h, w) of the interpolated background `pos_embed`.
    public var windowPosEmbedBkgSpatialSize: [Int]
    /// `mlp_ratio` of the block MLPs.
    public var mlpRatio: Double
    /// `dim_mul`: channel multiplier at each stage transition.
    public var dimMul: Double
    /// `head_mul`: head-count multiplier at each stage transition.
    public var headMul: Double
    /// `return_interm_layers`: output every stage end (true) or only the last.
    public var returnIntermLayers: Bool

    /// Creates a config; arguments as the official `Hiera.__init__` (its defaults included).
    public init(embedDim: Int = 96, numHeads: Int = 1, stages: [Int] = [2, 3, 16, 3], qPool: Int = 3,
                qStride: [Int] = [2, 2], windowSpec: [Int] = [8, 4, 14, 7], globalAttBlocks: [Int] = [12, 16, 20],
                windowPosEmbedBkgSpatialSize: [Int] = [14, 14], mlpRatio: Double = 4, dimMul: Double = 2,
                headMul: Double = 2, returnIntermLayers: Bool = true) {
        self.embedDim = embedDim
        self.numHeads = numHeads
        self.stages = stages
        self.qPool = qPool
        self.qStride = qStride
        self.windowSpec = windowSpec
        self.globalAttBlocks = globalAttBlocks
        self.windowPosEmbedBkgSpatialSize = windowPosEmbedBkgSpatialSize
        self.mlpRatio = mlpRatio
        self.dimMul = dimMul
        self.headMul = headMul
        self.returnIntermLayers = returnIntermLayers
    }

    /// configs/sam2{,.1}/sam2*_hiera_t.yaml (identical trunk in both releases).
    public static let tiny = HieraConfig(embedDim: 96, numHeads: 1, stages: [1, 2, 7, 2], globalAttBlocks: [5, 7, 9],
                                         windowPosEmbedBkgSpatialSize: [7, 7])
    /// configs/sam2{,.1}/sam2*_hiera_s.yaml.
    public static let small = HieraConfig(embedDim: 96, numHeads: 1, stages: [1, 2, 11, 2], globalAttBlocks: [7, 10, 13],
                                          windowPosEmbedBkgSpatialSize: [7, 7])
    /// configs/sam2{,.1}/sam2*_hiera_b+.yaml: only embed_dim 112 and 2 heads; everything else is the default.
    public static let basePlus = HieraConfig(embedDim: 112, numHeads: 2)
    /// configs/sam2{,.1}/sam2*_hiera_l.yaml.
    public static let large = HieraConfig(embedDim: 144, numHeads: 2, stages: [2, 6, 36, 4], windowSpec: [8, 4, 16, 8],
                                          globalAttBlocks: [23, 33, 43], windowPosEmbedBkgSpatialSize: [7, 7])

    /// The official trunk of a model size.
    public static func official(_ size: InferredModelConfig.Size) -> HieraConfig {
        switch size {
        case .tiny: return .tiny
        case .small: return .small
        case .basePlus: return .basePlus
        case .large: return .large
        }
    }

    /// The official trunk whose parameter shapes the state dict has under `prefix` (e.g. "image_encoder.trunk");
    /// Hiera's head counts and global blocks leave no trace in shapes, so only the four official sizes are known.
    public static func inferred(shapes: [String: [Int]], prefix: String = "image_encoder.trunk") throws -> HieraConfig {
        // InferredModelConfig reads "image_encoder.trunk.…"; re-root the keys when the trunk sits elsewhere.
        let root = "image_encoder.trunk"
        var rerooted = shapes
        if prefix != root {
            rerooted = [:]
            for (k, v) in shapes where k.hasPrefix(prefix + ".") { rerooted[root + k.dropFirst(prefix.count)] = v }
        }
        let inferred = InferredModelConfig.infer(shapes: rerooted)
        guard let size = inferred.size else {
            throw HieraError.unknownTrunk(prefix: prefix, embedDim: inferred.embedDim, stages: inferred.stages)
        }
        return official(size)
    }

    /// Blocks in total.
    public var depth: Int { stages.reduce(0, +) }
    /// Index of the last block of each stage (`stage_ends`).
    public var stageEnds: [Int] { stages.indices.map { stages.prefix($0 + 1).reduce(0, +) - 1 } }
    /// Blocks that pool their query (`q_pool_blocks`): the first block of stages 2…(q_pool+1).
    public var qPoolBlocks: [Int] { Array(stageEnds.dropLast().map { $0 + 1 }.prefix(Swift.max(0, qPool))) }

    /// What one `MultiScaleBlock` is built with.
    public struct Block: Sendable, Equatable {
        public var dim: Int
        public var dimOut: Int
        public var numHeads: Int
        /// 0 for global attention.
        public var windowSize: Int
        /// (rows, columns) of the query max-pool, nil when the block does not pool.
        public var qStride: [Int]?
        public var mlpRatio: Double
    }

    /// The per-block settings exactly as `Hiera.__init__` derives them (the window size lags a block behind a
    /// stage change: the first block of a stage still uses the previous stage's window).
    public var blocks: [Block] {
        var result: [Block] = []
        var dim = embedDim, heads = numHeads, stage = 1
        let ends = stageEnds, pools = qPoolBlocks
        for i in 0..<depth {
            var dimOut = dim
            var window = stage - 1 < windowSpec.count ? windowSpec[stage - 1] : 0  // validate() rejects the mismatch
            if globalAttBlocks.contains(i) { window = 0 }
            if ends.contains(i - 1) {
                dimOut = Int(Double(dim) * dimMul)
                heads = Int(Double(heads) * headMul)
                stage += 1
            }
            result.append(Block(dim: dim, dimOut: dimOut, numHeads: heads, windowSize: window,
                                qStride: pools.contains(i) ? qStride : nil, mlpRatio: mlpRatio))
            dim = dimOut
        }
        return result
    }

    /// Output channels of the returned stages, deepest first (`channel_list`, the neck's `backbone_channel_list`).
    public var channelList: [Int] {
        let b = blocks
        if b.isEmpty { return [] }
        return returnIntermLayers ? stageEnds.reversed().map { b[$0].dimOut } : [b[b.count - 1].dimOut]
    }

    /// Checks what the official constructor asserts, and what this implementation needs.
    public func validate() throws {
        func bad(_ field: String, _ reason: String) -> HieraError { .invalidConfig(field: field, reason: reason) }
        if embedDim < 1 { throw bad("embedDim", "must be ≥ 1, got \(embedDim)") }
        if numHeads < 1 { throw bad("numHeads", "must be ≥ 1, got \(numHeads)") }
        if stages.isEmpty || stages.contains(where: { $0 < 1 }) { throw bad("stages", "need ≥ 1 block per stage, got \(stages)") }
        if windowSpec.count != stages.count {
            throw bad("windowSpec", "needs one entry per stage (\(stages.count)), got \(windowSpec)")
        }
        if windowSpec.contains(where: { $0 < 0 }) || windowSpec.first.map({ $0 < 1 }) ?? true {
            throw bad("windowSpec", "sizes must be ≥ 0 and the first ≥ 1 (it sizes pos_embed_window), got \(windowSpec)")
        }
        if !(0...(stages.count - 1)).contains(qPool) { throw bad("qPool", "must be in 0...\(stages.count - 1), got \(qPool)") }
        if qStride.count != 2 || qStride.contains(where: { $0 < 1 }) { throw bad("qStride", "needs two sizes ≥ 1, got \(qStride)") }
        if windowPosEmbedBkgSpatialSize.count != 2 || windowPosEmbedBkgSpatialSize.contains(where: { $0 < 1 }) {
            throw bad("windowPosEmbedBkgSpatialSize", "needs two sizes ≥ 1, got \(windowPosEmbedBkgSpatialSize)")
        }
        if mlpRatio <= 0 { throw bad("mlpRatio", "must be > 0, got \(mlpRatio)") }
        for (i, b) in blocks.enumerated() {
            if b.dimOut < 1 || b.numHeads < 1 || b.dimOut % b.numHeads != 0 {
                throw bad("dimMul/headMul", "block \(i) gets \(b.dimOut) channels for \(b.numHeads) heads")
            }
            // The official block adds the pooled attention output to an unpooled shortcut unless dim changes.
            if b.qStride != nil && b.dim == b.dimOut {
                throw bad("dimMul", "block \(i) pools its query but keeps \(b.dim) channels (the official block fails there)")
            }
        }
    }
}
