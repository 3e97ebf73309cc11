/// PyTorch `nn.Linear`: y = x·Wᵀ + b, weight [out, in].
public struct Linear: Sendable {
    public var weight: Tensor
    public var bias: Tensor?

    /// Reads `<prefix>.weight` [out, in] and `<prefix>.bias` [out] (bias optional when `bias` is false).
    public init(_ w: Weights, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try w("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try w("bias", shape: [outFeatures]) : nil
    }

    /// Wraps given parameters.
    public init(weight: Tensor, bias: Tensor?) { self.weight = weight; self.bias = bias }

    /// Input features.
    public var inFeatures: Int { weight.shape[1] }
    /// Output features.
    public var outFeatures: Int { weight.shape[0] }

    /// Applies the layer over the last dimension.
    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

/// PyTorch `nn.LayerNorm` over the last dimension.
public struct LayerNorm: Sendable {
    public var weight: Tensor
    public var bias: Tensor
    public var eps: Float

    /// Reads `<prefix>.weight` and `<prefix>.bias` of size `dim`.
    public init(_ w: Weights, dim: Int, eps: Float = 1e-5) throws {
        weight = try w("weight", shape: [dim])
        bias = try w("bias", shape: [dim])
        self.eps = eps
    }

    /// Normalises the last dimension.
    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// SAM's `LayerNorm2d`: normalises channels of an [N, C, H, W] map per pixel (eps 1e-6).
public struct LayerNorm2d: Sendable {
    public var weight: Tensor
    public var bias: Tensor
    public var eps: Float

    /// Reads `<prefix>.weight` and `<prefix>.bias` of size `channels`.
    public init(_ w: Weights, channels: Int, eps: Float = 1e-6) throws {
        weight = try w("weight", shape: [channels])
        bias = try w("bias", shape: [channels])
        self.eps = eps
    }

    /// Normalises over channels.
    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm2d(weight: weight, bias: bias, eps: eps) }
}

/// PyTorch `nn.Conv2d` with its hyper-parameters.
public struct Conv2d: Sendable {
    public var weight: Tensor
    public var bias: Tensor?
    public var stride: (Int, Int)
    public var padding: (Int, Int)
    public var groups: Int

    /// Reads `<prefix>.weight` [out, in/groups, k, k] and `<prefix>.bias` [out].
    public init(_ w: Weights, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
                padding: Int = 0, groups: Int = 1, bias: Bool = true) throws {
        weight = try w("weight", shape: [outChannels, inChannels / groups, kernelSize, kernelSize])
        self.bias = bias ? try w("bias", shape: [outChannels]) : nil
        self.stride = (stride, stride)
        self.padding = (padding, padding)
        self.groups = groups
    }

    /// Applies the convolution to [N, C, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, groups: groups)
    }
}

/// Activation functions the SAM 2 modules choose between.
public enum Activation: String, Sendable {
    case relu, gelu

    /// Applies the activation elementwise.
    public func callAsFunction(_ x: Tensor) -> Tensor { self == .relu ? x.relu() : x.gelu() }
}

/// SAM 2's `MLP` (sam2_utils.MLP): `numLayers` linear layers with an activation (ReLU by default) between
/// them, optional final sigmoid.
public struct MLP: Sendable {
    public var layers: [Linear]
    public var activation: Activation
    public var sigmoidOutput: Bool

    /// Reads `<prefix>.layers.{i}`: input → hidden × (numLayers−1) → output.
    public init(_ w: Weights, inputDim: Int, hiddenDim: Int, outputDim: Int, numLayers: Int,
                activation: Activation = .relu, sigmoidOutput: Bool = false) throws {
        let dims = [inputDim] + Array(repeating: hiddenDim, count: numLayers - 1) + [outputDim]
        layers = try (0..<numLayers).map { i in
            try Linear(w.scoped("layers.\(i)"), inFeatures: dims[i], outFeatures: dims[i + 1])
        }
        self.activation = activation
        self.sigmoidOutput = sigmoidOutput
    }

    /// Applies the layers over the last dimension.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() {
            h = layer(h)
            if i < layers.count - 1 { h = activation(h) }
        }
        return sigmoidOutput ? h.sigmoid() : h
    }
}
