import Foundation

extension Tensor {
    /// PyTorch `nn.LayerNorm` over the last dimension: (x − mean)/√(var + eps)·weight + bias, biased variance.
    /// `weight` and `bias` have the size of the last dimension (either may be omitted).
    public func layerNorm(weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 1, "layerNorm: needs rank ≥ 1, got \(shape)")
        let n = shape[rank - 1]
        precondition(weight == nil || weight!.count == n, "layerNorm: weight \(weight!.shape) for last dimension \(n)")
        precondition(bias == nil || bias!.count == n, "layerNorm: bias \(bias!.shape) for last dimension \(n)")
        if count == 0 { return self }
        let rows = count / n
        let w = weight?.data ?? [Float](repeating: 1, count: n), b = bias?.data ?? [Float](repeating: 0, count: n)
        return Tensor(shape: shape) { out in
            withUnsafeBufferPointer { src in
                w.withUnsafeBufferPointer { wp in
                    b.withUnsafeBufferPointer { bp in
                        // Assumes src/out hold rows·n contiguous elements; each row is normalised independently.
                        let s = src.baseAddress!, o = out.baseAddress!, wt = wp.baseAddress!, bs = bp.baseAddress!
                        Parallel.forChunks(rows, grain: Swift.max(1, 8192 / n)) { range in
                            for r in range { Tensor.layerNormRow(s + r * n, o + r * n, n: n, weight: wt, bias: bs, eps: eps) }
                        }
                    }
                }
            }
        }
    }

    /// y = LayerNorm(x)·weight + bias over `n` contiguous values: two passes with Double accumulators (mean,
    /// then the centred sum of squares), biased variance. Kernels that normalise rows in place share it.
    /// The sums run in four interleaved Double lanes: a single scalar accumulator cannot be vectorised (FP adds
    /// are not reassociated) and waits an add latency per element. Assumes x, y, weight and bias each address
    /// `n` floats.
    @inline(__always)
    static func layerNormRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float) {
        let raw = UnsafeRawPointer(x)
        var acc4 = SIMD4<Double>()
        var j = 0
        while j + 4 <= n {
            let v = raw.loadUnaligned(fromByteOffset: j * MemoryLayout<Float>.stride, as: SIMD4<Float>.self)
            acc4 += SIMD4<Double>(v)
            j += 4
        }
        var sum = acc4.sum()
        while j < n { sum += Double(x[j]); j += 1 }
        let mean = sum / Double(n)
        let m4 = SIMD4<Double>(repeating: mean)
        acc4 = SIMD4<Double>()
        j = 0
        while j + 4 <= n {
            let d = SIMD4<Double>(raw.loadUnaligned(fromByteOffset: j * MemoryLayout<Float>.stride, as: SIMD4<Float>.self)) - m4
            acc4 += d * d
            j += 4
        }
        var sq = acc4.sum()
        while j < n { let d = Double(x[j]) - mean; sq += d * d; j += 1 }
        let rstd = Float(1 / (sq / Double(n) + Double(eps)).squareRoot())
        let m = Float(mean)
        for j in 0..<n { y[j] = (x[j] - m) * rstd * weight[j] + bias[j] }
    }

    /// SAM's `LayerNorm2d` on [N, C, H, W]: normalises over C at every pixel (biased variance), then applies
    /// per-channel `weight`/`bias` [C].
    public func layerNorm2d(weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-6) -> Tensor {
        layerNorm2d(weight: weight, bias: bias, eps: eps, then: nil)
    }

    /// `layerNorm2d` followed by `activation` in the same pass (the mask downsampler's LayerNorm2d → GELU).
    func layerNorm2d(weight: Tensor?, bias: Tensor?, eps: Float, then activation: FusedActivation?) -> Tensor {
        precondition(rank == 4, "layerNorm2d: needs [N, C, H, W], got \(shape)")
        let nB = shape[0], c = shape[1], hw = shape[2] * shape[3]
        precondition(weight == nil || weight!.count == c, "layerNorm2d: weight \(weight!.shape) for \(c) channels")
        precondition(bias == nil || bias!.count == c, "layerNorm2d: bias \(bias!.shape) for \(c) channels")
        if count == 0 { return self }
        let w = weight?.data ?? [Float](repeating: 1, count: c)
        let b = bias?.data ?? [Float](repeating: 0, count: c)
        // Pixels are processed in blocks so the per-pixel accumulators stay in cache while the loop over
        // channels reads each channel plane's block contiguously.
        let block = 256
        let blocksPerImage = (hw + block - 1) / block
        return Tensor(shape: shape) { out in
            withUnsafeBufferPointer { src in
                // Assumes src/out hold N·C·HW contiguous elements.
                let s = src.baseAddress!, o = out.baseAddress!
                Parallel.forChunks(nB * blocksPerImage, grain: 1) { range in
                    var acc = [Double](repeating: 0, count: block)
                    var meanF = [Float](repeating: 0, count: block)
                    var rstdF = [Float](repeating: 0, count: block)
                    for task in range {
                        let img = task / blocksPerImage, p0 = (task % blocksPerImage) * block
                        let len = Swift.min(block, hw - p0)
                        let base = img * c * hw + p0
                        for j in 0..<len { acc[j] = 0 }
                        for ch in 0..<c {
                            let x = s + base + ch * hw
                            for j in 0..<len { acc[j] += Double(x[j]) }
                        }
                        for j in 0..<len { meanF[j] = Float(acc[j] / Double(c)); acc[j] = 0 }
                        for ch in 0..<c {
                            let x = s + base + ch * hw
                            for j in 0..<len {
                                let d = Double(x[j]) - Double(meanF[j])
                                acc[j] += d * d
                            }
                        }
                        for j in 0..<len { rstdF[j] = Float(1 / (acc[j] / Double(c) + Double(eps)).squareRoot()) }
                        for ch in 0..<c {
                            let x = s + base + ch * hw, y = o + base + ch * hw
                            let wc = w[ch], bc = b[ch]
                            switch activation {
                            case nil:
                                for j in 0..<len { y[j] = (x[j] - meanF[j]) * rstdF[j] * wc + bc }
                            case .gelu?:
                                for j in 0..<len { y[j] = FastMath.gelu((x[j] - meanF[j]) * rstdF[j] * wc + bc) }
                            case .relu?:
                                for j in 0..<len {
                                    let v = (x[j] - meanF[j]) * rstdF[j] * wc + bc
                                    y[j] = v > 0 || v.isNaN ? v : 0
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
