import COpenBLAS

extension Tensor {
    /// C = alpha·op(A)·op(B) + beta·C on raw row-major buffers through OpenBLAS `cblas_sgemm`; big products are
    /// split over `Parallel` workers (see `splitSgemm`). Assumes each pointer addresses at least the rows×ld
    /// elements implied by the dimensions.
    @inlinable
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if ComputePrecision.current == .bfloat16 && BFloat16Gemm.isWorthwhile(m: m, n: n, k: k) {
            BFloat16Gemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                              b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }

        splitSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c, ldc: ldc)
    }

    /// Below this many flops a product runs in the calling thread (a Dispatch round trip costs ~10–20 µs).
    @usableFromInline static let sgemmSplitFlops = 4_000_000

    /// The threading policy of `sgemm`: OpenBLAS is single-threaded (`Parallel.singleThreadedBLAS`), so a big
    /// product is cut here into one band per worker — rows of C when m has enough of them, else columns — each
    /// band an independent single-threaded `cblas_sgemm`. Every element of C still sums over k in OpenBLAS's
    /// order, so results match the unsplit call up to the kernel's edge handling. Inside a worker it runs inline.
    @usableFromInline
    static func splitSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        Parallel.singleThreadedBLAS()
        let threads = Parallel.threadCount
        let flops = 2 * m * n * max(k, 1)
        // Bands of at least 32 rows/columns keep OpenBLAS's packing overhead small next to the band's work.
        let minBand = 32
        let rowWorkers = min(threads, m / minBand), colWorkers = min(threads, n / minBand)
        let workers = max(rowWorkers, colWorkers)
        if workers <= 1 || flops < sgemmSplitFlops || Parallel.isInsideWorker {
            leafSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c, ldc: ldc)
            return
        }
        // Band edges on multiples of 16 (the kernel's register tile), remainder in the last band.
        forEachBand(transA: transA, transB: transB, m: m, n: n, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                    workers: workers, byRows: rowWorkers >= colWorkers, tile: 16) { bm, bn, ba, bb, bc in
            leafSgemm(transA: transA, transB: transB, m: bm, n: bn, k: k, alpha: alpha, a: ba, lda: lda, b: bb, ldb: ldb,
                      beta: beta, c: bc, ldc: ldc)
        }
    }

    /// Cuts the m×n output of op(A)·op(B) into `workers` bands of whole `tile`s — rows of C (and of op(A)) when
    /// `byRows`, else columns (and columns of op(B)) — and runs `band(m, n, A, B, C)` for each on Parallel workers.
    /// Shared by the float32 and bfloat16 products. Assumes the pointers address the whole product as in `sgemm`.
    static func forEachBand(transA: Bool, transB: Bool, m: Int, n: Int, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                            workers: Int, byRows: Bool, tile: Int,
                            _ band: (Int, Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let extent = byRows ? m : n
        let width = ((extent + workers - 1) / workers + tile - 1) / tile * tile
        let bands = (extent + width - 1) / width
        Parallel.forChunks(bands, grain: 1) { range in
            for i in range {
                let lo = i * width, len = min(width, extent - lo)
                if byRows {
                    band(len, n, a + (transA ? lo : lo * lda), b, c + lo * ldc)
                } else {
                    band(m, len, a, b + (transB ? lo * ldb : lo), c + lo)
                }
            }
        }
    }

    /// One `cblas_sgemm` call in the calling thread.
    @usableFromInline
    static func leafSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Matrix product over the last two dimensions; leading (batch) dimensions must match, or `other` is 2-d
    /// and shared by every batch item. `transposeA`/`transposeB` use the transposed last two dimensions.
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul needs rank ≥ 2, got \(shape) and \(other.shape)")
        let m = transposeA ? shape[rank - 1] : shape[rank - 2]
        let k = transposeA ? shape[rank - 2] : shape[rank - 1]
        let kb = transposeB ? other.shape[other.rank - 1] : other.shape[other.rank - 2]
        let n = transposeB ? other.shape[other.rank - 2] : other.shape[other.rank - 1]
        precondition(k == kb, "matmul: inner dimensions differ: \(shape) × \(other.shape)")
        let batchA = Array(shape.dropLast(2))
        let batchB = Array(other.shape.dropLast(2))
        precondition(batchB.isEmpty || batchA == batchB, "matmul: batch dimensions differ: \(shape) × \(other.shape)")
        let batch = batchA.reduce(1, *)
        let sharedB = batchB.isEmpty
        let lda = shape[rank - 1], ldb = other.shape[other.rank - 1]
        return Tensor(shape: batchA + [m, n]) { out in
            withUnsafeBufferPointer { a in
                other.withUnsafeBufferPointer { b in
                    for i in 0..<batch {
                        Tensor.sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                                     a: a.baseAddress! + i * m * k, lda: lda,
                                     b: b.baseAddress! + (sharedB ? 0 : i * k * n), ldb: ldb,
                                     c: out.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
    }

    /// PyTorch `nn.Linear`: x[..., in] · weightᵀ (weight is [out, in]) + bias[out].
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        precondition(weight.rank == 2 && shape.last == weight.shape[1],
                     "linear: input \(shape) does not fit weight \(weight.shape)")
        let outF = weight.shape[0], inF = weight.shape[1]
        let rows = count / max(inF, 1)
        var outShape = shape
        outShape[rank - 1] = outF
        return Tensor(shape: outShape) { out in
            let o = out.baseAddress!
            if let bias {
                precondition(bias.count == outF, "linear: bias has \(bias.count) elements, expected \(outF)")
                bias.withUnsafeBufferPointer { bp in
                    for r in 0..<rows { (o + r * outF).update(from: bp.baseAddress!, count: outF) }
                }
            }
            withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    Tensor.sgemm(transB: true, m: rows, n: outF, k: inF, a: x.baseAddress!, lda: inF,
                                 b: w.baseAddress!, ldb: inF, beta: bias == nil ? 0 : 1, c: o, ldc: outF)
                }
            }
        }
    }
}
