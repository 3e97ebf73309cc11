import Foundation

/// A binary mask packed one bit per pixel, rows padded to whole 64-bit words (bit x of a row is bit x&63 of word x>>6).
/// The metrics work on whole words (popcount, shifts, ORs), so the padding bits are always kept zero.
public struct BitMask: Equatable, Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Words per row: ceil(width / 64).
    public let wordsPerRow: Int
    /// Row-major words, count == height·wordsPerRow.
    public var words: [UInt64]

    /// An all-false mask.
    public init(width: Int, height: Int) {
        precondition(width >= 0 && height >= 0, "BitMask: bad size \(width)×\(height)")
        self.width = width; self.height = height
        wordsPerRow = (width + 63) >> 6
        words = [UInt64](repeating: 0, count: wordsPerRow * height)
    }

    /// Mask from row-major booleans; throws if the count is not width·height.
    public init(width: Int, height: Int, bits: [Bool]) throws {
        guard width >= 0, height >= 0, bits.count == width * height else {
            throw EvaluationError.invalidArgument("BitMask \(width)×\(height) needs \(max(0, width * height)) values, got \(bits.count)")
        }
        self.init(width: width, height: height)
        for y in 0..<height { for x in 0..<width where bits[y * width + x] { self[y, x] = true } }
    }

    /// Pixels of `mask` whose index equals `id`.
    public init(_ mask: IndexMask, id: Int) {
        self = BitMask.objects(mask, ids: [id])[0]
    }

    /// Pixels of `mask` with any non-zero index (a binary annotation such as DAVIS 2016 or an SA-V object PNG).
    public init(nonZeroOf mask: IndexMask) {
        self.init(width: mask.width, height: mask.height)
        let (w, wpr) = (width, wordsPerRow)
        mask.indices.withUnsafeBufferPointer { src in
            words.withUnsafeMutableBufferPointer { dst in
                // src holds height·w bytes, dst height·wpr zeroed words.
                let (s, d) = (src, dst)
                for y in 0..<height {
                    let row = y * w, out = y * wpr
                    for x in 0..<w where s[row + x] != 0 { d[out + (x >> 6)] |= 1 << UInt64(x & 63) }
                }
            }
        }
    }

    /// One mask per id in `ids` (in that order), from a single pass over the indices; ids outside 1…255 give empty masks.
    public static func objects(_ mask: IndexMask, ids: [Int]) -> [BitMask] {
        var slot = [Int](repeating: -1, count: 256)
        for (k, id) in ids.enumerated() where (0...255).contains(id) && slot[id] < 0 { slot[id] = k }
        var planes = [[UInt64]](repeating: [], count: ids.count)
        let empty = BitMask(width: mask.width, height: mask.height)
        let (w, h, wpr) = (mask.width, mask.height, empty.wordsPerRow)
        if w == 0 || h == 0 { return Array(repeating: empty, count: ids.count) }
        var out = [UInt64](repeating: 0, count: ids.count * wpr * h)
        mask.indices.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                // src holds h·w bytes; dst holds ids.count planes of h·wpr zeroed words.
                let (s, d) = (src, dst)
                let plane = wpr * h
                let raw = UnsafeRawPointer(s.baseAddress!)
                for y in 0..<h {
                    let row = y * w, base = y * wpr
                    var x = 0
                    // Groups of 8 pixels start at multiples of 8, so a group's bits never straddle two words.
                    while x + 8 <= w {
                        let group = raw.loadUnaligned(fromByteOffset: row + x, as: UInt64.self)
                        if group == 0 { x += 8; continue }  // background dominates annotations
                        let first = group & 0xFF
                        if group == first &* 0x0101_0101_0101_0101 {
                            let k = slot[Int(first)]
                            if k >= 0 { d[k * plane + base + (x >> 6)] |= 0xFF << UInt64(x & 63) }
                        } else {
                            for i in x..<(x + 8) {
                                let k = slot[Int(s[row + i])]
                                if k >= 0 { d[k * plane + base + (i >> 6)] |= 1 << UInt64(i & 63) }
                            }
                        }
                        x += 8
                    }
                    for i in x..<w {
                        let k = slot[Int(s[row + i])]
                        if k >= 0 { d[k * plane + base + (i >> 6)] |= 1 << UInt64(i & 63) }
                    }
                }
            }
        }
        let plane = wpr * h
        for k in 0..<ids.count { planes[k] = Array(out[(k * plane)..<((k + 1) * plane)]) }
        return planes.map { var m = empty; m.words = $0; return m }
    }

    /// Pixel at row `y`, column `x`.
    @inlinable public subscript(y: Int, x: Int) -> Bool {
        get { words[y * wordsPerRow + (x >> 6)] >> UInt64(x & 63) & 1 != 0 }
        set {
            let i = y * wordsPerRow + (x >> 6), bit: UInt64 = 1 << UInt64(x & 63)
            if newValue { words[i] |= bit } else { words[i] &= ~bit }
        }
    }

    /// Number of true pixels.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// True when no pixel is set.
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// Number of pixels set in both masks (same size).
    public func intersectionCount(_ other: BitMask) -> Int {
        precondition(width == other.width && height == other.height, "BitMask size mismatch")
        var n = 0
        for i in 0..<words.count { n += (words[i] & other.words[i]).nonzeroBitCount }
        return n
    }

    /// Number of pixels set in either mask (same size).
    public func unionCount(_ other: BitMask) -> Int {
        precondition(width == other.width && height == other.height, "BitMask size mismatch")
        var n = 0
        for i in 0..<words.count { n += (words[i] | other.words[i]).nonzeroBitCount }
        return n
    }

    /// Row-major booleans (for tests and export).
    public var bits: [Bool] {
        var out = [Bool](repeating: false, count: width * height)
        for y in 0..<height { for x in 0..<width { out[y * width + x] = self[y, x] } }
        return out
    }
}
