import Foundation

/// Malformed run-length encodings.
public enum MaskRLEError: Error, CustomStringConvertible, Equatable {
    /// `size` is not two non-negative numbers.
    case badSize([Int])
    /// The counts contain a negative run or do not add up to height·width.
    case badCounts(expectedTotal: Int, got: Int)
    /// A COCO counts string has a character outside the encoding's alphabet or ends mid-number.
    case badCOCOString(position: Int)

    public var description: String {
        switch self {
        case let .badSize(size): return "RLE: size must be [height, width] ≥ 0, got \(size)"
        case let .badCounts(expected, got):
            return "RLE: counts must be non-negative and sum to height·width = \(expected), got \(got)"
        case let .badCOCOString(position): return "COCO RLE: invalid counts string at character \(position)"
        }
    }
}

/// Uncompressed RLE as pycocotools and `mask_to_rle_pytorch` use it: `size` = [h, w]; `counts` alternate
/// runs of 0s and 1s (starting with 0s, possibly an empty run) over the mask in column-major order.
public struct UncompressedRLE: Equatable, Sendable, Codable {
    public var size: [Int]
    public var counts: [Int]
    /// An RLE from its fields (not validated; decoding validates).
    public init(size: [Int], counts: [Int]) { self.size = size; self.counts = counts }

    /// `area_from_rle`: number of foreground pixels.
    public var area: Int { stride(from: 1, to: counts.count, by: 2).reduce(0) { $0 + counts[$1] } }

    /// `mask_to_rle_pytorch`: encodes masks [B, H, W] (nonzero = foreground), one RLE each.
    public static func encode(_ masks: Tensor) -> [UncompressedRLE] {
        precondition(masks.rank == 3, "UncompressedRLE.encode: needs [B, H, W], got \(masks.shape)")
        let (b, h, w) = (masks.shape[0], masks.shape[1], masks.shape[2])
        let results = ResultBox<UncompressedRLE>(count: b)
        masks.withUnsafeBufferPointer { src in
            // src holds b row-major h×w planes. Column-major order is walked a band of columns at a time,
            // reading rows contiguously, and the per-column run boundaries are stitched afterwards.
            let s = src
            Parallel.forEach(b) { k in
                let base = k * h * w
                var columnChanges = [[Int]](repeating: [], count: w)  // rows y > 0 where the column flips
                var first = [Bool](repeating: false, count: w), last = [Bool](repeating: false, count: w)
                let band = 64
                for x0 in stride(from: 0, to: w, by: band) {
                    let x1 = min(x0 + band, w)
                    if h > 0 { for x in x0..<x1 { first[x] = s[base + x] != 0; last[x] = first[x] } }
                    for y in 1..<max(h, 1) {
                        let row = base + y * w
                        for x in x0..<x1 {
                            let v = s[row + x] != 0
                            if v != last[x] { columnChanges[x].append(y); last[x] = v }
                        }
                    }
                }
                var counts = [Int](), current = false, runStart = 0
                for x in 0..<w where h > 0 {
                    if first[x] != current { counts.append(x * h - runStart); runStart = x * h; current = first[x] }
                    for y in columnChanges[x] { counts.append(x * h + y - runStart); runStart = x * h + y }
                    current = last[x]
                }
                counts.append(h * w - runStart)
                results.set(k, UncompressedRLE(size: [h, w], counts: counts))
            }
        }
        return results.values
    }

    /// `rle_to_mask`: the 0/1 mask [H, W].
    public func decode() throws -> Tensor {
        guard size.count == 2, size[0] >= 0, size[1] >= 0 else { throw MaskRLEError.badSize(size) }
        let (h, w) = (size[0], size[1])
        var total = 0
        for c in counts {
            guard c >= 0 else { throw MaskRLEError.badCounts(expectedTotal: h * w, got: c) }
            total += c
        }
        guard total == h * w else { throw MaskRLEError.badCounts(expectedTotal: h * w, got: total) }
        var out = Tensor(shape: [h, w], repeating: 0)
        var idx = 0
        for (i, c) in counts.enumerated() {
            if i % 2 == 1 {
                for j in idx..<(idx + c) { out.data[(j % h) * w + j / h] = 1 }
            }
            idx += c
        }
        return out
    }

    /// `coco_encode_rle`: pycocotools' compressed form of these counts.
    public var coco: COCORLE { COCORLE(size: size, counts: COCORLE.encodeCounts(counts)) }
}

/// pycocotools' compressed RLE: the same runs, stored as a string.
///
/// Each run (minus the run two places before it, from the fourth run on) is written as a signed LEB128-like
/// number in 5-bit groups, least significant first, each group + 48 as one ASCII character with bit 0x20
/// marking "more groups follow" (pycocotools `rleToString` / `rleFrString`).
public struct COCORLE: Equatable, Sendable, Codable {
    public var size: [Int]
    public var counts: String
    /// A compressed RLE from its fields.
    public init(size: [Int], counts: String) { self.size = size; self.counts = counts }

    /// pycocotools `rleToString`.
    public static func encodeCounts(_ counts: [Int]) -> String {
        var bytes = [UInt8]()
        for (i, c) in counts.enumerated() {
            var x = c
            if i > 2 { x -= counts[i - 2] }
            var more = true
            while more {
                var group = x & 0x1f
                x >>= 5  // arithmetic shift: negative deltas end in all-ones groups
                more = (group & 0x10) != 0 ? x != -1 : x != 0
                if more { group |= 0x20 }
                bytes.append(UInt8(group + 48))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// pycocotools `rleFrString`.
    public static func decodeCounts(_ s: String) throws -> [Int] {
        var counts = [Int]()
        let bytes = Array(s.utf8)
        var p = 0
        while p < bytes.count {
            var x = 0, k = 0, more = true
            while more {
                guard p < bytes.count, bytes[p] >= 48, bytes[p] < 48 + 64, k < 12 else {
                    throw MaskRLEError.badCOCOString(position: p)
                }
                let c = Int(bytes[p]) - 48
                x |= (c & 0x1f) << (5 * k)
                more = (c & 0x20) != 0
                p += 1; k += 1
                if !more && (c & 0x10) != 0 { x |= -1 << (5 * k) }
            }
            if counts.count > 2 { x += counts[counts.count - 2] }
            counts.append(x)
        }
        return counts
    }

    /// The uncompressed RLE (pycocotools `frString` semantics).
    public func uncompressed() throws -> UncompressedRLE {
        UncompressedRLE(size: size, counts: try Self.decodeCounts(counts))
    }
}
