import Foundation

/// Differentiable backbone output (ImageEncoder.forward): FPN levels after scalp, high → low resolution.
public struct TrainableBackboneOutput {
    public var backboneFPN: [Variable]      // [B, d_model, H_i, W_i]
    public var visionPosEnc: [Tensor]       // sine position encodings per level (constants)
    /// `vision_features`: the lowest-resolution kept level.
    public var visionFeatures: Variable { backboneFPN.last! }
}

/// Differentiable official SAM 2 `ImageEncoder`: `TrainableHiera` trunk → `TrainableFpnNeck`, dropping the `scalp`
/// lowest-resolution levels; reads the same parameters as `HieraImageEncoder`.
public struct TrainableImageEncoder {
    public let config: HieraImageEncoder.Config
    public let trunk: TrainableHiera
    public let neck: TrainableFpnNeck

    /// Reads `trunk.*` and `neck.*` under `parameters` (= store.scope("image_encoder")).
    public init(config: HieraImageEncoder.Config, parameters: ParameterScope) throws {
        try config.validate()
        self.config = config
        trunk = try TrainableHiera(config: config.trunk, parameters: parameters.scoped("trunk"))
        neck = try TrainableFpnNeck(config: config.neck, parameters: parameters.scoped("neck"))
    }

    /// Every parameter of the encoder.
    public var parameters: [Variable] { trunk.parameters + neck.parameters }

    /// Official `ImageEncoder.forward`: image [B, 3, S, S] normalised → FPN levels and their position encodings.
    public func callAsFunction(_ image: Variable) throws -> TrainableBackboneOutput {
        var (features, pos) = neck(channelsLast: try trunk.channelsLastStages(image))
        if config.scalp > 0 {
            features.removeLast(config.scalp)
            pos.removeLast(config.scalp)
        }
        return TrainableBackboneOutput(backboneFPN: features, visionPosEnc: pos)
    }
}
