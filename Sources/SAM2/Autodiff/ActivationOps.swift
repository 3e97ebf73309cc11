import Foundation

extension Variable {
    /// max(x, 0); the gradient at 0 is 0, as torch.
    public func relu() -> Variable {
        let x = value
        return GradientTape.common([self], "relu").record(x.relu(), inputs: [self]) { g in
            [g.zipMap(x) { gi, xi in xi > 0 ? gi : 0 }]
        }
    }

    /// Exact GELU x·Φ(x); d/dx = Φ(x) + x·φ(x).
    public func gelu() -> Variable {
        let x = value
        return GradientTape.common([self], "gelu").record(x.gelu(), inputs: [self]) { g in
            [g.zipMap(x) { gi, xi in
                let cdf = 0.5 * (1 + FastMath.erf(xi * 0.70710678118654752440))
                let pdf = 0.39894228040143267794 * FastMath.exp(-0.5 * xi * xi)
                return gi * (cdf + xi * pdf)
            }]
        }
    }

    /// 1 / (1 + e^−x); d/dx = σ(1 − σ).
    public func sigmoid() -> Variable {
        let y = value.sigmoid()
        return GradientTape.common([self], "sigmoid").record(y, inputs: [self]) { g in
            [g.zipMap(y) { gi, s in gi * s * (1 - s) }]
        }
    }

    /// Softmax over the last dimension; dx = s ⊙ (g − Σ g⊙s).
    public func softmax() -> Variable {
        let s = value.softmax(axis: -1)
        return GradientTape.common([self], "softmax").record(s, inputs: [self]) { g in
            let dot = (g * s).sum(axis: -1, keepDims: true)
            return [(g - dot) * s]
        }
    }

    /// log σ(x) = min(x, 0) − log1p(e^−|x|) (stable for large |x|); d/dx = σ(−x).
    public func logSigmoid() -> Variable {
        let x = value
        let y = x.map { xi in Swift.min(xi, 0) - log1p(Foundation.exp(-Swift.abs(xi))) }
        return GradientTape.common([self], "logSigmoid").record(y, inputs: [self]) { g in
            [g.zipMap(x) { gi, xi in gi / (1 + Foundation.exp(xi)) }]
        }
    }
}
