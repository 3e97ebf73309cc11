import Foundation

/// A synthetic object's outline in object-local units: everything lies inside the unit disc, so a radius-R
/// object covers at most a disc of radius R·scale around its centre.
public struct SyntheticShape: Codable, Sendable, Equatable {
    /// Shape family.
    public let kind: SyntheticShapeKind
    /// Ellipse semi-axes (x, y), ≤ 1.
    let axes: [Double]
    /// Polygon / star vertices as flat (x, y) pairs, in angular order around the origin.
    let vertices: [Double]
    /// Blob harmonics as (order, amplitude, phase) triplets and the normalisation so max radius ≤ 1.
    let harmonics: [Double]
    let blobNorm: Double
    /// Ring inner radius (outer is 1).
    let innerRadius: Double
    /// Radius of a disc around the origin that the shape surely covers (0 for rings: the hole).
    public let inscribedRadius: Double

    /// Draws a random shape of `kind` from `rng`.
    init(kind: SyntheticShapeKind, rng: inout SplitMix64) {
        self.kind = kind
        var axes: [Double] = [], vertices: [Double] = [], harmonics: [Double] = []
        var blobNorm = 1.0, inner = 0.0, inscribed = 0.0
        switch kind {
        case .ellipse:
            let minor = rng.uniform(0.55...1)
            axes = rng.next() & 1 == 0 ? [1, minor] : [minor, 1]
            inscribed = minor
        case .polygon, .star:
            let n = kind == .star ? rng.int(5...7) : rng.int(5...9)
            let innerStar = rng.uniform(0.42...0.55)
            let phase = rng.uniform(0...(2 * Double.pi))
            let count = kind == .star ? 2 * n : n
            for k in 0..<count {
                let jitter = kind == .star ? 0 : rng.uniform(-0.25...0.25) * 2 * Double.pi / Double(n)
                let angle = phase + 2 * Double.pi * Double(k) / Double(count) + jitter
                let r = kind == .star ? (k % 2 == 0 ? 1 : innerStar) : rng.uniform(0.65...1)
                vertices += [r * Foundation.cos(angle), r * Foundation.sin(angle)]
            }
            inscribed = SyntheticShape.minEdgeDistance(vertices)
        case .blob:
            var sumAbs = 0.0
            for order in 2...4 {
                let a = rng.uniform(0.03...0.12)
                sumAbs += a
                harmonics += [Double(order), a, rng.uniform(0...(2 * Double.pi))]
            }
            blobNorm = 1 / (1 + sumAbs)
            inscribed = (1 - sumAbs) * blobNorm
        case .ring:
            inner = rng.uniform(0.4...0.6)
            inscribed = 0
        }
        self.axes = axes; self.vertices = vertices; self.harmonics = harmonics
        self.blobNorm = blobNorm; self.innerRadius = inner; self.inscribedRadius = inscribed
    }

    /// A near-round shape with a large inscribed disc (used for the occluding object).
    static func solid(rng: inout SplitMix64) -> SyntheticShape {
        if rng.next() & 1 == 0 {
            var s = SyntheticShape(kind: .blob, rng: &rng)
            if s.inscribedRadius < 0.6 { s = SyntheticShape(kind: .ellipse, rng: &rng) }
            return s
        }
        var shape: SyntheticShape
        repeat { shape = SyntheticShape(kind: .ellipse, rng: &rng) } while shape.inscribedRadius < 0.8
        return shape
    }

    /// True when the local point (x, y) is inside the shape.
    @inline(__always) public func contains(_ x: Double, _ y: Double) -> Bool {
        let r2 = x * x + y * y
        if r2 > 1 { return false }
        switch kind {
        case .ellipse:
            let u = x / axes[0], v = y / axes[1]
            return u * u + v * v <= 1
        case .ring:
            return r2 >= innerRadius * innerRadius
        case .blob:
            let theta = Foundation.atan2(y, x)
            var r = 1.0
            var k = 0
            while k < harmonics.count {
                r += harmonics[k + 1] * Foundation.cos(harmonics[k] * theta + harmonics[k + 2]); k += 3
            }
            r *= blobNorm
            return r2 <= r * r
        case .polygon, .star:
            // Crossing-number test; the polygon is simple (vertices in angular order around the origin).
            var inside = false
            let n = vertices.count / 2
            var j = n - 1
            for i in 0..<n {
                let xi = vertices[2 * i], yi = vertices[2 * i + 1], xj = vertices[2 * j], yj = vertices[2 * j + 1]
                if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi { inside.toggle() }
                j = i
            }
            return inside
        }
    }

    private static func minEdgeDistance(_ v: [Double]) -> Double {
        let n = v.count / 2
        var best = Double.infinity
        for i in 0..<n {
            let j = (i + 1) % n
            let ax = v[2 * i], ay = v[2 * i + 1], bx = v[2 * j], by = v[2 * j + 1]
            let dx = bx - ax, dy = by - ay
            let t = max(0, min(1, -(ax * dx + ay * dy) / max(dx * dx + dy * dy, 1e-12)))
            let px = ax + t * dx, py = ay + t * dy
            best = min(best, (px * px + py * py).squareRoot())
        }
        return best
    }
}
