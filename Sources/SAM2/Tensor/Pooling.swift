import Foundation

extension Tensor {
    /// PyTorch `F.max_pool2d` on [N, C, H, W] (stride defaults to the kernel size; padding counts as −∞;
    /// output size ⌊(H + 2·padding − kernel)/stride⌋ + 1, i.e. ceil_mode=False).
    public func maxPool2d(kernelSize: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        let st = stride ?? kernelSize
        precondition(rank == 4, "maxPool2d: needs [N, C, H, W], got \(shape)")
        precondition(kernelSize > 0 && st > 0 && padding >= 0 && padding <= kernelSize / 2,
                     "maxPool2d: kernel \(kernelSize), stride \(st), padding \(padding) (padding must be ≤ kernel/2)")
        let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
        let oh = (h + 2 * padding - kernelSize) / st + 1, ow = (w + 2 * padding - kernelSize) / st + 1
        precondition(h + 2 * padding >= kernelSize && w + 2 * padding >= kernelSize,
                     "maxPool2d: input \(shape) smaller than kernel \(kernelSize)")
        let outShape = [shape[0], shape[1], oh, ow]
        if planes * oh * ow == 0 { return Tensor(shape: outShape) }
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { src in
                // Assumes contiguous planes of h·w input and oh·ow output elements.
                let s = src.baseAddress!, o = out.baseAddress!
                Parallel.forChunks(planes, grain: Swift.max(1, 16384 / (h * w))) { range in
                    for p in range {
                        let x = s + p * h * w, y = o + p * oh * ow
                        if kernelSize == 2 && st == 2 && padding == 0 {
                            for i in 0..<oh {
                                let r0 = x + 2 * i * w, r1 = r0 + w, yr = y + i * ow
                                for j in 0..<ow {
                                    yr[j] = Tensor.max4(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1])
                                }
                            }
                            continue
                        }
                        for i in 0..<oh {
                            let y0 = i * st - padding
                            let ylo = Swift.max(0, y0), yhi = Swift.min(h, y0 + kernelSize)
                            for j in 0..<ow {
                                let x0 = j * st - padding
                                let xlo = Swift.max(0, x0), xhi = Swift.min(w, x0 + kernelSize)
                                var m = -Float.infinity
                                for yy in ylo..<yhi {
                                    for xx in xlo..<xhi {
                                        let v = x[yy * w + xx]
                                        if v > m || v.isNaN { m = v }
                                    }
                                }
                                y[i * ow + j] = m
                            }
                        }
                    }
                }
            }
        }
    }

    /// Max of four values with NaN propagation (as torch's max_pool2d).
    @inline(__always)
    private static func max4(_ a: Float, _ b: Float, _ c: Float, _ d: Float) -> Float {
        let ab = a.isNaN || a > b ? a : b
        let cd = c.isNaN || c > d ? c : d
        return ab.isNaN || ab > cd ? ab : cd
    }
}
