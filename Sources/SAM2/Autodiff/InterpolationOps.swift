import Foundation

// Every `F.interpolate` mode (nearest, bilinear, bicubic, with or without antialias) is separable and linear in
// the input: Y = A_h · X · A_wᵀ per plane. The gradient is the adjoint, dX = A_hᵀ · dY · A_w. Rather than
// re-deriving each mode's taps, the two matrices are read off the forward kernel itself by resampling unit
// vectors along one axis while the other axis keeps size 1 (a size-1 → size-1 axis resamples as the identity),
// so the backward always matches the forward exactly.
extension Variable {
    /// PyTorch `F.interpolate(x, size:, mode:, align_corners:, antialias:)` on [N, C, H, W].
    public func interpolate(size: (Int, Int), mode: InterpolationMode, alignCorners: Bool = false,
                            antialias: Bool = false) -> Variable {
        precondition(value.rank == 4, "interpolate: input must be [N, C, H, W], got \(shape)")
        let y = value.interpolate(size: size, mode: mode, alignCorners: alignCorners, antialias: antialias)
        return recordResample(y) { units, alongHeight in
            units.interpolate(size: alongHeight ? (size.0, 1) : (1, size.1), mode: mode, alignCorners: alignCorners,
                              antialias: antialias)
        }
    }

    /// PyTorch `F.interpolate(x, scale_factor:, ...)` (output floor(in·factor), source coordinates from 1/factor).
    public func interpolate(scaleFactor: (Double, Double), mode: InterpolationMode, alignCorners: Bool = false,
                            antialias: Bool = false) -> Variable {
        precondition(value.rank == 4, "interpolate: input must be [N, C, H, W], got \(shape)")
        let y = value.interpolate(scaleFactor: scaleFactor, mode: mode, alignCorners: alignCorners, antialias: antialias)
        // A factor of 1 on the size-1 axis keeps it an identity of size 1.
        return recordResample(y) { units, alongHeight in
            units.interpolate(scaleFactor: alongHeight ? (scaleFactor.0, 1) : (1, scaleFactor.1), mode: mode,
                              alignCorners: alignCorners, antialias: antialias)
        }
    }

    /// Records a resampling of this variable to `y`; `resample(units, alongHeight)` applies the same resampling
    /// to unit-vector planes whose other axis has size 1, which yields A_hᵀ or A_wᵀ.
    private func recordResample(_ y: Tensor, _ resample: @escaping (Tensor, Bool) -> Tensor) -> Variable {
        let inputShape = shape
        let (h, w) = (inputShape[2], inputShape[3]), (ho, wo) = (y.shape[2], y.shape[3])
        return GradientTape.common([self], "interpolate").record(y, inputs: [self]) { g in
            // A_hᵀ [h, ho] and A_wᵀ [w, wo]: row i is the resampled unit vector e_i.
            let ahT = resample(Variable.identityPlanes(h, alongHeight: true), true).reshaped([h, ho])
            let awT = resample(Variable.identityPlanes(w, alongHeight: false), false).reshaped([w, wo])
            return [Variable.resampleAdjoint(g, ahT: ahT, awT: awT, inputShape: inputShape)]
        }
    }

    /// n planes holding the unit vectors e_0 … e_{n−1}: [n, 1, n, 1] (along height) or [n, 1, 1, n].
    private static func identityPlanes(_ n: Int, alongHeight: Bool) -> Tensor {
        var t = Tensor(shape: alongHeight ? [n, 1, n, 1] : [n, 1, 1, n])
        for i in 0..<n { t.data[i * n + i] = 1 }
        return t
    }

    /// dX = A_hᵀ · dY · A_w per plane, as two GEMMs (the plane batch folded into rows).
    private static func resampleAdjoint(_ g: Tensor, ahT: Tensor, awT: Tensor, inputShape: [Int]) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let ho = g.shape[2], wo = g.shape[3]
        // [N·C·ho, wo] · A_w ([wo, w] = (A_wᵀ)ᵀ) → [N·C, ho, w], then contract ho with A_hᵀ.
        let m = g.reshaped([n * c * ho, wo]).matmul(awT, transposeB: true).reshaped([n * c, ho, w])
        let r = m.permuted([0, 2, 1]).matmul(ahT, transposeB: true)  // [N·C, w, h]
        return r.permuted([0, 2, 1]).reshaped([n, c, h, w])
    }
}
