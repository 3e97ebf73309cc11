import Foundation

/// Official `compute_axial_cis` (modeling/position_encoding.py): the complex rotation factors of 2-d axial RoPE
/// for a grid of `length` tokens, stored as `view_as_real` of `freqs_cis`: [length, dim/2, 2] (cos, sin).
/// Token t sits at x = t mod end_x, y = ⌊t / end_x⌋; its first dim/4 factors rotate by x·fᵢ, the next dim/4
/// by y·fᵢ, with fᵢ = 1 / θ^(4i/dim).
public struct AxialRotaryTable: Sendable {
    /// Channels rotated per head (`dim`; pairs of channels form the complex numbers).
    public let dim: Int
    /// Tokens covered (rows).
    public let length: Int
    /// [length, dim/2, 2]: cos and sin of each angle.
    public let freqsCis: Tensor

    /// The table of an `endX` × `endY` grid (as RoPEAttention's `feat_sizes`).
    public init(dim: Int, endX: Int, endY: Int, theta: Float = 10000) {
        precondition(endX >= 0 && endY >= 0, "AxialRotaryTable: negative grid \(endX)×\(endY)")
        let n = endX * endY
        let w = Float(endX)
        self.init(dim: dim, length: n, theta: theta) { t in (Self.remainder(Float(t), w), Self.floorDivide(Float(t), w)) }
    }

    /// The table RoPEAttention recomputes for `length` queries: end_x = end_y = √length as a float (exact for
    /// square lengths; for others the official float formula, where the official itself may fail its shape assert).
    public init(dim: Int, squareLength length: Int, theta: Float = 10000) {
        precondition(length >= 0, "AxialRotaryTable: negative length \(length)")
        let w = Float(Double(length).squareRoot())
        self.init(dim: dim, length: length, theta: theta) { t in (Self.remainder(Float(t), w), Self.floorDivide(Float(t), w)) }
    }

    /// Wraps a table computed earlier (RoPEAttention's memo).
    init(dim: Int, length: Int, freqsCis: Tensor) {
        self.dim = dim
        self.length = length
        self.freqsCis = freqsCis
    }

    private init(dim: Int, length: Int, theta: Float, position: (Int) -> (x: Float, y: Float)) {
        precondition(dim > 0 && dim % 4 == 0, "AxialRotaryTable: dim \(dim) must be a positive multiple of 4")
        self.dim = dim
        self.length = length
        let quarter = dim / 4
        // float32 as torch: 1 / θ^(arange(0, dim, 4) / dim).
        let freqs: [Float] = (0..<quarter).map { i in 1 / Foundation.powf(theta, Float(4 * i) / Float(dim)) }
        let positions = (0..<length).map(position)
        freqsCis = Tensor(shape: [length, dim / 2, 2]) { out in
            // Assumes out holds length rows of dim/2 (cos, sin) pairs.
            let o = out.baseAddress!
            Parallel.forChunks(length, grain: Swift.max(1, 4096 / dim)) { rows in
                for t in rows {
                    let row = o + t * dim
                    let (px, py) = positions[t]
                    for i in 0..<quarter {
                        let ax = px * freqs[i], ay = py * freqs[i]
                        row[2 * i] = Foundation.cosf(ax)
                        row[2 * i + 1] = Foundation.sinf(ax)
                        row[2 * (quarter + i)] = Foundation.cosf(ay)
                        row[2 * (quarter + i) + 1] = Foundation.sinf(ay)
                    }
                }
            }
        }
    }

    /// torch.remainder for floats (sign of the divisor).
    private static func remainder(_ a: Float, _ b: Float) -> Float {
        var m = Foundation.fmodf(a, b)
        if m != 0 && (b < 0) != (m < 0) { m += b }
        return m
    }

    /// torch.div(rounding_mode="floor") for floats: (a − fmod(a, b)) / b, corrected to the floor.
    private static func floorDivide(_ a: Float, _ b: Float) -> Float {
        let m = Foundation.fmodf(a, b)
        var div = (a - m) / b
        if m != 0 && (b < 0) != (m < 0) { div -= 1 }
        if div == 0 { return 0 }
        var f = div.rounded(.down)
        if div - f > 0.5 { f += 1 }
        return f
    }

    /// Official `apply_rotary_enc` on SAM 2's packed layout: q [B, Lq, H·dim] and k [B, Lk, H·dim], every head
    /// rotated alike. Query token t uses row t (Lq must equal `length`). The first Lk − `numKExcludeRope` keys are
    /// rotated (the rest, object-pointer tokens, are left alone); with `repeatFreqsK` their count must be a multiple
    /// r of Lq and key t uses row t mod Lq (the table tiled r times), otherwise it must equal Lq.
    public func applyRotaryEnc(q: Tensor, k: Tensor, heads: Int, repeatFreqsK: Bool = false,
                               numKExcludeRope: Int = 0) -> (q: Tensor, k: Tensor) {
        precondition(q.rank == 3 && k.rank == 3 && q.shape[2] == heads * dim && k.shape[2] == heads * dim,
                     "applyRotaryEnc: q \(q.shape), k \(k.shape) must be [B, L, \(heads)·\(dim)]")
        precondition(q.shape[1] == length, "applyRotaryEnc: \(q.shape[1]) queries for a table of \(length) rows")
        let kRope = k.shape[1] - numKExcludeRope
        precondition(numKExcludeRope >= 0 && kRope >= 0, "applyRotaryEnc: excluding \(numKExcludeRope) of \(k.shape[1]) keys")
        if kRope > 0 {
            precondition(repeatFreqsK ? length > 0 && kRope % length == 0 : kRope == length,
                         "applyRotaryEnc: \(kRope) rotated keys do not fit \(length) queries (repeatFreqsK \(repeatFreqsK))")
        }
        var qOut = q, kOut = k
        rotate(&qOut, heads: heads, tokens: q.shape[1])
        rotate(&kOut, heads: heads, tokens: kRope)
        return (qOut, kOut)
    }

    /// Rotates, in place, tokens 0..<tokens of every batch item of x [B, L, H·dim]; token t uses row t mod length.
    public func rotate(_ x: inout Tensor, heads: Int, tokens: Int) {
        precondition(x.rank == 3 && x.shape[2] == heads * dim && tokens <= x.shape[1],
                     "rotate: x \(x.shape) must be [B, ≥\(tokens), \(heads)·\(dim)]")
        if tokens == 0 || x.count == 0 { return }
        let batch = x.shape[0], seq = x.shape[1], width = x.shape[2]
        let half = dim / 2, rows = length
        freqsCis.withUnsafeBufferPointer { table in
            x.withUnsafeMutableBufferPointer { buf in
                // Assumes buf is [batch, seq, heads·dim] contiguous and table is [rows, half, 2]; each (batch, token)
                // row is touched by exactly one worker.
                let f0 = table.baseAddress!, x0 = buf.baseAddress!
                Parallel.forChunks(batch * tokens, grain: Swift.max(1, 32768 / width)) { range in
                    for r in range {
                        let (b, t) = r.quotientAndRemainder(dividingBy: tokens)
                        let row = x0 + (b * seq + t) * width
                        let f = f0 + (t % rows) * dim
                        for h in 0..<heads {
                            let xh = row + h * dim
                            for j in 0..<half {
                                let re = xh[2 * j], im = xh[2 * j + 1]
                                let c = f[2 * j], s = f[2 * j + 1]
                                xh[2 * j] = re * c - im * s
                                xh[2 * j + 1] = re * s + im * c
                            }
                        }
                    }
                }
            }
        }
    }
}
