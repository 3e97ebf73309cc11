import Foundation

/// Official `FpnNeck` (backbones/image_encoder.py): a 1×1 lateral conv per trunk level to `d_model` channels,
/// top-down fusion (upsample ×2, sum or average) on `fpn_top_down_levels` only, and a sine position encoding
/// of every output level.
public struct FpnNeck: Sendable {
    /// How a lateral and the upsampled coarser level are combined (`fuse_type`).
    public enum FuseType: String, Sendable { case sum, avg }

    /// Constructor arguments of the official module (the SAM 2 / 2.1 configs all use these defaults except the
    /// channel list).
    public struct Config: Sendable, Equatable {
        /// `d_model`: output channels of every level (and of the position encoding).
        public var dModel: Int
        /// `backbone_channel_list`: trunk channels, deepest level first (the trunk's `channelList`).
        public var backboneChannelList: [Int]
        /// `fpn_top_down_levels`: output levels (0 = highest resolution) that receive the coarser level.
        public var fpnTopDownLevels: [Int]
        /// `fpn_interp_model`: "nearest" in the official configs.
        public var fpnInterpModel: InterpolationMode
        /// `fuse_type`.
        public var fuseType: FuseType

        /// Creates a config (defaults as sam2.1_hiera_*.yaml).
        public init(dModel: Int = 256, backboneChannelList: [Int], fpnTopDownLevels: [Int] = [2, 3],
                    fpnInterpModel: InterpolationMode = .nearest, fuseType: FuseType = .sum) {
            self.dModel = dModel
            self.backboneChannelList = backboneChannelList
            self.fpnTopDownLevels = fpnTopDownLevels
            self.fpnInterpModel = fpnInterpModel
            self.fuseType = fuseType
        }
    }

    public let config: Config
    /// `convs[i].conv`: lateral conv of backbone level `backboneChannelList[i]` (convs[0] is the deepest).
    public var convs: [Conv2d]
    /// Sine encoding with `d_model` channels.
    public var positionEncoding: PositionEmbeddingSine

    /// Reads `convs.{i}.conv.{weight,bias}` under `w` (e.g. "image_encoder.neck").
    public init(_ w: Weights, config: Config) throws {
        guard config.dModel > 0, config.dModel % 2 == 0 else {
            throw HieraError.invalidConfig(field: "neck.dModel", reason: "must be even and > 0, got \(config.dModel)")
        }
        self.config = config
        convs = try config.backboneChannelList.enumerated().map { i, c in
            try Conv2d(w.scoped("convs.\(i).conv"), inChannels: c, outChannels: config.dModel, kernelSize: 1)
        }
        positionEncoding = PositionEmbeddingSine(numPosFeats: config.dModel)
    }

    /// Trunk features (highest resolution first, NCHW) → (fpn features, position encodings), same order.
    public func callAsFunction(_ xs: [Tensor]) -> (features: [Tensor], pos: [Tensor]) {
        precondition(xs.count == convs.count, "FpnNeck: \(xs.count) trunk levels for \(convs.count) lateral convs")
        let n = convs.count - 1
        var out = [Tensor](repeating: Tensor(shape: [0]), count: convs.count)
        var pos = out
        var prev: Tensor? = nil
        for i in stride(from: n, through: 0, by: -1) {
            var features = convs[n - i](xs[i])
            if config.fpnTopDownLevels.contains(i), let coarser = prev {
                features += coarser.interpolate(scaleFactor: 2, mode: config.fpnInterpModel)
                if config.fuseType == .avg { features /= 2 }
            }
            prev = features
            out[i] = features
            pos[i] = positionEncoding(features)
        }
        return (out, pos)
    }
}
