/// SAM's `Attention` (sam2/modeling/sam/transformer.py): q/k/v projections to `embeddingDim / downsampleRate`
/// channels, multi-head scaled-dot-product attention, output projection back to `embeddingDim`.
/// Keys and values may have their own width (`kvInDim`, as in the memory attention's cross-attention).
/// (This file is not named Attention.swift because Tensor/Attention.swift holds the attention kernel.)
public struct Attention: Sendable {
    public var qProj: Linear
    public var kProj: Linear
    public var vProj: Linear
    public var outProj: Linear
    /// Heads; each owns `internalDim / numHeads` channels.
    public var numHeads: Int

    /// Channels of queries and of the output.
    public var embeddingDim: Int { qProj.inFeatures }
    /// Channels of keys and values.
    public var kvInDim: Int { kProj.inFeatures }
    /// Projected channels (`embedding_dim // downsample_rate`).
    public var internalDim: Int { qProj.outFeatures }

    /// Reads `q_proj`, `k_proj`, `v_proj`, `out_proj` under `w`.
    public init(_ w: Weights, embeddingDim: Int, numHeads: Int, downsampleRate: Int = 1, kvInDim: Int? = nil) throws {
        let internalDim = embeddingDim / downsampleRate
        precondition(numHeads >= 1 && internalDim % numHeads == 0,
                     "Attention: num_heads \(numHeads) must divide the internal dim \(internalDim)")
        let kvIn = kvInDim ?? embeddingDim
        qProj = try Linear(w.scoped("q_proj"), inFeatures: embeddingDim, outFeatures: internalDim)
        kProj = try Linear(w.scoped("k_proj"), inFeatures: kvIn, outFeatures: internalDim)
        vProj = try Linear(w.scoped("v_proj"), inFeatures: kvIn, outFeatures: internalDim)
        outProj = try Linear(w.scoped("out_proj"), inFeatures: internalDim, outFeatures: embeddingDim)
        self.numHeads = numHeads
    }

    /// q [B, Lq, embeddingDim], k and v [B, Lk, kvInDim] → [B, Lq, embeddingDim].
    public func callAsFunction(q: Tensor, k: Tensor, v: Tensor) -> Tensor {
        let (pq, pk, pv) = project(q: q, k: k, v: v)
        return attend(q: pq, k: pk, v: pv)
    }

    /// The three input projections, heads packed along the channels ([B, L, H·D]); subtypes that rotate
    /// queries and keys (RoPE) do so between `project` and `attend`.
    public func project(q: Tensor, k: Tensor, v: Tensor) -> (q: Tensor, k: Tensor, v: Tensor) {
        (qProj(q), kProj(k), vProj(v))
    }

    /// Attention over projected, head-packed q/k/v, then the output projection.
    public func attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor {
        outProj(Tensor.scaledDotProductAttention(q, k, v, heads: numHeads))
    }
}
