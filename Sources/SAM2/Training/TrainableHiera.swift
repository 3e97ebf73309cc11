import Foundation

/// Differentiable official Hiera trunk (backbones/hieradet.py), reading the same parameters as `Hiera`: patch
/// embedding (7×7 conv, stride 4), positional embedding (bicubic-resized `pos_embed` + tiled `pos_embed_window`,
/// both trainable), the `TrainableMultiScaleBlock`s, and the stage-end features in NCHW.
public struct TrainableHiera {
    public let config: HieraConfig
    public let patchEmbedWeight, patchEmbedBias: Variable
    /// Background positional embedding [1, C, bh, bw].
    public let posEmbed: Variable
    /// Window positional embedding [1, C, ws, ws].
    public let posEmbedWindow: Variable
    public let blocks: [TrainableMultiScaleBlock]

    /// Reads the trunk under `p` (e.g. `store.scope("image_encoder.trunk")`); shapes are checked against `config`.
    public init(config: HieraConfig, parameters p: ParameterScope) throws {
        try config.validate()
        self.config = config
        let c = config.embedDim, ws = config.windowSpec[0], bkg = config.windowPosEmbedBkgSpatialSize
        patchEmbedWeight = try p("patch_embed.proj.weight", shape: [c, 3, 7, 7])
        patchEmbedBias = try p("patch_embed.proj.bias", shape: [c])
        posEmbed = try p("pos_embed", shape: [1, c, bkg[0], bkg[1]])
        posEmbedWindow = try p("pos_embed_window", shape: [1, c, ws, ws])
        blocks = try config.blocks.enumerated().map { i, spec in try TrainableMultiScaleBlock(p.scoped("blocks.\(i)"), spec) }
    }

    /// Every parameter of the trunk.
    public var parameters: [Variable] {
        [patchEmbedWeight, patchEmbedBias, posEmbed, posEmbedWindow] + blocks.flatMap(\.parameters)
    }

    /// Official `_get_pos_embed` as [1, h, w, C]: bicubic(pos_embed → (h, w)) + pos_embed_window tiled.
    public func positionalEmbedding(_ h: Int, _ w: Int) -> Variable {
        let c = config.embedDim, ws = config.windowSpec[0]
        precondition(h % ws == 0 && w % ws == 0, "TrainableHiera.positionalEmbedding: grid \(h)×\(w) not a multiple of \(ws)")
        let bkg = posEmbed.interpolate(size: (h, w), mode: .bicubic)
        let tiled = posEmbedWindow.reshaped([1, c, 1, ws, 1, ws]).expanded(to: [1, c, h / ws, ws, w / ws, ws])
            .reshaped([1, c, h, w])
        return (bkg + tiled).permuted([0, 2, 3, 1])
    }

    /// [B, 3, H, W] → [B, h, w, C] tokens entering block 0.
    public func embed(_ x: Variable) throws -> Variable {
        let ws = config.windowSpec[0]
        guard x.value.rank == 4, x.shape[0] >= 1, x.shape[1] == 3 else {
            throw HieraError.invalidInput(shape: x.shape, expected: "[B, 3, H, W]")
        }
        let (h, w) = Hiera.tokenGrid((x.shape[2], x.shape[3]))
        guard h % ws == 0, w % ws == 0 else {
            throw HieraError.invalidInput(shape: x.shape, expected: "a token grid ⌈H/4⌉×⌈W/4⌉ (here \(h)×\(w)) divisible "
                                              + "by the window embedding size \(ws), e.g. H, W multiples of \(4 * ws)")
        }
        let tokens = x.conv2d(weight: patchEmbedWeight, bias: patchEmbedBias, stride: (4, 4), padding: (3, 3))
            .permuted([0, 2, 3, 1])
        return tokens + positionalEmbedding(h, w)
    }

    /// Stage-end features, highest resolution first, channels-last [B, H_i, W_i, C_i] (only the last stage when
    /// `returnIntermLayers` is false). The neck consumes this layout directly.
    public func channelsLastStages(_ x: Variable) throws -> [Variable] {
        var h = try embed(x)
        let ends = config.stageEnds
        var outputs: [Variable] = []
        for (i, block) in blocks.enumerated() {
            h = block(h)
            if i == ends[ends.count - 1] || (config.returnIntermLayers && ends.contains(i)) { outputs.append(h) }
        }
        return outputs
    }

    /// The trunk: [B, 3, H, W] → stage-end features [B, C_i, H_i, W_i] (NCHW), highest resolution first.
    public func callAsFunction(_ x: Variable) throws -> [Variable] {
        try channelsLastStages(x).map { $0.permuted([0, 3, 1, 2]) }
    }
}
