import Foundation

/// Differentiable official `MultiScaleBlock` (backbones/hieradet.py) on [B, H, W, C] tokens, reading the same
/// parameters as `MultiScaleBlock`: LayerNorm (eps 1e-6) → window partition (zero padding) → `MultiScaleAttention`
/// (query max-pooled within each window at stage transitions) → unpartition → residual (shortcut projected and
/// max-pooled when the width changes) → LayerNorm → MLP (GELU) → residual. Drop-path is 0 in SAM 2's configs.
///
/// Windows are the batch dimension of every GEMM (one qkv linear, one batched attention, one proj linear for all
/// windows of all images), so a block is a handful of large ops on the tape.
public struct TrainableMultiScaleBlock {
    public let spec: HieraConfig.Block
    public let norm1Weight, norm1Bias: Variable
    public let qkvWeight, qkvBias: Variable
    public let attnProjWeight, attnProjBias: Variable
    public let norm2Weight, norm2Bias: Variable
    public let fc1Weight, fc1Bias, fc2Weight, fc2Bias: Variable
    /// The shortcut projection `proj`, present when `dim != dimOut`.
    public let projWeight, projBias: Variable?

    /// Reads `norm1`, `attn.{qkv,proj}`, `norm2`, `mlp.layers.{0,1}` and (when the width changes) `proj` under `p`.
    public init(_ p: ParameterScope, _ spec: HieraConfig.Block) throws {
        self.spec = spec
        let dim = spec.dim, co = spec.dimOut, hidden = Int(Double(co) * spec.mlpRatio)
        norm1Weight = try p("norm1.weight", shape: [dim]); norm1Bias = try p("norm1.bias", shape: [dim])
        qkvWeight = try p("attn.qkv.weight", shape: [3 * co, dim]); qkvBias = try p("attn.qkv.bias", shape: [3 * co])
        attnProjWeight = try p("attn.proj.weight", shape: [co, co]); attnProjBias = try p("attn.proj.bias", shape: [co])
        norm2Weight = try p("norm2.weight", shape: [co]); norm2Bias = try p("norm2.bias", shape: [co])
        fc1Weight = try p("mlp.layers.0.weight", shape: [hidden, co]); fc1Bias = try p("mlp.layers.0.bias", shape: [hidden])
        fc2Weight = try p("mlp.layers.1.weight", shape: [co, hidden]); fc2Bias = try p("mlp.layers.1.bias", shape: [co])
        if dim != co {
            projWeight = try p("proj.weight", shape: [co, dim]); projBias = try p("proj.bias", shape: [co])
        } else {
            projWeight = nil; projBias = nil
        }
    }

    /// Every parameter of the block.
    public var parameters: [Variable] {
        [norm1Weight, norm1Bias, qkvWeight, qkvBias, attnProjWeight, attnProjBias, norm2Weight, norm2Bias,
         fc1Weight, fc1Bias, fc2Weight, fc2Bias] + [projWeight, projBias].compactMap { $0 }
    }

    /// [B, H, W, dim] → [B, H', W', dimOut] (H' = ⌊H/stride⌋ when the query is pooled).
    public func callAsFunction(_ x: Variable) -> Variable {
        precondition(x.value.rank == 4 && x.shape[3] == spec.dim, "TrainableMultiScaleBlock: expected [B, H, W, \(spec.dim)], got \(x.shape)")
        let b = x.shape[0], h = x.shape[1], w = x.shape[2], co = spec.dimOut
        let xn = x.layerNorm(weight: norm1Weight, bias: norm1Bias, eps: 1e-6)
        var shortcut = x
        if let projWeight {
            // shortcut = do_pool(proj(norm1(x)), pool) over the full grid.
            shortcut = Self.maxPoolNHWC(xn.linear(weight: projWeight, bias: projBias), spec.qStride)
        }
        // Window partition (global attention = one window per image).
        let wh = spec.windowSize > 0 ? spec.windowSize : h, ww = spec.windowSize > 0 ? spec.windowSize : w
        let ph = (wh - h % wh) % wh, pw = (ww - w % ww) % ww
        let hp = h + ph, wp = w + pw, nh = hp / wh, nw = wp / ww
        var windows = xn
        if ph > 0 || pw > 0 { windows = windows.padded([(0, 0), (0, ph), (0, pw), (0, 0)]) }
        if nh > 1 || nw > 1 {
            windows = windows.reshaped([b, nh, wh, nw, ww, spec.dim]).permuted([0, 1, 3, 2, 4, 5])
        }
        windows = windows.reshaped([b * nh * nw, wh * ww, spec.dim])

        let attended = attention(windows, wh: wh, ww: ww)  // [N, owh·oww, co], output windows owh × oww
        let sh = spec.qStride?[0] ?? 1, sw = spec.qStride?[1] ?? 1
        let owh = wh / sh, oww = ww / sw
        // Unpartition onto the (pooled) padded grid, then drop the padding.
        var y = attended
        if nh > 1 || nw > 1 {
            y = y.reshaped([b, nh, nw, owh, oww, co]).permuted([0, 1, 3, 2, 4, 5])
        }
        y = y.reshaped([b, nh * owh, nw * oww, co])
        let ho = shortcut.shape[1], wo = shortcut.shape[2]
        if ho < nh * owh { y = y.slice(axis: 1, start: 0, end: ho) }
        if wo < nw * oww { y = y.slice(axis: 2, start: 0, end: wo) }
        let r = shortcut + y
        let hidden = r.layerNorm(weight: norm2Weight, bias: norm2Bias, eps: 1e-6)
            .linear(weight: fc1Weight, bias: fc1Bias).gelu().linear(weight: fc2Weight, bias: fc2Bias)
        return r + hidden
    }

    /// Official `MultiScaleAttention.forward` on windows [N, wh·ww, dim] → [N, L', dimOut]: fused qkv, query
    /// max-pooled within the window when `qStride` is set, per-head SDPA, output projection.
    func attention(_ x: Variable, wh: Int, ww: Int) -> Variable {
        let n = x.shape[0], l = x.shape[1], co = spec.dimOut, heads = spec.numHeads, d = co / heads
        let qkv = x.linear(weight: qkvWeight, bias: qkvBias)  // [N, L, 3·co], channels (3, heads, d)
        var q = qkv.slice(axis: 2, start: 0, end: co)
        let k = qkv.slice(axis: 2, start: co, end: 2 * co), v = qkv.slice(axis: 2, start: 2 * co, end: 3 * co)
        var lq = l
        if let stride = spec.qStride {
            q = Self.maxPoolNHWC(q.reshaped([n, wh, ww, co]), stride)
            lq = q.shape[1] * q.shape[2]
            q = q.reshaped([n, lq, co])
        }
        func heads4(_ t: Variable, _ len: Int) -> Variable {
            heads == 1 ? t.reshaped([n, 1, len, d]) : t.reshaped([n, len, heads, d]).permuted([0, 2, 1, 3])
        }
        var o = Variable.fusedAttention(heads4(q, lq), heads4(k, l), heads4(v, l))  // [N, heads, Lq, d]
        o = heads == 1 ? o.reshaped([n, lq, co]) : o.permuted([0, 2, 1, 3]).reshaped([n, lq, co])
        return o.linear(weight: attnProjWeight, bias: attnProjBias)
    }

    /// nn.MaxPool2d(kernel = stride = `stride`, floor mode) over the H, W axes of [B, H, W, C] (nil = identity).
    static func maxPoolNHWC(_ x: Variable, _ stride: [Int]?) -> Variable {
        guard let stride else { return x }
        return x.maxPool2dChannelsLast(stride[0], stride[1])
    }
}
