import Foundation

/// What an image encoder hands to the rest of SAM 2 (the official `ImageEncoder.forward` dict).
public struct BackboneOutput: Sendable {
    /// `vision_features`: the lowest-resolution kept level (stride 16, [B, 256, 64, 64] at 1024²).
    public var visionFeatures: Tensor
    /// `vision_pos_enc`: position encoding of each kept level, highest resolution first.
    public var visionPosEnc: [Tensor]
    /// `backbone_fpn`: the kept FPN levels, highest resolution first (stride 4, 8, 16 for the official models).
    public var backboneFPN: [Tensor]

    public init(visionFeatures: Tensor, visionPosEnc: [Tensor], backboneFPN: [Tensor]) {
        self.visionFeatures = visionFeatures
        self.visionPosEnc = visionPosEnc
        self.backboneFPN = backboneFPN
    }
}

/// A swappable image encoder: a normalised image tensor [1, 3, S, S] → backbone features.
public protocol ImageEncoder: Sendable {
    /// Encodes `image` (already resized and normalised as SAM 2's transforms do).
    func encode(_ image: Tensor) throws -> BackboneOutput
}

/// The official SAM 2 image encoder: Hiera trunk → FPN neck, dropping the `scalp` lowest-resolution levels.
public struct HieraImageEncoder: ImageEncoder {
    /// The official `ImageEncoder` arguments.
    public struct Config: Sendable, Equatable {
        public var trunk: HieraConfig
        public var neck: FpnNeck.Config
        /// Lowest-resolution levels discarded after the neck.
        public var scalp: Int

        public init(trunk: HieraConfig, neck: FpnNeck.Config, scalp: Int = 1) {
            self.trunk = trunk
            self.neck = neck
            self.scalp = scalp
        }

        /// Checks the trunk, that the neck takes the trunk's channels, and that scalp leaves a level.
        public func validate() throws {
            try trunk.validate()
            guard trunk.channelList == neck.backboneChannelList else {
                throw HieraError.invalidConfig(field: "neck.backboneChannelList",
                                               reason: "\(neck.backboneChannelList) does not match the trunk's channels \(trunk.channelList)")
            }
            guard (0..<neck.backboneChannelList.count).contains(scalp) else {
                throw HieraError.invalidConfig(field: "scalp", reason: "must leave at least one of \(neck.backboneChannelList.count) levels, got \(scalp)")
            }
        }

        /// As configs/sam2{,.1}/sam2*_hiera_<size>.yaml: d_model 256, top-down levels [2, 3], nearest, scalp 1.
        public static func official(_ size: InferredModelConfig.Size) -> Config {
            let trunk = HieraConfig.official(size)
            return Config(trunk: trunk, neck: FpnNeck.Config(backboneChannelList: trunk.channelList), scalp: 1)
        }

        /// The official config whose trunk the shapes under `prefix` (e.g. "image_encoder") identify, with
        /// d_model read from the neck's first conv.
        public static func inferred(shapes: [String: [Int]], prefix: String = "image_encoder") throws -> Config {
            let trunk = try HieraConfig.inferred(shapes: shapes, prefix: prefix + ".trunk")
            let dModel = shapes[prefix + ".neck.convs.0.conv.weight"]?.first ?? 256
            return Config(trunk: trunk, neck: FpnNeck.Config(dModel: dModel, backboneChannelList: trunk.channelList))
        }
    }

    public let config: Config
    public var trunk: Hiera
    public var neck: FpnNeck

    /// Reads `trunk.*` and `neck.*` under `w` (e.g. `Weights(ckpt, prefix: "image_encoder")`).
    public init(_ w: Weights, config: Config) throws {
        try config.validate()
        self.config = config
        trunk = try Hiera(w.scoped("trunk"), config: config.trunk)
        neck = try FpnNeck(w.scoped("neck"), config: config.neck)
    }

    /// Reads the encoder with the official config its shapes identify.
    public init(_ w: Weights) throws {
        try self.init(w, config: Config.inferred(shapes: w.checkpoint.shapes, prefix: w.prefix))
    }

    /// Official `ImageEncoder.forward`: [B, 3, S, S] → features; S must give a token grid ⌈S/4⌉ divisible by the
    /// first window size (multiples of 32 for the official models).
    public func encode(_ image: Tensor) throws -> BackboneOutput {
        var (features, pos) = neck(try trunk(image))
        if config.scalp > 0 {
            features.removeLast(config.scalp)
            pos.removeLast(config.scalp)
        }
        return BackboneOutput(visionFeatures: features[features.count - 1], visionPosEnc: pos, backboneFPN: features)
    }

    /// Same as `encode`.
    public func callAsFunction(_ image: Tensor) throws -> BackboneOutput { try encode(image) }
}
