import Foundation

/// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012, "Distance Transforms of Sampled
/// Functions"): for every true pixel, the distance to the nearest false pixel (0 on false pixels).
public enum DistanceTransform {
    /// Squared distances as integers (exact). With `padBorder` (the SAM 2 / RITM convention: np.pad by 1 before
    /// cv2.distanceTransform) the ring of pixels just outside the image counts as false, so the border is a
    /// boundary. Pixels with no false pixel anywhere (only possible without padding) get `Int.max`.
    public static func squaredEuclidean(_ mask: BinaryMask, padBorder: Bool = true) -> [Int] {
        let pad = padBorder ? 1 : 0
        let w = mask.width + 2 * pad, h = mask.height + 2 * pad
        if mask.width == 0 || mask.height == 0 { return [] }
        let inf = Double.infinity
        var f = [Double](repeating: 0, count: w * h)
        for y in 0..<mask.height {
            for x in 0..<mask.width where mask.bits[y * mask.width + x] { f[(y + pad) * w + x + pad] = inf }
        }
        // Columns, then rows; each 1-D pass is independent, so spread them over cores.
        f.withUnsafeMutableBufferPointer { buf in
            let g = buf  // w·h values; each task reads and writes only its own column / row.
            Parallel.forChunks(w, grain: 64) { cols in
                var scratch = Scratch(n: h)
                for x in cols { scratch.transform(g, start: x, stride: w, count: h) }
            }
            Parallel.forChunks(h, grain: 64) { rows in
                var scratch = Scratch(n: w)
                for y in rows { scratch.transform(g, start: y * w, stride: 1, count: w) }
            }
        }
        var out = [Int](repeating: 0, count: mask.width * mask.height)
        for y in 0..<mask.height {
            for x in 0..<mask.width {
                let v = f[(y + pad) * w + x + pad]
                out[y * mask.width + x] = v.isFinite ? Int(v) : Int.max
            }
        }
        return out
    }

    /// Euclidean distances (square roots of `squaredEuclidean`; `.infinity` where there is no false pixel).
    public static func euclidean(_ mask: BinaryMask, padBorder: Bool = true) -> [Float] {
        squaredEuclidean(mask, padBorder: padBorder).map { $0 == Int.max ? .infinity : Float(Double($0).squareRoot()) }
    }

    /// Work arrays of the 1-D lower-envelope pass.
    struct Scratch {
        var v: [Int], z: [Double], d: [Double]
        init(n: Int) { v = [Int](repeating: 0, count: n); z = [Double](repeating: 0, count: n + 1); d = [Double](repeating: 0, count: n) }

        /// d(q) = min_p (q − p)² + f(p) along one line of `g`; infinite f(p) (object pixels) never enter the
        /// envelope, which keeps the parabola intersections finite and exact for integer inputs.
        mutating func transform(_ g: UnsafeMutableBufferPointer<Double>, start: Int, stride: Int, count n: Int) {
            var k = -1
            for q in 0..<n {
                let fq = g[start + q * stride]
                if !fq.isFinite { continue }
                if k < 0 { k = 0; v[0] = q; z[0] = -.infinity; z[1] = .infinity; continue }
                var s = 0.0
                while true {
                    let p = v[k]
                    s = ((fq + Double(q * q)) - (g[start + p * stride] + Double(p * p))) / Double(2 * (q - p))
                    // z[0] is −∞, so the envelope never empties.
                    if s <= z[k] { k -= 1 } else { break }
                }
                k += 1; v[k] = q; z[k] = s; z[k + 1] = .infinity
            }
            if k < 0 { return }  // no finite sample: the line stays infinite
            var j = 0
            for q in 0..<n {
                while z[j + 1] < Double(q) { j += 1 }
                let p = v[j]
                d[q] = Double((q - p) * (q - p)) + g[start + p * stride]
            }
            for q in 0..<n { g[start + q * stride] = d[q] }
        }
    }
}
