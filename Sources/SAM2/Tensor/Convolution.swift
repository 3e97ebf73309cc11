import Foundation

/// Integer division rounding towards −∞ (divisor > 0).
@inline(__always) private func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
/// Integer division rounding towards +∞ (divisor > 0).
@inline(__always) private func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }

/// The output positions `o` in `0..<outSize` whose source `o·stride + offset` lies in `0..<inSize`
/// (empty range when none do); lets kernels handle padding per row instead of per element.
@inline(__always) private func validRange(outSize: Int, inSize: Int, stride: Int, offset: Int) -> Range<Int> {
    let lo = max(0, ceilDiv(-offset, stride))
    let hi = min(outSize, floorDiv(inSize - 1 - offset, stride) + 1)
    return lo < hi ? lo..<hi : lo..<lo
}

extension Tensor {
    /// PyTorch `F.conv2d`: input [N, C, H, W], weight [O, C/groups, kh, kw], optional bias [O] → [N, O, Ho, Wo].
    /// Depthwise convs (groups == C == O) use a direct kernel, 1×1 stride-1 convs one GEMM on the input, the rest
    /// im2col + GEMM.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, "conv2d: input \(shape) and weight \(weight.shape) must be 4-d")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(groups >= 1 && c % groups == 0 && o % groups == 0 && cg == c / groups,
                     "conv2d: input \(shape) does not fit weight \(weight.shape) with groups \(groups)")
        precondition(stride.0 >= 1 && stride.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1 && padding.0 >= 0 && padding.1 >= 0,
                     "conv2d: bad stride \(stride), padding \(padding) or dilation \(dilation)")
        precondition(bias.map { $0.count == o } ?? true, "conv2d: bias \(bias?.shape ?? []) does not fit \(o) output channels")
        let spanH = h + 2 * padding.0 - dilation.0 * (kh - 1) - 1
        let spanW = w + 2 * padding.1 - dilation.1 * (kw - 1) - 1
        precondition(spanH >= 0 && spanW >= 0,
                     "conv2d: kernel \(weight.shape) (dilation \(dilation)) larger than padded input \(shape) (padding \(padding))")
        let ho = spanH / stride.0 + 1, wo = spanW / stride.1 + 1
        let geometry = ConvGeometry(h: h, w: w, kh: kh, kw: kw, ho: ho, wo: wo, stride: stride, padding: padding, dilation: dilation)
        if n * o * ho * wo == 0 { return Tensor.zeros([n, o, ho, wo]) }

        if groups == c && o == c && cg == 1 {
            return depthwiseConv2d(weight: weight, bias: bias, geometry: geometry)
        }

        let og = o / groups
        let kdim = cg * kh * kw
        let plane = ho * wo
        let pointwise = kh == 1 && kw == 1 && stride == (1, 1) && padding == (0, 0)
        // The unfolded matrix is built a band of output rows at a time so it stays cache-sized (and is not a
        // fresh multi-megabyte allocation per call); each band is one GEMM writing its slice of the output rows.
        let bandRows = pointwise ? ho : max(1, min(ho, Tensor.im2colBandFloats / max(kdim * wo, 1)))
        var col = [Float](repeating: 0, count: pointwise ? 0 : kdim * bandRows * wo)
        return Tensor(shape: [n, o, ho, wo]) { out in
            let op = out.baseAddress!
            if let bias {
                bias.withUnsafeBufferPointer { b in
                    Parallel.forChunks(n * o, grain: max(1, 16384 / max(plane, 1))) { r in
                        for i in r { (op + i * plane).update(repeating: b[i % o], count: plane) }
                    }
                }
            }
            let beta: Float = bias == nil ? 0 : 1
            withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { wb in
                    col.withUnsafeMutableBufferPointer { colb in
                        for b in 0..<n {
                            for g in 0..<groups {
                                let src = xb.baseAddress! + (b * c + g * cg) * h * w
                                let dst = op + (b * o + g * og) * plane
                                let lhs = wb.baseAddress! + g * og * kdim
                                if pointwise {
                                    Tensor.sgemm(m: og, n: plane, k: kdim, a: lhs, lda: kdim, b: src, ldb: plane,
                                                 beta: beta, c: dst, ldc: plane)
                                    continue
                                }
                                for r0 in Swift.stride(from: 0, to: ho, by: bandRows) {
                                    let rows = min(bandRows, ho - r0)
                                    Tensor.im2col(src, channels: cg, geometry: geometry, outputRows: r0..<(r0 + rows),
                                                  into: colb.baseAddress!)
                                    Tensor.sgemm(m: og, n: rows * wo, k: kdim, a: lhs, lda: kdim,
                                                 b: colb.baseAddress!, ldb: rows * wo, beta: beta,
                                                 c: dst + r0 * wo, ldc: plane)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Floats of one im2col band (kh·kw·C rows × output pixels): the patch embed's 147 × 8192 (~5 MB; unfolded
    /// at once, 38 MB, measured ~2× slower from page faults and cache misses). A budget in floats rather than
    /// columns lets convs with few input channels (the mask downsampler's 1 → 4 → 16) take long bands, so
    /// their tiny-m GEMMs are few and big enough to split over workers.
    static let im2colBandFloats = 147 * 8192

    /// Unfolds output rows `outputRows` of a convolution over `channels` planes of [h, w] at `src` into a
    /// (c, ki, kj) × (oh, ow) matrix at `dst` (row length outputRows.count·wo), zero where the window reads
    /// padding. Assumes `src` holds channels·h·w floats and `dst` channels·kh·kw·outputRows.count·wo.
    /// Internal so the conv weight gradient (Autodiff/ConvolutionOps.swift) unfolds the input the same way.
    static func im2col(_ src: UnsafePointer<Float>, channels: Int, geometry g: ConvGeometry,
                               outputRows: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let rows = channels * g.kh * g.kw
        let band = outputRows.count
        let (sh, sw) = g.stride
        // One work item is one output row (oh) of one unfolded row (c, ki, kj).
        Parallel.forChunks(rows * band, grain: max(1, 16384 / max(g.wo, 1))) { items in
            for item in items {
                let r = item / band, oh = outputRows.lowerBound + item % band
                let ci = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw
                let d = dst + item * g.wo
                let ih = oh * sh - g.padding.0 + ki * g.dilation.0
                if ih < 0 || ih >= g.h { d.update(repeating: 0, count: g.wo); continue }
                let colOff = kj * g.dilation.1 - g.padding.1
                let valid = validRange(outSize: g.wo, inSize: g.w, stride: sw, offset: colOff)
                d.update(repeating: 0, count: valid.lowerBound)
                (d + valid.upperBound).update(repeating: 0, count: g.wo - valid.upperBound)
                let s = src + ci * g.h * g.w + ih * g.w + colOff
                if sw == 1 {
                    (d + valid.lowerBound).update(from: s + valid.lowerBound, count: valid.count)
                } else {
                    for ow in valid { d[ow] = s[ow * sw] }
                }
            }
        }
    }

    /// Direct depthwise convolution (groups == C == O). Each plane is first copied into a zero-padded scratch
    /// plane so the taps need no bounds checks; stride-1 rows are then computed eight outputs at a time with the
    /// partial sums held in a SIMD register across all kh·kw taps.
    private func depthwiseConv2d(weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) -> Tensor {
        let (n, c) = (shape[0], shape[1])
        let (sh, sw) = g.stride
        let (ph, pw) = g.padding, (dh, dw) = g.dilation
        let taps = g.kh * g.kw
        // Only the padded rows/columns some tap can reach are materialised.
        let hp = (g.ho - 1) * sh + (g.kh - 1) * dh + 1, wp = (g.wo - 1) * sw + (g.kw - 1) * dw + 1
        let biasValues = bias?.data
        return Tensor(shape: [n, c, g.ho, g.wo]) { out in
            withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { wb in
                    Parallel.forChunks(n * c, grain: max(1, 16384 / max(g.ho * g.wo * taps, 1))) { planes in
                        var scratch = [Float](repeating: 0, count: hp * wp)
                        scratch.withUnsafeMutableBufferPointer { sb in
                            let padded = sb.baseAddress!
                            for planeIndex in planes {
                                // Copy the plane into the padded scratch (borders stay zero across planes).
                                let src = xb.baseAddress! + planeIndex * g.h * g.w
                                let colLo = pw, colHi = min(wp, pw + g.w)
                                for r in 0..<hp {
                                    let ih = r - ph
                                    let row = padded + r * wp
                                    if ih < 0 || ih >= g.h || colLo >= colHi {
                                        row.update(repeating: 0, count: wp)
                                        continue
                                    }
                                    row.update(repeating: 0, count: colLo)
                                    (row + colLo).update(from: src + ih * g.w, count: colHi - colLo)
                                    (row + colHi).update(repeating: 0, count: wp - colHi)
                                }
                                let ch = planeIndex % c
                                let wk = wb.baseAddress! + ch * taps
                                let b0 = biasValues?[ch] ?? 0
                                let dst = out.baseAddress! + planeIndex * g.ho * g.wo
                                for oh in 0..<g.ho {
                                    let d = dst + oh * g.wo
                                    let top = padded + oh * sh * wp
                                    var ow = 0
                                    if sw == 1 {
                                        while ow + 8 <= g.wo {
                                            var acc = SIMD8<Float>(repeating: b0)
                                            for ki in 0..<g.kh {
                                                let row = UnsafeRawPointer(top + ki * dh * wp + ow)
                                                for kj in 0..<g.kw {
                                                    let v = row.loadUnaligned(fromByteOffset: kj * dw * MemoryLayout<Float>.stride,
                                                                            as: SIMD8<Float>.self)
                                                    acc += wk[ki * g.kw + kj] * v
                                                }
                                            }
                                            UnsafeMutableRawPointer(d + ow).storeBytes(of: acc, as: SIMD8<Float>.self)
                                            ow += 8
                                        }
                                    }
                                    while ow < g.wo {
                                        var acc = b0
                                        for ki in 0..<g.kh {
                                            let row = top + ki * dh * wp + ow * sw
                                            for kj in 0..<g.kw { acc += wk[ki * g.kw + kj] * row[kj * dw] }
                                        }
                                        d[ow] = acc
                                        ow += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// PyTorch `F.conv_transpose2d` (groups 1): input [N, Cin, H, W], weight [Cin, Cout, kh, kw], optional bias
    /// [Cout] → [N, Cout, Ho, Wo] with Ho = (H−1)·stride − 2·padding + dilation·(kh−1) + outputPadding + 1.
    /// Computed as one GEMM (weightᵀ · input) followed by a scatter-add of the kh·kw taps.
    public func convTranspose2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
                                padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0),
                                dilation: (Int, Int) = (1, 1)) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[0] == shape[1],
                     "convTranspose2d: input \(shape) does not fit weight \(weight.shape) ([Cin, Cout, kh, kw])")
        let (n, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (cout, kh, kw) = (weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(stride.0 >= 1 && stride.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1 && padding.0 >= 0 && padding.1 >= 0
                     && outputPadding.0 >= 0 && outputPadding.1 >= 0
                     && (outputPadding.0 < stride.0 || outputPadding.0 < dilation.0)
                     && (outputPadding.1 < stride.1 || outputPadding.1 < dilation.1),
                     "convTranspose2d: bad stride \(stride), padding \(padding), outputPadding \(outputPadding) or dilation \(dilation)")
        precondition(bias.map { $0.count == cout } ?? true, "convTranspose2d: bias \(bias?.shape ?? []) does not fit \(cout) output channels")
        let ho = (h - 1) * stride.0 - 2 * padding.0 + dilation.0 * (kh - 1) + outputPadding.0 + 1
        let wo = (w - 1) * stride.1 - 2 * padding.1 + dilation.1 * (kw - 1) + outputPadding.1 + 1
        precondition(ho > 0 && wo > 0, "convTranspose2d: empty output \(ho)×\(wo) for input \(shape), weight \(weight.shape)")
        if n * cout == 0 { return Tensor.zeros([n, cout, ho, wo]) }
        let rows = cout * kh * kw, plane = h * w
        var col = [Float](repeating: 0, count: rows * plane)
        var ranges = [Range<Int>]()
        for kj in 0..<kw {
            ranges.append(validRange(outSize: w, inSize: wo, stride: stride.1, offset: kj * dilation.1 - padding.1))
        }
        let biasValues = bias?.data
        return Tensor(shape: [n, cout, ho, wo]) { out in
            withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { wb in
                    col.withUnsafeMutableBufferPointer { colb in
                        let cp = colb.baseAddress!
                        for b in 0..<n {
                            Tensor.sgemm(transA: true, m: rows, n: plane, k: cin, a: wb.baseAddress!, lda: rows,
                                         b: xb.baseAddress! + b * cin * plane, ldb: plane, c: cp, ldc: plane)
                            // Each output plane only receives its own channel's taps, so planes scatter independently.
                            Parallel.forChunks(cout, grain: max(1, 16384 / max(ho * wo, 1))) { chans in
                                for co in chans {
                                    let d = out.baseAddress! + (b * cout + co) * ho * wo
                                    d.update(repeating: biasValues?[co] ?? 0, count: ho * wo)
                                    for ki in 0..<kh {
                                        for kj in 0..<kw {
                                            let s = cp + ((co * kh + ki) * kw + kj) * plane
                                            let colOff = kj * dilation.1 - padding.1
                                            for ih in 0..<h {
                                                let oh = ih * stride.0 - padding.0 + ki * dilation.0
                                                if oh < 0 || oh >= ho { continue }
                                                let dr = d + oh * wo + colOff, sr = s + ih * w
                                                if stride.1 == 1 {
                                                    for iw in ranges[kj] { dr[iw] += sr[iw] }
                                                } else {
                                                    for iw in ranges[kj] { dr[iw * stride.1] += sr[iw] }
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
    }
}

/// Sizes shared by the convolution kernels (internal: the autodiff weight gradient unfolds with `im2col` too).
struct ConvGeometry {
    let h: Int, w: Int, kh: Int, kw: Int, ho: Int, wo: Int
    let stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)
}
