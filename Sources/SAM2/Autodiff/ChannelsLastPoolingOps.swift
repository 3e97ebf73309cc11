import Foundation

// Hiera pools its query and shortcut on channels-last tokens. Going through `maxPool2d` costs two materialised
// permutes forward and two more backward; this op pools [B, H, W, C] in place of layout and remembers the
// winning input offset of every output element, so the backward is a single scatter.
extension Variable {
    /// nn.MaxPool2d(kernel = stride = (sh, sw), floor mode, no padding) over the H, W axes of channels-last
    /// [B, H, W, C] → [B, ⌊H/sh⌋, ⌊W/sw⌋, C]. Ties and NaN as torch: the first maximum wins, NaN propagates.
    public func maxPool2dChannelsLast(_ sh: Int, _ sw: Int) -> Variable {
        precondition(value.rank == 4 && sh >= 1 && sw >= 1, "maxPool2dChannelsLast: expected [B, H, W, C], got \(shape)")
        let x = value
        let b = shape[0], h = shape[1], w = shape[2], c = shape[3], ho = h / sh, wo = w / sw
        var winners = [Int32](repeating: 0, count: b * ho * wo * c)
        precondition(x.count < Int(Int32.max), "maxPool2dChannelsLast: tensor too large for Int32 offsets")
        let y = Tensor(shape: [b, ho, wo, c]) { out in
            x.withUnsafeBufferPointer { xb in
                winners.withUnsafeMutableBufferPointer { wb in
                    // Assumes contiguous [B, H, W, C] input and [B, ho, wo, C] output / winners.
                    guard let s = xb.baseAddress, let o = out.baseAddress, let win = wb.baseAddress, ho > 0, wo > 0, c > 0 else { return }
                    Parallel.forChunks(b * ho, grain: Swift.max(1, 8192 / Swift.max(1, wo * c * sh * sw))) { rows in
                        for row in rows {
                            let (bi, oy) = row.quotientAndRemainder(dividingBy: ho)
                            for ox in 0..<wo {
                                let dst = o + (row * wo + ox) * c, dwin = win + (row * wo + ox) * c
                                let first = ((bi * h + oy * sh) * w + ox * sw) * c
                                for k in 0..<c { dst[k] = s[first + k]; dwin[k] = Int32(first + k) }
                                for a in 0..<sh {
                                    for bb in 0..<sw where a > 0 || bb > 0 {
                                        let base = ((bi * h + oy * sh + a) * w + ox * sw + bb) * c
                                        for k in 0..<c {
                                            let v = s[base + k], cur = dst[k]
                                            if v > cur || (v != v && cur == cur) { dst[k] = v; dwin[k] = Int32(base + k) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let inputShape = shape
        return GradientTape.common([self], "maxPool2dChannelsLast").record(y, inputs: [self]) { g in
            var dx = Tensor(shape: inputShape)
            dx.withUnsafeMutableBufferPointer { db in
                g.withUnsafeBufferPointer { gb in
                    // Non-overlapping windows: every input element has at most one winner slot, a serial scatter.
                    guard let d = db.baseAddress, let gp = gb.baseAddress else { return }
                    for i in 0..<winners.count { d[Int(winners[i])] += gp[i] }
                }
            }
            return [dx]
        }
    }
}
