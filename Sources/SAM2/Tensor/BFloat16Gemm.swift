import CKernels

/// Matrix products with bfloat16-rounded operands and float32 accumulation (the `ComputePrecision.bfloat16` path of
/// `Tensor.sgemm`), on the AVX-512 BF16 kernel of CKernels when the CPU has it and portable C otherwise.
public enum BFloat16Gemm {
    /// Which implementation runs.
    public enum Kernel: Sendable, CaseIterable {
        /// AVX-512 BF16 when available, else portable.
        case automatic
        /// Plain C: float32 multiply-adds of the rounded operands (any CPU).
        case portable
        /// `vdpbf16ps` micro-kernel (falls back to portable when the CPU lacks AVX512_BF16).
        case avx512

        var c: sam2_bf16_gemm_kernel {
            switch self {
            case .automatic: return SAM2_BF16_GEMM_AUTOMATIC
            case .portable: return SAM2_BF16_GEMM_PORTABLE
            case .avx512: return SAM2_BF16_GEMM_AVX512
            }
        }
    }

    /// True when this CPU runs the AVX-512 BF16 kernel.
    public static var hasAVX512BF16: Bool { sam2_bf16_gemm_has_avx512bf16() != 0 }

    /// bfloat16 bits of `x`, rounded to nearest even as PyTorch's `.to(torch.bfloat16)` (NaN → 0x7FC0).
    public static func bits(_ x: Float) -> UInt16 { sam2_bf16_from_float(x) }

    /// `x` rounded to the nearest bfloat16 value, as a Float.
    public static func rounded(_ x: Float) -> Float { Float(bitPattern: UInt32(bits(x)) << 16) }

    /// Products below this many multiply-adds stay on float32 sgemm in bfloat16 mode: there packing and rounding
    /// would cost more than the faster arithmetic saves (the decoder's few-token products, small convolutions).
    public static let minimumMultiplyAdds = 1 << 18

    /// Multiply-adds each worker should get before a product is split over threads.
    static let multiplyAddsPerWorker = 1 << 22

    /// Whether `Tensor.sgemm` in bfloat16 mode sends an m×n×k product here.
    public static func isWorthwhile(m: Int, n: Int, k: Int) -> Bool {
        m * n * k >= minimumMultiplyAdds
    }

    /// C[m×n] = alpha·op(A)·op(B) + beta·C with the conventions of `Tensor.sgemm` (row-major, op = transpose when
    /// asked, row strides in floats), operands rounded to bfloat16, products accumulated in float32.
    ///
    /// Threads: `threads` workers (nil: `Parallel.threadCount`, or 1 inside a Parallel worker — the attention kernel
    /// and the Hiera blocks issue GEMMs from their workers — so the call runs in the calling worker, as the sgemm
    /// policy does, instead of nesting a second level of workers). Work is split by rows
    /// (or by columns when there are more of them); each worker packs its own copy of the shared operand.
    /// Assumes each pointer addresses the rows×ld elements implied by the dimensions.
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                            kernel: Kernel = .automatic, threads: Int? = nil) {
        if m <= 0 || n <= 0 { return }
        let budget = max(1, threads ?? (Parallel.isInsideWorker ? 1 : Parallel.threadCount))
        let workers = min(budget, max(1, m * n * max(k, 1) / multiplyAddsPerWorker))
        if workers <= 1 {
            _ = sam2_bf16_gemm(kernel.c, transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        // Bands are whole micro-tiles (14 rows or 32 columns) so no worker computes a ragged tile mid-matrix.
        let byRows = m >= n
        Tensor.forEachBand(transA: transA, transB: transB, m: m, n: n, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                           workers: workers, byRows: byRows, tile: byRows ? 14 : 32) { bm, bn, ba, bb, bc in
            _ = sam2_bf16_gemm(kernel.c, transA ? 1 : 0, transB ? 1 : 0, bm, bn, k, alpha, ba, lda, bb, ldb, beta, bc, ldc)
        }
    }
}
