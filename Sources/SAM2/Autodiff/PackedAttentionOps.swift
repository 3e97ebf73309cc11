import Foundation

extension Variable {
    /// Multi-head softmax attention on SAM's packed layout: q [B, Lq, H·D], k [B, Lk, H·D], v [B, Lk, H·Dv] →
    /// [B, Lq, H·Dv], head h owning columns h·D..<(h+1)·D (`_separate_heads` → attention → `_recombine_heads`),
    /// scale 1/√D by default. The forward is the fused inference kernel (no head permutes, no score tensor kept);
    /// the backward recomputes each (item, head) problem's probabilities P in a small scratch and uses strided
    /// GEMMs on the packed buffers: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P⊙(dP − rowsum(dP⊙P)), dQ = s·dS·K, dK = s·dSᵀ·Q.
    public static func packedMultiHeadAttention(_ q: Variable, _ k: Variable, _ v: Variable, heads: Int,
                                                scale: Float? = nil) -> Variable {
        let inputs = [q, k, v]
        let tape = GradientTape.common(inputs, "packedMultiHeadAttention")
        let qv = q.value, kv = k.value, vv = v.value
        let y = Tensor.scaledDotProductAttention(qv, kv, vv, heads: heads, scale: scale)
        return tape.record(y, inputs: inputs) { g in
            let b = qv.shape[0], lq = qv.shape[1], lk = kv.shape[1]
            let hd = qv.shape[2], hdv = vv.shape[2], d = hd / heads, dv = hdv / heads
            let s = scale ?? 1 / Float(d).squareRoot()
            var dq = Tensor(shape: qv.shape, repeating: 0), dk = Tensor(shape: kv.shape, repeating: 0)
            var dvT = Tensor(shape: vv.shape, repeating: 0)
            guard lq > 0, lk > 0, d > 0 else { return [dq, dk, dvT] }
            qv.withUnsafeBufferPointer { qb in kv.withUnsafeBufferPointer { kb in vv.withUnsafeBufferPointer { vb in
            g.withUnsafeBufferPointer { gb in
            dq.withUnsafeMutableBufferPointer { dqb in dk.withUnsafeMutableBufferPointer { dkb in
            dvT.withUnsafeMutableBufferPointer { dvb in
                let (qp, kp, vp, gp) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, gb.baseAddress!)
                let (dqp, dkp, dvp) = (dqb.baseAddress!, dkb.baseAddress!, dvb.baseAddress!)
                // Each (item, head) problem writes its own column block of dQ, dK, dV: no overlap between workers.
                Parallel.forChunks(b * heads, grain: max(1, 32768 / max(1, lq * lk))) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * lq * lk)
                    defer { scratch.deallocate() }
                    let p = scratch, dp = scratch + lq * lk
                    for problem in range {
                        let (i, h) = (problem / heads, problem % heads)
                        let qh = qp + i * lq * hd + h * d, kh = kp + i * lk * hd + h * d
                        let vh = vp + i * lk * hdv + h * dv, gh = gp + i * lq * hdv + h * dv
                        // P = softmax(s·Q·Kᵀ) row by row.
                        Tensor.sgemm(transB: true, m: lq, n: lk, k: d, alpha: s, a: qh, lda: hd, b: kh, ldb: hd,
                                     c: p, ldc: lk)
                        for r in 0..<lq {
                            let row = p + r * lk
                            var m = row[0]
                            for j in 1..<lk { m = max(m, row[j]) }
                            var sum: Float = 0
                            for j in 0..<lk { let e = exp(row[j] - m); row[j] = e; sum += e }
                            let inv = 1 / sum
                            for j in 0..<lk { row[j] *= inv }
                        }
                        // dV = Pᵀ·dO, dP = dO·Vᵀ.
                        Tensor.sgemm(transA: true, m: lk, n: dv, k: lq, a: p, lda: lk, b: gh, ldb: hdv,
                                     c: dvp + i * lk * hdv + h * dv, ldc: hdv)
                        Tensor.sgemm(transB: true, m: lq, n: lk, k: dv, a: gh, lda: hdv, b: vh, ldb: hdv, c: dp, ldc: lk)
                        // dS = P⊙(dP − rowsum(dP⊙P)), in place of dP.
                        for r in 0..<lq {
                            let pr = p + r * lk, dr = dp + r * lk
                            var dot: Float = 0
                            for j in 0..<lk { dot += pr[j] * dr[j] }
                            for j in 0..<lk { dr[j] = pr[j] * (dr[j] - dot) }
                        }
                        // dQ = s·dS·K, dK = s·dSᵀ·Q.
                        Tensor.sgemm(m: lq, n: d, k: lk, alpha: s, a: dp, lda: lk, b: kh, ldb: hd,
                                     c: dqp + i * lq * hd + h * d, ldc: hd)
                        Tensor.sgemm(transA: true, m: lk, n: d, k: lq, alpha: s, a: dp, lda: lk, b: qh, ldb: hd,
                                     c: dkp + i * lk * hd + h * d, ldc: hd)
                    }
                }
            }}}}}}}
            return [q.requiresGrad ? dq : nil, k.requiresGrad ? dk : nil, v.requiresGrad ? dvT : nil]
        }
    }
}
