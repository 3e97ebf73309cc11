import Foundation

/// Differentiable official `FpnNeck` (backbones/image_encoder.py), reading the same parameters as `FpnNeck`: a 1×1
/// lateral conv per trunk level to `d_model` channels, top-down fusion (×2 upsampling, sum or average) on
/// `fpn_top_down_levels`, and the sine position encoding of every level (a constant).
public struct TrainableFpnNeck {
    public let config: FpnNeck.Config
    /// `convs.{i}.conv.weight` [d_model, C_i, 1, 1] and bias, convs[0] for the deepest level.
    public let convWeights: [Variable]
    public let convBiases: [Variable]
    public let positionEncoding: PositionEmbeddingSine

    /// Reads `convs.{i}.conv.{weight,bias}` under `p` (e.g. `store.scope("image_encoder.neck")`).
    public init(config: FpnNeck.Config, parameters p: ParameterScope) throws {
        guard config.dModel > 0, config.dModel % 2 == 0 else {
            throw HieraError.invalidConfig(field: "neck.dModel", reason: "must be even and > 0, got \(config.dModel)")
        }
        self.config = config
        var ws: [Variable] = [], bs: [Variable] = []
        for (i, c) in config.backboneChannelList.enumerated() {
            ws.append(try p("convs.\(i).conv.weight", shape: [config.dModel, c, 1, 1]))
            bs.append(try p("convs.\(i).conv.bias", shape: [config.dModel]))
        }
        convWeights = ws
        convBiases = bs
        positionEncoding = PositionEmbeddingSine(numPosFeats: config.dModel)
    }

    /// Every parameter of the neck.
    public var parameters: [Variable] { convWeights + convBiases }

    /// Trunk features, highest resolution first, channels-last [B, H_i, W_i, C_i] → (features [B, d, H_i, W_i],
    /// position encodings [B, d, H_i, W_i]) in the same order. The 1×1 convs run as linears on the channels-last
    /// tokens (one GEMM each), then the result is laid out NCHW as the official module returns it.
    public func callAsFunction(channelsLast xs: [Variable]) -> (features: [Variable], pos: [Tensor]) {
        precondition(xs.count == convWeights.count, "TrainableFpnNeck: \(xs.count) trunk levels for \(convWeights.count) lateral convs")
        let n = convWeights.count - 1, d = config.dModel
        var out = [Variable?](repeating: nil, count: xs.count)
        var pos = [Tensor](repeating: Tensor(shape: [0]), count: xs.count)
        var prev: Variable? = nil
        for i in stride(from: n, through: 0, by: -1) {
            let w = convWeights[n - i]
            var features = xs[i].linear(weight: w.reshaped([d, w.shape[1]]), bias: convBiases[n - i]).permuted([0, 3, 1, 2])
            if config.fpnTopDownLevels.contains(i), let coarser = prev {
                features = features + coarser.interpolate(scaleFactor: (2, 2), mode: config.fpnInterpModel)
                if config.fuseType == .avg { features = features / 2 }
            }
            prev = features
            out[i] = features
            pos[i] = positionEncoding(features.value)
        }
        return (out.map { $0! }, pos)
    }
}
