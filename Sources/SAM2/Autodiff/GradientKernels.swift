import Foundation

// Small tensor helpers that only backward formulas need.
extension Tensor {
    /// Sums a broadcast gradient back to `target` (the shape of the operand that was broadcast): extra leading
    /// dimensions are summed away, dimensions where `target` has 1 are summed with keepDims.
    func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        var g = self
        while g.rank > target.count { g = g.sum(axis: 0) }
        for d in 0..<target.count where target[d] == 1 && g.shape[d] != 1 { g = g.sum(axis: d, keepDims: true) }
        precondition(g.shape == target, "summed(toShape:): \(shape) does not reduce to \(target)")
        return g
    }

    /// `Op.apply(self[i], other[i])` for two tensors of the same shape, spread over cores. The op is a type, so the
    /// loop is specialised and vectorised (a closure per element, as `zipMap`, costs ~10 ns with erf/exp inside).
    func zipped<Op: ElementwiseBinaryOp>(_ other: Tensor, _ op: Op.Type) -> Tensor {
        precondition(shape == other.shape, "zipped: \(shape) vs \(other.shape)")
        return Tensor(shape: shape) { out in
            withUnsafeBufferPointer { a in
                other.withUnsafeBufferPointer { b in
                    guard let pa = a.baseAddress, let pb = b.baseAddress, let o = out.baseAddress else { return }
                    Tensor.broadcastKernel(op, a: pa, aShape: shape, b: pb, bShape: shape, out: o, outShape: shape)
                }
            }
        }
    }

    /// `f(self[i], other[i])` for two tensors of the same shape, spread over cores (`f` must be thread-safe).
    /// For cold paths only: hot backward formulas use `zipped` with an op type.
    func zipMap(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "zipMap: \(shape) vs \(other.shape)")
        return Tensor(shape: shape) { out in
            withUnsafeBufferPointer { a in
                other.withUnsafeBufferPointer { b in
                    guard let pa = a.baseAddress, let pb = b.baseAddress, let o = out.baseAddress else { return }
                    Parallel.forChunks(count, grain: 16384) { r in
                        for i in r { o[i] = f(pa[i], pb[i]) }
                    }
                }
            }
        }
    }
}
