import Foundation

// Backward formulas as op types for `Tensor.zipped` (gradient, saved value) → input gradient: specialised,
// vectorised loops with FastMath's exp/erf instead of a closure and libm call per element.

/// g where x > 0, else 0 (torch's relu gradient at 0 is 0).
private enum ReluBackwardOp: ElementwiseBinaryOp {
    @inline(__always) static func apply(_ g: Float, _ x: Float) -> Float { x > 0 ? g : 0 }
}

/// g·(Φ(x) + x·φ(x)) with the forward's erf (abs error ~4e-7) and FastMath.exp (~2 ulp); φ underflows to 0
/// for |x| > 13.2, where Φ is exactly 0 or 1 in Float anyway.
private enum GeluBackwardOp: ElementwiseBinaryOp {
    @inline(__always) static func apply(_ g: Float, _ x: Float) -> Float {
        let cdf = 0.5 * (1 + FastMath.erf(x * 0.70710678118654752440))
        let pdf = 0.39894228040143267794 * FastMath.exp(-0.5 * x * x)
        return g * (cdf + x * pdf)
    }
}

/// g·σ(1 − σ) from the saved output σ.
private enum SigmoidBackwardOp: ElementwiseBinaryOp {
    @inline(__always) static func apply(_ g: Float, _ s: Float) -> Float { g * s * (1 - s) }
}

/// g·σ(−x) = g / (1 + eˣ); eˣ = +∞ above 88.4 gives 0, as the limit.
private enum LogSigmoidBackwardOp: ElementwiseBinaryOp {
    @inline(__always) static func apply(_ g: Float, _ x: Float) -> Float { g / (1 + FastMath.exp(x)) }
}

extension Variable {
    /// max(x, 0); the gradient at 0 is 0, as torch.
    public func relu() -> Variable {
        let x = value
        return GradientTape.common([self], "relu").record(x.relu(), inputs: [self]) { g in
            [g.zipped(x, ReluBackwardOp.self)]
        }
    }

    /// Exact GELU x·Φ(x); d/dx = Φ(x) + x·φ(x).
    public func gelu() -> Variable {
        let x = value
        return GradientTape.common([self], "gelu").record(x.gelu(), inputs: [self]) { g in
            [g.zipped(x, GeluBackwardOp.self)]
        }
    }

    /// 1 / (1 + e^−x); d/dx = σ(1 − σ).
    public func sigmoid() -> Variable {
        let y = value.sigmoid()
        return GradientTape.common([self], "sigmoid").record(y, inputs: [self]) { g in
            [g.zipped(y, SigmoidBackwardOp.self)]
        }
    }

    /// Softmax over the last dimension; dx = s ⊙ (g − Σ g⊙s), one fused pass per row.
    public func softmax() -> Variable {
        let s = value.softmax(axis: -1)
        return GradientTape.common([self], "softmax").record(s, inputs: [self]) { g in
            [Variable.softmaxBackward(g, s)]
        }
    }

    /// log σ(x) = min(x, 0) − log1p(e^−|x|) (stable for large |x|); d/dx = σ(−x).
    public func logSigmoid() -> Variable {
        let x = value
        let y = x.map { xi in Swift.min(xi, 0) - log1p(Foundation.exp(-Swift.abs(xi))) }
        return GradientTape.common([self], "logSigmoid").record(y, inputs: [self]) { g in
            [g.zipped(x, LogSigmoidBackwardOp.self)]
        }
    }

    /// s ⊙ (g − Σ_row g⊙s) over rows of the last dimension, rows spread over cores; the dot product keeps
    /// eight partial sums so it vectorises (summation order differs from a sequential sum only by rounding).
    private static func softmaxBackward(_ g: Tensor, _ s: Tensor) -> Tensor {
        precondition(g.shape == s.shape, "softmax backward: \(g.shape) vs \(s.shape)")
        let n = s.shape.last ?? 1
        let rows = n == 0 ? 0 : s.count / n
        return Tensor(shape: s.shape) { out in
            g.withUnsafeBufferPointer { gb in
                s.withUnsafeBufferPointer { sb in
                    guard let gp = gb.baseAddress, let sp = sb.baseAddress, let op = out.baseAddress else { return }
                    Parallel.forChunks(rows, grain: max(1, 16384 / max(n, 1))) { range in
                        for row in range {
                            let gr = gp + row * n, sr = sp + row * n, o = op + row * n
                            var acc = SIMD8<Float>()
                            var j = 0
                            while j + 8 <= n {
                                let gv = UnsafeRawPointer(gr + j).loadUnaligned(as: SIMD8<Float>.self)
                                let sv = UnsafeRawPointer(sr + j).loadUnaligned(as: SIMD8<Float>.self)
                                acc += gv * sv
                                j += 8
                            }
                            var dot = acc.sum()
                            while j < n { dot += gr[j] * sr[j]; j += 1 }
                            for k in 0..<n { o[k] = sr[k] * (gr[k] - dot) }
                        }
                    }
                }
            }
        }
    }
}
