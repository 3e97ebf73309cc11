import Foundation

extension Variable {
    /// Elementwise `F.binary_cross_entropy_with_logits(x, targets, reduction='none')`:
    /// max(x, 0) − x·t + log1p(e^−|x|); d/dx = σ(x) − t. Reduce with `mean()` / `sum()`. Targets get no gradient.
    public func binaryCrossEntropyWithLogits(targets: Tensor) -> Variable {
        let x = value
        precondition(targets.shape == x.shape, "binaryCrossEntropyWithLogits: targets \(targets.shape) for logits \(x.shape)")
        let y = x.zipMap(targets) { xi, t in Swift.max(xi, 0) - xi * t + log1p(Foundation.exp(-Swift.abs(xi))) }
        return GradientTape.common([self], "binaryCrossEntropyWithLogits").record(y, inputs: [self]) { g in
            let p = x.sigmoid()
            return [g * p.zipMap(targets) { pi, t in pi - t }]
        }
    }
}
