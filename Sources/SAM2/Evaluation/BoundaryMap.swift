import Foundation

/// The DAVIS toolkit's `_seg2bmap`: a 1-pixel-wide boundary map, offset half a pixel towards the origin.
/// A pixel is on the boundary when it differs from its east, south or south-east neighbour; the last row only
/// compares with the east neighbour, the last column only with the south one, and the bottom-right pixel is never
/// on the boundary (so the image border itself is not a boundary).
public enum BoundaryMap {
    /// Boundary map at the mask's own size (what `f_measure` uses).
    public static func seg2bmap(_ seg: BitMask) -> BitMask {
        let (w, h, wpr) = (seg.width, seg.height, seg.wordsPerRow)
        var b = BitMask(width: w, height: h)
        if w == 0 || h == 0 { return b }
        let lastWord = (w - 1) >> 6, lastBit: UInt64 = 1 << UInt64((w - 1) & 63)
        seg.words.withUnsafeBufferPointer { src in
            b.words.withUnsafeMutableBufferPointer { dst in
                // Both hold h·wpr words with zero padding bits; `east` keeps that since the shifted-in bit past
                // the last column comes from padding (zero), matching the toolkit's zero-filled `e`.
                let (s, d) = (src, dst)
                @inline(__always) func east(_ row: Int, _ i: Int) -> UInt64 {
                    let next = i + 1 < wpr ? s[row + i + 1] << 63 : 0
                    return (s[row + i] >> 1) | next
                }
                for y in 0..<h {
                    let r = y * wpr
                    if y + 1 < h {
                        let rs = r + wpr
                        for i in 0..<wpr {
                            let c = s[r + i]
                            d[r + i] = (c ^ east(r, i)) | (c ^ s[rs + i]) | (c ^ east(rs, i))
                        }
                        // Last column: only the south neighbour counts.
                        let lc = s[r + lastWord] & lastBit, ls = s[rs + lastWord] & lastBit
                        d[r + lastWord] = (d[r + lastWord] & ~lastBit) | (lc ^ ls)
                    } else {
                        for i in 0..<wpr { d[r + i] = s[r + i] ^ east(r, i) }
                        d[r + lastWord] &= ~lastBit
                    }
                    // Padding bits past the last column must stay zero.
                    if w & 63 != 0 { d[r + wpr - 1] &= (1 << UInt64(w & 63)) - 1 }
                }
            }
        }
        return b
    }

    /// `_seg2bmap(seg, width, height)` with an explicit output size: at the mask's size it is `seg2bmap(seg)`;
    /// otherwise every boundary pixel (x, y) is written at row 1+⌊(y−1)+height/h⌋, column 1+⌊(x−1)+width/h⌋,
    /// the toolkit's own mapping (note it divides the width by h). Throws when that falls outside the map
    /// (where the toolkit raises an IndexError) or the size is not positive.
    public static func seg2bmap(_ seg: BitMask, width: Int, height: Int) throws -> BitMask {
        let (w, h) = (seg.width, seg.height)
        if width == w && height == h { return seg2bmap(seg) }
        guard width > 0, height > 0, w > 0, h > 0 else {
            throw EvaluationError.invalidArgument("seg2bmap: cannot map a \(w)×\(h) mask to a \(width)×\(height) map")
        }
        let b = seg2bmap(seg)
        var out = BitMask(width: width, height: height)
        let dy = (Double(height) / Double(h)), dx = (Double(width) / Double(h))
        for y in 0..<h {
            for x in 0..<w where b[y, x] {
                let j = 1 + Int((Double(y - 1) + dy).rounded(.down))
                let i = 1 + Int((Double(x - 1) + dx).rounded(.down))
                guard j < height, i < width else {
                    throw EvaluationError.invalidArgument("seg2bmap: boundary pixel (\(x), \(y)) of a \(w)×\(h) mask maps to (\(i), \(j)), outside the \(width)×\(height) map")
                }
                out[j, i] = true
            }
        }
        return out
    }
}
