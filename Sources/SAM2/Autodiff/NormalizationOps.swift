import Foundation

extension Variable {
    /// PyTorch `nn.LayerNorm` over the last dimension with optional affine weight/bias (size of that dimension).
    /// With x̂ = (x − μ)·rstd and d̂ = g·w: dx = rstd·(d̂ − mean(d̂) − x̂·mean(d̂⊙x̂)), dw = Σ g⊙x̂, db = Σ g.
    public func layerNorm(weight: Variable? = nil, bias: Variable? = nil, eps: Float = 1e-5) -> Variable {
        let inputs = [self] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
        let tape = GradientTape.common(inputs, "layerNorm")
        let x = value, wv = weight?.value
        let y = x.layerNorm(weight: wv, bias: bias?.value, eps: eps)
        return tape.record(y, inputs: inputs) { [requiresGrad] g in
            let n = x.shape[x.rank - 1]
            let xhat = x.layerNorm(eps: eps)
            var grads: [Tensor?] = []
            if requiresGrad {
                let dhat = wv.map { g * $0 } ?? g
                grads.append(Variable.layerNormInputGradient(x: x, xhat: xhat, dhat: dhat, eps: eps))
            } else {
                grads.append(nil)
            }
            if let weight { grads.append(weight.requiresGrad ? (g * xhat).reshaped([-1, n]).sum(axis: 0) : nil) }
            if let bias { grads.append(bias.requiresGrad ? g.reshaped([-1, n]).sum(axis: 0) : nil) }
            return grads
        }
    }

    /// Row-wise dx = rstd·(d̂ − mean(d̂) − x̂·mean(d̂⊙x̂)); rstd is recomputed per row in Double as the forward does.
    private static func layerNormInputGradient(x: Tensor, xhat: Tensor, dhat: Tensor, eps: Float) -> Tensor {
        let n = x.shape[x.rank - 1]
        let rows = x.count / Swift.max(n, 1)
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xb in
                xhat.withUnsafeBufferPointer { hb in
                    dhat.withUnsafeBufferPointer { db in
                        // Assumes x, xhat, dhat and out each hold rows·n contiguous floats.
                        guard rows > 0, n > 0 else { return }
                        let xs = xb.baseAddress!, hs = hb.baseAddress!, ds = db.baseAddress!, o = out.baseAddress!
                        Parallel.forChunks(rows, grain: Swift.max(1, 8192 / n)) { range in
                            for r in range {
                                let xr = xs + r * n, hr = hs + r * n, dr = ds + r * n, orow = o + r * n
                                var mean = 0.0
                                for j in 0..<n { mean += Double(xr[j]) }
                                mean /= Double(n)
                                var sq = 0.0, sd = 0.0, sdh = 0.0
                                for j in 0..<n {
                                    let c = Double(xr[j]) - mean
                                    sq += c * c
                                    sd += Double(dr[j])
                                    sdh += Double(dr[j]) * Double(hr[j])
                                }
                                let rstd = Float(1 / (sq / Double(n) + Double(eps)).squareRoot())
                                let md = Float(sd / Double(n)), mdh = Float(sdh / Double(n))
                                for j in 0..<n { orow[j] = rstd * (dr[j] - md - hr[j] * mdh) }
                            }
                        }
                    }
                }
            }
        }
    }
}
