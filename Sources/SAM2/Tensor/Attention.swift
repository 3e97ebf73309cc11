import Foundation

/// How the fused attention kernel blocks and schedules its work (the default is tuned for SAM 2's shapes).
public struct AttentionKernelConfig: Sendable, Equatable {
    /// How the work is spread over cores.
    public enum Schedule: Sendable, Equatable {
        /// Picks `.perBlock` unless its whole tasks would leave workers idle for over 20% of the time, then `.sharedRows`.
        case automatic
        /// Each worker runs whole (problem, query block) tasks with single-threaded OpenBLAS calls.
        case perBlock
        /// One problem at a time: each sgemm is split over the workers (`Tensor.sgemm`), so are the softmax rows.
        case sharedRows
    }

    /// Query rows handled together; the per-task score block is `queryBlock × keyBlock` floats.
    public var queryBlock: Int
    /// Keys per streaming-softmax step.
    public var keyBlock: Int
    /// Query rows per step in the `.sharedRows` schedule (its score block is `sharedRowsBlock × keyBlock`).
    public var sharedRowsBlock: Int
    /// Work split.
    public var schedule: Schedule

    /// Creates a configuration; block sizes below 1 are raised to 1.
    public init(queryBlock: Int = 256, keyBlock: Int = 256, sharedRowsBlock: Int = 256, schedule: Schedule = .automatic) {
        self.queryBlock = max(1, queryBlock)
        self.keyBlock = max(1, keyBlock)
        self.sharedRowsBlock = max(1, sharedRowsBlock)
        self.schedule = schedule
    }

    /// Block sizes measured on the 2-core development machine (Zen 4, 1 MiB L2 per core): for 4096 × 8192 × 256
    /// per-core throughput (GFLOP per CPU-second) was ~80 at 128-row blocks and ~86–90 at 256–512 rows, nearly flat
    /// in the key block (128…1024); 256 × 256 keeps the 256 KiB score block well inside L2 next to OpenBLAS's panels.
    public static let `default` = AttentionKernelConfig()
}

extension Tensor {
    /// PyTorch `F.scaled_dot_product_attention(q, k, v, scale=scale)` without mask or dropout:
    /// q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv] → [..., Lq, Dv], scale defaulting to 1/√D.
    /// The Lq×Lk score matrix is never materialised (streaming softmax over key blocks).
    public static func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float? = nil,
                                                 config: AttentionKernelConfig = .default) -> Tensor {
        precondition(q.rank >= 2 && k.rank == q.rank && v.rank == q.rank,
                     "scaledDotProductAttention: q, k, v need the same rank ≥ 2, got \(q.shape), \(k.shape), \(v.shape)")
        let r = q.rank
        let lq = q.shape[r - 2], d = q.shape[r - 1], lk = k.shape[r - 2], dv = v.shape[r - 1]
        precondition(k.shape[r - 1] == d && v.shape[r - 2] == lk,
                     "scaledDotProductAttention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit")
        let lead = Array(q.shape.dropLast(2))
        precondition(Array(k.shape.dropLast(2)) == lead && Array(v.shape.dropLast(2)) == lead,
                     "scaledDotProductAttention: batch dimensions differ: \(q.shape), \(k.shape), \(v.shape)")
        let batch = lead.reduce(1, *)
        let geometry = AttentionKernel.Geometry(lq: lq, lk: lk, d: d, dv: dv, ldq: d, ldk: d, ldv: dv, ldo: dv,
                                                scale: scale ?? 1 / Float(d).squareRoot(), heads: 1,
                                                qBatch: lq * d, kBatch: lk * d, vBatch: lk * dv, oBatch: lq * dv)
        return AttentionKernel.run(q: q, k: k, v: v, outShape: lead + [lq, dv], problems: batch,
                                   geometry: geometry, config: config)
    }

    /// Multi-head attention on SAM 2's packed layout, sparing the head split/recombine permutes:
    /// q [B, Lq, H·D], k [B, Lk, H·D], v [B, Lk, H·Dv] → [B, Lq, H·Dv], where head h owns columns h·D..<(h+1)·D
    /// (as `_separate_heads` / `_recombine_heads` in the official code). Scale defaults to 1/√D.
    public static func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, scale: Float? = nil,
                                                 config: AttentionKernelConfig = .default) -> Tensor {
        precondition(q.rank == 3 && k.rank == 3 && v.rank == 3 && heads >= 1,
                     "scaledDotProductAttention(heads:): q, k, v must be [B, L, H·D], got \(q.shape), \(k.shape), \(v.shape)")
        let b = q.shape[0], lq = q.shape[1], lk = k.shape[1]
        precondition(k.shape[0] == b && v.shape[0] == b && v.shape[1] == lk && k.shape[2] == q.shape[2],
                     "scaledDotProductAttention(heads:): q \(q.shape), k \(k.shape), v \(v.shape) do not fit")
        precondition(q.shape[2] % heads == 0 && v.shape[2] % heads == 0,
                     "scaledDotProductAttention(heads:): channels \(q.shape[2]), \(v.shape[2]) not divisible by \(heads) heads")
        let d = q.shape[2] / heads, dv = v.shape[2] / heads
        let hd = heads * d, hdv = heads * dv
        let geometry = AttentionKernel.Geometry(lq: lq, lk: lk, d: d, dv: dv, ldq: hd, ldk: hd, ldv: hdv, ldo: hdv,
                                                scale: scale ?? 1 / Float(d).squareRoot(), heads: heads,
                                                qBatch: lq * hd, kBatch: lk * hd, vBatch: lk * hdv, oBatch: lq * hdv)
        return AttentionKernel.run(q: q, k: k, v: v, outShape: [b, lq, hdv], problems: b * heads,
                                   geometry: geometry, config: config)
    }

    /// Scratch bytes the fused kernel allocates for these sizes (besides its output), for memory accounting.
    public static func scaledDotProductAttentionScratchBytes(problems: Int, lq: Int, lk: Int, d: Int, dv: Int,
                                                             config: AttentionKernelConfig = .default) -> Int {
        let plan = AttentionKernel.plan(problems: problems, lq: lq, lk: lk, flopsPerScore: 2 * (d + dv), config: config)
        return plan.scratchFloats * plan.scratchBuffers * MemoryLayout<Float>.size
    }
}

/// Flash-attention-style kernel: for each query block and key block, S = scale·Q·Kᵀ (sgemm), online softmax
/// (running row max m and sum l, rescaling the output rows when m grows), O += P·V (sgemm), finally O /= l.
enum AttentionKernel {
    /// Sizes and row strides (in floats) of one attention problem; every problem of a call shares them.
    /// Problem p is head p % heads of batch item p / heads; heads sit side by side within a row.
    struct Geometry {
        var lq, lk, d, dv, ldq, ldk, ldv, ldo: Int
        var scale: Float
        var heads: Int
        var qBatch, kBatch, vBatch, oBatch: Int

        /// Element offsets of problem p in q, k, v and the output.
        func offsets(_ p: Int) -> (q: Int, k: Int, v: Int, o: Int) {
            let (b, h) = p.quotientAndRemainder(dividingBy: heads)
            return (b * qBatch + h * d, b * kBatch + h * d, b * vBatch + h * dv, b * oBatch + h * dv)
        }
    }

    struct Plan {
        var perBlock: Bool
        var rowBlock: Int
        var keyBlock: Int
        var workers: Int
        var scratchBuffers: Int
        var scratchFloats: Int
    }

    /// Below this many flops threading costs more than it gains.
    static let parallelFlops = 4_000_000

    static func plan(problems: Int, lq: Int, lk: Int, flopsPerScore: Int, config: AttentionKernelConfig) -> Plan {
        let threads = Parallel.threadCount
        let flops = problems * lq * lk * flopsPerScore
        let keyBlock = min(config.keyBlock, max(lk, 1))
        let qBlock = min(config.queryBlock, max(lq, 1))
        let tasks = problems * ((lq + qBlock - 1) / qBlock)
        let perBlock: Bool
        switch config.schedule {
        case .perBlock: perBlock = true
        case .sharedRows: perBlock = false
        // .perBlock does ~10% more work per CPU-second (no barrier per key block), so it wins unless whole tasks
        // split unevenly over the workers (e.g. one problem of ≤ queryBlock rows on 2 cores).
        case .automatic:
            let rounds = (tasks + threads - 1) / threads
            perBlock = threads == 1 || flops < parallelFlops || Double(tasks) >= 0.8 * Double(rounds * threads)
        }
        if perBlock {
            let workers = flops < parallelFlops ? 1 : min(threads, tasks)
            return Plan(perBlock: true, rowBlock: qBlock, keyBlock: keyBlock, workers: workers,
                        scratchBuffers: workers, scratchFloats: qBlock * keyBlock + 2 * qBlock)
        }
        let rows = min(config.sharedRowsBlock, max(lq, 1))
        return Plan(perBlock: false, rowBlock: rows, keyBlock: keyBlock, workers: threads,
                    scratchBuffers: 1, scratchFloats: rows * keyBlock + 2 * rows)
    }

    static func run(q: Tensor, k: Tensor, v: Tensor, outShape: [Int], problems: Int, geometry g: Geometry,
                    config: AttentionKernelConfig) -> Tensor {
        if g.lk == 0 || g.dv == 0 { return Tensor(shape: outShape, repeating: 0) }  // empty softmax sum: PyTorch gives 0
        if g.lq == 0 || problems == 0 { return Tensor(shape: outShape, repeating: 0) }
        let plan = plan(problems: problems, lq: g.lq, lk: g.lk, flopsPerScore: 2 * (g.d + g.dv), config: config)
        return Tensor(shape: outShape) { out in
            q.withUnsafeBufferPointer { qb in
                k.withUnsafeBufferPointer { kb in
                    v.withUnsafeBufferPointer { vb in
                        let qp = qb.baseAddress!, kp = kb.baseAddress!, vp = vb.baseAddress!, op = out.baseAddress!
                        if plan.perBlock {
                            runPerBlock(q: qp, k: kp, v: vp, o: op, problems: problems, g: g, plan: plan)
                        } else {
                            runSharedRows(q: qp, k: kp, v: vp, o: op, problems: problems, g: g, plan: plan)
                        }
                    }
                }
            }
        }
    }

    /// Whole (problem, query block) tasks per worker, each calling OpenBLAS from its own thread.
    /// Why that is safe with Debian's libopenblas0-pthread 0.3.21 (built with USE_THREAD=1): there the work-buffer
    /// allocator is locked (the races of #1755/#2126 were in USE_THREAD=0 builds / pre-0.3.7), and a call whose
    /// thread count is 1 — always, see `Parallel` — runs entirely in the caller's thread without touching the
    /// shared thread server. Inside the workers `Tensor.sgemm` does not split further.
    /// testConcurrentBlasCallsAreDeterministic checks repeated runs are bit-identical.
    static func runPerBlock(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                            o: UnsafeMutablePointer<Float>, problems: Int, g: Geometry, plan: Plan) {
        let blocksPerProblem = (g.lq + plan.rowBlock - 1) / plan.rowBlock
        let tasks = problems * blocksPerProblem
        let body = { (range: Range<Int>) in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.scratchFloats)
            defer { scratch.deallocate() }
            for t in range {
                let (p, blk) = t.quotientAndRemainder(dividingBy: blocksPerProblem)
                let off = g.offsets(p)
                let r0 = blk * plan.rowBlock
                let rows = min(plan.rowBlock, g.lq - r0)
                attendRows(q: q + off.q + r0 * g.ldq, k: k + off.k, v: v + off.v, o: o + off.o + r0 * g.ldo,
                           rows: rows, g: g, keyBlock: plan.keyBlock, scratch: scratch, rowWorkers: 1)
            }
        }
        if plan.workers <= 1 { body(0..<tasks); return }
        Parallel.forChunks(tasks, grain: 1, body)  // one chunk (and one scratch buffer) per worker
    }

    /// One problem after another, big row blocks: `Tensor.sgemm` splits the products, the softmax is split by rows.
    static func runSharedRows(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                              o: UnsafeMutablePointer<Float>, problems: Int, g: Geometry, plan: Plan) {
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.scratchFloats)
        defer { scratch.deallocate() }
        for p in 0..<problems {
            let off = g.offsets(p)
            var r0 = 0
            while r0 < g.lq {
                let rows = min(plan.rowBlock, g.lq - r0)
                attendRows(q: q + off.q + r0 * g.ldq, k: k + off.k, v: v + off.v, o: o + off.o + r0 * g.ldo,
                           rows: rows, g: g, keyBlock: plan.keyBlock, scratch: scratch, rowWorkers: plan.workers)
                r0 += rows
            }
        }
    }

    /// Attention for `rows` query rows against all keys of one problem. Assumes q/o address `rows` rows of
    /// strides ldq/ldo, k/v address lk rows of strides ldk/ldv, and scratch holds rows·keyBlock + 2·rows floats.
    /// `rowWorkers > 1` splits the per-row softmax work over threads (`Tensor.sgemm` splits the products itself).
    static func attendRows(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                           o: UnsafeMutablePointer<Float>, rows: Int, g: Geometry, keyBlock: Int,
                           scratch: UnsafeMutablePointer<Float>, rowWorkers: Int) {
        let s = scratch
        let rowMax = scratch + rows * keyBlock
        let rowSum = rowMax + rows
        var j0 = 0
        while j0 < g.lk {
            let n = min(keyBlock, g.lk - j0)
            let first = j0 == 0
            Tensor.sgemm(transB: true, m: rows, n: n, k: g.d, alpha: g.scale, a: q, lda: g.ldq,
                         b: k + j0 * g.ldk, ldb: g.ldk, beta: 0, c: s, ldc: n)
            let update = { (range: Range<Int>) in
                for r in range {
                    let corr = softmaxBlockRow(s + r * n, n: n, max: &rowMax[r], sum: &rowSum[r], first: first)
                    if !first && corr != 1 { scaleRow(o + r * g.ldo, count: g.dv, by: corr) }
                }
            }
            if rowWorkers > 1 {
                Parallel.forChunks(rows, grain: max(1, 16_384 / max(n, 1)), update)
            } else {
                update(0..<rows)
            }
            Tensor.sgemm(m: rows, n: g.dv, k: n, a: s, lda: n, b: v + j0 * g.ldv, ldb: g.ldv,
                         beta: first ? 0 : 1, c: o, ldc: g.ldo)
            j0 += n
        }
        let finish = { (range: Range<Int>) in
            for r in range { scaleRow(o + r * g.ldo, count: g.dv, by: 1 / rowSum[r]) }
        }
        if rowWorkers > 1 { Parallel.forChunks(rows, grain: max(1, 16_384 / max(g.dv, 1)), finish) } else { finish(0..<rows) }
    }

    /// One online-softmax step on a row of scores: folds the block's max into `max`, replaces the scores by
    /// exp(score − max), folds their sum into `sum` and returns the factor exp(old max − new max) by which the
    /// output accumulated so far must be scaled (0 on the first block).
    @inline(__always)
    static func softmaxBlockRow(_ row: UnsafeMutablePointer<Float>, n: Int, max runningMax: inout Float,
                                sum runningSum: inout Float, first: Bool) -> Float {
        var i = 0
        var vmax = SIMD8<Float>(repeating: -.infinity)
        while i + 8 <= n {
            let x = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
            vmax.replace(with: x, where: vmax .< x)
            i += 8
        }
        var blockMax = vmax.max()
        while i < n { blockMax = Swift.max(blockMax, row[i]); i += 1 }
        let newMax = first ? blockMax : Swift.max(runningMax, blockMax)
        let corr: Float = first ? 0 : Foundation.exp(runningMax - newMax)
        let vm = SIMD8<Float>(repeating: newMax)
        var vsum = SIMD8<Float>()
        i = 0
        while i + 8 <= n {
            let e = FastMath.expNonPositive(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) - vm)
            UnsafeMutableRawPointer(row + i).storeBytes(of: e, as: SIMD8<Float>.self)
            vsum += e
            i += 8
        }
        var blockSum = vsum.sum()
        while i < n {
            let e = Foundation.exp(row[i] - newMax)
            row[i] = e
            blockSum += e
            i += 1
        }
        runningMax = newMax
        runningSum = first ? blockSum : runningSum * corr + blockSum
        return corr
    }

    @inline(__always)
    static func scaleRow(_ row: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        var i = 0
        let f = SIMD8<Float>(repeating: factor)
        while i + 8 <= count {
            let x = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(row + i).storeBytes(of: x * f, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { row[i] *= factor; i += 1 }
    }
}
