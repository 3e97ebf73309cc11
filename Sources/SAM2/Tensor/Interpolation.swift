import Foundation

/// Resampling filters of PyTorch `F.interpolate`.
public enum InterpolationMode: String, Sendable, CaseIterable {
    /// PyTorch's legacy `nearest`: source = floor(dst · in/out).
    case nearest
    /// Bilinear (triangle filter when antialiased).
    case bilinear
    /// Bicubic, Keys' kernel with A = −0.75 (A = −0.5 when antialiased, as PIL).
    case bicubic
}

extension Tensor {
    /// PyTorch `F.interpolate(x, size:, mode:, align_corners:, antialias:)` on [N, C, H, W].
    public func interpolate(size: (Int, Int), mode: InterpolationMode, alignCorners: Bool = false,
                            antialias: Bool = false) -> Tensor {
        resample(size: size, scales: (nil, nil), mode: mode, alignCorners: alignCorners, antialias: antialias)
    }

    /// PyTorch `F.interpolate(x, scale_factor:, ...)` (recompute_scale_factor unset): the output size is
    /// floor(in · factor) and source coordinates use 1/factor, not in/out.
    public func interpolate(scaleFactor: (Double, Double), mode: InterpolationMode, alignCorners: Bool = false,
                            antialias: Bool = false) -> Tensor {
        precondition(rank == 4 && scaleFactor.0 > 0 && scaleFactor.1 > 0,
                     "interpolate: needs [N, C, H, W] and positive scale factors, got \(shape), \(scaleFactor)")
        let size = (Int(Double(shape[2]) * scaleFactor.0), Int(Double(shape[3]) * scaleFactor.1))
        return resample(size: size, scales: scaleFactor, mode: mode, alignCorners: alignCorners, antialias: antialias)
    }

    /// Same factor on both spatial axes.
    public func interpolate(scaleFactor: Double, mode: InterpolationMode, alignCorners: Bool = false,
                            antialias: Bool = false) -> Tensor {
        interpolate(scaleFactor: (scaleFactor, scaleFactor), mode: mode, alignCorners: alignCorners, antialias: antialias)
    }

    private func resample(size: (Int, Int), scales: (Double?, Double?), mode: InterpolationMode, alignCorners: Bool,
                          antialias: Bool) -> Tensor {
        precondition(rank == 4, "interpolate: input must be [N, C, H, W], got \(shape)")
        precondition(size.0 > 0 && size.1 > 0 && shape[2] > 0 && shape[3] > 0,
                     "interpolate: sizes must be positive, input \(shape), output \(size)")
        precondition(!(mode == .nearest && (alignCorners || antialias)),
                     "interpolate: nearest supports neither alignCorners nor antialias")
        let (h, w) = (shape[2], shape[3])
        let th: ResampleTaps, tw: ResampleTaps
        switch (mode, antialias) {
        case (.nearest, _):
            th = .nearest(inSize: h, outSize: size.0, scale: scales.0)
            tw = .nearest(inSize: w, outSize: size.1, scale: scales.1)
        case (.bilinear, false):
            th = .linear(inSize: h, outSize: size.0, alignCorners: alignCorners, scale: scales.0)
            tw = .linear(inSize: w, outSize: size.1, alignCorners: alignCorners, scale: scales.1)
        case (.bicubic, false):
            th = .cubic(inSize: h, outSize: size.0, alignCorners: alignCorners, scale: scales.0)
            tw = .cubic(inSize: w, outSize: size.1, alignCorners: alignCorners, scale: scales.1)
        case (.bilinear, true), (.bicubic, true):
            let interpSize = mode == .bilinear ? 2 : 4
            let filter: (Float) -> Float = mode == .bilinear ? triangleFilter : keysCubicFilter
            th = .antialiased(inSize: h, outSize: size.0, alignCorners: alignCorners, scale: scales.0,
                              interpSize: interpSize, filter: filter)
            tw = .antialiased(inSize: w, outSize: size.1, alignCorners: alignCorners, scale: scales.1,
                              interpSize: interpSize, filter: filter)
        }
        // Width pass then height pass. PyTorch's fixed-tap kernel evaluates Σᵢ whᵢ·(Σⱼ wwⱼ·x[hᵢ, wⱼ]) per output
        // and its antialiased kernel runs the same two passes, so both sum in exactly this order. The antialiased
        // kernel skips unchanged axes; the fixed-tap one does not (its weights are then exactly 1 and 0).
        let skipW = antialias && w == size.1, skipH = antialias && h == size.0
        let mid = skipW ? self : resampleWidth(tw, rowsNeeded: skipH ? nil : th.referencedSources(inSize: h))
        return skipH ? mid : mid.resampleHeight(th)
    }

    /// Resamples the last axis: out[.., ow] = Σⱼ x[.., index(ow, j)]·weight(ow, j), summed in tap order.
    /// Rows not in `rowsNeeded` (when given) are set to zero instead, as the height pass never reads them.
    private func resampleWidth(_ t: ResampleTaps, rowsNeeded: [Bool]?) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let wo = t.outSize, k = t.taps
        return Tensor(shape: [n, c, h, wo]) { out in
            withUnsafeBufferPointer { xb in
                t.index.withUnsafeBufferPointer { idx in
                t.count.withUnsafeBufferPointer { used in
                t.weight.withUnsafeBufferPointer { wt in
                    Parallel.forChunks(n * c * h, grain: max(1, 8192 / max(wo * k, 1))) { rows in
                        for row in rows {
                            let d = out.baseAddress! + row * wo
                            if let rowsNeeded, !rowsNeeded[row % h] { d.update(repeating: 0, count: wo); continue }
                            let src = xb.baseAddress! + row * w
                            if k == 1 {
                                for ow in 0..<wo { d[ow] = src[idx[ow]] }
                                continue
                            }
                            for ow in 0..<wo {
                                let ip = idx.baseAddress! + ow * k, wp = wt.baseAddress! + ow * k
                                var acc = src[ip[0]] * wp[0]
                                for j in 1..<used[ow] { acc += src[ip[j]] * wp[j] }
                                d[ow] = acc
                            }
                        }
                    }
                }}}
            }
        }
    }

    /// Resamples the height axis; each output row is a weighted sum of whole input rows, in tap order.
    private func resampleHeight(_ t: ResampleTaps) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let ho = t.outSize, k = t.taps
        return Tensor(shape: [n, c, ho, w]) { out in
            withUnsafeBufferPointer { xb in
                t.index.withUnsafeBufferPointer { idx in
                t.count.withUnsafeBufferPointer { used in
                t.weight.withUnsafeBufferPointer { wt in
                    Parallel.forChunks(n * c * ho, grain: max(1, 8192 / max(w * k, 1))) { rows in
                        for row in rows {
                            let p = row / ho, oh = row % ho
                            let plane = xb.baseAddress! + p * h * w
                            let d = out.baseAddress! + row * w
                            let ip = idx.baseAddress! + oh * k, wp = wt.baseAddress! + oh * k
                            let s0 = plane + ip[0] * w
                            if k == 1 { d.update(from: s0, count: w); continue }
                            let w0 = wp[0]
                            for x in 0..<w { d[x] = s0[x] * w0 }
                            for j in 1..<used[oh] {
                                let s = plane + ip[j] * w, wj = wp[j]
                                for x in 0..<w { d[x] += s[x] * wj }
                            }
                        }
                    }
                }}}
            }
        }
    }
}

/// Per-output-position source indices and weights along one axis, computed in Float exactly as PyTorch's CPU
/// kernels do (same intermediate precisions), so results agree to rounding.
private struct ResampleTaps {
    let outSize: Int
    /// Slots stored per output position.
    let taps: Int
    /// `taps` source indices per output (already clamped to the input).
    var index: [Int]
    /// How many leading slots each output uses (always ≥ 1).
    var count: [Int]
    /// `taps` weights per output.
    var weight: [Float]

    /// Marks the source positions some used tap reads.
    func referencedSources(inSize: Int) -> [Bool] {
        var seen = [Bool](repeating: false, count: inSize)
        for o in 0..<outSize { for j in 0..<count[o] { seen[index[o * taps + j]] = true } }
        return seen
    }

    /// Source-per-destination ratio (`area_pixel_compute_scale`).
    static func ratio(inSize: Int, outSize: Int, alignCorners: Bool, scale: Double?) -> Float {
        if alignCorners { return outSize > 1 ? Float(inSize - 1) / Float(outSize - 1) : 0 }
        if let scale, scale > 0 { return Float(1.0 / scale) }
        return Float(inSize) / Float(outSize)
    }

    /// Continuous source coordinate of output `i` (`area_pixel_compute_source_index`).
    static func sourceCoordinate(_ ratio: Float, _ i: Int, alignCorners: Bool, cubic: Bool) -> Float {
        if alignCorners { return ratio * Float(i) }
        let s = ratio * (Float(i) + 0.5) - 0.5
        return !cubic && s < 0 ? 0 : s
    }

    static func nearest(inSize: Int, outSize: Int, scale: Double?) -> ResampleTaps {
        let r = ratio(inSize: inSize, outSize: outSize, alignCorners: false, scale: scale)
        let index = (0..<outSize).map { min(Int((r * Float($0)).rounded(.down)), inSize - 1) }
        return ResampleTaps(outSize: outSize, taps: 1, index: index, count: .init(repeating: 1, count: outSize),
                            weight: .init(repeating: 1, count: outSize))
    }

    static func linear(inSize: Int, outSize: Int, alignCorners: Bool, scale: Double?) -> ResampleTaps {
        let r = ratio(inSize: inSize, outSize: outSize, alignCorners: alignCorners, scale: scale)
        var index = [Int](), weight = [Float]()
        for i in 0..<outSize {
            if inSize == outSize { index += [i, i]; weight += [1, 0]; continue }
            let src = sourceCoordinate(r, i, alignCorners: alignCorners, cubic: false)
            let i0 = min(Int(src.rounded(.down)), inSize - 1)
            let l1 = min(max(src - Float(i0), 0), 1)
            index += [i0, i0 + (i0 < inSize - 1 ? 1 : 0)]
            weight += [1 - l1, l1]
        }
        return ResampleTaps(outSize: outSize, taps: 2, index: index, count: .init(repeating: 2, count: outSize), weight: weight)
    }

    static func cubic(inSize: Int, outSize: Int, alignCorners: Bool, scale: Double?) -> ResampleTaps {
        let r = ratio(inSize: inSize, outSize: outSize, alignCorners: alignCorners, scale: scale)
        let a: Float = -0.75
        var index = [Int](), weight = [Float]()
        for i in 0..<outSize {
            let src = sourceCoordinate(r, i, alignCorners: alignCorners, cubic: true)
            let i0 = min(Int(src.rounded(.down)), inSize - 1)
            let t = min(max(src - Float(i0), 0), 1)
            weight += [cubicFar(t + 1, a), cubicNear(t, a), cubicNear(1 - t, a), cubicFar((1 - t) + 1, a)]
            for j in 0..<4 { index.append(max(min(i0 - 1 + j, inSize - 1), 0)) }
        }
        return ResampleTaps(outSize: outSize, taps: 4, index: index, count: .init(repeating: 4, count: outSize), weight: weight)
    }

    /// Antialiased taps (PIL-style): the filter's support widens by the downscale ratio and weights are normalised.
    static func antialiased(inSize: Int, outSize: Int, alignCorners: Bool, scale: Double?, interpSize: Int,
                            filter: (Float) -> Float) -> ResampleTaps {
        let r = ratio(inSize: inSize, outSize: outSize, alignCorners: alignCorners, scale: scale)
        // PyTorch mixes float storage with double arithmetic here; the Float(…) casts mirror its conversions.
        let support: Float = r >= 1 ? Float(Double(interpSize) * 0.5 * Double(r)) : Float(interpSize) * 0.5
        let taps = Int(support.rounded(.up)) * 2 + 1
        let invScale: Float = r >= 1 ? Float(1.0 / Double(r)) : 1
        var index = [Int](repeating: 0, count: outSize * taps), used = [Int](repeating: 1, count: outSize)
        var weight = [Float](repeating: 0, count: outSize * taps)
        for i in 0..<outSize {
            let center = Float(Double(r) * (Double(i) + 0.5))
            let xmin = max(Int(Double(center - support) + 0.5), 0)
            let xsize = min(max(min(Int(Double(center + support) + 0.5), inSize) - xmin, 0), taps)
            var total: Float = 0
            for j in 0..<xsize {
                let wv = filter(Float((Double(Float(j + xmin) - center) + 0.5) * Double(invScale)))
                weight[i * taps + j] = wv
                total += wv
            }
            if total != 0 { for j in 0..<xsize { weight[i * taps + j] /= total } }
            // An empty window (impossible for valid sizes) reads one tap with weight 0 instead.
            let first = min(xmin, inSize - 1)
            for j in 0..<taps { index[i * taps + j] = min(first + j, inSize - 1) }
            used[i] = max(xsize, 1)
        }
        return ResampleTaps(outSize: outSize, taps: taps, index: index, count: used, weight: weight)
    }
}

/// Keys' cubic convolution kernel for |x| ≤ 1.
@inline(__always) private func cubicNear(_ x: Float, _ a: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
/// Keys' cubic convolution kernel for 1 < |x| < 2.
@inline(__always) private func cubicFar(_ x: Float, _ a: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }

/// Triangle filter of antialiased bilinear resampling.
private func triangleFilter(_ x: Float) -> Float {
    let ax = abs(x)
    return ax < 1 ? 1 - ax : 0
}

/// Keys' cubic with A = −0.5 (PIL's bicubic), the filter of antialiased bicubic resampling.
private func keysCubicFilter(_ x: Float) -> Float {
    let ax = abs(x)
    if ax < 1 { return cubicNear(ax, -0.5) }
    if ax < 2 { return cubicFar(ax, -0.5) }
    return 0
}
