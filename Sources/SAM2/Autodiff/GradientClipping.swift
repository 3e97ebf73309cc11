import Foundation

extension Variable {
    /// torch.nn.utils.clip_grad_norm_: scales all gradients by min(1, maxNorm / (‖g‖₂ + 1e-6)) where ‖g‖₂ is the
    /// global L2 norm over every parameter's gradient (accumulated in Double); returns that norm before clipping.
    @discardableResult
    public static func clipGradientNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
        var sq = 0.0
        for p in parameters { if let g = p.grad { for v in g.data { sq += Double(v) * Double(v) } } }
        let norm = Float(sq.squareRoot())
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1 { for p in parameters where p.grad != nil { p.grad! *= coef } }
        return norm
    }
}
