import Foundation

/// Differentiable official `RoPEAttention` (sam2/modeling/sam/transformer.py), reading the same `q_proj`, `k_proj`,
/// `v_proj`, `out_proj` as the inference `RoPEAttention`. Training semantics: attention dropout 0 (the official
/// layers use 0.1 in training; we train deterministically with dropout off).
public struct TrainableRoPEAttention {
    public let qProjWeight: Variable, qProjBias: Variable
    public let kProjWeight: Variable, kProjBias: Variable
    public let vProjWeight: Variable, vProjBias: Variable
    public let outProjWeight: Variable, outProjBias: Variable
    public let numHeads: Int
    /// `embedding_dim // downsample_rate`.
    public let internalDim: Int
    /// `kv_in_dim` (channels of keys and values before projection).
    public let kvInDim: Int
    /// Tile the rotation table over keys that outnumber the queries (cross-attention to several memory frames).
    public let ropeKRepeat: Bool
    public let ropeTheta: Float
    /// The table of `feat_sizes` and its inverse (for the backward pass).
    public let table: AxialRotaryTable
    private let inverseTable: AxialRotaryTable

    /// Reads `q_proj`, `k_proj`, `v_proj`, `out_proj` under `parameters` (shapes checked).
    public init(parameters p: ParameterScope, embeddingDim: Int, numHeads: Int, downsampleRate: Int = 1,
                kvInDim: Int? = nil, ropeTheta: Float = 10000, ropeKRepeat: Bool = false,
                featSizes: [Int] = [64, 64]) throws {
        let internalDim = embeddingDim / downsampleRate
        precondition(numHeads >= 1 && internalDim % numHeads == 0 && featSizes.count == 2,
                     "TrainableRoPEAttention: num_heads \(numHeads) must divide \(internalDim); feat_sizes \(featSizes)")
        let kvIn = kvInDim ?? embeddingDim
        qProjWeight = try p("q_proj.weight", shape: [internalDim, embeddingDim])
        qProjBias = try p("q_proj.bias", shape: [internalDim])
        kProjWeight = try p("k_proj.weight", shape: [internalDim, kvIn])
        kProjBias = try p("k_proj.bias", shape: [internalDim])
        vProjWeight = try p("v_proj.weight", shape: [internalDim, kvIn])
        vProjBias = try p("v_proj.bias", shape: [internalDim])
        outProjWeight = try p("out_proj.weight", shape: [embeddingDim, internalDim])
        outProjBias = try p("out_proj.bias", shape: [embeddingDim])
        self.numHeads = numHeads
        self.internalDim = internalDim
        self.kvInDim = kvIn
        self.ropeKRepeat = ropeKRepeat
        self.ropeTheta = ropeTheta
        table = AxialRotaryTable(dim: internalDim / numHeads, endX: featSizes[0], endY: featSizes[1], theta: ropeTheta)
        inverseTable = table.conjugate
    }

    /// Channels per head (the rotated dim).
    public var headDim: Int { internalDim / numHeads }

    /// q [B, Lq, embeddingDim], k and v [B, Lk, kvInDim] → [B, Lq, embeddingDim]. The last `numKExcludeRope` keys
    /// (object-pointer tokens) are not rotated. For a query count other than the `feat_sizes` grid the table is
    /// recomputed as the official does (end_x = end_y = √Lq).
    public func callAsFunction(q: Variable, k: Variable, v: Variable, numKExcludeRope: Int = 0) -> Variable {
        precondition(q.value.rank == 3 && k.value.rank == 3 && v.value.rank == 3,
                     "TrainableRoPEAttention: q \(q.shape), k \(k.shape), v \(v.shape) must be [B, L, C]")
        let b = q.shape[0], lq = q.shape[1], lk = k.shape[1]
        let kRope = lk - numKExcludeRope
        precondition(lq == lk || ropeKRepeat, "TrainableRoPEAttention: \(lk) keys for \(lq) queries needs rope_k_repeat")
        precondition(numKExcludeRope >= 0 && kRope >= 0 && (kRope == 0 || (ropeKRepeat ? lq > 0 && kRope % lq == 0 : kRope == lq)),
                     "TrainableRoPEAttention: \(kRope) rotated keys do not fit \(lq) queries")
        let (t, inv) = lq == table.length ? (table, inverseTable) : {
            let t = AxialRotaryTable(dim: headDim, squareLength: lq, theta: ropeTheta)
            return (t, t.conjugate)
        }()
        let pq = q.linear(weight: qProjWeight, bias: qProjBias).rotaryEncoded(t, heads: numHeads, tokens: lq, inverse: inv)
        let pk = k.linear(weight: kProjWeight, bias: kProjBias).rotaryEncoded(t, heads: numHeads, tokens: kRope, inverse: inv)
        let scale = 1 / Float(headDim).squareRoot()
        let o: Variable
        if numHeads == 1 {
            if kvInDim < internalDim {
                // softmax(S)·(V·Wᵀ + b) = (softmax(S)·V)·Wᵀ + b (rows of softmax sum to 1): attend over the narrower
                // unprojected values (memory dim 32 vs 64 at the embedded size), forward and backward.
                o = Variable.scaledDotProductAttention(pq, pk, v, scale: scale).linear(weight: vProjWeight, bias: vProjBias)
            } else {
                o = Variable.scaledDotProductAttention(pq, pk, v.linear(weight: vProjWeight, bias: vProjBias), scale: scale)
            }
        } else {
            let pv = v.linear(weight: vProjWeight, bias: vProjBias)
            func heads(_ x: Variable) -> Variable {
                x.reshaped([b, x.shape[1], numHeads, headDim]).permuted([0, 2, 1, 3])
            }
            o = Variable.scaledDotProductAttention(heads(pq), heads(pk), heads(pv), scale: scale)
                .permuted([0, 2, 1, 3]).reshaped([b, lq, internalDim])
        }
        return o.linear(weight: outProjWeight, bias: outProjBias)
    }
}
