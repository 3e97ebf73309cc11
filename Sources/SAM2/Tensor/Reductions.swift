import Foundation

// max/min are named amax/amin (torch's names for value-only reductions) so they do not shadow Swift.max/min
// inside `extension Tensor` code.
extension Tensor {
    /// Runs `kernel` over the tensor viewed as [outer, n, inner], one call per (outer index, block of up to
    /// 256 inner columns). The kernel gets the first element of the block, n, the stride between
    /// successive reduced elements (= inner), the block width and where to write that many results.
    private func reduceAlong(_ axis: Int, keepDims: Bool, _ op: String,
                             _ kernel: (UnsafePointer<Float>, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        let ax = checkedAxis(axis, op)
        let n = shape[ax]
        let outer = shape[..<ax].reduce(1, *)
        let inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        if outer * inner == 0 { return Tensor(shape: outShape) }
        let block = 256
        let blocks = (inner + block - 1) / block
        let work = Swift.max(1, n * Swift.min(inner, block))
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { src in
                // Assumes contiguous [outer, n, inner] input and [outer, inner] output; n may be 0.
                let s = src.baseAddress ?? UnsafePointer(out.baseAddress!), o = out.baseAddress!
                Parallel.forChunks(outer * blocks, grain: Swift.max(1, 16384 / work)) { range in
                    for task in range {
                        let r = task / blocks, j0 = (task % blocks) * block
                        kernel(s + r * n * inner + j0, n, inner, Swift.min(block, inner - j0), o + r * inner + j0)
                    }
                }
            }
        }
    }

    /// Sum along `axis` (accumulated in Double).
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        reduceAlong(axis, keepDims: keepDims, "sum") { x, n, st, len, y in
            Tensor.sumColumns(x, n, st, len) { j, s in y[j] = Float(s) }
        }
    }

    /// Mean along `axis` (NaN for an empty dimension, as torch).
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        reduceAlong(axis, keepDims: keepDims, "mean") { x, n, st, len, y in
            Tensor.sumColumns(x, n, st, len) { j, s in y[j] = Float(s / Double(n)) }
        }
    }

    /// Variance along `axis` with Bessel-style `correction` (torch.var default 1; 0 gives the biased variance).
    public func variance(axis: Int, correction: Int = 1, keepDims: Bool = false) -> Tensor {
        reduceAlong(axis, keepDims: keepDims, "var") { x, n, st, len, y in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: len) { mean in
                Tensor.sumColumns(x, n, st, len) { j, s in mean[j] = s / Double(n) }
                withUnsafeTemporaryAllocation(of: Double.self, capacity: len) { acc in
                    for j in 0..<len { acc[j] = 0 }
                    for k in 0..<n {
                        let xk = x + k * st
                        for j in 0..<len { let d = Double(xk[j]) - mean[j]; acc[j] += d * d }
                    }
                    let denom = Double(Swift.max(0, n - correction))
                    for j in 0..<len { y[j] = Float(acc[j] / denom) }
                }
            }
        }
    }

    /// torch.amax: maximum along `axis` (NaN propagates; the dimension must be non-empty).
    public func amax(axis: Int, keepDims: Bool = false) -> Tensor {
        extremum(axis: axis, keepDims: keepDims, "max", largest: true, index: false)
    }

    /// torch.amin: minimum along `axis` (NaN propagates; the dimension must be non-empty).
    public func amin(axis: Int, keepDims: Bool = false) -> Tensor {
        extremum(axis: axis, keepDims: keepDims, "min", largest: false, index: false)
    }

    /// Index of the first maximum along `axis`, stored as Float (exact below 2^24; NaN counts as largest).
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor {
        extremum(axis: axis, keepDims: keepDims, "argmax", largest: true, index: true)
    }

    /// Index of the first minimum along `axis`, stored as Float (exact below 2^24; NaN counts as smallest).
    public func argmin(axis: Int, keepDims: Bool = false) -> Tensor {
        extremum(axis: axis, keepDims: keepDims, "argmin", largest: false, index: true)
    }

    private func extremum(axis: Int, keepDims: Bool, _ op: String, largest: Bool, index: Bool) -> Tensor {
        precondition(shape[checkedAxis(axis, op)] > 0, "\(op): reducing an empty dimension of \(shape)")
        return reduceAlong(axis, keepDims: keepDims, op) { x, n, st, len, y in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: len) { best in
                for j in 0..<len { best[j] = x[j]; y[j] = 0 }
                for k in 1..<n {
                    let xk = x + k * st
                    for j in 0..<len {
                        let v = xk[j], b = best[j]
                        // Once the running value is NaN it stays (torch propagates NaN).
                        if !b.isNaN && (v.isNaN || (largest ? v > b : v < b)) { best[j] = v; y[j] = Float(k) }
                    }
                }
                if !index { for j in 0..<len { y[j] = best[j] } }
            }
        }
    }

    /// Column sums over n rows in Double; `emit(j, sum)` receives each.
    @inline(__always)
    private static func sumColumns(_ x: UnsafePointer<Float>, _ n: Int, _ st: Int, _ len: Int, _ emit: (Int, Double) -> Void) {
        if len == 1 {
            var s = 0.0
            if st == 1 { for k in 0..<n { s += Double(x[k]) } } else { for k in 0..<n { s += Double(x[k * st]) } }
            emit(0, s)
            return
        }
        withUnsafeTemporaryAllocation(of: Double.self, capacity: len) { acc in
            for j in 0..<len { acc[j] = 0 }
            for k in 0..<n {
                let xk = x + k * st
                for j in 0..<len { acc[j] += Double(xk[j]) }
            }
            for j in 0..<len { emit(j, acc[j]) }
        }
    }

    // MARK: Over all elements

    /// Splits the flat elements into one contiguous part per worker and combines the partial results.
    private func reduceAll<T>(_ initial: T, _ part: (UnsafeBufferPointer<Float>) -> T, _ combine: (T, T) -> T) -> T {
        let parts = count >= 65536 ? Parallel.threadCount : 1
        var partials = [T](repeating: initial, count: parts)
        withUnsafeBufferPointer { src in
            let size = (count + parts - 1) / parts
            partials.withUnsafeMutableBufferPointer { pp in
                // Each worker writes only its own slot.
                let p = pp.baseAddress!
                Parallel.forEach(parts) { w in
                    let lo = Swift.min(count, w * size), hi = Swift.min(count, lo + size)
                    p[w] = part(UnsafeBufferPointer(rebasing: src[lo..<hi]))
                }
            }
        }
        return partials.reduce(initial, combine)
    }

    /// Sum of all elements (accumulated in Double).
    public func sum() -> Float {
        Float(reduceAll(0.0, { b in var s = 0.0; for v in b { s += Double(v) }; return s }, +))
    }

    /// Mean of all elements (NaN when empty).
    public func mean() -> Float {
        Float(reduceAll(0.0, { b in var s = 0.0; for v in b { s += Double(v) }; return s }, +) / Double(count))
    }

    /// Largest element (NaN if any element is NaN; −∞ when empty).
    public func amax() -> Float {
        reduceAll(-Float.infinity, { b in
            var m = -Float.infinity
            for v in b where v > m || v.isNaN { m = v; if v.isNaN { break } }
            return m
        }, { a, b in a.isNaN || b.isNaN ? .nan : Swift.max(a, b) })
    }

    /// Smallest element (NaN if any element is NaN; +∞ when empty).
    public func amin() -> Float {
        reduceAll(Float.infinity, { b in
            var m = Float.infinity
            for v in b where v < m || v.isNaN { m = v; if v.isNaN { break } }
            return m
        }, { a, b in a.isNaN || b.isNaN ? .nan : Swift.min(a, b) })
    }

    /// Flat index of the first largest element (NaN counts as largest); the tensor must be non-empty.
    public func argmax() -> Int {
        precondition(count > 0, "argmax: empty tensor")
        var best = 0
        withUnsafeBufferPointer { b in
            var m = b[0]
            if m.isNaN { return }
            for i in 1..<b.count where b[i] > m || b[i].isNaN {
                m = b[i]; best = i
                if m.isNaN { return }
            }
        }
        return best
    }
}
