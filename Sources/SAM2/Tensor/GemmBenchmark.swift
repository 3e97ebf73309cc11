import Foundation
import COpenBLAS

/// Measurements of the compute kernels SAM 2's cost is made of: sgemm at SAM-2-relevant sizes and the fused attention.
public enum GemmBenchmark {
    /// One sgemm size: C[m×n] = A[m×k]·B[k×n].
    public struct GemmRow: Sendable {
        public var m, n, k: Int
        public var bestSeconds, medianSeconds: Double
        /// Least process CPU time (all threads) of a run: steadier than wall time on a shared machine.
        public var cpuSeconds: Double
        /// 2·m·n·k / best time.
        public var gflops: Double { Double(2 * m * n * k) / bestSeconds / 1e9 }
        public var medianGflops: Double { Double(2 * m * n * k) / medianSeconds / 1e9 }
    }

    /// One attention shape: `problems` independent (batch·head) problems of Lq queries × Lk keys.
    public struct AttentionRow: Sendable {
        public var label: String
        public var problems, lq, lk, d, dv: Int
        public var bestSeconds, medianSeconds: Double
        /// Least process CPU time (all threads) of a run.
        public var cpuSeconds: Double
        /// Bytes of scratch the kernel allocates (score blocks and row statistics), from its plan.
        public var scratchBytes: Int
        /// Bytes of the output tensor.
        public var outputBytes: Int
        /// Peak RSS during the call minus RSS before it (VmHWM − VmRSS, after resetting VmHWM); nil if unavailable.
        /// Memory that malloc reuses from earlier frees is already resident, so this is a lower bound.
        public var peakExtraBytes: Int?
        /// 2·Lq·Lk·(D+Dv) per problem (= 4·Lq·Lk·D when Dv = D) / best time.
        public var gflops: Double { Double(2 * problems * lq * lk * (d + dv)) / bestSeconds / 1e9 }
    }

    /// One size timed with float32 sgemm and with the bfloat16 GEMM (`ComputePrecision.bfloat16`), B transposed as
    /// in `linear`.
    public struct BFloat16Row: Sendable {
        public var float32: GemmRow
        public var bfloat16: GemmRow
        /// Relative L2 error of the bf16 product against the float32 one.
        public var relativeL2: Double
    }

    /// Everything measured by `run`, with a printable table.
    public struct Result: Sendable {
        public var threads: Int
        public var repeats: Int
        public var gemm: [GemmRow]
        public var attention: [AttentionRow]
        /// The bfloat16 GEMM against sgemm at `bfloat16Sizes`.
        public var bfloat16: [BFloat16Row]
        public var report: String
    }

    /// sgemm sizes (m, n, k) met in SAM 2: projections of 4096 tokens, the MLP, attention's Q·Kᵀ and P·V.
    public static let gemmSizes: [(m: Int, n: Int, k: Int)] = [
        (4096, 256, 256), (4096, 1024, 256), (4096, 256, 1024), (4096, 4096, 256), (4096, 256, 4096),
        (28_736, 256, 256), (4096, 28_736, 256),
    ]

    /// Sizes (m, n, k) of the bfloat16 comparison: memory-attention MLP, Hiera-T stage-1 qkv over 4096 windows' tokens
    /// (65536 × 384 × 96), stage-3 qkv, and one 256 × 256 × 256 block of the fused attention kernel.
    public static let bfloat16Sizes: [(m: Int, n: Int, k: Int)] = [
        (4096, 2048, 256), (65_536, 384, 96), (4096, 1152, 384), (256, 256, 256),
    ]

    /// Attention shapes of SAM 2 (Hiera-T / B+ at 1024², 7 memories): label, problems, Lq, Lk, D, Dv.
    public static let attentionShapes: [(label: String, problems: Int, lq: Int, lk: Int, d: Int, dv: Int)] = [
        ("memory cross-attn", 1, 4096, 28_736, 256, 256),
        ("memory self-attn", 1, 4096, 4096, 256, 256),
        ("hiera global (4 heads)", 4, 4096, 4096, 96, 96),
        ("hiera windows 8x8", 1024, 64, 64, 96, 96),
        ("decoder token->image", 8, 7, 4096, 16, 16),
    ]

    /// Times `body` `repeats` times after one warm-up call; returns best and median wall seconds and the least
    /// process CPU seconds.
    public static func time(repeats: Int, _ body: () -> Void) -> (best: Double, median: Double, cpu: Double) {
        body()
        var times: [Double] = []
        var cpu = Double.infinity
        for _ in 0..<max(1, repeats) {
            let c0 = processCPUSeconds(), t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            cpu = min(cpu, processCPUSeconds() - c0)
        }
        times.sort()
        return (times[0], times[times.count / 2], cpu)
    }

    /// Measures C = A·B for one size with random inputs.
    public static func measureGemm(m: Int, n: Int, k: Int, repeats: Int) -> GemmRow {
        measureGemm(m: m, n: n, k: k, transB: false, repeats: repeats).row
    }

    /// Measures C = A·op(B) through `Tensor.sgemm` at the current `ComputePrecision`; also returns C.
    static func measureGemm(m: Int, n: Int, k: Int, transB: Bool, repeats: Int) -> (row: GemmRow, c: [Float]) {
        let a = noise(m * k, seed: 1), b = noise(k * n, seed: 2)
        var c = [Float](repeating: 0, count: m * n)
        let t = a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    time(repeats: repeats) {
                        Tensor.sgemm(transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!,
                                     ldb: transB ? k : n, c: cp.baseAddress!, ldc: n)
                    }
                }
            }
        }
        return (GemmRow(m: m, n: n, k: k, bestSeconds: t.best, medianSeconds: t.median, cpuSeconds: t.cpu), c)
    }

    /// sgemm and the bfloat16 GEMM at one size (B transposed, as in `linear`).
    public static func measureBFloat16(m: Int, n: Int, k: Int, repeats: Int) -> BFloat16Row {
        let f = ComputePrecision.with(.float32) { measureGemm(m: m, n: n, k: k, transB: true, repeats: repeats) }
        let h = ComputePrecision.with(.bfloat16) { measureGemm(m: m, n: n, k: k, transB: true, repeats: repeats) }
        let err = PrecisionFidelity.compare("C", test: Tensor(shape: [m * n], data: h.c), reference: Tensor(shape: [m * n], data: f.c))
        return BFloat16Row(float32: f.row, bfloat16: h.row, relativeL2: err.relativeL2)
    }

    /// Measures the fused attention on random q, k, v of shape [problems, L, D]; peak memory from the last run.
    public static func measureAttention(label: String, problems: Int, lq: Int, lk: Int, d: Int, dv: Int, repeats: Int,
                                        config: AttentionKernelConfig = .default) -> AttentionRow {
        let q = Tensor(shape: [problems, lq, d], data: noise(problems * lq * d, seed: 3))
        let k = Tensor(shape: [problems, lk, d], data: noise(problems * lk * d, seed: 4))
        let v = Tensor(shape: [problems, lk, dv], data: noise(problems * lk * dv, seed: 5))
        let t = time(repeats: repeats) {
            _ = Tensor.scaledDotProductAttention(q, k, v, config: config)
        }
        var peak: Int? = nil
        if resetPeakRSS(), let before = procStatusBytes("VmRSS") {
            let out = Tensor.scaledDotProductAttention(q, k, v, config: config)
            if let hwm = procStatusBytes("VmHWM") { peak = max(0, hwm - before) }
            _ = out.count
        }
        return AttentionRow(label: label, problems: problems, lq: lq, lk: lk, d: d, dv: dv,
                            bestSeconds: t.best, medianSeconds: t.median, cpuSeconds: t.cpu,
                            scratchBytes: Tensor.scaledDotProductAttentionScratchBytes(
                                problems: problems, lq: lq, lk: lk, d: d, dv: dv, config: config),
                            outputBytes: problems * lq * dv * MemoryLayout<Float>.size, peakExtraBytes: peak)
    }

    /// Runs every sgemm size and attention shape with `threads` workers (nil keeps the current setting).
    public static func run(threads: Int? = nil, repeats: Int = 5) -> Result {
        if let threads { Parallel.setThreadCount(threads) }
        let gemm = gemmSizes.map { measureGemm(m: $0.m, n: $0.n, k: $0.k, repeats: repeats) }
        let attention = attentionShapes.map {
            measureAttention(label: $0.label, problems: $0.problems, lq: $0.lq, lk: $0.lk, d: $0.d, dv: $0.dv,
                             repeats: repeats)
        }
        let bf16 = bfloat16Sizes.map { measureBFloat16(m: $0.m, n: $0.n, k: $0.k, repeats: repeats) }
        var lines = ["threads: \(Parallel.threadCount) (OpenBLAS single-threaded, products split over our workers), repeats: \(repeats) after 1 warm-up",
                     "OpenBLAS core: \(Parallel.blasCoreDescription)",
                     "", "sgemm C[m×n] = A[m×k]·B[k×n]",
                     row(["m", "n", "k", "best ms", "median ms", "cpu ms", "GFLOP/s", "median GFLOP/s"],
                         widths: [8, 8, 8, 12, 12, 12, 12, 16])]
        for g in gemm {
            lines.append(row(["\(g.m)", "\(g.n)", "\(g.k)", ms(g.bestSeconds), ms(g.medianSeconds), ms(g.cpuSeconds),
                              fixed(g.gflops), fixed(g.medianGflops)], widths: [8, 8, 8, 12, 12, 12, 12, 16]))
        }
        lines += ["", "fused attention (flops 2·Lq·Lk·(D+Dv) per problem; memory in MiB; RSS Δ = peak RSS growth)",
                  row(["shape", "B·H×Lq×Lk×D", "best ms", "median ms", "cpu ms", "GFLOP/s", "scratch", "output", "RSS Δ"],
                      widths: [24, 22, 10, 11, 10, 10, 10, 10, 10])]
        for a in attention {
            let dims = "\(a.problems)×\(a.lq)×\(a.lk)×\(a.d)" + (a.dv == a.d ? "" : "/\(a.dv)")
            lines.append(row([a.label, dims, ms(a.bestSeconds), ms(a.medianSeconds), ms(a.cpuSeconds), fixed(a.gflops),
                              mib(a.scratchBytes), mib(a.outputBytes), a.peakExtraBytes.map(mib) ?? "n/a"],
                             widths: [24, 22, 10, 11, 10, 10, 10, 10, 10]))
        }
        let kernel = BFloat16Gemm.hasAVX512BF16 ? "AVX-512 BF16 kernel" : "portable C kernel (no AVX512_BF16 on this CPU)"
        lines += ["", "bfloat16 GEMM (\(kernel)) vs sgemm, C[m×n] = A[m×k]·B[n×k]ᵀ; rel L2 of C against the float32 product",
                  row(["m", "n", "k", "fp32 ms", "bf16 ms", "fp32 cpu", "bf16 cpu", "fp32 GF/s", "bf16 GF/s", "speed-up", "rel L2"],
                      widths: [8, 8, 8, 10, 10, 10, 10, 11, 11, 10, 11])]
        for r in bf16 {
            lines.append(row(["\(r.float32.m)", "\(r.float32.n)", "\(r.float32.k)", ms(r.float32.bestSeconds),
                              ms(r.bfloat16.bestSeconds), ms(r.float32.cpuSeconds), ms(r.bfloat16.cpuSeconds),
                              fixed(r.float32.gflops), fixed(r.bfloat16.gflops),
                              String(format: "%.2f×", r.float32.bestSeconds / r.bfloat16.bestSeconds),
                              String(format: "%.2e", r.relativeL2)], widths: [8, 8, 8, 10, 10, 10, 10, 11, 11, 10, 11]))
        }
        return Result(threads: Parallel.threadCount, repeats: repeats, gemm: gemm, attention: attention, bfloat16: bf16,
                      report: lines.joined(separator: "\n"))
    }

    /// Times the memory cross-attention shape for each (queryBlock, keyBlock, schedule); returns a table with
    /// wall time and process CPU time (CPU time is the steadier figure on a machine shared with other work).
    public static func attentionBlockSweep(queryBlocks: [Int], keyBlocks: [Int],
                                           schedules: [AttentionKernelConfig.Schedule] = [.perBlock, .sharedRows],
                                           lq: Int = 4096, lk: Int = 28_736, d: Int = 256, repeats: Int = 2) -> String {
        let q = Tensor(shape: [1, lq, d], data: noise(lq * d, seed: 3))
        let k = Tensor(shape: [1, lk, d], data: noise(lk * d, seed: 4))
        let v = Tensor(shape: [1, lk, d], data: noise(lk * d, seed: 5))
        let flops = Double(4 * lq * lk * d)
        var lines = [row(["schedule", "qBlock", "kBlock", "wall ms", "cpu ms", "GFLOP/s", "GFLOP/cpu-s", "scratch MiB"],
                         widths: [12, 8, 8, 10, 10, 10, 13, 13])]
        for schedule in schedules {
            for qb in queryBlocks {
                for kb in keyBlocks {
                    let config = AttentionKernelConfig(queryBlock: qb, keyBlock: kb, sharedRowsBlock: qb, schedule: schedule)
                    let (wall, _, cpu) = time(repeats: repeats) { _ = Tensor.scaledDotProductAttention(q, k, v, config: config) }
                    let scratch = Tensor.scaledDotProductAttentionScratchBytes(problems: 1, lq: lq, lk: lk, d: d, dv: d,
                                                                               config: config)
                    lines.append(row(["\(schedule)", "\(qb)", "\(kb)", ms(wall), ms(cpu), fixed(flops / wall / 1e9),
                                      fixed(flops / cpu / 1e9), mib(scratch)], widths: [12, 8, 8, 10, 10, 10, 13, 13]))
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// User + system CPU seconds of the whole process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    // MARK: - helpers

    static func noise(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
    }

    /// Resets the kernel's peak-RSS counter (VmHWM) for this process (Linux ≥ 4.0: write "5" to clear_refs).
    static func resetPeakRSS() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        return (try? h.write(contentsOf: Data("5".utf8))) != nil
    }

    /// A `kB` field of /proc/self/status, in bytes.
    static func procStatusBytes(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1].trimmingCharacters(in: .whitespaces)) { return kb * 1024 }
        }
        return nil
    }

    static func row(_ cells: [String], widths: [Int] = []) -> String {
        cells.enumerated().map { i, c in
            let w = i < widths.count ? widths[i] : 12
            return c.count >= w ? c + " " : String(repeating: " ", count: w - c.count) + c
        }.joined()
    }

    static func ms(_ s: Double) -> String { String(format: "%.2f", s * 1000) }
    static func fixed(_ x: Double) -> String { String(format: "%.1f", x) }
    static func mib(_ b: Int) -> String { String(format: "%.2f", Double(b) / 1_048_576) }
}
