import Foundation

extension Tensor {
    /// Softmax along `axis` (negative counts from the end), max-subtracted for stability.
    public func softmax(axis: Int = -1) -> Tensor { softmaxKernel(axis: axis, log: false) }

    /// log(softmax(x)) along `axis`, computed as x − max − log Σ e^(x − max).
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxKernel(axis: axis, log: true) }

    private func softmaxKernel(axis: Int, log: Bool) -> Tensor {
        // A 0-d tensor is its own (single-element) row, as in torch.
        if rank == 0 { return Tensor(shape: [], data: [log ? 0 : 1]) }
        let ax = self.axis(axis)
        precondition(ax >= 0 && ax < rank, "softmax: axis \(axis) out of range for \(shape)")
        if count == 0 { return self }
        let n = shape[ax]
        let inner = shape[(ax + 1)...].reduce(1, *)
        let outer = count / (n * inner)
        return Tensor(shape: shape) { out in
            withUnsafeBufferPointer { src in
                // Assumes contiguous [outer, n, inner] layout in both buffers.
                let s = src.baseAddress!, o = out.baseAddress!
                if inner == 1 {
                    Parallel.forChunks(outer, grain: Swift.max(1, 4096 / n)) { range in
                        for r in range { Tensor.softmaxRow(s + r * n, o + r * n, n, log) }
                    }
                } else {
                    // Strided axis: vectorise across `inner` with per-column running max and sum.
                    let block = 512
                    let blocks = (inner + block - 1) / block
                    Parallel.forChunks(outer * blocks, grain: Swift.max(1, 4096 / (n * Swift.min(block, inner)))) { range in
                        var mx = [Float](repeating: 0, count: block)
                        var sum = [Float](repeating: 0, count: block)
                        for task in range {
                            let r = task / blocks, j0 = (task % blocks) * block
                            let len = Swift.min(block, inner - j0)
                            let x = s + r * n * inner + j0, y = o + r * n * inner + j0
                            for j in 0..<len { mx[j] = x[j] }
                            for k in 1..<Swift.max(n, 1) {
                                let xk = x + k * inner
                                for j in 0..<len where xk[j] > mx[j] || xk[j].isNaN { mx[j] = xk[j] }
                            }
                            for j in 0..<len { sum[j] = 0 }
                            for k in 0..<n {
                                let xk = x + k * inner, yk = y + k * inner
                                for j in 0..<len { let e = FastMath.exp(xk[j] - mx[j]); yk[j] = e; sum[j] += e }
                            }
                            for k in 0..<n {
                                let xk = x + k * inner, yk = y + k * inner
                                if log {
                                    for j in 0..<len { yk[j] = xk[j] - mx[j] - logf(sum[j]) }
                                } else {
                                    for j in 0..<len { yk[j] = yk[j] / sum[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One contiguous row; assumes `x` and `y` address `n` elements.
    private static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ log: Bool) {
        var m = -Float.infinity
        for j in 0..<n where x[j] > m || x[j].isNaN { m = x[j] }
        // A row of all −∞ (fully masked) gives NaN as in torch; keep the subtraction as is.
        for j in 0..<n { y[j] = FastMath.exp(x[j] - m) }
        let sum = sumOfRow(UnsafePointer(y), n)
        if log {
            let ls = logf(sum)
            for j in 0..<n { y[j] = x[j] - m - ls }
        } else {
            let inv = 1 / sum
            for j in 0..<n { y[j] *= inv }
        }
    }

    /// Sum of `n` contiguous elements in eight interleaved partial sums (a strict sequential Float sum
    /// cannot be vectorised). Assumes `x` addresses `n` elements.
    private static func sumOfRow(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var j = 0
        while j + 8 <= n {
            acc += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            j += 8
        }
        var s = acc.sum()
        while j < n { s += x[j]; j += 1 }
        return s
    }
}
