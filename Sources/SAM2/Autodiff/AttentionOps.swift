import Foundation

extension Variable {
    /// Scaled dot-product attention softmax(q·kᵀ·scale)·v on [..., L, d] inputs (scale defaults to 1/√d),
    /// composed from differentiable matmul and softmax (the fused forward kernel has no backward).
    public static func scaledDotProductAttention(_ q: Variable, _ k: Variable, _ v: Variable, scale: Float? = nil) -> Variable {
        let d = q.shape[q.value.rank - 1]
        var dims = Array(0..<k.value.rank)
        dims.swapAt(dims.count - 1, dims.count - 2)
        let scores = q.matmul(k.permuted(dims)) * (scale ?? 1 / Float(d).squareRoot())
        return scores.softmax().matmul(v)
    }
}
