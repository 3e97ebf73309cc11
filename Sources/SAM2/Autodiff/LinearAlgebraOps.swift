import Foundation

extension Variable {
    /// Batched matrix product ([..., m, k] × [..., k, n] or × [k, n]), as `Tensor.matmul`.
    /// dA = g·Bᵀ, dB = Aᵀ·g (summed over the batch when B is shared).
    public func matmul(_ other: Variable) -> Variable {
        let tape = GradientTape.common([self, other], "matmul")
        let a = value, b = other.value
        return tape.record(a.matmul(b), inputs: [self, other]) { [requiresGrad] g in
            let da = requiresGrad ? g.matmul(b, transposeB: true) : nil
            var db: Tensor? = nil
            if other.requiresGrad {
                if b.rank == 2 && a.rank > 2 {
                    // Shared B: fold the batch into the rows, one GEMM Aᵀ·g over all of them.
                    let k = a.shape[a.rank - 1], n = g.shape[g.rank - 1]
                    db = a.reshaped([-1, k]).matmul(g.reshaped([-1, n]), transposeA: true)
                } else {
                    db = a.matmul(g, transposeA: true)
                }
            }
            return [da, db]
        }
    }

    /// PyTorch `nn.Linear`: x[..., in]·weightᵀ + bias, weight [out, in], bias [out].
    public func linear(weight: Variable, bias: Variable? = nil) -> Variable {
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        let tape = GradientTape.common(inputs, "linear")
        let x = value, w = weight.value
        let y = x.linear(weight: w, bias: bias?.value)
        return tape.record(y, inputs: inputs) { [requiresGrad] g in
            let inF = w.shape[1], outF = w.shape[0]
            let g2 = g.reshaped([-1, outF])
            var grads: [Tensor?] = [requiresGrad ? g2.matmul(w).reshaped(x.shape) : nil,
                                    weight.requiresGrad ? g2.matmul(x.reshaped([-1, inF]), transposeA: true) : nil]
            if bias != nil { grads.append(g2.sum(axis: 0)) }
            return grads
        }
    }
}
