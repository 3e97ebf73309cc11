import Foundation

extension Variable {
    /// PyTorch `F.max_pool2d` on [N, C, H, W]; the gradient goes to the first maximum of each window (torch's
    /// tie rule), padding never wins.
    public func maxPool2d(kernelSize: Int, stride: Int? = nil, padding: Int = 0) -> Variable {
        let x = value
        let y = x.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
        let st = stride ?? kernelSize
        return GradientTape.common([self], "maxPool2d").record(y, inputs: [self]) { g in
            let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
            let oh = g.shape[2], ow = g.shape[3]
            var dx = Tensor(shape: x.shape)
            dx.withUnsafeMutableBufferPointer { db in
                x.withUnsafeBufferPointer { xb in
                    g.withUnsafeBufferPointer { gb in
                        // Assumes contiguous planes: h·w for x and dx, oh·ow for g. Windows of one plane may
                        // overlap, so a plane is handled by a single worker.
                        guard planes > 0, let dp = db.baseAddress, let xp = xb.baseAddress, let gp = gb.baseAddress else { return }
                        Parallel.forChunks(planes, grain: Swift.max(1, 16384 / Swift.max(h * w, 1))) { range in
                            for p in range {
                                let src = xp + p * h * w, dst = dp + p * h * w, go = gp + p * oh * ow
                                for i in 0..<oh {
                                    for j in 0..<ow {
                                        var best = -Float.infinity, at = -1
                                        for ki in 0..<kernelSize {
                                            let r = i * st - padding + ki
                                            if r < 0 || r >= h { continue }
                                            for kj in 0..<kernelSize {
                                                let c = j * st - padding + kj
                                                if c < 0 || c >= w { continue }
                                                let v = src[r * w + c]
                                                if v > best || (v.isNaN && !best.isNaN) || at < 0 { best = v; at = r * w + c }
                                            }
                                        }
                                        if at >= 0 { dst[at] += go[i * ow + j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return [dx]
        }
    }
}
