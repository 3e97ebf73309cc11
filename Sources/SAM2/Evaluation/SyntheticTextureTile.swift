import Foundation

/// A periodic RGB texture tile (power-of-two side, sampled with wrap-around) so any texture can be panned,
/// rotated and scaled without storing more than the tile.
public struct SyntheticTextureTile: Sendable, Equatable {
    /// Side length in pixels (a power of two).
    public let size: Int
    /// RGB samples, size·size·3.
    public let pixels: [UInt8]
    /// A colour this tile is made of (the only one for `.flat`).
    public let baseColor: (UInt8, UInt8, UInt8)

    public static func == (a: Self, b: Self) -> Bool { a.size == b.size && a.pixels == b.pixels }

    /// Builds a tile of `kind` from two colours; `cell` is the pattern period (stripes, checks, noise lattice).
    init(kind: SyntheticTexture, size: Int, colorA: (UInt8, UInt8, UInt8), colorB: (UInt8, UInt8, UInt8),
         cell: Int, seed: UInt64) {
        precondition(size > 0 && size & (size - 1) == 0 && size % cell == 0, "tile size must be a power of two multiple of cell")
        self.size = size
        baseColor = colorA
        var px = [UInt8](repeating: 0, count: size * size * 3)
        // Lattice values for two octaves of periodic value noise.
        func lattice(_ i: Int, _ j: Int, _ period: Int, _ octave: Int) -> Double {
            Double(SplitMix64.hash(seed &+ UInt64(octave), (i % period + period) % period, (j % period + period) % period) >> 11) * 0x1p-53
        }
        func valueNoise(_ x: Double, _ y: Double, _ c: Int, _ octave: Int) -> Double {
            let gx = x / Double(c), gy = y / Double(c)
            let i = Int(gx.rounded(.down)), j = Int(gy.rounded(.down))
            var fx = gx - Double(i), fy = gy - Double(j)
            fx = fx * fx * (3 - 2 * fx); fy = fy * fy * (3 - 2 * fy)
            let p = size / c
            let a = lattice(i, j, p, octave), b = lattice(i + 1, j, p, octave)
            let d = lattice(i, j + 1, p, octave), e = lattice(i + 1, j + 1, p, octave)
            return (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy
        }
        let stripeAngleOdd = seed & 1 == 1
        for y in 0..<size {
            for x in 0..<size {
                var t: Double
                switch kind {
                case .flat: t = 0
                case .stripes:
                    // Horizontal or diagonal stripes; diagonal wraps because the tile is square.
                    let coord = stripeAngleOdd ? (x + y) % size : y
                    t = (coord / max(1, cell / 2)) % 2 == 0 ? 0 : 1
                case .checker: t = ((x / cell) + (y / cell)) % 2 == 0 ? 0 : 1
                case .noise, .mixed:
                    t = 0.7 * valueNoise(Double(x), Double(y), cell, 0)
                        + 0.3 * valueNoise(Double(x), Double(y), max(1, cell / 4), 1)
                }
                let o = (y * size + x) * 3
                px[o] = UInt8((Double(colorA.0) * (1 - t) + Double(colorB.0) * t).rounded())
                px[o + 1] = UInt8((Double(colorA.1) * (1 - t) + Double(colorB.1) * t).rounded())
                px[o + 2] = UInt8((Double(colorA.2) * (1 - t) + Double(colorB.2) * t).rounded())
            }
        }
        pixels = px
    }

    /// Sample offset (into `pixels`) of texel (floor(u), floor(v)) with wrap-around.
    @inline(__always) func offset(_ u: Double, _ v: Double) -> Int {
        let m = size - 1
        let iu = Int(u.rounded(.down)) & m, iv = Int(v.rounded(.down)) & m
        return (iv * size + iu) * 3
    }
}

/// Colour helpers for the synthetic engine.
enum SyntheticColor {
    /// HSV (all in 0…1) to 8-bit RGB.
    static func hsv(_ h: Double, _ s: Double, _ v: Double) -> (UInt8, UInt8, UInt8) {
        let hh = (h - h.rounded(.down)) * 6
        let i = Int(hh) % 6, f = hh - Double(Int(hh))
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double)
        switch i {
        case 0: (r, g, b) = (v, t, p)
        case 1: (r, g, b) = (q, v, p)
        case 2: (r, g, b) = (p, v, t)
        case 3: (r, g, b) = (p, q, v)
        case 4: (r, g, b) = (t, p, v)
        default: (r, g, b) = (v, p, q)
        }
        return (UInt8((r * 255).rounded()), UInt8((g * 255).rounded()), UInt8((b * 255).rounded()))
    }
}
