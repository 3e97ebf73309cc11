import Foundation

/// Official `RoPEAttention` (sam2/modeling/sam/transformer.py): SAM's `Attention` with 2-d axial rotary position
/// encoding applied to the projected queries and keys of every head.
///
/// The table for `featSizes` is computed once; for another query count L the official module recomputes it with
/// end_x = end_y = √L (and keeps that one). Here such tables are memoised per L (shared by copies, thread-safe),
/// and the `featSizes` table is used whenever L equals its length — identical results for square `featSizes`,
/// the only kind the released configs use.
public struct RoPEAttention: Sendable {
    /// The projections and the attention itself.
    public var attention: Attention
    /// Tile the rotation table over keys that outnumber the queries (cross-attention to several memory frames).
    public var ropeKRepeat: Bool
    public let ropeTheta: Float
    /// [end_x, end_y] of the precomputed table (the official `feat_sizes`, [w, h]).
    public let featSizes: [Int]
    /// The precomputed table.
    public let freqsCis: AxialRotaryTable
    /// Attend over the unprojected values and apply `v_proj` afterwards (per head): softmax(S)·(V·Wᵀ + b) =
    /// (softmax(S)·V)·Wᵀ + b because each row of attention weights sums to 1. Same result up to rounding, and
    /// cheaper when the value input is narrower than a head (memory dim 64 vs 256 in the released cross-attention,
    /// a third less work there). On by default exactly then.
    public var projectValuesAfterAttention: Bool
    private let recomputed = TensorCache()

    /// Reads `q_proj`, `k_proj`, `v_proj`, `out_proj` under `w`.
    public init(_ w: Weights, embeddingDim: Int, numHeads: Int, downsampleRate: Int = 1, kvInDim: Int? = nil,
                ropeTheta: Float = 10000, ropeKRepeat: Bool = false, featSizes: [Int] = [64, 64]) throws {
        precondition(featSizes.count == 2, "RoPEAttention: feat_sizes must be [w, h], got \(featSizes)")
        attention = try Attention(w, embeddingDim: embeddingDim, numHeads: numHeads, downsampleRate: downsampleRate,
                                  kvInDim: kvInDim)
        self.ropeKRepeat = ropeKRepeat
        self.ropeTheta = ropeTheta
        self.featSizes = featSizes
        freqsCis = AxialRotaryTable(dim: attention.internalDim / numHeads, endX: featSizes[0], endY: featSizes[1],
                                    theta: ropeTheta)
        projectValuesAfterAttention = attention.kvInDim < attention.internalDim / numHeads
    }

    /// Channels per head (the rotated dim).
    public var headDim: Int { attention.internalDim / attention.numHeads }

    /// The rotation table used for `queryLength` queries.
    public func table(forQueryLength queryLength: Int) -> AxialRotaryTable {
        if queryLength == freqsCis.length { return freqsCis }
        if let hit = recomputed.get([queryLength]) {
            return AxialRotaryTable(dim: headDim, length: queryLength, freqsCis: hit)
        }
        let t = AxialRotaryTable(dim: headDim, squareLength: queryLength, theta: ropeTheta)
        recomputed.set([queryLength], t.freqsCis)
        return t
    }

    /// q [B, Lq, embeddingDim], k and v [B, Lk, kvInDim] → [B, Lq, embeddingDim]. The last `numKExcludeRope`
    /// keys (object-pointer tokens) are not rotated. Lk ≠ Lq needs `ropeKRepeat` (as the official assert).
    public func callAsFunction(q: Tensor, k: Tensor, v: Tensor, numKExcludeRope: Int = 0) -> Tensor {
        precondition(q.shape.count == 3 && k.shape.count == 3, "RoPEAttention: q \(q.shape), k \(k.shape) must be [B, L, C]")
        let lq = q.shape[1], lk = k.shape[1]
        precondition(lq == lk || ropeKRepeat, "RoPEAttention: \(lk) keys for \(lq) queries needs rope_k_repeat")
        var pq = attention.qProj(q), pk = attention.kProj(k)
        let table = table(forQueryLength: lq)
        let kRope = lk - numKExcludeRope
        precondition(numKExcludeRope >= 0 && kRope >= 0, "RoPEAttention: excluding \(numKExcludeRope) of \(lk) keys")
        if kRope > 0 {
            precondition(ropeKRepeat ? lq > 0 && kRope % lq == 0 : kRope == lq,
                         "RoPEAttention: \(kRope) rotated keys do not fit \(lq) queries")
        }
        table.rotate(&pq, heads: attention.numHeads, tokens: lq)
        table.rotate(&pk, heads: attention.numHeads, tokens: kRope)
        guard projectValuesAfterAttention else { return attention.attend(q: pq, k: pk, v: attention.vProj(v)) }
        return attention.outProj(attendThenProjectValues(q: pq, k: pk, v: v))
    }

    /// Head-packed attention over raw values v [B, Lk, kvInDim] (every head sees all of them), then each head's
    /// slice of `v_proj` → [B, Lq, internalDim].
    private func attendThenProjectValues(q: Tensor, k: Tensor, v: Tensor) -> Tensor {
        let heads = attention.numHeads
        let vIn = heads == 1 ? v : Tensor.concat(Array(repeating: v, count: heads), axis: 2)
        let o = Tensor.scaledDotProductAttention(q, k, vIn, heads: heads)
        if heads == 1 { return attention.vProj(o) }
        let width = attention.kvInDim, dh = attention.internalDim / heads
        let w = attention.vProj.weight, b = attention.vProj.bias
        let perHead = (0..<heads).map { h in
            o.slice(axis: 2, h * width..<(h + 1) * width)
                .linear(weight: w.slice(axis: 0, h * dh..<(h + 1) * dh), bias: b?.slice(axis: 0, h * dh..<(h + 1) * dh))
        }
        return Tensor.concat(perHead, axis: 2)
    }
}
