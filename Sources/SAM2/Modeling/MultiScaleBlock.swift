import Foundation

/// Official `MultiScaleAttention` parameters (hieradet.py): fused `qkv` Linear(dim → 3·dim_out) and `proj`
/// Linear(dim_out → dim_out). The forward pass lives in `MultiScaleBlock`, fused with windowing and residual.
public struct MultiScaleAttention: Sendable {
    public var qkv: Linear
    public var proj: Linear
    public let numHeads: Int

    /// Reads `qkv` and `proj` under `w` (the block's `attn`).
    public init(_ w: Weights, dim: Int, dimOut: Int, numHeads: Int) throws {
        qkv = try Linear(w.scoped("qkv"), inFeatures: dim, outFeatures: 3 * dimOut)
        proj = try Linear(w.scoped("proj"), inFeatures: dimOut, outFeatures: dimOut)
        self.numHeads = numHeads
    }
}

/// Official `MultiScaleBlock` on [B, H, W, C] tokens: LayerNorm (eps 1e-6) → window partition (zero padding)
/// → attention (query max-pooled at stage transitions) → unpartition → residual (projected and pooled when
/// the width changes) → LayerNorm → MLP (GELU) → residual.
///
/// The attention half runs per group of windows (gather+norm, qkv GEMM, pool, fused attention, proj GEMM,
/// residual add) and the MLP half per tile of rows, so no full-size qkv or hidden tensor is ever stored; with
/// many groups each core takes whole groups (its GEMMs then run in that core), with few (global attention) the
/// groups run one after another with split GEMMs and kernels.
public struct MultiScaleBlock: Sendable {
    public let spec: HieraConfig.Block
    public var norm1: LayerNorm
    public var attn: MultiScaleAttention
    public var norm2: LayerNorm
    public var mlp: MLP
    /// The shortcut projection, present when `dim != dimOut`.
    public var proj: Linear?

    /// Reads `norm1`, `attn`, `norm2`, `mlp.layers.{0,1}` and (when the width changes) `proj` under `w`.
    public init(_ w: Weights, _ spec: HieraConfig.Block) throws {
        self.spec = spec
        norm1 = try LayerNorm(w.scoped("norm1"), dim: spec.dim, eps: 1e-6)
        attn = try MultiScaleAttention(w.scoped("attn"), dim: spec.dim, dimOut: spec.dimOut, numHeads: spec.numHeads)
        norm2 = try LayerNorm(w.scoped("norm2"), dim: spec.dimOut, eps: 1e-6)
        mlp = try MLP(w.scoped("mlp"), inputDim: spec.dimOut, hiddenDim: Int(Double(spec.dimOut) * spec.mlpRatio),
                      outputDim: spec.dimOut, numLayers: 2, activation: .gelu)
        proj = spec.dim != spec.dimOut ? try Linear(w.scoped("proj"), inFeatures: spec.dim, outFeatures: spec.dimOut) : nil
    }

    /// Applies the block to [B, H, W, dim] → [B, H', W', dimOut] (H' = ⌊H/stride⌋ when the query is pooled).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = x
        forward(&y)
        return y
    }

    /// Applies the block in place (the token buffer is reused when the shape does not change).
    public func forward(_ x: inout Tensor) {
        precondition(x.rank == 4 && x.shape[3] == spec.dim, "MultiScaleBlock: expected [B, H, W, \(spec.dim)], got \(x.shape)")
        let g = WindowGeometry(shape: x.shape, spec: spec)
        if g.tokens == 0 || g.outTokens == 0 {
            x = Tensor(shape: [g.b, g.ho, g.wo, spec.dimOut])
            return
        }
        if let proj {
            // shortcut = do_pool(proj(norm1(x)), pool): full-grid pooling, so any window size works.
            var out = Self.maxPoolNHWC(norm1(x).linear(weight: proj.weight, bias: proj.bias), g)
            x.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    attentionResidual(src: src.baseAddress!, out: dst.baseAddress!, g)
                }
            }
            x = out
        } else {
            x.withUnsafeMutableBufferPointer { buf in
                // In place: each window group reads its own tokens before writing them back.
                attentionResidual(src: UnsafePointer(buf.baseAddress!), out: buf.baseAddress!, g)
            }
        }
        x.withUnsafeMutableBufferPointer { buf in mlpResidual(buf.baseAddress!, rows: g.outTokens) }
    }

    // MARK: - Geometry

    /// Sizes of one block application: input grid, windows (global attention = one window per image),
    /// pooled query windows and output grid.
    struct WindowGeometry {
        var b, h, w, c, co, heads: Int
        var wh, ww, nWh, nWw: Int
        var sh, sw, owh, oww, ho, wo: Int
        var pooled: Bool
        var l: Int { wh * ww }
        var lq: Int { owh * oww }
        var windows: Int { b * nWh * nWw }
        var tokens: Int { b * h * w }
        var outTokens: Int { b * ho * wo }

        init(shape: [Int], spec: HieraConfig.Block) {
            b = shape[0]; h = shape[1]; w = shape[2]; c = spec.dim; co = spec.dimOut; heads = spec.numHeads
            wh = spec.windowSize > 0 ? spec.windowSize : h
            ww = spec.windowSize > 0 ? spec.windowSize : w
            nWh = wh > 0 ? (h + wh - 1) / wh : 0
            nWw = ww > 0 ? (w + ww - 1) / ww : 0
            pooled = spec.qStride != nil
            sh = spec.qStride?[0] ?? 1
            sw = spec.qStride?[1] ?? 1
            // nn.MaxPool2d(ceil_mode=False) on each (padded) window and on the shortcut's full grid.
            owh = wh / sh; oww = ww / sw; ho = h / sh; wo = w / sw
        }

        /// (image, window row, window column) of window `i`.
        @inline(__always) func window(_ i: Int) -> (Int, Int, Int) {
            let (bi, r) = i.quotientAndRemainder(dividingBy: nWh * nWw)
            let (wy, wx) = r.quotientAndRemainder(dividingBy: nWw)
            return (bi, wy, wx)
        }
    }

    /// Max-pool over (sh × sw) cells of an [B, H, W, C] tensor, floor mode, without leaving the channels-last layout.
    static func maxPoolNHWC(_ x: Tensor, _ g: WindowGeometry) -> Tensor {
        if !g.pooled { return x }
        let c = x.shape[3], h = g.h, w = g.w, ho = g.ho, wo = g.wo, sh = g.sh, sw = g.sw
        return Tensor(shape: [g.b, ho, wo, c]) { out in
            x.withUnsafeBufferPointer { src in
                // Assumes src holds B·H·W·C and out B·ho·wo·C contiguous channels-last elements.
                let s = src.baseAddress!, o = out.baseAddress!
                Parallel.forChunks(g.b * ho, grain: Swift.max(1, 16384 / Swift.max(1, wo * c * sh * sw))) { range in
                    for row in range {
                        let (bi, oy) = row.quotientAndRemainder(dividingBy: ho)
                        for ox in 0..<wo {
                            let dst = o + ((bi * ho + oy) * wo + ox) * c
                            var first = true
                            for a in 0..<sh {
                                for bb in 0..<sw {
                                    let p = s + ((bi * h + oy * sh + a) * w + ox * sw + bb) * c
                                            if first { dst.update(from: p, count: c); first = false; continue }
                                    maxInto(dst, p, count: c)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Attention half

    /// out[token] += proj(attention(window of norm1(src)))[token] for every output token; `out` already holds
    /// the shortcut (and may be `src` itself when the block keeps its width and resolution).
    private func attentionResidual(src: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ g: WindowGeometry) {
        // ~256 token rows per group keeps the GEMMs efficient and the group's scratch inside L2.
        let perGroup = Swift.max(1, Swift.min(g.windows, 256 / Swift.max(1, g.l)))
        let groups = (g.windows + perGroup - 1) / perGroup
        let threads = Parallel.threadCount
        let scratchFloats = perGroup * (g.l * g.c + g.l * 3 * g.co + (g.pooled ? g.lq * g.co : 0) + 2 * g.lq * g.co)
        withPointers([norm1.weight, norm1.bias, attn.qkv.weight, attn.qkv.bias!, attn.proj.weight, attn.proj.bias!]) { p in
            let weights = AttentionWeights(n1w: p[0], n1b: p[1], qkvW: p[2], qkvB: p[3], projW: p[4], projB: p[5],
                                           eps: norm1.eps)
            if groups >= 2 * threads && threads > 1 {
                Parallel.forChunks(groups, grain: 1) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats)
                    defer { scratch.deallocate() }
                    for gi in range {
                        let first = gi * perGroup
                        attendGroup(first..<Swift.min(g.windows, first + perGroup), src, out, scratch, weights, g,
                                    parallel: false)
                    }
                }
            } else {
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats)
                defer { scratch.deallocate() }
                for gi in 0..<groups {
                    let first = gi * perGroup
                    attendGroup(first..<Swift.min(g.windows, first + perGroup), src, out, scratch, weights, g,
                                parallel: threads > 1)
                }
            }
        }
    }

    struct AttentionWeights {
        var n1w, n1b, qkvW, qkvB, projW, projB: UnsafePointer<Float>
        var eps: Float
    }

    /// One group of windows, start to finish. Assumes `scratch` holds the floats counted in `attentionResidual`
    /// and that no other thread touches these windows' tokens in `src`/`out`.
    private func attendGroup(_ windows: Range<Int>, _ src: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                             _ scratch: UnsafeMutablePointer<Float>, _ wt: AttentionWeights, _ g: WindowGeometry,
                             parallel: Bool) {
        let n = windows.count, c = g.c, co = g.co, l = g.l, lq = g.lq, c3 = 3 * co
        let rows = n * l, qRows = n * lq
        let xn = scratch                                  // [rows, c] normed tokens (zeros at padding)
        let qkv = xn + rows * c                           // [rows, 3·co]
        let qPooled = qkv + rows * c3                     // [qRows, co] when pooled
        let attnOut = qPooled + (g.pooled ? qRows * co : 0)  // [qRows, co]
        let projOut = attnOut + qRows * co                // [qRows, co]

        // window_partition(norm1(x)) with F.pad zeros; qkv of a zero row is the bias, as in PyTorch.
        chunks(rows, parallel: parallel, grain: 64) { range in
            for r in range {
                let (wl, t) = r.quotientAndRemainder(dividingBy: l)
                let (bi, wy, wx) = g.window(windows.lowerBound + wl)
                let y = wy * g.wh + t / g.ww, x = wx * g.ww + t % g.ww
                let dst = xn + r * c
                if y < g.h && x < g.w {
                    Tensor.layerNormRow(src + ((bi * g.h + y) * g.w + x) * c, dst, n: c, weight: wt.n1w, bias: wt.n1b, eps: wt.eps)
                } else {
                    dst.update(repeating: 0, count: c)
                }
            }
        }
        Tensor.sgemm(transB: true, m: rows, n: c3, k: c, a: xn, lda: c, b: wt.qkvW, ldb: c, c: qkv, ldc: c3)
        chunks(rows, parallel: parallel, grain: 64) { range in
            for r in range { addRow(qkv + r * c3, wt.qkvB, count: c3) }
        }

        // q = do_pool(q within the window): channels [0, co) of the qkv rows.
        if g.pooled {
            chunks(qRows, parallel: parallel, grain: 64) { range in
                for r in range {
                    let (wl, t) = r.quotientAndRemainder(dividingBy: lq)
                    let (i, j) = t.quotientAndRemainder(dividingBy: g.oww)
                    let dst = qPooled + r * co
                    var first = true
                    for a in 0..<g.sh {
                        for b in 0..<g.sw {
                            let p = qkv + (wl * l + (i * g.sh + a) * g.ww + j * g.sw + b) * c3
                            if first { dst.update(from: p, count: co); first = false; continue }
                            maxInto(dst, p, count: co)
                        }
                    }
                }
            }
        }

        // SDPA per (window, head) straight on the packed rows: head h owns columns h·d..<(h+1)·d of q, k, v.
        let d = co / g.heads
        let geometry = AttentionKernel.Geometry(
            lq: lq, lk: l, d: d, dv: d, ldq: g.pooled ? co : c3, ldk: c3, ldv: c3, ldo: co,
            scale: 1 / Float(d).squareRoot(), heads: g.heads,
            qBatch: g.pooled ? lq * co : l * c3, kBatch: l * c3, vBatch: l * c3, oBatch: lq * co)
        let problems = n * g.heads
        let qBase = UnsafePointer(g.pooled ? qPooled : qkv)
        if parallel {
            let plan = AttentionKernel.plan(problems: problems, lq: lq, lk: l, flopsPerScore: 4 * d, config: .default)
            if plan.perBlock {
                AttentionKernel.runPerBlock(q: qBase, k: qkv + co, v: qkv + 2 * co, o: attnOut, problems: problems,
                                            g: geometry, plan: plan)
            } else {
                AttentionKernel.runSharedRows(q: qBase, k: qkv + co, v: qkv + 2 * co, o: attnOut, problems: problems,
                                              g: geometry, plan: plan)
            }
        } else {
            let rowBlock = Swift.min(256, lq), keyBlock = Swift.min(256, l)
            let plan = AttentionKernel.Plan(perBlock: true, rowBlock: rowBlock, keyBlock: keyBlock, workers: 1,
                                            scratchBuffers: 1, scratchFloats: rowBlock * keyBlock + 2 * rowBlock)
            AttentionKernel.runPerBlock(q: qBase, k: qkv + co, v: qkv + 2 * co, o: attnOut, problems: problems,
                                        g: geometry, plan: plan)
        }

        Tensor.sgemm(transB: true, m: qRows, n: co, k: co, a: attnOut, lda: co, b: wt.projW, ldb: co, c: projOut, ldc: co)

        // window_unpartition (dropping padding) + shortcut.
        chunks(qRows, parallel: parallel, grain: 64) { range in
            for r in range {
                let (wl, t) = r.quotientAndRemainder(dividingBy: lq)
                let (bi, wy, wx) = g.window(windows.lowerBound + wl)
                let y = wy * g.owh + t / g.oww, x = wx * g.oww + t % g.oww
                guard y < g.ho && x < g.wo else { continue }
                let dst = out + ((bi * g.ho + y) * g.wo + x) * co, p = projOut + r * co, bias = wt.projB
                for k in 0..<co { dst[k] += p[k] + bias[k] }
            }
        }
    }

    // MARK: - MLP half

    /// x[r] += fc2(gelu(fc1(norm2(x[r])))) for `rows` rows of `dimOut` channels (`Tensor.residualMLP`).
    private func mlpResidual(_ x: UnsafeMutablePointer<Float>, rows: Int) {
        let fc1 = mlp.layers[0], fc2 = mlp.layers[1]
        withPointers([norm2.weight, norm2.bias, fc1.weight, fc1.bias!, fc2.weight, fc2.bias!]) { p in
            let weights = Tensor.ResidualMLPWeights(normWeight: p[0], normBias: p[1], eps: norm2.eps, w1: p[2], b1: p[3],
                                                    w2: p[4], b2: p[5], hidden: fc1.outFeatures, activation: .gelu)
            Tensor.residualMLP(x, rows: rows, dim: spec.dimOut, weights)
        }
    }
}

// MARK: - Kernel helpers

/// Runs `body` over 0..<count, split over cores when `parallel`.
@inline(__always)
private func chunks(_ count: Int, parallel: Bool, grain: Int, _ body: (Range<Int>) -> Void) {
    if parallel { Parallel.forChunks(count, grain: grain, body) } else if count > 0 { body(0..<count) }
}

/// Base addresses of the tensors' storage, valid inside `body` (the tensors must be non-empty).
func withPointers<R>(_ tensors: [Tensor], _ body: ([UnsafePointer<Float>]) -> R) -> R {
    func nest(_ i: Int, _ acc: [UnsafePointer<Float>]) -> R {
        if i == tensors.count { return body(acc) }
        return tensors[i].withUnsafeBufferPointer { nest(i + 1, acc + [$0.baseAddress!]) }
    }
    return nest(0, [])
}

/// dst[k] = max(dst[k], v[k]) with NaN propagating (as torch max_pool2d), written as a select so it vectorises.
@inline(__always)
private func maxInto(_ dst: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>, count: Int) {
    for k in 0..<count { let a = dst[k], b = v[k]; dst[k] = (b > a || b != b) ? b : a }
}

/// row[k] += v[k] for k < count.
@inline(__always)
private func addRow(_ row: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>, count: Int) {
    for k in 0..<count { row[k] += v[k] }
}
