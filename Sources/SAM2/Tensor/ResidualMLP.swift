import Foundation

/// An activation applied inside a fused kernel (`Tensor.residualMLP`, `Tensor.layerNorm2d`).
enum FusedActivation: Sendable {
    /// max(x, 0), NaN kept (as `Tensor.relu`).
    case relu
    /// Exact-form GELU through `FastMath.gelu`.
    case gelu
}

extension Tensor {
    /// Parameters of the pre-norm MLP of a transformer block, as raw pointers (valid for the call).
    struct ResidualMLPWeights {
        /// LayerNorm weight and bias [dim], eps.
        var normWeight, normBias: UnsafePointer<Float>
        var eps: Float
        /// fc1 [hidden, dim] + [hidden], fc2 [dim, hidden] + [dim].
        var w1, b1, w2, b2: UnsafePointer<Float>
        var hidden: Int
        var activation: FusedActivation
    }

    /// x[r] += fc2(act(fc1(LayerNorm(x[r])))) for `rows` rows of `dim` contiguous channels, in place.
    /// With enough rows each worker takes whole tiles (its GEMMs run in that worker), so neither the normed rows
    /// nor the hidden activations ever exist at full size; otherwise one pass with split GEMMs and kernels.
    /// Each row's result equals the unfused layers' up to rounding (fc2's bias is added before its product).
    /// Assumes x holds rows·dim floats that no other thread touches meanwhile.
    static func residualMLP(_ x: UnsafeMutablePointer<Float>, rows: Int, dim c: Int, _ wt: ResidualMLPWeights) {
        if rows == 0 { return }
        let hidden = wt.hidden
        let threads = Parallel.threadCount
        let tile = 128
        let tiles = (rows + tile - 1) / tile
        // Assumes scratch holds n·(c + hidden) floats and rows r0..<r0+n of x belong to this call alone.
        // Inside a worker (tiled path) the forChunks and GEMMs below run inline.
        func run(_ r0: Int, _ n: Int, _ scratch: UnsafeMutablePointer<Float>) {
            let xn = scratch, hid = scratch + n * c, xs = x + r0 * c
            Parallel.forChunks(n, grain: 64) { range in
                for r in range {
                    layerNormRow(xs + r * c, xn + r * c, n: c, weight: wt.normWeight, bias: wt.normBias, eps: wt.eps)
                }
            }
            sgemm(transB: true, m: n, n: hidden, k: c, a: xn, lda: c, b: wt.w1, ldb: c, c: hid, ldc: hidden)
            Parallel.forChunks(n, grain: 16) { range in
                for r in range {
                    let h = hid + r * hidden, xr = xs + r * c, b1 = wt.b1, b2 = wt.b2
                    switch wt.activation {
                    case .gelu:
                        for k in 0..<hidden { h[k] = FastMath.gelu(h[k] + b1[k]) }
                    case .relu:
                        for k in 0..<hidden { let v = h[k] + b1[k]; h[k] = v > 0 || v.isNaN ? v : 0 }
                    }
                    for k in 0..<c { xr[k] += b2[k] }
                }
            }
            sgemm(transB: true, m: n, n: c, k: hidden, a: hid, lda: hidden, b: wt.w2, ldb: hidden,
                  beta: 1, c: xs, ldc: c)
        }
        if tiles >= 2 * threads && threads > 1 {
            Parallel.forChunks(tiles, grain: 1) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tile * (c + hidden))
                defer { scratch.deallocate() }
                for t in range { run(t * tile, Swift.min(tile, rows - t * tile), scratch) }
            }
        } else {
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: rows * (c + hidden))
            defer { scratch.deallocate() }
            run(0, rows, scratch)
        }
    }
}
