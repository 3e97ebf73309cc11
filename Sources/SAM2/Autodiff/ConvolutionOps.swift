import Foundation

// Convolution gradients are themselves convolutions, so they reuse the forward kernels:
//  - conv2d's input gradient is a transposed convolution of the output gradient with the same weight;
//  - a weight gradient is outputGradient × im2col(input)ᵀ, one GEMM over the forward's unfolding
//    (`convolutionWeightGradient`; replaces a dilated-conv formulation that was slow on strided convs).
// Depthwise convolutions (groups == C == O) get their own kernels instead: the weight gradient is a direct
// per-channel correlation of the output gradient with the padded input (`depthwiseWeightGradient`), and at
// stride 1 the input gradient is a depthwise conv of the output gradient with the spatially flipped kernel. Other grouped convolutions (and strided depthwise input
// gradients) are handled one group at a time, as convTranspose2d has no groups.
extension Variable {
    /// PyTorch `F.conv2d`: input [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] → [N, O, Ho, Wo].
    public func conv2d(weight: Variable, bias: Variable? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Variable {
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        let tape = GradientTape.common(inputs, "conv2d")
        let x = value, w = weight.value
        let y = x.conv2d(weight: w, bias: bias?.value, stride: stride, padding: padding, dilation: dilation, groups: groups)
        return tape.record(y, inputs: inputs) { [requiresGrad] g in
            let c = x.shape[1], o = w.shape[0], cg = c / groups, og = o / groups
            let (kh, kw) = (w.shape[2], w.shape[3])
            func group(_ t: Tensor, _ axis: Int, _ size: Int, _ i: Int) -> Tensor {
                groups == 1 ? t : t.slice(axis: axis, start: i * size, end: (i + 1) * size)
            }
            var grads: [Tensor?] = [nil, nil]
            let depthwise = groups == c && o == c && cg == 1
            let flippedPadding = (dilation.0 * (kh - 1) - padding.0, dilation.1 * (kw - 1) - padding.1)
            if requiresGrad && depthwise && stride == (1, 1) && flippedPadding.0 >= 0 && flippedPadding.1 >= 0 {
                grads[0] = g.conv2d(weight: Variable.spatiallyFlipped(w), padding: flippedPadding, dilation: dilation, groups: c)
            } else if requiresGrad {
                // Output padding recovers the input rows/columns the strided forward never reached.
                let outPad = (x.shape[2] + 2 * padding.0 - dilation.0 * (kh - 1) - 1 - (g.shape[2] - 1) * stride.0,
                              x.shape[3] + 2 * padding.1 - dilation.1 * (kw - 1) - 1 - (g.shape[3] - 1) * stride.1)
                let parts = (0..<groups).map { i in
                    group(g, 1, og, i).convTranspose2d(weight: group(w, 0, og, i), stride: stride, padding: padding,
                                                      outputPadding: outPad, dilation: dilation)
                }
                grads[0] = groups == 1 ? parts[0] : Tensor.concat(parts, axis: 1)
            }
            if weight.requiresGrad && depthwise {
                grads[1] = Variable.depthwiseWeightGradient(input: x, outputGradient: g, kernel: (kh, kw), stride: stride,
                                                            padding: padding, dilation: dilation)
            } else if weight.requiresGrad {
                let parts = (0..<groups).map { i in
                    Variable.convolutionWeightGradient(input: group(x, 1, cg, i), outputGradient: group(g, 1, og, i),
                                                       kernel: (kh, kw), stride: stride, padding: padding, dilation: dilation)
                }
                grads[1] = groups == 1 ? parts[0] : Tensor.concat(parts, axis: 0)
            }
            if bias != nil { grads.append(g.sum(axis: 3).sum(axis: 2).sum(axis: 0)) }
            return grads
        }
    }

    /// PyTorch `F.conv_transpose2d` (groups 1): input [N, Cin, H, W], weight [Cin, Cout, kh, kw], bias [Cout].
    public func convTranspose2d(weight: Variable, bias: Variable? = nil, stride: (Int, Int) = (1, 1),
                                padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0),
                                dilation: (Int, Int) = (1, 1)) -> Variable {
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        let tape = GradientTape.common(inputs, "convTranspose2d")
        let x = value, w = weight.value
        let y = x.convTranspose2d(weight: w, bias: bias?.value, stride: stride, padding: padding,
                                  outputPadding: outputPadding, dilation: dilation)
        return tape.record(y, inputs: inputs) { [requiresGrad] g in
            var grads: [Tensor?] = [nil, nil]
            // The adjoint of a transposed convolution is the plain convolution with the same weight.
            if requiresGrad { grads[0] = g.conv2d(weight: w, stride: stride, padding: padding, dilation: dilation) }
            if weight.requiresGrad {
                grads[1] = Variable.convolutionWeightGradient(input: g, outputGradient: x, kernel: (w.shape[2], w.shape[3]),
                                                              stride: stride, padding: padding, dilation: dilation)
            }
            if bias != nil { grads.append(g.sum(axis: 3).sum(axis: 2).sum(axis: 0)) }
            return grads
        }
    }

    /// The kernel rotated by 180° in its spatial dimensions (correlation ↔ convolution).
    private static func spatiallyFlipped(_ w: Tensor) -> Tensor {
        let (kh, kw) = (w.shape[2], w.shape[3])
        var out = w
        let planes = w.shape[0] * w.shape[1]
        for p in 0..<planes {
            for i in 0..<kh { for j in 0..<kw { out.data[(p * kh + i) * kw + j] = w.data[(p * kh + kh - 1 - i) * kw + kw - 1 - j] } }
        }
        return out
    }

    /// d loss / d weight [O, C, kh, kw] of a groups-1 convolution of `input` [N, C, H, W] whose output gradient
    /// is `outputGradient` [N, O, Ho, Wo]: Σ_n outputGradient_n [O, Ho·Wo] · im2col(input_n)ᵀ [Ho·Wo, C·kh·kw], the
    /// forward's unfolding (`Tensor.im2col`, a band of output rows at a time) accumulated by one GEMM per band.
    /// Ho, Wo are taken from `outputGradient` (the adjoint of a transposed conv may carry output padding).
    static func convolutionWeightGradient(input: Tensor, outputGradient: Tensor, kernel: (Int, Int), stride: (Int, Int),
                                          padding: (Int, Int), dilation: (Int, Int)) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (o, ho, wo) = (outputGradient.shape[1], outputGradient.shape[2], outputGradient.shape[3])
        precondition(outputGradient.shape[0] == n, "convolutionWeightGradient: batch \(input.shape) vs \(outputGradient.shape)")
        let (kh, kw) = kernel
        let kdim = c * kh * kw, plane = ho * wo
        if n * plane == 0 || o * kdim == 0 { return Tensor.zeros([o, c, kh, kw]) }
        let geometry = ConvGeometry(h: h, w: w, kh: kh, kw: kw, ho: ho, wo: wo, stride: stride, padding: padding,
                                    dilation: dilation)
        // A 1×1 stride-1 unpadded conv's unfolded input is the input itself.
        let pointwise = kh == 1 && kw == 1 && stride == (1, 1) && padding == (0, 0) && ho == h && wo == w
        let bandRows = pointwise ? ho : max(1, min(ho, Tensor.im2colBandFloats / max(kdim * wo, 1)))
        var col = [Float](repeating: 0, count: pointwise ? 0 : kdim * bandRows * wo)
        return Tensor(shape: [o, c, kh, kw]) { out in
            input.withUnsafeBufferPointer { xb in
                outputGradient.withUnsafeBufferPointer { gb in
                    col.withUnsafeMutableBufferPointer { colb in
                        var beta: Float = 0
                        for b in 0..<n {
                            let src = xb.baseAddress! + b * c * h * w
                            let grad = gb.baseAddress! + b * o * plane
                            if pointwise {
                                Tensor.sgemm(transB: true, m: o, n: kdim, k: plane, a: grad, lda: plane, b: src, ldb: plane,
                                             beta: beta, c: out.baseAddress!, ldc: kdim)
                                beta = 1
                                continue
                            }
                            for r0 in Swift.stride(from: 0, to: ho, by: bandRows) {
                                let rows = min(bandRows, ho - r0)
                                Tensor.im2col(src, channels: c, geometry: geometry, outputRows: r0..<(r0 + rows),
                                              into: colb.baseAddress!)
                                Tensor.sgemm(transB: true, m: o, n: kdim, k: rows * wo, a: grad + r0 * wo, lda: plane,
                                             b: colb.baseAddress!, ldb: rows * wo, beta: beta, c: out.baseAddress!, ldc: kdim)
                                beta = 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// d loss / d weight [C, 1, kh, kw] of a depthwise convolution (groups == C == O) of `input` [N, C, H, W] with
    /// output gradient [N, C, Ho, Wo]: dW[c, i, j] = Σ_{n, oh, ow} g[n, c, oh, ow] · x[n, c, oh·s − p + i·d, ow·s − p + j·d].
    /// Channels are spread over cores; each plane is copied into a zero-padded scratch (as the forward kernel does)
    /// so the taps need no bounds checks, and stride-1 rows are summed eight columns at a time. (The grouped-conv
    /// formulation this replaces ran the output gradient as a Ho×Wo kernel with a scalar loop: ~20× slower.)
    static func depthwiseWeightGradient(input: Tensor, outputGradient: Tensor, kernel: (Int, Int), stride: (Int, Int),
                                        padding: (Int, Int), dilation: (Int, Int)) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (ho, wo) = (outputGradient.shape[2], outputGradient.shape[3])
        precondition(outputGradient.shape[0] == n && outputGradient.shape[1] == c,
                     "depthwiseWeightGradient: \(input.shape) vs \(outputGradient.shape)")
        let (kh, kw) = kernel, (sh, sw) = stride, (ph, pw) = padding, (dh, dw) = dilation
        let taps = kh * kw
        if n * ho * wo == 0 || c * taps == 0 { return Tensor.zeros([c, 1, kh, kw]) }
        // Only the padded rows/columns some tap reaches are materialised.
        let hp = (ho - 1) * sh + (kh - 1) * dh + 1, wp = (wo - 1) * sw + (kw - 1) * dw + 1
        return Tensor(shape: [c, 1, kh, kw]) { out in
            input.withUnsafeBufferPointer { xb in
                outputGradient.withUnsafeBufferPointer { gb in
                    let (xp, gp, op) = (xb.baseAddress!, gb.baseAddress!, out.baseAddress!)
                    Parallel.forChunks(c, grain: max(1, 16384 / max(n * ho * wo * taps, 1))) { channels in
                        var scratch = [Float](repeating: 0, count: hp * wp)
                        scratch.withUnsafeMutableBufferPointer { sb in
                            let padded = sb.baseAddress!
                            for ch in channels {
                                let dst = op + ch * taps
                                dst.update(repeating: 0, count: taps)
                                for b in 0..<n {
                                    let src = xp + (b * c + ch) * h * w
                                    let colLo = pw, colHi = min(wp, pw + w)
                                    for r in 0..<hp {
                                        let ih = r - ph
                                        let row = padded + r * wp
                                        if ih < 0 || ih >= h || colLo >= colHi {
                                            row.update(repeating: 0, count: wp)
                                            continue
                                        }
                                        row.update(repeating: 0, count: colLo)
                                        (row + colLo).update(from: src + ih * w, count: colHi - colLo)
                                        (row + colHi).update(repeating: 0, count: wp - colHi)
                                    }
                                    let gplane = gp + (b * c + ch) * ho * wo
                                    for ki in 0..<kh {
                                        for kj in 0..<kw {
                                            var acc = SIMD8<Float>()
                                            var tail: Float = 0
                                            for oh in 0..<ho {
                                                let gr = gplane + oh * wo
                                                let xr = padded + (oh * sh + ki * dh) * wp + kj * dw
                                                var ow = 0
                                                if sw == 1 {
                                                    while ow + 8 <= wo {
                                                        acc += UnsafeRawPointer(gr + ow).loadUnaligned(as: SIMD8<Float>.self)
                                                            * UnsafeRawPointer(xr + ow).loadUnaligned(as: SIMD8<Float>.self)
                                                        ow += 8
                                                    }
                                                }
                                                while ow < wo { tail += gr[ow] * xr[ow * sw]; ow += 1 }
                                            }
                                            dst[ki * kw + kj] += acc.sum() + tail
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
