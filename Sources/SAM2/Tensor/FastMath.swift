/// Branch-free Float math that LLVM can vectorise inside kernel loops (libm calls such as `expf` are
/// opaque scalar calls that keep loops unvectorised).
public enum FastMath {
    /// e^x within ~2 ulp for x in [−87.33, 88.37]; 0 below (subnormal results flushed), +∞ above, NaN kept.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let lo: Float = -87.33654, hi: Float = 88.37  // hi keeps n ≤ 127 so 2^n stays finite
        let xc = x < lo ? lo : (x > hi ? hi : x)
        // n = round(x / ln 2) via the 1.5·2^23 trick (no Float→Int conversion, which could trap on NaN).
        let magic: Float = 12582912
        let shifted = xc * 1.44269504088896341 + magic
        let n = shifted - magic
        // r = x − n·ln2 in two parts (Cody–Waite) so r keeps full precision; |r| ≤ ln2/2.
        let r = (xc - n * 0.693145751953125) - n * 1.428606765330187045e-6
        // Taylor series of e^r to degree 7: truncation error < 6e-9 relative on |r| ≤ 0.347.
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let k = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        let scale = Float(bitPattern: UInt32(bitPattern: (k &+ 127) &<< 23))
        let y = p * scale
        return x < lo ? 0 : (x > hi ? .infinity : y)
    }

    /// exp(x) for x ≤ 0 (softmax after subtracting the row max), ~2 ulp: x = n·ln2 + r with |r| ≤ ln2/2,
    /// degree-6 Taylor polynomial for e^r, 2^n built in the exponent bits. Inputs below −87.3 give ≈1e-38
    /// instead of underflowing, which is negligible next to the row's maximum term 1.
    @inline(__always)
    public static func expNonPositive(_ x0: SIMD8<Float>) -> SIMD8<Float> {
        // Compare-and-blend: the stdlib's pointwiseMax on floats goes lane by lane for its NaN rules.
        let lowest = SIMD8<Float>(repeating: -87.3)
        let x = x0.replacing(with: lowest, where: x0 .< lowest)
        // Adding 1.5·2²³ rounds x·log2(e) to an integer that then sits in the low mantissa bits.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let t = x * 1.442_695_04 + magic
        let n = t - magic
        let r = x - n * 0.693_359_375 - n * -2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let bits = (unsafeBitCast(t, to: SIMD8<UInt32>.self) &<< 23) &+ (127 << 23)
        return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }
}
