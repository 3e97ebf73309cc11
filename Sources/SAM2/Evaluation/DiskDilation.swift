import Foundation

/// Binary dilation by the digital disk {(dx, dy) : dx² + dy² ≤ r²} — skimage's `disk(r)` as the DAVIS toolkit
/// passes it to `cv2.dilate` (centred anchor, nothing from outside the image). The disk is a stack of horizontal
/// spans, so a row of the result is the OR over dy of source row y+dy dilated horizontally by the span's half
/// width; horizontal dilations are word shifts on packed rows, computed once per source row and distinct width.
/// The result is bit-for-bit that of the toolkit.
public enum DiskDilation {
    /// Half widths of the disk's rows: element |dy| is the largest dx with dx² + dy² ≤ r² (r + 1 entries).
    public static func halfWidths(radius r: Int) -> [Int] {
        precondition(r >= 0, "disk radius must be ≥ 0")
        return (0...r).map { dy in
            var dx = 0
            while (dx + 1) * (dx + 1) + dy * dy <= r * r { dx += 1 }
            return dx
        }
    }

    /// The dilated mask (every row).
    public static func dilate(_ source: BitMask, radius: Int) -> BitMask {
        var out = BitMask(width: source.width, height: source.height)
        let wpr = source.wordsPerRow
        out.words.withUnsafeMutableBufferPointer { dst in
            let d = dst
            forEachDilatedRow(source, radius: radius, rows: Array(0..<source.height)) { y, row in
                for i in 0..<wpr { d[y * wpr + i] = row[i] }
            }
        }
        return out
    }

    /// Number of pixels of `probe` covered by the dilation of `source` — popcount(probe ∧ dilate(source)) — without
    /// building the rows of the dilation where `probe` is empty.
    public static func coveredCount(probe: BitMask, source: BitMask, radius: Int) -> Int {
        precondition(probe.width == source.width && probe.height == source.height, "coveredCount: size mismatch")
        let wpr = probe.wordsPerRow
        var rows: [Int] = []
        probe.words.withUnsafeBufferPointer { p in
            for y in 0..<probe.height where (0..<wpr).contains(where: { p[y * wpr + $0] != 0 }) { rows.append(y) }
        }
        if rows.isEmpty { return 0 }
        var covered = 0
        probe.words.withUnsafeBufferPointer { p in
            forEachDilatedRow(source, radius: radius, rows: rows) { y, row in
                for i in 0..<wpr { covered += (p[y * wpr + i] & row[i]).nonzeroBitCount }
            }
        }
        return covered
    }

    /// Calls `body(y, row)` with each requested row `y` (ascending) of the dilation; `row` holds wordsPerRow words
    /// and is only valid during the call.
    static func forEachDilatedRow(_ source: BitMask, radius r: Int, rows: [Int],
                                  _ body: (Int, UnsafeBufferPointer<UInt64>) -> Void) {
        let (w, h, wpr) = (source.width, source.height, source.wordsPerRow)
        guard w > 0, h > 0, !rows.isEmpty else { return }
        let half = halfWidths(radius: r)
        let widths = Array(Set(half)).sorted()
        var slotOfWidth = [Int](repeating: -1, count: r + 1)
        for (k, v) in widths.enumerated() { slotOfWidth[v] = k }
        let slotOfDy = half.map { slotOfWidth[$0] }
        let tailMask: UInt64 = w & 63 == 0 ? ~0 : (1 << UInt64(w & 63)) - 1

        // Which source rows are non-empty and within reach of a requested row.
        var needed = [Bool](repeating: false, count: h)
        var nonEmpty = [Bool](repeating: false, count: h)
        source.words.withUnsafeBufferPointer { s in
            for y in 0..<h { nonEmpty[y] = (0..<wpr).contains { s[y * wpr + $0] != 0 } }
        }
        for y in rows { for sy in max(0, y - r)...min(h - 1, y + r) where nonEmpty[sy] { needed[sy] = true } }

        // planes[k][sy·wpr …] = source row sy dilated horizontally by widths[k]; only needed rows are written.
        let planeSize = h * wpr
        let planes = UnsafeMutablePointer<UInt64>.allocate(capacity: widths.count * planeSize)
        let cur = UnsafeMutablePointer<UInt64>.allocate(capacity: wpr)
        let next = UnsafeMutablePointer<UInt64>.allocate(capacity: wpr)
        let acc = UnsafeMutablePointer<UInt64>.allocate(capacity: wpr)
        defer { planes.deallocate(); cur.deallocate(); next.deallocate(); acc.deallocate() }

        source.words.withUnsafeBufferPointer { s in
            for sy in 0..<h where needed[sy] {
                for i in 0..<wpr { cur[i] = s[sy * wpr + i] }
                var step = 0
                for (k, target) in widths.enumerated() {
                    // Grow the span one pixel a side at a time: [−step, step] → [−step−1, step+1].
                    while step < target {
                        for i in 0..<wpr {
                            let c = cur[i]
                            let fromLeft = (c << 1) | (i > 0 ? cur[i - 1] >> 63 : 0)
                            let fromRight = (c >> 1) | (i + 1 < wpr ? cur[i + 1] << 63 : 0)
                            next[i] = c | fromLeft | fromRight
                        }
                        next[wpr - 1] &= tailMask
                        for i in 0..<wpr { cur[i] = next[i] }
                        step += 1
                    }
                    let dst = planes + k * planeSize + sy * wpr
                    for i in 0..<wpr { dst[i] = cur[i] }
                }
            }
        }
        for y in rows {
            for i in 0..<wpr { acc[i] = 0 }
            for sy in max(0, y - r)...min(h - 1, y + r) where nonEmpty[sy] {
                let src = planes + slotOfDy[abs(sy - y)] * planeSize + sy * wpr
                for i in 0..<wpr { acc[i] |= src[i] }
            }
            body(y, UnsafeBufferPointer(start: acc, count: wpr))
        }
    }
}
