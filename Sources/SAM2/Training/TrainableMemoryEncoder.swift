import Foundation

/// Differentiable official `MemoryEncoder` (modeling/memory_encoder.py): MaskDownSampler, pix_feat_proj, Fuser of
/// CXBlocks (depthwise conv, LayerNorm2d, pointwise MLP, layer scale `gamma`), out_proj — the same parameters as the
/// inference `MemoryEncoder`. The CXBlocks' drop_path is 0 in the official config too.
public struct TrainableMemoryEncoder {
    /// A conv's parameters and hyper-parameters.
    public struct Conv {
        public let weight: Variable
        public let bias: Variable?
        public let stride: Int, padding: Int, groups: Int

        init(_ p: ParameterScope, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
             groups: Int = 1) throws {
            weight = try p("weight", shape: [outChannels, inChannels / groups, kernelSize, kernelSize])
            bias = try p("bias", shape: [outChannels])
            self.stride = stride; self.padding = padding; self.groups = groups
        }

        func callAsFunction(_ x: Variable) -> Variable {
            x.conv2d(weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding), groups: groups)
        }
    }

    /// An affine norm over the last dim (LayerNorm2d applied channels-last).
    public struct Norm {
        public let weight: Variable, bias: Variable
        public let eps: Float

        init(_ p: ParameterScope, dim: Int, eps: Float) throws {
            weight = try p("weight", shape: [dim]); bias = try p("bias", shape: [dim]); self.eps = eps
        }

        /// Over the last dim.
        func callAsFunction(_ x: Variable) -> Variable { x.layerNorm(weight: weight, bias: bias, eps: eps) }

        /// SAM's LayerNorm2d on [N, C, H, W]: normalise channels per pixel (via channels-last).
        func channelsFirst(_ x: Variable) -> Variable { self(x.permuted([0, 2, 3, 1])).permuted([0, 3, 1, 2]) }
    }

    /// Official `CXBlock`.
    public struct CXBlock {
        public let dwconv: Conv
        public let norm: Norm
        public let pwconv1Weight: Variable, pwconv1Bias: Variable
        public let pwconv2Weight: Variable, pwconv2Bias: Variable
        /// Layer scale (absent when built with layer_scale_init_value 0).
        public let gamma: Variable?

        init(_ p: ParameterScope, dim: Int, kernelSize: Int, padding: Int, useDwconv: Bool) throws {
            dwconv = try Conv(p.scoped("dwconv"), inChannels: dim, outChannels: dim, kernelSize: kernelSize,
                              padding: padding, groups: useDwconv ? dim : 1)
            norm = try Norm(p.scoped("norm"), dim: dim, eps: 1e-6)
            pwconv1Weight = try p("pwconv1.weight", shape: [4 * dim, dim]); pwconv1Bias = try p("pwconv1.bias", shape: [4 * dim])
            pwconv2Weight = try p("pwconv2.weight", shape: [dim, 4 * dim]); pwconv2Bias = try p("pwconv2.bias", shape: [dim])
            gamma = try p.optional("gamma", shape: [dim])
        }

        /// [N, dim, H, W] → same shape: x + gamma·pwconv2(gelu(pwconv1(norm(dwconv(x))))) channels-last.
        func callAsFunction(_ x: Variable) -> Variable {
            var h = norm(dwconv(x).permuted([0, 2, 3, 1]))
            h = h.linear(weight: pwconv1Weight, bias: pwconv1Bias).gelu().linear(weight: pwconv2Weight, bias: pwconv2Bias)
            if let gamma { h = h * gamma }
            return x + h.permuted([0, 3, 1, 2])
        }
    }

    public let config: MemoryEncoderConfig
    /// MaskDownSampler: conv → LayerNorm2d → GELU per stage, then a 1×1 conv (`encoder.{3j}`, `{3j+1}`, last).
    public let maskConvs: [Conv]
    public let maskNorms: [Norm]
    public let maskProj: Conv
    public let pixFeatProj: Conv
    public let fuser: [CXBlock]
    /// nil when out_dim == in_dim (Identity).
    public let outProj: Conv?
    private let positionEncoding: PositionEmbeddingSine

    /// Reads `mask_downsampler`, `pix_feat_proj`, `fuser`, `out_proj` under `parameters` (= store.scope("memory_encoder")).
    public init(config c: MemoryEncoderConfig, parameters p: ParameterScope) throws {
        config = c
        var layers = 0, reach = 1
        while reach < c.maskTotalStride { reach *= c.maskStride; layers += 1 }
        guard c.maskStride >= 2, reach == c.maskTotalStride else {
            throw TrainableMemoryError.mismatch("TrainableMemoryEncoder: total_stride \(c.maskTotalStride) is not a power of stride \(c.maskStride)")
        }
        let md = p.scoped("mask_downsampler")
        var convs: [Conv] = [], norms: [Norm] = []
        var inCh = 1
        for j in 0..<layers {
            let outCh = inCh * c.maskStride * c.maskStride
            convs.append(try Conv(md.scoped("encoder.\(3 * j)"), inChannels: inCh, outChannels: outCh,
                                  kernelSize: c.maskKernelSize, stride: c.maskStride, padding: c.maskPadding))
            norms.append(try Norm(md.scoped("encoder.\(3 * j + 1)"), dim: outCh, eps: 1e-6))
            inCh = outCh
        }
        maskConvs = convs; maskNorms = norms
        maskProj = try Conv(md.scoped("encoder.\(3 * layers)"), inChannels: inCh, outChannels: c.inDim, kernelSize: 1)
        pixFeatProj = try Conv(p.scoped("pix_feat_proj"), inChannels: c.inDim, outChannels: c.inDim, kernelSize: 1)
        fuser = try (0..<c.fuserNumLayers).map {
            try CXBlock(p.scoped("fuser.layers.\($0)"), dim: c.inDim, kernelSize: c.cxKernelSize, padding: c.cxPadding,
                        useDwconv: c.cxUseDwconv)
        }
        outProj = c.outDim == c.inDim ? nil
            : try Conv(p.scoped("out_proj"), inChannels: c.inDim, outChannels: c.outDim, kernelSize: 1)
        positionEncoding = PositionEmbeddingSine(numPosFeats: c.outDim)
    }

    /// The MaskDownSampler: [N, 1, H, W] → [N, inDim, H/total_stride, W/total_stride].
    public func downsampleMask(_ masks: Variable) -> Variable {
        var h = masks
        for (conv, norm) in zip(maskConvs, maskNorms) { h = norm.channelsFirst(conv(h)).gelu() }
        return maskProj(h)
    }

    /// pixFeat [B, C, h, w]; masks [B, 1, S, S] already sigmoid-scaled (skip_mask_sigmoid=True as SAM2Base calls
    /// it) → features [B, memDim, h, w] and the sine position encoding of the memory grid (constant).
    public func callAsFunction(pixFeat: Variable, masks: Variable) throws -> (features: Variable, posEnc: Tensor) {
        guard pixFeat.value.rank == 4, pixFeat.shape[1] == config.inDim, masks.value.rank == 4, masks.shape[1] == 1,
              masks.shape[0] == pixFeat.shape[0],
              masks.shape[2] == pixFeat.shape[2] * config.maskTotalStride,
              masks.shape[3] == pixFeat.shape[3] * config.maskTotalStride else {
            throw TrainableMemoryError.mismatch("TrainableMemoryEncoder: masks \(masks.shape) do not fit features \(pixFeat.shape) (in_dim \(config.inDim), total stride \(config.maskTotalStride))")
        }
        var x = pixFeatProj(pixFeat) + downsampleMask(masks)
        for block in fuser { x = block(x) }
        if let outProj { x = outProj(x) }
        return (x, positionEncoding(x.value))
    }
}
