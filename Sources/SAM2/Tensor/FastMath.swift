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
}
