import Foundation
import COpenBLAS
import CKernels

/// Splits work over the machine's cores. Exactly `threadCount` threads compute at any time: OpenBLAS runs
/// single-threaded in whichever thread calls it (`Tensor.sgemm` splits big products over our workers itself),
/// and work started from inside a worker runs inline in that worker instead of fanning out again.
public enum Parallel {
    /// Worker count for kernels and split GEMMs (all cores by default).
    nonisolated(unsafe) public static var threadCount: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Sets the worker count (OpenBLAS itself stays single-threaded: see `Parallel`).
    public static func setThreadCount(_ n: Int) {
        threadCount = max(1, n)
        singleThreadedBLAS()
    }

    /// Switches OpenBLAS to one thread, once. Its own pthread workers would otherwise spin (sched_yield) on the
    /// cores our Dispatch workers need between BLAS calls, and queue on its global lock when called from workers.
    @usableFromInline
    static func singleThreadedBLAS() { _ = blasCore }

    /// The OpenBLAS kernel set in use ("SkylakeX", "Haswell", …; empty when the library does not say), and whether
    /// this process replaced OpenBLAS's own choice (a generic fallback on a CPU it does not know: `CKernels.h`).
    /// Set up once, before the first BLAS call: the kernels corrected, then OpenBLAS made single-threaded.
    public static let blasCore: (name: String, upgraded: Bool) = {
        var name = [CChar](repeating: 0, count: 32)
        let upgraded = sam2_openblas_upgrade_core(&name, name.count) == 1
        openblas_set_num_threads(1)
        return (String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), upgraded)
    }()

    /// `blasCore` for reports, e.g. "SkylakeX (set by the workbench: OpenBLAS chose a generic fallback for this CPU)".
    public static var blasCoreDescription: String {
        (blasCore.name.isEmpty ? "unknown" : blasCore.name)
            + (blasCore.upgraded ? " (set by the workbench: OpenBLAS chose a generic fallback for this CPU)" : "")
    }

    /// Per-thread marker of "this thread is running a chunk of `forChunks`" (non-nil value = inside).
    private static let workerKey: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "Parallel: pthread_key_create failed (\(rc))")
        return key
    }()

    /// True in a thread currently running a chunk of `forChunks` (so nested parallel work should run inline).
    @usableFromInline
    static var isInsideWorker: Bool { pthread_getspecific(workerKey) != nil }

    /// Runs `body` marked as a worker (nested `forChunks` and split GEMMs then run inline), restoring the mark.
    @usableFromInline
    static func asWorker(_ body: () -> Void) {
        let previous = pthread_getspecific(workerKey)
        pthread_setspecific(workerKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(workerKey, previous) }
        body()
    }

    /// Runs `body(range)` over `0..<count` cut into contiguous chunks, one chunk per worker when the work is
    /// large enough (`grain` is the minimum number of items worth a thread). Inside a worker it runs inline.
    @inlinable
    public static func forChunks(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let workers = min(threadCount, max(1, count / max(1, grain)))
        if workers <= 1 || isInsideWorker { body(0..<count); return }
        let chunk = (count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = w * chunk
            let hi = min(count, lo + chunk)
            if lo < hi { asWorker { body(lo..<hi) } }
        }
    }

    /// Runs `body(i)` for every i in `0..<count`, spread over workers (use for coarse items such as rows or planes).
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forChunks(count, grain: 1) { r in for i in r { body(i) } }
    }
}
