import Foundation

/// The learned embeddings and object-pointer heads of SAM2Base (modeling/sam2_base.py) that the memory path uses,
/// read by their official state-dict keys. SAM 2.1 adds `obj_ptr_tpos_proj` and `no_obj_embed_spatial`; SAM 2
/// checkpoints lack them (and were configured with add/proj_tpos_enc_in_obj_ptrs false).
public struct MemoryEmbeddings: Sendable {
    /// `obj_ptr_proj`: turns a SAM output token into an object pointer.
    public enum ObjPtrProj: Sendable {
        /// `use_obj_ptrs_in_encoder` false.
        case identity
        case linear(Linear)
        /// `use_mlp_for_obj_ptr_proj` (released): MLP(hidden, hidden, hidden, 3).
        case mlp(MLP)

        /// Applies the projection over the last dimension.
        public func callAsFunction(_ x: Tensor) -> Tensor {
            switch self {
            case .identity: return x
            case let .linear(l): return l(x)
            case let .mlp(m): return m(x)
            }
        }
    }

    /// Hidden dim C (tokens of the current frame, object pointers).
    public let hiddenDim: Int
    /// Memory dim (memory encoder output).
    public let memDim: Int
    public var objPtrProj: ObjPtrProj
    /// `obj_ptr_tpos_proj` Linear(hidden → mem dim); nil = Identity (`proj_tpos_enc_in_obj_ptrs` false).
    public var objPtrTposProj: Linear?
    /// `add_tpos_enc_to_obj_ptrs`: pointers get a temporal sine encoding (otherwise zeros).
    public var addTposEncToObjPtrs: Bool
    /// `maskmem_tpos_enc` [num_maskmem, 1, 1, mem_dim]: temporal encodings of the memory slots.
    public var maskmemTposEnc: Tensor
    /// `no_obj_ptr` [1, hidden] (`fixed_no_obj_ptr`), blended into the pointer of a frame without the object.
    public var noObjPtr: Tensor?
    /// `no_obj_embed_spatial` [1, mem_dim] (SAM 2.1), added to the memory of a frame without the object.
    public var noObjEmbedSpatial: Tensor?
    /// `no_mem_embed` [1, 1, hidden].
    public var noMemEmbed: Tensor
    /// `no_mem_pos_enc` [1, 1, hidden].
    public var noMemPosEnc: Tensor

    /// Number of memory slots (`num_maskmem`, 7 released).
    public var numMaskmem: Int { maskmemTposEnc.shape[0] }

    /// Reads the embeddings from the model's root `w`. Which optional parts exist is decided by the keys present
    /// (`obj_ptr_proj.layers.0.weight` → MLP of as many layers as stored, `obj_ptr_proj.weight` → Linear, neither →
    /// Identity; `obj_ptr_tpos_proj.weight` → projection and temporal encoding on, as every released checkpoint);
    /// the shapes of what is read are checked against `hiddenDim` / `memDim`.
    public init(_ w: Weights, hiddenDim: Int, memDim: Int) throws {
        self.hiddenDim = hiddenDim
        self.memDim = memDim
        if w.contains("obj_ptr_proj.layers.0.weight") {
            var n = 1
            while w.contains("obj_ptr_proj.layers.\(n).weight") { n += 1 }
            objPtrProj = .mlp(try MLP(w.scoped("obj_ptr_proj"), inputDim: hiddenDim, hiddenDim: hiddenDim,
                                      outputDim: hiddenDim, numLayers: n))
        } else if w.contains("obj_ptr_proj.weight") {
            objPtrProj = .linear(try Linear(w.scoped("obj_ptr_proj"), inFeatures: hiddenDim, outFeatures: hiddenDim))
        } else {
            objPtrProj = .identity
        }
        if w.contains("obj_ptr_tpos_proj.weight") {
            objPtrTposProj = try Linear(w.scoped("obj_ptr_tpos_proj"), inFeatures: hiddenDim, outFeatures: memDim)
            addTposEncToObjPtrs = true
        } else {
            objPtrTposProj = nil
            addTposEncToObjPtrs = false
        }
        let slots = w.checkpoint.entry(w.key("maskmem_tpos_enc"))?.shape.first ?? 7
        maskmemTposEnc = try w("maskmem_tpos_enc", shape: [slots, 1, 1, memDim])
        noObjPtr = try w.optional("no_obj_ptr", shape: [1, hiddenDim])
        noObjEmbedSpatial = try w.optional("no_obj_embed_spatial", shape: [1, memDim])
        noMemEmbed = try w("no_mem_embed", shape: [1, 1, hiddenDim])
        noMemPosEnc = try w("no_mem_pos_enc", shape: [1, 1, hiddenDim])
    }

    /// Official `get_1d_sine_pe`: for positions of any shape, [..., 2·⌊dim/2⌋] = [sin(p / dᵢ), cos(p / dᵢ)] with
    /// dᵢ = temperature^(2⌊i/2⌋ / ⌊dim/2⌋), i < ⌊dim/2⌋ (float32 as the official).
    public static func get1dSinePE(_ posInds: Tensor, dim: Int, temperature: Float = 10000) -> Tensor {
        let peDim = dim / 2
        precondition(peDim >= 1, "get1dSinePE: dim \(dim) must be ≥ 2")
        let dimT: [Float] = (0..<peDim).map { i in
            Foundation.powf(temperature, Float(2 * (i / 2)) / Float(peDim))
        }
        let n = posInds.count
        return Tensor(shape: posInds.shape + [2 * peDim]) { out in
            posInds.withUnsafeBufferPointer { pos in
                // Assumes out holds n rows of 2·peDim: sines then cosines.
                for r in 0..<n {
                    let row = out.baseAddress! + r * 2 * peDim
                    for i in 0..<peDim {
                        let a = pos[r] / dimT[i]
                        row[i] = Foundation.sinf(a)
                        row[peDim + i] = Foundation.cosf(a)
                    }
                }
            }
        }
    }

    /// The temporal positional encodings of object pointers `tDiffs` frames away (signed in SAM 2.1's tracker):
    /// obj_ptr_tpos_proj(get_1d_sine_pe(t / (maxObjPtrsInEncoder − 1), dim)) → [N, memDim]; zeros when
    /// `addTposEncToObjPtrs` is off.
    public func objPtrTemporalEncoding(_ tDiffs: [Int], maxObjPtrsInEncoder: Int = 16) -> Tensor {
        guard addTposEncToObjPtrs else { return Tensor.zeros([tDiffs.count, memDim]) }
        let tDiffMax = Float(maxObjPtrsInEncoder - 1)
        let pos = Tensor(shape: [tDiffs.count], data: tDiffs.map { Float($0) / tDiffMax })
        let pe = Self.get1dSinePE(pos, dim: objPtrTposProj == nil ? memDim : hiddenDim)
        return objPtrTposProj.map { $0(pe) } ?? pe
    }

    /// Splits object pointers [B, N, hidden] into memory tokens [B, N·(hidden/memDim), memDim] (pointer i gives
    /// tokens i·k..<(i+1)·k of its consecutive channel chunks, as the official reshape/permute when memDim < C);
    /// pair them with `objPtrTemporalEncoding` rows repeated k times each.
    public func objPtrTokens(_ ptrs: Tensor) -> Tensor {
        precondition(ptrs.rank == 3 && ptrs.shape[2] == hiddenDim && hiddenDim % memDim == 0,
                     "objPtrTokens: pointers \(ptrs.shape) must be [B, N, \(hiddenDim)]")
        return ptrs.reshaped([ptrs.shape[0], -1, memDim])
    }
}
