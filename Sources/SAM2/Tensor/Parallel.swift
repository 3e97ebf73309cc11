import Foundation
import COpenBLAS

/// Splits non-BLAS work over the machine's cores.
public enum Parallel {
    /// Worker count for elementwise and reduction kernels (all cores by default).
    nonisolated(unsafe) public static var threadCount: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Sets the thread count for both our kernels and OpenBLAS.
    public static func setThreadCount(_ n: Int) {
        threadCount = max(1, n)
        openblas_set_num_threads(Int32(threadCount))
    }

    /// Runs `body(range)` over `0..<count` cut into contiguous chunks, one chunk per worker when the work is
    /// large enough (`grain` is the minimum number of items worth a thread).
    @inlinable
    public static func forChunks(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let workers = min(threadCount, max(1, count / max(1, grain)))
        if workers <= 1 { body(0..<count); return }
        let chunk = (count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = w * chunk
            let hi = min(count, lo + chunk)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body(i)` for every i in `0..<count`, spread over workers (use for coarse items such as rows or planes).
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forChunks(count, grain: 1) { r in for i in r { body(i) } }
    }
}
