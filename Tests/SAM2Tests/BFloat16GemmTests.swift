import XCTest
import SAM2

/// The bfloat16 GEMM (`ComputePrecision.bfloat16`): rounding against an independent bit-level implementation, products
/// against a float64 product of the rounded inputs, both kernels, and the float32 path left untouched.
final class BFloat16GemmTests: XCTestCase {
    /// Round-to-nearest-even written differently from the kernel's add-a-bias trick: compare the dropped half
    /// with 0x8000 and carry into the kept half (a carry out of the mantissa bumps the exponent, overflow → ±inf).
    /// NaN → 0x7FC0 as PyTorch's c10::BFloat16.
    private func referenceBits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let u = x.bitPattern
        let kept = UInt16(u >> 16), dropped = u & 0xFFFF
        let roundUp = dropped > 0x8000 || (dropped == 0x8000 && kept & 1 == 1)
        return roundUp ? kept &+ 1 : kept
    }

    private func float(_ bits: UInt32) -> Float { Float(bitPattern: bits) }

    /// Special values, ties, subnormals and a sweep over the whole bit space.
    private var roundingCases: [Float] {
        var v: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, -.nan, .greatestFiniteMagnitude,
                          -.greatestFiniteMagnitude, .leastNormalMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                          float(0x7FA0_0001) /* signalling NaN */, float(0xFFC1_2345) /* negative NaN with payload */]
        let ties: [UInt32] = [0x3F80_8000 /* 1 + 2⁻⁸: tie, even stays */, 0x3F81_8000 /* tie, odd rounds up */,
                              0x3F80_8001, 0x3F80_7FFF, 0x7F7F_8000 /* tie at the top: rounds to +inf */, 0x7F7F_7FFF,
                              0x0000_8000 /* subnormal tie → 0 */, 0x0001_8000 /* subnormal tie, odd → up */,
                              0x0000_0001, 0x007F_FFFF /* largest subnormal → min normal */, 0x8000_8001, 0xBF80_8000]
        v += ties.map(float)
        var bits: UInt32 = 0
        while true {
            v.append(float(bits))
            let (next, overflow) = bits.addingReportingOverflow(65_521)
            if overflow { break }
            bits = next
        }
        for low in stride(from: UInt32(0), through: 0xFFFF, by: 1) { v.append(float(0x4049_0000 | low)) }
        return v
    }

    func testRoundingMatchesBitLevelReference() {
        for x in roundingCases {
            XCTAssertEqual(BFloat16Gemm.bits(x), referenceBits(x), "bits of \(x) (0x\(String(x.bitPattern, radix: 16)))")
        }
        XCTAssertEqual(BFloat16Gemm.rounded(1 + 1 / 256), 1)          // tie to even
        XCTAssertEqual(BFloat16Gemm.rounded(1 + 3 / 256), 1 + 4 / 256)  // tie to even (up)
        XCTAssertTrue(BFloat16Gemm.rounded(.nan).isNaN)
        XCTAssertEqual(BFloat16Gemm.rounded(.greatestFiniteMagnitude), .infinity)
    }

    private var kernels: [BFloat16Gemm.Kernel] { BFloat16Gemm.hasAVX512BF16 ? [.portable, .avx512] : [.portable] }

    /// C = round(A)·1 exactly (k = 1): the packing of A (both layouts) and of B (both layouts) rounds exactly as
    /// the scalar reference. Normal numbers, ±inf and NaN only: `vdpbf16ps` treats bf16 subnormals as zero, so
    /// subnormals are checked on the portable kernel alone.
    func testPackingRoundsExactlyInBothKernels() {
        var values = roundingCases.filter { $0.isNaN || $0.isInfinite || $0 == 0 || $0.isNormal && abs($0) < 1e38 }
        values = Array(values.prefix(3000))
        let subnormals = roundingCases.filter { $0.isSubnormal }
        let one: [Float] = [1]
        for kernel in kernels {
            let cases = kernel == .portable ? values + subnormals : values
            let n = cases.count
            for trans in [false, true] {
                // A = cases as an n×1 column (transA: stored 1×n), B = [1].
                var c = [Float](repeating: 0, count: n)
                BFloat16Gemm.gemm(transA: trans, m: n, n: 1, k: 1, a: cases, lda: trans ? n : 1, b: one, ldb: 1,
                                  c: &c, ldc: 1, kernel: kernel, threads: 1)
                check(c, cases, "\(kernel) A packing, transA \(trans)")
                // A = [1], B = cases as a 1×n row (transB: stored n×1).
                c = [Float](repeating: 0, count: n)
                BFloat16Gemm.gemm(transB: trans, m: 1, n: n, k: 1, a: one, lda: 1, b: cases, ldb: trans ? 1 : n,
                                  c: &c, ldc: n, kernel: kernel, threads: 1)
                check(c, cases, "\(kernel) B packing, transB \(trans)")
            }
        }
    }

    private func check(_ got: [Float], _ inputs: [Float], _ label: String) {
        var failures = 0
        for (g, x) in zip(got, inputs) {
            let want = Float(bitPattern: UInt32(referenceBits(x)) << 16)
            let ok = want.isNaN ? g.isNaN : g.bitPattern == want.bitPattern || (g == 0 && want == 0)
            if !ok && failures < 5 { XCTFail("\(label): \(x) → \(g), expected \(want)"); failures += 1 }
        }
    }

    private func noise(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)   // uniform in [-1, 1)
        }
    }

    /// Every transpose combination, odd sizes, padded strides, alpha/beta, sizes past each cache block (k > 384,
    /// m > 504, n > 1024) and a product large enough to be split over two workers, on both kernels.
    /// Tolerance: fp32 accumulation of exact bf16 products, |C − C₆₄| ≤ (k + 2)·2⁻²³·(|α|·Σ|a·b| + |β·C₀|).
    func testGemmMatchesFloat64ProductOfRoundedInputs() {
        let sizes: [(m: Int, n: Int, k: Int, threads: Int)] = [
            (1, 1, 1, 1), (17, 33, 65, 1), (3, 70, 400, 1), (520, 9, 30, 1), (5, 1100, 7, 1), (300, 200, 150, 2), (200, 300, 150, 2),
        ]
        for kernel in kernels {
            for s in sizes {
                for transA in [false, true] {
                    for transB in [false, true] {
                        for (alpha, beta) in [(Float(1), Float(0)), (Float(0.5), Float(1.5))] {
                            checkProduct(m: s.m, n: s.n, k: s.k, transA: transA, transB: transB, alpha: alpha, beta: beta,
                                         kernel: kernel, threads: s.threads)
                        }
                    }
                }
            }
        }
    }

    private func checkProduct(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float,
                              kernel: BFloat16Gemm.Kernel, threads: Int) {
        // Padded row strides (lda > k etc.) so that reading past a row would show.
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
        let a = noise((transA ? k : m) * lda, seed: UInt64(m * 7 + k)), b = noise((transB ? n : k) * ldb, seed: UInt64(n * 5 + k))
        // beta == 0 must not read C: NaN there would poison the result.
        let c0 = beta == 0 ? [Float](repeating: .nan, count: m * ldc) : noise(m * ldc, seed: 99)
        var c = c0
        BFloat16Gemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: &c, ldc: ldc, kernel: kernel, threads: threads)
        let ra = a.map { Double(BFloat16Gemm.rounded($0)) }, rb = b.map { Double(BFloat16Gemm.rounded($0)) }
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, mag = 0.0
                for p in 0..<k {
                    let x = transA ? ra[p * lda + i] : ra[i * lda + p], y = transB ? rb[j * ldb + p] : rb[p * ldb + j]
                    sum += x * y
                    mag += abs(x * y)
                }
                let base = beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j])
                let want = Double(alpha) * sum + base
                let tol = Double(k + 2) * 0x1p-23 * (Double(abs(alpha)) * mag + abs(base)) + 1e-30
                let err = abs(Double(c[i * ldc + j]) - want)
                worst = max(worst, err / tol)
            }
            // Padding columns of C are untouched.
            for j in n..<ldc where !(c[i * ldc + j].isNaN && c0[i * ldc + j].isNaN) {
                XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], "padding of C written")
            }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(kernel) \(m)×\(n)×\(k) transA \(transA) transB \(transB) α \(alpha) β \(beta) threads \(threads)")
    }

    /// The two kernels round identically and differ only in summation order.
    func testPortableAndAVXKernelsAgree() throws {
        try XCTSkipUnless(BFloat16Gemm.hasAVX512BF16, "CPU without AVX512_BF16")
        let m = 77, n = 91, k = 500
        let a = noise(m * k, seed: 3), b = noise(n * k, seed: 4)
        var p = [Float](repeating: 0, count: m * n), x = p
        BFloat16Gemm.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &p, ldc: n, kernel: .portable)
        BFloat16Gemm.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &x, ldc: n, kernel: .avx512)
        // |a|,|b| < 1: Σ|a·b| < k, so fp32 summation-order differences stay below k·k·2⁻²⁴.
        for i in 0..<(m * n) { XCTAssertEqual(p[i], x[i], accuracy: Float(k) * Float(k) * 0x1p-24) }
    }

    /// Tensor.sgemm follows the setting; switching back to float32 gives bit-identical float32 results.
    func testSettingRoutesSgemmAndFloat32IsRestoredBitExactly() {
        let x = Tensor(shape: [96, 160], data: noise(96 * 160, seed: 7))
        let w = Tensor(shape: [128, 160], data: noise(128 * 160, seed: 8))
        XCTAssertEqual(ComputePrecision.current, .float32)
        let before = x.linear(weight: w)
        let half = ComputePrecision.with(.bfloat16) { x.linear(weight: w) }
        let after = x.linear(weight: w)
        XCTAssertEqual(ComputePrecision.current, .float32)
        XCTAssertEqual(before.data.map(\.bitPattern), after.data.map(\.bitPattern))
        XCTAssertNotEqual(before.data, half.data)
        // The bf16 result is the bf16 GEMM's.
        var direct = [Float](repeating: 0, count: 96 * 128)
        BFloat16Gemm.gemm(transB: true, m: 96, n: 128, k: 160, a: x.data, lda: 160, b: w.data, ldb: 160, c: &direct, ldc: 128)
        XCTAssertEqual(half.data, direct)
        // Small products stay float32 even in bfloat16 mode.
        let small = Tensor(shape: [4, 8], data: noise(32, seed: 9)), sw = Tensor(shape: [8, 8], data: noise(64, seed: 10))
        XCTAssertEqual(ComputePrecision.with(.bfloat16) { small.linear(weight: sw) }.data, small.linear(weight: sw).data)
    }

    func testPrecisionParsing() throws {
        XCTAssertEqual(try ComputePrecision(parsing: "bf16"), .bfloat16)
        XCTAssertEqual(try ComputePrecision(parsing: "BFloat16"), .bfloat16)
        XCTAssertEqual(try ComputePrecision(parsing: "fp32"), .float32)
        XCTAssertEqual(try ComputePrecision(parsing: "float32"), .float32)
        XCTAssertThrowsError(try ComputePrecision(parsing: "fp16")) { error in
            XCTAssertEqual(error as? ComputePrecisionError, .unknown("fp16"))
            XCTAssertTrue("\(error)".contains("fp16"))
        }
    }
}
