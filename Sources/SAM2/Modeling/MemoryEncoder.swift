import Foundation

/// Sizes of the official memory encoder (the `memory_encoder` block of the model yaml).
public struct MemoryEncoderConfig: Sendable, Equatable {
    /// `in_dim`: channels of the frame features (the hidden dim, 256 released); also the mask downsampler's
    /// `embed_dim` and the fuser's `dim`.
    public var inDim = 256
    /// `out_dim`: the memory dim (64 released); equal to `inDim` means no `out_proj`.
    public var outDim = 64
    /// MaskDownSampler convolutions.
    public var maskKernelSize = 3
    public var maskStride = 2
    public var maskPadding = 1
    public var maskTotalStride = 16
    /// CXBlocks in the fuser.
    public var fuserNumLayers = 2
    public var cxKernelSize = 7
    public var cxPadding = 3
    /// Depthwise (groups = dim) convolution in the CXBlocks.
    public var cxUseDwconv = true

    /// The released configuration at the given sizes.
    public init(inDim: Int = 256, outDim: Int = 64) {
        self.inDim = inDim
        self.outDim = outDim
    }
}

/// Official `MaskDownSampler` (modeling/memory_encoder.py): log_stride(total_stride) × (conv → LayerNorm2d → GELU),
/// each conv multiplying the channels by stride², then a 1×1 conv to `embedDim`.
public struct MaskDownSampler: Sendable {
    public var convs: [Conv2d]
    public var norms: [LayerNorm2d]
    /// The final 1×1 conv.
    public var proj: Conv2d

    /// Reads the `encoder.{i}` Sequential under `w` (conv at 3j, LayerNorm2d at 3j+1, GELU at 3j+2, 1×1 conv last).
    public init(_ w: Weights, embedDim: Int = 256, kernelSize: Int = 4, stride: Int = 4, padding: Int = 0,
                totalStride: Int = 16) throws {
        var layers = 0, reach = 1
        while reach < totalStride { reach *= stride; layers += 1 }
        precondition(stride >= 2 && reach == totalStride,
                     "MaskDownSampler: total_stride \(totalStride) is not a power of stride \(stride)")
        var inCh = 1, outCh = 1
        convs = []; norms = []
        for j in 0..<layers {
            outCh = inCh * stride * stride
            convs.append(try Conv2d(w.scoped("encoder.\(3 * j)"), inChannels: inCh, outChannels: outCh,
                                    kernelSize: kernelSize, stride: stride, padding: padding))
            norms.append(try LayerNorm2d(w.scoped("encoder.\(3 * j + 1)"), channels: outCh))
            inCh = outCh
        }
        proj = try Conv2d(w.scoped("encoder.\(3 * layers)"), inChannels: outCh, outChannels: embedDim, kernelSize: 1)
    }

    /// [N, 1, H, W] → [N, embedDim, H/total_stride, W/total_stride].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (conv, norm) in zip(convs, norms) {
            h = conv(h).layerNorm2d(weight: norm.weight, bias: norm.bias, eps: norm.eps, then: .gelu)
        }
        return proj(h)
    }
}

/// Official `CXBlock` (ConvNeXt block): depthwise conv → LayerNorm2d (eps 1e-6) → channels-last pwconv1 → GELU →
/// pwconv2 → layer scale `gamma` → residual.
public struct CXBlock: Sendable {
    public var dwconv: Conv2d
    public var norm: LayerNorm2d
    public var pwconv1: Linear
    public var pwconv2: Linear
    /// Layer scale [dim] (absent when the block was built with layer_scale_init_value 0).
    public var gamma: Tensor?

    /// Reads `dwconv`, `norm`, `pwconv1`, `pwconv2`, optional `gamma` under `w`.
    public init(_ w: Weights, dim: Int, kernelSize: Int = 7, padding: Int = 3, useDwconv: Bool = true) throws {
        dwconv = try Conv2d(w.scoped("dwconv"), inChannels: dim, outChannels: dim, kernelSize: kernelSize,
                            padding: padding, groups: useDwconv ? dim : 1)
        norm = try LayerNorm2d(w.scoped("norm"), channels: dim, eps: 1e-6)
        pwconv1 = try Linear(w.scoped("pwconv1"), inFeatures: dim, outFeatures: 4 * dim)
        pwconv2 = try Linear(w.scoped("pwconv2"), inFeatures: 4 * dim, outFeatures: dim)
        gamma = try w.optional("gamma", shape: [dim])
    }

    /// [N, dim, H, W] → same shape.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = norm(dwconv(x))
        precondition(x.rank == 4 && h.shape == x.shape, "CXBlock: expected [N, \(pwconv1.inFeatures), H, W], got \(x.shape)")
        return pointwiseResidual(x, normed: h)
    }

    /// x + gamma·pwconv2(gelu(pwconv1(h))) per pixel. The official permutes to (N, H, W, C) so the pointwise
    /// convs are Linear layers; here they are GEMMs on the channels-first planes (W1·h[:, pixels]), so nothing is
    /// permuted, and they run per tile of pixels so the 4·dim hidden rows stay cache-sized.
    private func pointwiseResidual(_ x: Tensor, normed h: Tensor) -> Tensor {
        let (n, c, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let hidden = pwconv1.outFeatures
        if x.count == 0 { return x }
        // 512 pixels: the hidden tile is 2 MiB at dim 256, and W1 is re-packed by OpenBLAS once per 512 columns.
        let tile = Swift.min(plane, 512)
        let tilesPerImage = (plane + tile - 1) / tile
        let ones = Tensor(shape: [c], repeating: 1)
        let b1 = pwconv1.bias ?? Tensor(shape: [hidden], repeating: 0), b2 = pwconv2.bias ?? Tensor(shape: [c], repeating: 0)
        return Tensor(shape: x.shape) { out in
            withPointers([x, h, pwconv1.weight, b1, pwconv2.weight, b2, gamma ?? ones]) { p in
                let xp = p[0], hp = p[1], w1 = p[2], b1p = p[3], w2 = p[4], b2p = p[5], g = p[6]
                let o = out.baseAddress!
                Parallel.forChunks(n * tilesPerImage, grain: 1) { tasks in
                    // Assumes scratch holds the hidden tile [hidden, tile] and the output tile [c, tile].
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: (hidden + c) * tile)
                    defer { scratch.deallocate() }
                    let hid = scratch, y = scratch + hidden * tile
                    for task in tasks {
                        let (b, t) = task.quotientAndRemainder(dividingBy: tilesPerImage)
                        let p0 = t * tile, len = Swift.min(tile, plane - p0)
                        let base = b * c * plane + p0
                        Tensor.sgemm(m: hidden, n: len, k: c, a: w1, lda: c, b: hp + base, ldb: plane,
                                     c: hid, ldc: len)
                        for j in 0..<hidden {
                            let row = hid + j * len, bj = b1p[j]
                            for i in 0..<len { row[i] = FastMath.gelu(row[i] + bj) }
                        }
                        Tensor.sgemm(m: c, n: len, k: hidden, a: w2, lda: hidden, b: hid, ldb: len, c: y, ldc: len)
                        for ch in 0..<c {
                            let src = xp + base + ch * plane, dst = o + base + ch * plane, yr = y + ch * len
                            let gc = g[ch], bc = b2p[ch]
                            for i in 0..<len { dst[i] = src[i] + gc * (yr[i] + bc) }
                        }
                    }
                }
            }
        }
    }
}

/// Official `Fuser`: a stack of CXBlocks (the released models use no input projection, `proj` = Identity).
public struct Fuser: Sendable {
    public var layers: [CXBlock]

    /// Reads `layers.{i}` under `w`.
    public init(_ w: Weights, dim: Int, numLayers: Int, kernelSize: Int = 7, padding: Int = 3, useDwconv: Bool = true) throws {
        layers = try (0..<numLayers).map {
            try CXBlock(w.scoped("layers.\($0)"), dim: dim, kernelSize: kernelSize, padding: padding, useDwconv: useDwconv)
        }
    }

    /// [N, dim, H, W] → same shape.
    public func callAsFunction(_ x: Tensor) -> Tensor { layers.reduce(x) { $1($0) } }
}

/// Official `MemoryEncoder`: fuses a frame's features with its (downsampled) mask into that frame's memory.
public struct MemoryEncoder: Sendable {
    /// The official output dict: `vision_features` and `vision_pos_enc[0]`.
    public struct Output: Sendable {
        /// [N, outDim, h, w] memory features.
        public var visionFeatures: Tensor
        /// [N, outDim, h, w] sine positional encoding of the memory grid.
        public var visionPosEnc: Tensor
    }

    public var maskDownsampler: MaskDownSampler
    public var pixFeatProj: Conv2d
    public var fuser: Fuser
    /// nil when `out_dim == in_dim` (Identity).
    public var outProj: Conv2d?
    public var positionEncoding: PositionEmbeddingSine
    public let config: MemoryEncoderConfig

    /// Reads `mask_downsampler`, `pix_feat_proj`, `fuser`, `out_proj` under `w` (the model's `memory_encoder`).
    public init(_ w: Weights, config c: MemoryEncoderConfig = MemoryEncoderConfig()) throws {
        maskDownsampler = try MaskDownSampler(w.scoped("mask_downsampler"), embedDim: c.inDim, kernelSize: c.maskKernelSize,
                                              stride: c.maskStride, padding: c.maskPadding, totalStride: c.maskTotalStride)
        pixFeatProj = try Conv2d(w.scoped("pix_feat_proj"), inChannels: c.inDim, outChannels: c.inDim, kernelSize: 1)
        fuser = try Fuser(w.scoped("fuser"), dim: c.inDim, numLayers: c.fuserNumLayers, kernelSize: c.cxKernelSize,
                          padding: c.cxPadding, useDwconv: c.cxUseDwconv)
        outProj = c.outDim == c.inDim ? nil
            : try Conv2d(w.scoped("out_proj"), inChannels: c.inDim, outChannels: c.outDim, kernelSize: 1)
        positionEncoding = PositionEmbeddingSine(numPosFeats: c.outDim)
        config = c
    }

    /// pixFeat [N, inDim, h, w], masks [N, 1, h·s, w·s] (s = total stride; logits unless `skipMaskSigmoid`).
    public func callAsFunction(pixFeat: Tensor, masks: Tensor, skipMaskSigmoid: Bool = false) -> Output {
        let m = maskDownsampler(skipMaskSigmoid ? masks : masks.sigmoid())
        precondition(m.shape == [pixFeat.shape[0], config.inDim] + pixFeat.shape.suffix(2),
                     "MemoryEncoder: masks \(masks.shape) downsample to \(m.shape), features are \(pixFeat.shape)")
        var x = pixFeatProj(pixFeat)
        x += m
        x = fuser(x)
        if let outProj { x = outProj(x) }
        return Output(visionFeatures: x, visionPosEnc: positionEncoding(x))
    }
}
