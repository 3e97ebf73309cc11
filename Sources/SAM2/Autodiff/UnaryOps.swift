import Foundation

// Elementwise maths the SAM 2 losses need beyond the activations (focal loss's (1 − p_t)^γ, L1 IoU loss).
extension Variable {
    /// |x|; the gradient at 0 is 0 (torch's sign(0)).
    public func absolute() -> Variable {
        let x = value
        return GradientTape.common([self], "abs").record(x.absolute(), inputs: [self]) { g in
            [g.zipMap(x) { gi, xi in xi > 0 ? gi : (xi < 0 ? -gi : 0) }]
        }
    }

    /// x^p (torch.pow by a scalar); d/dx = p·x^(p−1).
    public func power(_ p: Float) -> Variable {
        let x = value
        return GradientTape.common([self], "pow").record(x.power(p), inputs: [self]) { g in
            p == 0 ? [Tensor(shape: x.shape)] : [g * x.power(p - 1) * p]
        }
    }

    /// e^x (torch.exp); d/dx = e^x.
    public func exponential() -> Variable {
        let y = value.exponential()
        return GradientTape.common([self], "exp").record(y, inputs: [self]) { g in [g * y] }
    }
}
