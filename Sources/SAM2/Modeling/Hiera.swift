import Foundation

/// Official `PatchEmbed` (backbones/utils.py): Conv2d(3 → embed_dim, 7×7, stride 4, padding 3), output
/// channels-last [B, H/4, W/4, C].
public struct PatchEmbed: Sendable {
    public var proj: Conv2d

    /// Reads `proj.weight` [embedDim, 3, 7, 7] and `proj.bias` under `w`.
    public init(_ w: Weights, embedDim: Int, inChannels: Int = 3) throws {
        proj = try Conv2d(w.scoped("proj"), inChannels: inChannels, outChannels: embedDim, kernelSize: 7, stride: 4,
                          padding: 3)
    }

    /// [B, 3, H, W] → [B, ⌈H/4⌉, ⌈W/4⌉, C].
    public func callAsFunction(_ x: Tensor) -> Tensor { proj(x).permuted([0, 2, 3, 1]) }
}

/// The official Hiera trunk (backbones/hieradet.py): patch embedding, windowed absolute positional embedding,
/// `MultiScaleBlock`s, and the stage-end features in NCHW.
public struct Hiera: Sendable {
    public let config: HieraConfig
    public var patchEmbed: PatchEmbed
    /// Background positional embedding [1, C, bh, bw], bicubically resized to the token grid.
    public var posEmbed: Tensor
    /// Window positional embedding [1, C, ws, ws], tiled over the token grid.
    public var posEmbedWindow: Tensor
    public var blocks: [MultiScaleBlock]
    private let posCache = TensorCache()

    /// Reads the trunk's parameters under `w` (e.g. `Weights(ckpt, prefix: "image_encoder.trunk")`).
    public init(_ w: Weights, config: HieraConfig) throws {
        try config.validate()
        self.config = config
        let c = config.embedDim, ws = config.windowSpec[0], bkg = config.windowPosEmbedBkgSpatialSize
        patchEmbed = try PatchEmbed(w.scoped("patch_embed"), embedDim: c)
        posEmbed = try w("pos_embed", shape: [1, c, bkg[0], bkg[1]])
        posEmbedWindow = try w("pos_embed_window", shape: [1, c, ws, ws])
        blocks = try config.blocks.enumerated().map { i, spec in try MultiScaleBlock(w.scoped("blocks.\(i)"), spec) }
    }

    /// Reads the trunk with the official config its parameter shapes identify (see `HieraConfig.inferred`).
    public init(_ w: Weights) throws {
        try self.init(w, config: HieraConfig.inferred(shapes: w.checkpoint.shapes, prefix: w.prefix))
    }

    /// Token grid (H, W) of the patch embedding for an input of `size` pixels.
    public static func tokenGrid(_ size: (Int, Int)) -> (Int, Int) { ((size.0 - 1) / 4 + 1, (size.1 - 1) / 4 + 1) }

    /// Checks that `x` is [B, 3, H, W] with a token grid the window embedding tiles exactly (PyTorch's `tile`
    /// would fail to broadcast otherwise).
    public func validateInput(_ x: Tensor) throws {
        let ws = config.windowSpec[0]
        guard x.rank == 4, x.shape[0] >= 1, x.shape[1] == 3, x.shape[2] >= 1, x.shape[3] >= 1 else {
            throw HieraError.invalidInput(shape: x.shape, expected: "[B, 3, H, W]")
        }
        let (h, w) = Hiera.tokenGrid((x.shape[2], x.shape[3]))
        guard h % ws == 0, w % ws == 0 else {
            throw HieraError.invalidInput(shape: x.shape, expected: "a token grid ⌈H/4⌉×⌈W/4⌉ (here \(h)×\(w)) divisible "
                                              + "by the window embedding size \(ws), e.g. H, W multiples of \(4 * ws)")
        }
    }

    /// Official `_get_pos_embed`: bicubic(pos_embed → (h, w)) + pos_embed_window tiled, as [1, h, w, C].
    /// Cached per grid size (it does not depend on the image). `h`, `w` must be multiples of the window size.
    public func positionalEmbedding(_ h: Int, _ w: Int) -> Tensor {
        if let hit = posCache.get([h, w]) { return hit }
        let c = config.embedDim, ws = config.windowSpec[0]
        precondition(h % ws == 0 && w % ws == 0, "Hiera.positionalEmbedding: grid \(h)×\(w) not a multiple of \(ws)")
        let bkg = posEmbed.interpolate(size: (h, w), mode: .bicubic)
        let pos = Tensor(shape: [1, h, w, c]) { out in
            bkg.withUnsafeBufferPointer { bp in
                posEmbedWindow.withUnsafeBufferPointer { wp in
                    // Assumes bkg is [1, C, h, w] and the window [1, C, ws, ws], both contiguous.
                    let b = bp.baseAddress!, win = wp.baseAddress!, o = out.baseAddress!
                    Parallel.forChunks(h, grain: Swift.max(1, 16384 / Swift.max(1, w * c))) { rows in
                        for y in rows {
                            for x in 0..<w {
                                let dst = o + (y * w + x) * c
                                for k in 0..<c {
                                    dst[k] = b[(k * h + y) * w + x] + win[(k * ws + y % ws) * ws + x % ws]
                                }
                            }
                        }
                    }
                }
            }
        }
        posCache.set([h, w], pos)
        return pos
    }

    /// Patch embedding plus positional embedding: [B, 3, H, W] → [B, h, w, C] tokens entering block 0.
    public func embed(_ x: Tensor) throws -> Tensor {
        try validateInput(x)
        var tokens = patchEmbed(x)
        tokens += positionalEmbedding(tokens.shape[1], tokens.shape[2])
        return tokens
    }

    /// The trunk: [B, 3, H, W] → stage-end features [B, C_i, H_i, W_i] (NCHW), highest resolution first
    /// (only the last stage when `returnIntermLayers` is false).
    public func callAsFunction(_ x: Tensor) throws -> [Tensor] {
        var h = try embed(x)
        let ends = config.stageEnds
        var outputs: [Tensor] = []
        for (i, block) in blocks.enumerated() {
            block.forward(&h)
            if i == ends[ends.count - 1] || (config.returnIntermLayers && ends.contains(i)) {
                outputs.append(h.permuted([0, 3, 1, 2]))
            }
        }
        return outputs
    }
}
