import Foundation

// Attention as one tape entry. `Variable.scaledDotProductAttention` composes permute + matmul + softmax + matmul
// (five entries, a materialised kᵀ and two saved score tensors); this op computes the same value with
// transposed GEMMs and keeps only the probabilities P for the backward:
//   S = s·q·kᵀ, P = softmax(S), O = P·v
//   dv = Pᵀ·g, dP = g·vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dq = s·dS·k, dk = s·dSᵀ·q.
extension Variable {
    /// softmax(q·kᵀ·scale)·v over the last two dimensions: q [..., Lq, d], k [..., Lk, d], v [..., Lk, dv] with
    /// equal leading (batch) dimensions → [..., Lq, dv]; scale defaults to 1/√d. Same value as
    /// `scaledDotProductAttention`, recorded as a single op.
    public static func fusedAttention(_ q: Variable, _ k: Variable, _ v: Variable, scale: Float? = nil) -> Variable {
        let qv = q.value, kv = k.value, vv = v.value
        precondition(qv.rank >= 2 && kv.rank == qv.rank && vv.rank == qv.rank, "fusedAttention: ranks \(q.shape) \(k.shape) \(v.shape)")
        precondition(qv.shape.dropLast(2) == kv.shape.dropLast(2) && kv.shape.dropLast(2) == vv.shape.dropLast(2),
                     "fusedAttention: batch dimensions differ: \(q.shape) \(k.shape) \(v.shape)")
        precondition(qv.shape.last == kv.shape.last && kv.shape[kv.rank - 2] == vv.shape[vv.rank - 2],
                     "fusedAttention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit")
        let s = scale ?? 1 / Float(qv.shape[qv.rank - 1]).squareRoot()
        var scores = qv.matmul(kv, transposeB: true)
        scores *= s
        let p = scores.softmax(axis: -1)
        let out = p.matmul(vv)
        let tape = GradientTape.common([q, k, v], "fusedAttention")
        return tape.record(out, inputs: [q, k, v]) { g in
            let dv = v.requiresGrad ? p.matmul(g, transposeA: true) : nil
            guard q.requiresGrad || k.requiresGrad else { return [nil, nil, dv] }
            var dp = g.matmul(vv, transposeB: true)
            let dot = (dp * p).sum(axis: -1, keepDims: true)
            dp -= dot
            dp *= p
            dp *= s
            return [q.requiresGrad ? dp.matmul(kv) : nil, k.requiresGrad ? dp.matmul(qv, transposeA: true) : nil, dv]
        }
    }
}
