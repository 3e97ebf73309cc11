import Foundation

/// torch.optim.AdamW (amsgrad off, maximize off): decoupled weight decay p ← p·(1 − lr·λ), then the Adam step
/// with bias correction p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε), in Float32 in torch's order of
/// operations. Deterministic: each element is updated independently.
public final class AdamW {
    /// Step size (set it from a `LearningRateSchedule` before each `step`).
    public var learningRate: Float
    /// Exponential decay rates of the first and second moment estimates.
    public let betas: (Float, Float)
    /// Added to the denominator for numerical stability.
    public let eps: Float
    /// Decoupled weight decay coefficient λ (set per parameter group before its `step`, like `learningRate`).
    public var weightDecay: Float
    /// Moment estimates and step count per parameter. The state keeps its parameter alive so a freed
    /// parameter's address can never be reused by a new one and inherit its moments.
    private var states: [ObjectIdentifier: State] = [:]

    /// Per-parameter optimiser state.
    private struct State {
        let parameter: Variable
        var step = 0
        var expAvg: [Float]
        var expAvgSq: [Float]
    }

    /// torch defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
    public init(learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8, weightDecay: Float = 1e-2) {
        self.learningRate = learningRate
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
    }

    /// Updates every parameter that has a gradient (parameters without one are skipped, as torch).
    public func step(_ parameters: [Variable]) {
        for p in parameters {
            guard let g = p.grad else { continue }
            precondition(g.shape == p.value.shape, "AdamW: gradient \(g.shape) for parameter \(p.value.shape)")
            let id = ObjectIdentifier(p)
            var state = states[id] ?? State(parameter: p, expAvg: [Float](repeating: 0, count: g.count),
                                            expAvgSq: [Float](repeating: 0, count: g.count))
            state.step += 1
            update(&p.value, gradient: g, state: &state)
            states[id] = state
        }
    }

    /// The moments and step count of `parameter` (nil before its first step), for checkpoints.
    public func state(of parameter: Variable) -> (step: Int, expAvg: Tensor, expAvgSq: Tensor)? {
        guard let s = states[ObjectIdentifier(parameter)] else { return nil }
        let shape = parameter.value.shape
        return (s.step, Tensor(shape: shape, data: s.expAvg), Tensor(shape: shape, data: s.expAvgSq))
    }

    /// Restores `parameter`'s moments and step count (a resumed run continues exactly where it stopped).
    public func setState(of parameter: Variable, step: Int, expAvg: Tensor, expAvgSq: Tensor) {
        precondition(expAvg.shape == parameter.value.shape && expAvgSq.shape == parameter.value.shape && step >= 0,
                     "AdamW.setState: moments \(expAvg.shape) / \(expAvgSq.shape) for parameter \(parameter.value.shape)")
        states[ObjectIdentifier(parameter)] = State(parameter: parameter, step: step, expAvg: expAvg.data, expAvgSq: expAvgSq.data)
    }

    /// Clears the gradients of `parameters`.
    public func zeroGrad(_ parameters: [Variable]) { for p in parameters { p.zeroGrad() } }

    private func update(_ param: inout Tensor, gradient g: Tensor, state: inout State) {
        let (b1, b2) = betas, eps = eps
        // Scalars in Double and rounded once, as torch computes them in Python floats.
        let lr = Double(learningRate), t = Double(state.step)
        let bc1 = 1 - Foundation.pow(Double(b1), t)
        let bc2Sqrt = Float((1 - Foundation.pow(Double(b2), t)).squareRoot())
        let stepSize = Float(lr / bc1)
        let decay = Float(1 - lr * Double(weightDecay))
        param.withUnsafeMutableBufferPointer { p in
            g.withUnsafeBufferPointer { gb in
                state.expAvg.withUnsafeMutableBufferPointer { m in
                    state.expAvgSq.withUnsafeMutableBufferPointer { v in
                        for i in 0..<p.count {
                            p[i] *= decay
                            // torch: lerp for m (m + (g − m)·(1 − β₁)), mul/addcmul for v.
                            m[i] += (gb[i] - m[i]) * (1 - b1)
                            v[i] = v[i] * b2 + (1 - b2) * gb[i] * gb[i]
                            let denom = v[i].squareRoot() / bc2Sqrt + eps
                            p[i] -= stepSize * (m[i] / denom)
                        }
                    }
                }
            }
        }
    }
}
