import Foundation
import XCTest
import SAM2

/// General tensor ops against PyTorch fixtures (Scripts/fixtures/make_ops_fixtures.py → Fixtures/ops/) and
/// against naive index loops on larger inputs that take the multi-core paths.
/// Tolerances: data movement (permute/cat/slice/pad/repeat/expand), relu/abs/clamp, max/min/argmax and
/// pooling are exact (atol 0); + − × ÷ 1e-6; sigmoid/tanh/sqrt/gelu/geluTanh/softmax 1e-6 absolute;
/// gelu 1e-6 + 1e-6 relative; exp/pow 2e-6 relative; layerNorm/layerNorm2d/logSoftmax/var 1e-5; sums 1e-5 relative.
final class TensorOpsTests: XCTestCase {
    private func f(_ name: String) throws -> Tensor { try fixture("ops/\(name).npy") }

    // MARK: Naive references

    /// Multi-index of flat `i` in `shape`.
    private func unravel(_ i: Int, _ shape: [Int]) -> [Int] {
        var rem = i, idx = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) { idx[d] = rem % shape[d]; rem /= shape[d] }
        return idx
    }

    /// Flat offset of a broadcast index into `shape` (trailing-aligned; size-1 dims read index 0).
    private func offset(_ idx: [Int], in shape: [Int]) -> Int {
        let lead = idx.count - shape.count
        var off = 0
        for d in 0..<shape.count { off = off * shape[d] + (shape[d] == 1 ? 0 : idx[d + lead]) }
        return off
    }

    private func naiveBinary(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        let r = max(a.rank, b.rank)
        let pa = [Int](repeating: 1, count: r - a.rank) + a.shape, pb = [Int](repeating: 1, count: r - b.rank) + b.shape
        let shape = zip(pa, pb).map { $0 == 1 ? $1 : $0 }
        var out = Tensor(shape: shape)
        for i in 0..<out.count {
            let idx = unravel(i, shape)
            out.data[i] = op(a.data[offset(idx, in: a.shape)], b.data[offset(idx, in: b.shape)])
        }
        return out
    }

    private func naivePermute(_ x: Tensor, _ p: [Int]) -> Tensor {
        let outShape = p.map { x.shape[$0] }
        var out = Tensor(shape: outShape)
        let st = x.strides
        for i in 0..<out.count {
            let idx = unravel(i, outShape)
            var off = 0
            for d in 0..<p.count { off += idx[d] * st[p[d]] }
            out.data[i] = x.data[off]
        }
        return out
    }

    // MARK: Elementwise

    func testBroadcastingBinaryMatchesTorch() throws {
        let a = try f("bin_a"), bias = try f("bin_bias"), chan = try f("bin_chan")
        let b3 = try f("bin_b3"), a4 = try f("bin_a4"), den = try f("bin_den")
        assertClose(a + bias, try f("add_bias"), atol: 1e-6, "bias over last dim")
        assertClose(a * chan, try f("mul_chan"), atol: 1e-6, "per-channel [C,1,1]")
        assertClose(a4 - b3, try f("sub_a4_b3"), atol: 1e-6, "both operands broadcast")
        assertClose(a / den, try f("div_den"), atol: 1e-6, "div [1,C,1,W]")
        assertClose((2.5 - a) * 3.0 / 1.5 + 0.25, try f("scalar_mix"), atol: 1e-6, "scalar on both sides")
        assertClose(1.0 / den, try f("rdiv"), atol: 1e-6, "scalar / tensor")
        XCTAssertEqual(Tensor.broadcastShape([2, 1, 4, 1], [3, 1, 5]), [2, 3, 4, 5])
        XCTAssertNil(Tensor.broadcastShape([2, 3], [4, 3, 2]))
    }

    func testBroadcastingAgainstNaiveLoops() {
        // Large enough for the parallel paths; covers same-shape, suffix, per-channel, outer-product and 0-d.
        let cases: [([Int], [Int])] = [
            ([3, 64, 33, 35], [3, 64, 33, 35]), ([3, 64, 33, 35], [35]), ([3, 64, 33, 35], [64, 1, 1]),
            ([2, 1, 300, 1], [1, 7, 1, 129]), ([129, 1], [1, 1001]), ([5, 1, 7], [1, 6, 1]),
            ([4, 1000], []), ([], [3, 5]), ([1, 1, 17], [1, 1, 17]), ([2, 0, 3], [3]),
        ]
        for (n, (sa, sb)) in cases.enumerated() {
            let a = randomTensor(sa, seed: UInt64(2 * n + 1)), b = randomTensor(sb, seed: UInt64(2 * n + 2), range: 0.5...2)
            assertClose(a + b, naiveBinary(a, b, +), atol: 0, "\(sa) + \(sb)")
            assertClose(a - b, naiveBinary(a, b, -), atol: 0, "\(sa) - \(sb)")
            assertClose(b * a, naiveBinary(b, a, *), atol: 0, "\(sb) * \(sa)")
            assertClose(a / b, naiveBinary(a, b, /), atol: 0, "\(sa) / \(sb)")
        }
    }

    func testInPlaceOperators() {
        let a = randomTensor([4, 6, 50, 50], seed: 7), c = randomTensor([6, 1, 1], seed: 8)
        var x = a
        x += c
        assertClose(x, a + c, atol: 0, "+= per-channel")
        x -= c
        x *= 2
        x /= randomTensor([50], seed: 9, range: 1...2)
        assertClose(x, (a + c - c) * 2 / randomTensor([50], seed: 9, range: 1...2), atol: 0, "-= *= /=")
        var y = a
        y += 1.5; y *= -2; y -= 0.5; y /= 4
        assertClose(y, ((a + 1.5) * -2 - 0.5) / 4, atol: 0, "scalar in-place")
        var z = a
        z += z   // aliasing the same storage must still be correct
        assertClose(z, a * 2, atol: 0, "x += x")
    }

    func testCopyOnWrite() {
        let a = randomTensor([3, 4, 5], seed: 11)
        let snapshot = a.data
        var b = a
        b += 1                                   // in-place kernel on shared storage
        var c = a.reshaped([12, 5])
        c[0, 0] = 100                            // subscript write on shared storage
        var d = a
        d.withUnsafeMutableBufferPointer { $0[3] = -7 }
        XCTAssertEqual(a.data, snapshot, "original unchanged after mutating copies")
        XCTAssertEqual(b.data[0], a.data[0] + 1)
        XCTAssertEqual(c.data[0], 100)
        XCTAssertEqual(d.data[3], -7)
        // Ops that may return `self` (identity permute/slice/pad/expand) must not alias mutations either.
        var e = a.slice(axis: 0, 0..<3)
        e *= 0
        var g = a.permuted([0, 1, 2])
        g -= 1
        XCTAssertEqual(a.data, snapshot, "identity results are independent values")
    }

    func testUnaryMatchesTorch() throws {
        let x = try f("un_x")
        assertClose(x.relu(), try f("relu"), atol: 0, "relu")
        assertClose(x.sigmoid(), try f("sigmoid"), atol: 1e-6, "sigmoid")
        assertClose(x.hyperbolicTangent(), try f("tanh"), atol: 1e-6, "tanh")
        assertClose(x.exponential(), try f("exp"), atol: 0, rtol: 2e-6, "exp")
        assertClose(x.absolute().squareRoot(), try f("sqrt"), atol: 1e-6, "sqrt")
        assertClose(x.gelu(), try f("gelu"), atol: 1e-6, rtol: 1e-6, "gelu (erf)")
        assertClose(x.geluTanh(), try f("gelu_tanh"), atol: 1e-6, "gelu tanh")
        assertClose(x.absolute(), try f("abs"), atol: 0, "abs")
        assertClose(x.clamp(min: -1.5, max: 2.0), try f("clamp"), atol: 0, "clamp")
        assertClose(x.power(2), try f("pow2"), atol: 0, rtol: 2e-6, "pow 2")
        assertClose(x.absolute().power(1.7), try f("pow_1_7"), atol: 0, rtol: 2e-6, "pow 1.7")
        assertClose(-x, x.neg(), atol: 0, "prefix minus")
        assertClose(x.neg(), x * -1, atol: 0, "neg")
        XCTAssertEqual(x.clamp(min: 0).data, x.relu().data, "clamp(min: 0) is relu")
    }

    func testUnaryLargeParallel() {
        let x = randomTensor([3, 257, 301], seed: 12, range: -5...5)
        assertClose(x.gelu(), x.map { 0.5 * $0 * (1 + erf($0 / Float(2).squareRoot())) }, atol: 1e-6, rtol: 1e-6, "gelu large")
        assertClose(x.exponential(), x.map { exp($0) }, atol: 0, rtol: 1e-6, "exp large")
        assertClose(x.sigmoid(), x.map { 1 / (1 + exp(-$0)) }, atol: 1e-6, "sigmoid large")
        let n = x.map { -$0 }
        XCTAssertEqual(n.data, x.neg().data)
    }

    func testFastMathAgainstLibm() {
        // FastMath.exp: ≤ 3e-7 relative over the finite range; edge values as documented.
        var worst: Float = 0
        var x: Float = -87.3
        while x < 88.3 {
            worst = max(worst, Swift.abs(FastMath.exp(x) - Foundation.exp(x)) / Foundation.exp(x))
            x += 0.0137
        }
        XCTAssertLessThan(worst, 3e-7, "exp relative error")
        XCTAssertEqual(FastMath.exp(0), 1)
        XCTAssertEqual(FastMath.exp(-.infinity), 0)
        XCTAssertEqual(FastMath.exp(-100), 0)
        XCTAssertEqual(FastMath.exp(.infinity), .infinity)
        XCTAssertTrue(FastMath.exp(.nan).isNaN)
    }

    // MARK: Normalisation

    func testLayerNormMatchesTorch() throws {
        let y = try f("ln_x").layerNorm(weight: try f("ln_w"), bias: try f("ln_b"), eps: 1e-5)
        assertClose(y, try f("layer_norm"), atol: 1e-5, "layerNorm")
        let y2 = try f("ln2d_x").layerNorm2d(weight: try f("ln2d_w"), bias: try f("ln2d_b"))
        assertClose(y2, try f("layer_norm2d"), atol: 1e-5, "LayerNorm2d (sam2.modeling.sam2_utils)")
    }

    func testLayerNorm2dEqualsLayerNormOverChannelsLast() {
        // LayerNorm2d on NCHW ≡ layerNorm on NHWC then back; large enough for several pixel blocks per image.
        let x = randomTensor([2, 48, 33, 31], seed: 13, range: -2...6)
        let w = randomTensor([48], seed: 14), b = randomTensor([48], seed: 15)
        let viaLast = x.permuted([0, 2, 3, 1]).layerNorm(weight: w, bias: b, eps: 1e-6).permuted([0, 3, 1, 2])
        assertClose(x.layerNorm2d(weight: w, bias: b), viaLast, atol: 1e-5, "layerNorm2d vs layerNorm")
        // Without affine parameters each row has mean 0 and biased variance 1/(1 + eps/var) ≈ 1.
        let plain = randomTensor([5, 300], seed: 16).layerNorm()
        XCTAssertEqual(plain.mean(axis: -1).amax(), 0, accuracy: 1e-6)
        assertClose(plain.variance(axis: -1, correction: 0), Tensor(shape: [5], repeating: 1), atol: 1e-3, "unit var")
    }

    // MARK: Softmax

    func testSoftmaxMatchesTorch() throws {
        let x = try f("sm_x")
        assertClose(x.softmax(), try f("softmax_last"), atol: 1e-6, "softmax -1")
        assertClose(x.softmax(axis: 1), try f("softmax_1"), atol: 1e-6, "softmax 1")
        assertClose(x.softmax(axis: -3), try f("softmax_0"), atol: 1e-6, "softmax 0")
        assertClose(x.logSoftmax(axis: 1), try f("log_softmax_1"), atol: 1e-5, "logSoftmax 1")
        // Max subtraction keeps huge logits finite.
        let big = Tensor(shape: [1, 3], data: [1000, 1001, 1002]).softmax()
        assertClose(big, Tensor(shape: [1, 3], data: [0.09003057, 0.24472847, 0.66524096]), atol: 1e-6, "stable")
    }

    func testSoftmaxLargeStrided() {
        let x = randomTensor([3, 40, 700], seed: 17, range: -4...4)
        let viaLast = x.transposed(1, 2).softmax().transposed(1, 2)
        assertClose(x.softmax(axis: 1), viaLast, atol: 1e-6, "strided vs contiguous softmax")
        assertClose(x.softmax(axis: 1).sum(axis: 1), Tensor(shape: [3, 700], repeating: 1), atol: 1e-5, "rows sum to 1")
    }

    // MARK: Shape

    func testPermuteTransposeMatchTorch() throws {
        let p = try f("perm_x")
        assertClose(p.permuted([0, 2, 3, 1]), try f("perm_0231"), atol: 0, "NCHW→NHWC")
        assertClose(p.permuted([0, -1, 1, 2]), try f("perm_0312"), atol: 0, "NHWC→NCHW (negative dim)")
        assertClose(p.permuted([3, 1, 0, 2]), try f("perm_3102"), atol: 0, "general")
        assertClose(p.permuted([0, 2, 1, 3]), try f("perm_0213"), atol: 0, "head split")
        assertClose(try f("win_x").permuted([0, 1, 3, 2, 4, 5]), try f("perm_win"), atol: 0, "window partition")
        assertClose(p.transposed(-1, 1), try f("transpose_m1_1"), atol: 0, "transpose")
    }

    func testPermuteLargeAgainstNaive() {
        // Sizes not multiples of the 32-tile; each permutation takes a different kernel path.
        let x = randomTensor([2, 37, 45, 67], seed: 18)
        for p in [[0, 2, 3, 1], [0, 3, 1, 2], [3, 1, 0, 2], [0, 2, 1, 3], [1, 0, 2, 3], [3, 2, 1, 0]] {
            assertClose(x.permuted(p), naivePermute(x, p), atol: 0, "permute \(p)")
        }
        let y = randomTensor([1, 5, 1, 3, 1], seed: 19)
        assertClose(y.permuted([4, 3, 2, 1, 0]), naivePermute(y, [4, 3, 2, 1, 0]), atol: 0, "size-1 dims")
    }

    func testConcatSliceSplitMatchTorch() throws {
        let p = try f("perm_x"), c1 = try f("cat_a"), c2 = try f("cat_b")
        assertClose(Tensor.concat([p, c1, c2], axis: 1), try f("cat_1"), atol: 0, "cat dim 1")
        assertClose(Tensor.concat([p, p.slice(axis: -1, 0..<2)], axis: -1), try f("cat_last"), atol: 0, "cat -1")
        assertClose(p.slice(axis: 2, start: -3, step: 2), try f("slice_step"), atol: 0, "[..., -3::2]")
        assertClose(p.slice(axis: 1, 1..<3), try f("slice_mid"), atol: 0, "[:, 1:3]")
        assertClose(p.slice(axis: -1, 2..<100), try f("slice_clamp"), atol: 0, "clamped end")
        XCTAssertEqual(p.slice(axis: 1, start: 3, end: 1).shape, [2, 0, 4, 5], "empty slice")
        let ck = try f("chunk_x")
        let c3 = ck.chunk(3, axis: 0)
        XCTAssertEqual(c3.count, 3)
        for i in 0..<3 { assertClose(c3[i], try f("chunk3_\(i)"), atol: 0, "chunk 3 piece \(i)") }
        let c4 = ck.slice(axis: 0, 0..<6).chunk(4, axis: 0)
        XCTAssertEqual(c4.count, 3, "torch.chunk may return fewer pieces")
        for i in 0..<3 { assertClose(c4[i], try f("chunk4_\(i)"), atol: 0, "chunk 4 piece \(i)") }
        let parts = p.split(sizes: [1, 3, 1], axis: -1)
        assertClose(Tensor.concat(parts, axis: -1), p, atol: 0, "split then cat")
        XCTAssertEqual(p.split(size: 2, axis: 3).map { $0.shape[3] }, [2, 2, 1])
        assertClose(p.select(axis: 1, index: -1), p.slice(axis: 1, 2..<3).reshaped([2, 4, 5]), atol: 0, "select")
    }

    func testConcatLargeAgainstNaive() {
        let a = randomTensor([3, 20, 64, 64], seed: 20), b = randomTensor([3, 7, 64, 64], seed: 21)
        let c = Tensor.concat([a, b], axis: 1)
        XCTAssertEqual(c.shape, [3, 27, 64, 64])
        assertClose(c.slice(axis: 1, 0..<20), a, atol: 0, "first part")
        assertClose(c.slice(axis: 1, 20..<27), b, atol: 0, "second part")
        let strided = c.slice(axis: 3, start: 1, step: 3)
        for (i, v) in strided.data.enumerated().prefix(5000) {
            let idx = unravel(i, strided.shape)
            XCTAssertEqual(v, c[idx[0], idx[1], idx[2], 1 + 3 * idx[3]])
        }
    }

    func testPadRepeatExpandMatchTorch() throws {
        let p = try f("perm_x")
        assertClose(try f("pad_x").padded([(0, 0), (0, 3), (0, 2), (0, 0)]), try f("pad_hw"), atol: 0, "window pad")
        assertClose(p.padded([(0, 0), (2, 0), (0, 1), (1, 2)], value: -0.5), try f("pad_all"), atol: 0, "pad all")
        let p02 = p.select(axis: 0, index: 0).slice(axis: 0, 0..<2)
        assertClose(p02.repeated([2, 1, 3]), try f("repeat"), atol: 0, "repeat")
        assertClose(p.select(axis: 0, index: 0).select(axis: 0, index: 0).repeated([2, 1, 1]), try f("repeat_lead"),
                    atol: 0, "repeat adds leading dim")
        assertClose(p02.repeatInterleaved(3, axis: 1), try f("repeat_interleave"), atol: 0, "repeat_interleave")
        assertClose(p02.repeated(3, axis: -1), p02.repeated([1, 1, 3]), atol: 0, "repeat one axis")
        let e = try f("cat_a").slice(axis: 2, 0..<1)
        assertClose(e.expanded(to: [2, 3, 4, 5]), try f("expand"), atol: 0, "expand")
        assertClose(e.expanded(to: [-1, 3, 4, -1]), try f("expand"), atol: 0, "expand with -1")
    }

    func testSqueezeUnsqueeze() {
        let x = randomTensor([1, 3, 1, 4], seed: 22)
        XCTAssertEqual(x.squeezed().shape, [3, 4])
        XCTAssertEqual(x.squeezed(axis: -2).shape, [1, 3, 4])
        XCTAssertEqual(x.squeezed(axis: 1).shape, [1, 3, 1, 4], "non-1 dim is left alone, as torch")
        XCTAssertEqual(x.unsqueezed(axis: -1).shape, [1, 3, 1, 4, 1])
        XCTAssertEqual(x.unsqueezed(axis: 0).shape, [1, 1, 3, 1, 4])
        XCTAssertEqual(x.unsqueezed(axis: 2).data, x.data)
        XCTAssertEqual(Tensor(shape: [2, 3], data: [0, 0, 0, -.infinity, -.infinity, 1]).softmax().data, [1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 0, 1])
    }

    // MARK: Reductions

    func testReductionsMatchTorch() throws {
        let r = try f("red_x")
        assertClose(r.sum(axis: 1), try f("sum_1"), atol: 1e-5, rtol: 1e-5, "sum 1")
        assertClose(r.sum(axis: -1, keepDims: true), try f("sum_last_keep"), atol: 1e-5, rtol: 1e-5, "sum -1 keepdim")
        assertClose(r.mean(axis: 0), try f("mean_0"), atol: 1e-6, "mean 0")
        assertClose(r.amax(axis: 1), try f("amax_1"), atol: 0, "amax 1")
        assertClose(r.amin(axis: -1), try f("amin_last"), atol: 0, "amin -1")
        assertClose(r.argmax(axis: 1), try f("argmax_1"), atol: 0, "argmax 1")
        assertClose(r.argmax(axis: -1), try f("argmax_last"), atol: 0, "argmax -1")
        assertClose(r.argmin(axis: 0), try f("argmin_0"), atol: 0, "argmin 0")
        assertClose(r.variance(axis: 1), try f("var_1"), atol: 1e-5, "var (unbiased)")
        assertClose(r.variance(axis: -1, correction: 0), try f("var_last_biased"), atol: 1e-5, "var (biased)")
        let s = try f("all_stats")
        XCTAssertEqual(r.sum(), s.data[0], accuracy: 1e-4)
        XCTAssertEqual(r.mean(), s.data[1], accuracy: 1e-6)
        XCTAssertEqual(r.amax(), s.data[2])
        XCTAssertEqual(r.amin(), s.data[3])
        XCTAssertEqual(Float(r.argmax()), s.data[4])
    }

    func testReductionsLargeAndEdgeCases() {
        let x = randomTensor([3, 500, 301], seed: 23)
        var naive = 0.0
        for v in x.data { naive += Double(v) }
        XCTAssertEqual(Double(x.sum()), naive, accuracy: 1e-3)
        let s1 = x.sum(axis: 1)
        for (i, v) in s1.data.enumerated().prefix(400) {
            var acc = 0.0
            for k in 0..<500 { acc += Double(x[i / 301, k, i % 301]) }
            XCTAssertEqual(Double(v), acc, accuracy: 1e-4)
        }
        // Ties give the first index; NaN propagates through max and wins argmax, as in torch.
        let t = Tensor(shape: [2, 4], data: [1, 3, 3, 0, 2, .nan, 5, 1])
        XCTAssertEqual(t.argmax(axis: 1).data, [1, 1])
        XCTAssertTrue(t.amax(axis: 1).data[1].isNaN)
        XCTAssertTrue(t.amax().isNaN)
        XCTAssertEqual(t.argmax(), 5)
        XCTAssertEqual(Tensor(shape: [2, 0]).sum(axis: 1).data, [0, 0], "empty sum is 0")
    }

    // MARK: Pooling

    func testMaxPoolMatchesTorch() throws {
        let x = try f("mp_x")
        assertClose(x.maxPool2d(kernelSize: 2), try f("maxpool_2"), atol: 0, "k2 s2 (odd sizes floor)")
        assertClose(x.maxPool2d(kernelSize: 3, stride: 2, padding: 1), try f("maxpool_3_2_1"), atol: 0, "k3 s2 p1")
        // Larger (parallel) inputs against a naive window loop, for the k2 fast path and the general path.
        let big = randomTensor([2, 16, 63, 64], seed: 24)
        for (k, s) in [(2, 2), (3, 1), (2, 3)] {
            let y = big.maxPool2d(kernelSize: k, stride: s)
            var ref = Tensor(shape: y.shape)
            for i in 0..<ref.count {
                let idx = unravel(i, y.shape)
                var m = -Float.infinity
                for dy in 0..<k { for dx in 0..<k { m = max(m, big[idx[0], idx[1], idx[2] * s + dy, idx[3] * s + dx]) } }
                ref.data[i] = m
            }
            assertClose(y, ref, atol: 0, "maxPool k\(k) s\(s)")
        }
    }
}
