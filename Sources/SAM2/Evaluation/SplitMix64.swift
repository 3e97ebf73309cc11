import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seedable generator so synthetic data and simulated
/// prompts are reproducible on every platform (the system generator is never used).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// Current state; advancing it by the golden-ratio increment and mixing gives the next output.
    public var state: UInt64

    /// Generator starting from `seed` (any value, including 0, is fine).
    public init(seed: UInt64) { state = seed }

    /// Next 64 random bits.
    @inlinable public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 output function: a bijective avalanche mix of 64 bits (also a good stateless hash).
    @inlinable public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Stateless hash of a seed and two integers (for per-lattice-point noise and derived seeds).
    @inlinable public static func hash(_ seed: UInt64, _ a: Int, _ b: Int = 0) -> UInt64 {
        mix(seed ^ mix(UInt64(bitPattern: Int64(a)) &* 0x9E37_79B9_7F4A_7C15 ^ mix(UInt64(bitPattern: Int64(b)) &+ 0x632B_E59B_D9B4_E019)))
    }

    /// Uniform Double in [0, 1) from the top 53 bits.
    @inlinable public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform Double in `range` (a degenerate range returns its bound).
    @inlinable public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextUnit()
    }

    /// Uniform integer in `range` (Lemire-free modulo; the bias is < 2⁻⁴⁰ for the small ranges used here).
    @inlinable public mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(bitPattern: UInt(next())) }
        return range.lowerBound + Int(next() % span)
    }

    /// FNV-1a (64-bit) of a string's UTF-8 bytes: a hash that is the same in every process (Swift's `hashValue`
    /// is seeded per run), for seeds derived from names.
    public static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// Standard normal sample (Box–Muller; one of the pair is discarded to keep the state simple).
    @inlinable public mutating func normal() -> Double {
        let u1 = max(nextUnit(), 0x1p-60), u2 = nextUnit()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// +1 or −1 with equal probability.
    @inlinable public mutating func sign() -> Double { next() & 1 == 0 ? 1 : -1 }
}
