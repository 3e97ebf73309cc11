import Foundation

/// Differentiable mirror of `MemoryEmbeddings` (ObjectPointer.swift): the learned embeddings and object-pointer heads
/// of SAM2Base that the memory path uses, as Variables of the store's root keys. Which optional parts exist is
/// decided by the keys present, as the inference side does.
public struct TrainableMemoryEmbeddings {
    /// `obj_ptr_proj`: identity, Linear, or MLP (ReLU between layers) as stored.
    public enum ObjPtrProj {
        case identity
        case linear(weight: Variable, bias: Variable)
        case mlp([(weight: Variable, bias: Variable)])
    }

    public let hiddenDim: Int
    public let memDim: Int
    public let objPtrProjection: ObjPtrProj
    /// `obj_ptr_tpos_proj` (weight, bias); nil = no temporal encoding of pointers (SAM 2 checkpoints).
    public let objPtrTposProj: (weight: Variable, bias: Variable)?
    /// `maskmem_tpos_enc` [num_maskmem, 1, 1, mem_dim].
    public var maskmemTposEnc: Variable
    /// `no_mem_embed` [1, 1, hidden].
    public var noMemEmbed: Variable
    /// `no_mem_pos_enc` [1, 1, hidden].
    public var noMemPosEnc: Variable
    /// `no_obj_ptr` [1, hidden].
    public var noObjPtr: Variable?
    /// `no_obj_embed_spatial` [1, mem_dim] (SAM 2.1).
    public var noObjEmbedSpatial: Variable?
    /// `mask_downsample` (1→1, 4×4 stride 4), nil when absent.
    public let maskDownsampleWeight: Variable?, maskDownsampleBias: Variable?

    /// Number of memory slots (`num_maskmem`).
    public var numMaskmem: Int { maskmemTposEnc.shape[0] }

    /// Reads the root keys (parameters = store.scope()): maskmem_tpos_enc, no_mem_embed, no_mem_pos_enc, no_obj_ptr,
    /// no_obj_embed_spatial, obj_ptr_proj.*, obj_ptr_tpos_proj.*, mask_downsample.* (shapes checked).
    public init(parameters p: ParameterScope, hiddenDim: Int, memDim: Int) throws {
        self.hiddenDim = hiddenDim
        self.memDim = memDim
        if p.contains("obj_ptr_proj.layers.0.weight") {
            var n = 1
            while p.contains("obj_ptr_proj.layers.\(n).weight") { n += 1 }
            objPtrProjection = .mlp(try (0..<n).map { i in
                (try p("obj_ptr_proj.layers.\(i).weight", shape: [hiddenDim, hiddenDim]),
                 try p("obj_ptr_proj.layers.\(i).bias", shape: [hiddenDim]))
            })
        } else if p.contains("obj_ptr_proj.weight") {
            objPtrProjection = .linear(weight: try p("obj_ptr_proj.weight", shape: [hiddenDim, hiddenDim]),
                                       bias: try p("obj_ptr_proj.bias", shape: [hiddenDim]))
        } else {
            objPtrProjection = .identity
        }
        objPtrTposProj = p.contains("obj_ptr_tpos_proj.weight")
            ? (try p("obj_ptr_tpos_proj.weight", shape: [memDim, hiddenDim]), try p("obj_ptr_tpos_proj.bias", shape: [memDim]))
            : nil
        let slots = p.contains("maskmem_tpos_enc") ? try p("maskmem_tpos_enc").shape.first ?? 7 : 7
        maskmemTposEnc = try p("maskmem_tpos_enc", shape: [slots, 1, 1, memDim])
        noMemEmbed = try p("no_mem_embed", shape: [1, 1, hiddenDim])
        noMemPosEnc = try p("no_mem_pos_enc", shape: [1, 1, hiddenDim])
        noObjPtr = try p.optional("no_obj_ptr", shape: [1, hiddenDim])
        noObjEmbedSpatial = try p.optional("no_obj_embed_spatial", shape: [1, memDim])
        maskDownsampleWeight = try p.optional("mask_downsample.weight", shape: [1, 1, 4, 4])
        maskDownsampleBias = try p.optional("mask_downsample.bias", shape: [1])
    }

    /// `obj_ptr_proj` over the last dim ([B, C] → [B, C]).
    public func objPtrProj(_ x: Variable) -> Variable {
        switch objPtrProjection {
        case .identity: return x
        case let .linear(w, b): return x.linear(weight: w, bias: b)
        case let .mlp(layers):
            var h = x
            for (i, l) in layers.enumerated() {
                h = h.linear(weight: l.weight, bias: l.bias)
                if i < layers.count - 1 { h = h.relu() }
            }
            return h
        }
    }

    /// Splits object pointers [B, N, hidden] into memory tokens [B, N·(hidden/memDim), memDim] as
    /// `MemoryEmbeddings.objPtrTokens` (pointer i gives tokens i·k..<(i+1)·k of its consecutive channel chunks).
    public func objPtrTokens(_ ptrs: Variable) -> Variable {
        precondition(ptrs.value.rank == 3 && ptrs.shape[2] == hiddenDim && hiddenDim % memDim == 0,
                     "objPtrTokens: pointers \(ptrs.shape) must be [B, N, \(hiddenDim)]")
        return ptrs.reshaped([ptrs.shape[0], -1, memDim])
    }

    /// obj_ptr_tpos_proj(get_1d_sine_pe(t / (maxObjPtrsInEncoder − 1))) → [N, memDim], differentiable in the
    /// projection; zeros (constant) without `obj_ptr_tpos_proj`, as `MemoryEmbeddings.objPtrTemporalEncoding`.
    public func objPtrTemporalEncoding(_ tDiffs: [Int], maxObjPtrsInEncoder: Int) -> Variable {
        guard let proj = objPtrTposProj else { return Variable.constant(Tensor.zeros([tDiffs.count, memDim])) }
        let tDiffMax = Float(maxObjPtrsInEncoder - 1)
        let pos = Tensor(shape: [tDiffs.count], data: tDiffs.map { Float($0) / tDiffMax })
        let pe = MemoryEmbeddings.get1dSinePE(pos, dim: hiddenDim)
        return Variable.constant(pe).linear(weight: proj.weight, bias: proj.bias)
    }

    /// `mask_downsample` conv (4×4, stride 4): [B, 1, H, W] → [B, 1, H/4, W/4].
    public func maskDownsample(_ mask: Variable) throws -> Variable {
        guard let w = maskDownsampleWeight else {
            throw TrainableMemoryError.mismatch("TrainableMemoryEmbeddings: the store has no mask_downsample.weight")
        }
        return mask.conv2d(weight: w, bias: maskDownsampleBias, stride: (4, 4))
    }
}
