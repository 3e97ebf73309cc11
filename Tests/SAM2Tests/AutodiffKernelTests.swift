import Foundation
import XCTest
import SAM2

/// The vectorised backward kernels of the activations and the GEMM (im2col) convolution weight gradient, each
/// against a Double reference computed here by direct summation. `AUTODIFF_KERNEL_TIMINGS=1` prints release-mode
/// timings of the hot backward passes (no timed assertions).
final class AutodiffKernelTests: XCTestCase {
    // MARK: Helpers

    /// x.grad of L = Σ f(x) ⊙ r, i.e. the backward of `f` applied to the cotangent r.
    private func backward(_ x: Tensor, _ r: Tensor, _ f: (Variable) -> Variable) -> Tensor {
        let tape = GradientTape()
        let v = tape.variable(x)
        tape.backward((f(v) * tape.variable(r, requiresGrad: false)).sum())
        return v.grad!
    }

    /// Largest |actual − expected| / (atol + rtol·|expected|); ≤ 1 passes.
    private func worstRatio(_ actual: Tensor, _ expected: [Double], atol: Double, rtol: Double) -> (ratio: Double, index: Int) {
        XCTAssertEqual(actual.count, expected.count)
        var worst = 0.0, index = 0
        for i in 0..<min(actual.count, expected.count) {
            let e = abs(Double(actual.data[i]) - expected[i]) / (atol + rtol * abs(expected[i]))
            if !(e <= worst) { worst = e; index = i }
        }
        return (worst, index)
    }

    /// Inputs covering the GELU's tails and centre: a ramp over [−10, 10] followed by random values in [−4, 4];
    /// long enough (> 2 × 16384) for the kernels to split over workers.
    private func activationInput() -> Tensor {
        let ramp = 20_001
        let random = randomTensor([60_000], seed: 7, range: -4...4)
        return Tensor(shape: [ramp + random.count], data: (0..<ramp).map { -10 + Float($0) / 1000 } + random.data)
    }

    // MARK: Activations

    func testGeluBackwardMatchesDoubleReference() {
        let x = activationInput(), r = randomTensor(x.shape, seed: 8)
        let g = backward(x, r) { $0.gelu() }
        let expected = (0..<x.count).map { i -> Double in
            let xi = Double(x.data[i])
            let cdf = 0.5 * (1 + erf(xi / 2.0.squareRoot()))
            let pdf = exp(-0.5 * xi * xi) / (2 * Double.pi).squareRoot()
            return Double(r.data[i]) * (cdf + xi * pdf)
        }
        // erf's abs error (~4e-7, as the forward) bounds the Φ term; the x·φ term is ~2 ulp relative.
        let (ratio, i) = worstRatio(g, expected, atol: 1e-6, rtol: 2e-6)
        XCTAssertLessThanOrEqual(ratio, 1, "gelu backward at x = \(x.data[i]): \(g.data[i]) vs \(expected[i])")
    }

    func testSigmoidReluLogSigmoidBackwardMatchDoubleReference() {
        let x = activationInput(), r = randomTensor(x.shape, seed: 9)
        func sigma(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        let sigmoid = backward(x, r) { $0.sigmoid() }
        var (ratio, i) = worstRatio(sigmoid, (0..<x.count).map { i in
            let s = sigma(Double(x.data[i]))
            return Double(r.data[i]) * s * (1 - s)
        }, atol: 1e-7, rtol: 1e-5)
        XCTAssertLessThanOrEqual(ratio, 1, "sigmoid backward at x = \(x.data[i])")
        let relu = backward(x, r) { $0.relu() }
        (ratio, i) = worstRatio(relu, (0..<x.count).map { x.data[$0] > 0 ? Double(r.data[$0]) : 0 }, atol: 0, rtol: 1e-7)
        XCTAssertLessThanOrEqual(ratio, 1, "relu backward at x = \(x.data[i])")
        let logSigmoid = backward(x, r) { $0.logSigmoid() }
        (ratio, i) = worstRatio(logSigmoid, (0..<x.count).map { Double(r.data[$0]) * sigma(-Double(x.data[$0])) },
                                atol: 1e-7, rtol: 1e-5)
        XCTAssertLessThanOrEqual(ratio, 1, "logSigmoid backward at x = \(x.data[i])")
    }

    func testSoftmaxBackwardMatchesDoubleReference() {
        for shape in [[3, 7], [64, 300], [2, 5, 1]] {
            let x = randomTensor(shape, seed: 10, range: -5...5), r = randomTensor(shape, seed: 11)
            let g = backward(x, r) { $0.softmax() }
            let n = shape.last!
            var expected = [Double](repeating: 0, count: x.count)
            for row in 0..<(x.count / n) {
                let xs = (0..<n).map { Double(x.data[row * n + $0]) }
                let m = xs.max()!
                let e = xs.map { exp($0 - m) }
                let z = e.reduce(0, +)
                let s = e.map { $0 / z }
                let dot = (0..<n).reduce(0.0) { $0 + Double(r.data[row * n + $1]) * s[$1] }
                for j in 0..<n { expected[row * n + j] = s[j] * (Double(r.data[row * n + j]) - dot) }
            }
            let (ratio, i) = worstRatio(g, expected, atol: 1e-7, rtol: 1e-5)
            XCTAssertLessThanOrEqual(ratio, 1, "softmax backward \(shape) at \(i): \(g.data[i]) vs \(expected[i])")
        }
    }

    // MARK: Convolutions

    /// Calls `body(n, o, oh, ow, c, i, j, ih, iw)` for every tap of a conv of input [N, C, H, W] with a weight
    /// [O, C/groups, kh, kw] producing [N, O, Ho, Wo] (c is the channel within the group), skipping padding.
    private func forEachTap(input: [Int], out: [Int], kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
                            dilation: (Int, Int), groups: Int, _ body: (Int, Int, Int, Int, Int, Int, Int, Int, Int) -> Void) {
        let (n, c, h, w) = (input[0], input[1], input[2], input[3])
        let (o, ho, wo) = (out[1], out[2], out[3])
        let cg = c / groups, og = o / groups
        for b in 0..<n { for oc in 0..<o { for oh in 0..<ho { for ow in 0..<wo {
            for ci in 0..<cg { for i in 0..<kernel.0 { for j in 0..<kernel.1 {
                let ih = oh * stride.0 - padding.0 + i * dilation.0, iw = ow * stride.1 - padding.1 + j * dilation.1
                if ih < 0 || ih >= h || iw < 0 || iw >= w { continue }
                body(b, oc, oh, ow, (oc / og) * cg + ci, i, j, ih, iw)
            } } }
        } } } }
    }

    /// conv2d gradients of L = Σ conv(x, w) ⊙ r for input and weight against direct Double sums.
    private func checkConv2d(_ xShape: [Int], _ wShape: [Int], stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                             dilation: (Int, Int) = (1, 1), groups: Int = 1, _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        let x = randomTensor(xShape, seed: 21), w = randomTensor(wShape, seed: 22, range: -0.5...0.5)
        let tape = GradientTape()
        let xv = tape.variable(x), wv = tape.variable(w)
        let y = xv.conv2d(weight: wv, stride: stride, padding: padding, dilation: dilation, groups: groups)
        let r = randomTensor(y.shape, seed: 23)
        tape.backward((y * tape.variable(r, requiresGrad: false)).sum())
        var dw = [Double](repeating: 0, count: w.count), dx = [Double](repeating: 0, count: x.count)
        let (cg, kh, kw) = (wShape[1], wShape[2], wShape[3])
        let (c, h, wd) = (xShape[1], xShape[2], xShape[3])
        let (o, ho, wo) = (y.shape[1], y.shape[2], y.shape[3])
        forEachTap(input: xShape, out: y.shape, kernel: (kh, kw), stride: stride, padding: padding, dilation: dilation,
                   groups: groups) { b, oc, oh, ow, ci, i, j, ih, iw in
            let rv = Double(r.data[((b * o + oc) * ho + oh) * wo + ow])
            let xi = ((b * c + ci) * h + ih) * wd + iw, wi = ((oc * cg + ci % cg) * kh + i) * kw + j
            dw[wi] += rv * Double(x.data[xi])
            dx[xi] += rv * Double(w.data[wi])
        }
        var (ratio, i) = worstRatio(wv.grad!, dw, atol: 1e-5, rtol: 1e-5)
        XCTAssertLessThanOrEqual(ratio, 1, "\(message): weight gradient at \(i)", file: file, line: line)
        (ratio, i) = worstRatio(xv.grad!, dx, atol: 1e-5, rtol: 1e-5)
        XCTAssertLessThanOrEqual(ratio, 1, "\(message): input gradient at \(i)", file: file, line: line)
    }

    func testConvWeightGradientsMatchDirectSums() {
        checkConv2d([2, 4, 9, 8], [6, 4, 3, 3], stride: (2, 2), padding: (1, 1), "3×3 stride 2 pad 1, batch 2")
        checkConv2d([1, 3, 23, 18], [5, 3, 7, 7], stride: (4, 4), padding: (3, 3), "7×7 stride 4 pad 3 (patch embed)")
        checkConv2d([2, 3, 8, 6], [4, 3, 2, 2], stride: (2, 2), "2×2 stride 2")
        checkConv2d([1, 2, 8, 9], [3, 2, 3, 3], stride: (2, 2), "3×3 stride 2, last row/column unread")
        checkConv2d([1, 3, 9, 8], [2, 3, 3, 2], stride: (2, 1), padding: (1, 0), "rect kernel, stride (2,1), padding (1,0)")
        checkConv2d([2, 3, 9, 9], [4, 3, 3, 3], padding: (2, 2), dilation: (2, 2), "dilation 2")
        checkConv2d([1, 2, 11, 10], [3, 2, 2, 3], stride: (2, 3), padding: (1, 2), dilation: (3, 2), "stride (2,3) dilation (3,2)")
        checkConv2d([2, 4, 7, 6], [6, 2, 3, 2], stride: (2, 2), padding: (1, 0), groups: 2, "groups 2 strided")
        checkConv2d([1, 4, 6, 5], [5, 4, 1, 1], "1×1")
        checkConv2d([1, 1, 64, 64], [4, 1, 3, 3], stride: (2, 2), padding: (1, 1), "1 → 4 channels 64² (mask downsampler shape)")
        checkConv2d([1, 16, 20, 20], [64, 16, 3, 3], stride: (2, 2), padding: (1, 1), "16 → 64 channels (GEMM splits)")
        // Depthwise (groups == C == O): the direct weight-gradient kernel, stride 1 (vector rows) and strided/dilated.
        checkConv2d([2, 16, 19, 21], [16, 1, 7, 7], padding: (3, 3), groups: 16, "depthwise 7×7 pad 3 (CXBlock)")
        checkConv2d([1, 4, 9, 10], [4, 1, 3, 2], stride: (2, 3), padding: (1, 2), dilation: (2, 1), groups: 4,
                    "depthwise strided, dilated, rect kernel")
        checkConv2d([1, 3, 5, 6], [3, 1, 3, 3], padding: (4, 0), groups: 3, "depthwise padding beyond the kernel reach")
    }

    func testConvTransposeWeightGradientMatchesDirectSums() {
        for (xShape, wShape, stride, padding, outputPadding) in [
            ([2, 3, 4, 5], [3, 4, 2, 2], (2, 2), (0, 0), (0, 0)),
            ([1, 2, 4, 4], [2, 3, 3, 3], (2, 2), (1, 1), (1, 1)),
        ] {
            let x = randomTensor(xShape, seed: 31), w = randomTensor(wShape, seed: 32, range: -0.5...0.5)
            let tape = GradientTape()
            let wv = tape.variable(w)
            let y = tape.variable(x, requiresGrad: false).convTranspose2d(weight: wv, stride: stride, padding: padding,
                                                                         outputPadding: outputPadding)
            let r = randomTensor(y.shape, seed: 33)
            tape.backward((y * tape.variable(r, requiresGrad: false)).sum())
            // y is the input of the adjoint conv whose output is x: weight [Cin, Cout, kh, kw] pairs conv output
            // channel ci (x) with conv input channel co (y).
            var dw = [Double](repeating: 0, count: w.count)
            let (cout, kh, kw) = (wShape[1], wShape[2], wShape[3])
            let (hy, wy) = (y.shape[2], y.shape[3])
            let (cin, h, wd) = (xShape[1], xShape[2], xShape[3])
            forEachTap(input: y.shape, out: xShape, kernel: (kh, kw), stride: stride, padding: padding, dilation: (1, 1),
                       groups: 1) { b, ci, ih, iw, co, i, j, oh, ow in
                dw[((ci * cout + co) * kh + i) * kw + j] += Double(r.data[((b * cout + co) * hy + oh) * wy + ow])
                    * Double(x.data[((b * cin + ci) * h + ih) * wd + iw])
            }
            let (ratio, i) = worstRatio(wv.grad!, dw, atol: 1e-5, rtol: 1e-5)
            XCTAssertLessThanOrEqual(ratio, 1, "convTranspose2d \(xShape) \(wShape) weight gradient at \(i)")
        }
    }

    // MARK: Timings

    /// Median wall time of `body` in ms over `runs` runs after one warm-up.
    private func milliseconds(runs: Int = 9, _ body: () -> Void) -> Double {
        body()
        var times = [Double]()
        for _ in 0..<runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        return times.sorted()[runs / 2]
    }

    /// Median wall time in ms of `tape.backward` alone (the forward recorded untimed) over `runs` runs after a warm-up.
    private func backwardMilliseconds(runs: Int = 9, _ build: (GradientTape) -> Variable) -> Double {
        var times = [Double]()
        for k in 0...runs {
            let tape = GradientTape()
            let loss = build(tape)
            let t0 = DispatchTime.now().uptimeNanoseconds
            tape.backward(loss)
            if k > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) }
        }
        return times.sorted()[runs / 2]
    }

    /// Backward time of Σ f(x) ⊙ r.
    private func backwardMilliseconds(_ x: Tensor, _ r: Tensor, _ f: (Variable) -> Variable) -> Double {
        backwardMilliseconds { tape in (f(tape.variable(x)) * tape.variable(r, requiresGrad: false)).sum() }
    }

    func testPrintBackwardTimings() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["AUTODIFF_KERNEL_TIMINGS"] == "1", "set AUTODIFF_KERNEL_TIMINGS=1")
        func line(_ s: String) { print("[autodiff timings] " + s) }
        // Activations: backward passes only, f applied 8 times in a row so its cost dominates; per application
        // ≈ (backward of the chain − backward of the loss alone) / 8.
        let x = randomTensor([1 << 20], seed: 1, range: -4...4), r = randomTensor([1 << 20], seed: 2)
        let chain = backwardMilliseconds(x, r) { $0 }
        func repeated(_ f: @escaping (Variable) -> Variable) -> (Variable) -> Variable {
            { v in (0..<8).reduce(v) { y, _ in f(y) } }
        }
        for (name, f, forward) in [
            ("gelu", { (v: Variable) in v.gelu() }, { (t: Tensor) in t.gelu() }),
            ("sigmoid", { (v: Variable) in v.sigmoid() }, { (t: Tensor) in t.sigmoid() }),
            ("relu", { (v: Variable) in v.relu() }, { (t: Tensor) in t.relu() }),
            ("logSigmoid", { (v: Variable) in v.logSigmoid() }, { (t: Tensor) in Variable.constant(t).logSigmoid().value }),
        ] {
            let total = backwardMilliseconds(x, r, repeated(f))
            let fwd = milliseconds { _ = forward(x) }
            line(String(format: "%@ 1M: forward %.3f ms, backward ≈ %.3f ms (8× chain backward %.3f ms, loss alone %.3f ms)",
                        name, fwd, (total - chain) / 8, total, chain))
        }
        // The previous GELU backward: a closure per element through a chunked loop (as `zipMap` did).
        let oldGelu = milliseconds {
            _ = Tensor(shape: x.shape) { out in
                r.withUnsafeBufferPointer { gb in
                    x.withUnsafeBufferPointer { xb in
                        let f: (Float, Float) -> Float = { gi, xi in
                            let cdf = 0.5 * (1 + FastMath.erf(xi * 0.70710678118654752440))
                            let pdf = 0.39894228040143267794 * FastMath.exp(-0.5 * xi * xi)
                            return gi * (cdf + xi * pdf)
                        }
                        let (pg, px, o) = (gb.baseAddress!, xb.baseAddress!, out.baseAddress!)
                        Parallel.forChunks(x.count, grain: 16384) { range in for i in range { o[i] = f(pg[i], px[i]) } }
                    }
                }
            }
        }
        line(String(format: "gelu 1M: previous closure backward (emulated) %.3f ms", oldGelu))
        let s = randomTensor([4096, 256], seed: 3), rs = randomTensor([4096, 256], seed: 4)
        let softmaxTotal = backwardMilliseconds(s, rs, repeated { $0.softmax() })
        let softmaxChain = backwardMilliseconds(s, rs) { $0 }
        let softmaxForward = milliseconds { _ = s.softmax(axis: -1) }
        line(String(format: "softmax [4096,256]: forward %.3f ms, backward ≈ %.3f ms", softmaxForward,
                    (softmaxTotal - softmaxChain) / 8))

        // Convolutions: weight-only and input-only backward, forward subtracted.
        for (name, xShape, wShape, stride, padding) in [
            ("[1,64,32,32] → 256, 3×3 s2 p1", [1, 64, 32, 32], [256, 64, 3, 3], (2, 2), (1, 1)),
            ("[1,3,256,256] → 16, 7×7 s4 p3", [1, 3, 256, 256], [16, 3, 7, 7], (4, 4), (3, 3)),
            ("[1,1,256,256] → 4, 3×3 s2 p1", [1, 1, 256, 256], [4, 1, 3, 3], (2, 2), (1, 1)),
            ("[1,4,128,128] → 16, 3×3 s2 p1", [1, 4, 128, 128], [16, 4, 3, 3], (2, 2), (1, 1)),
            ("[1,16,64,64] → 64, 3×3 s2 p1", [1, 16, 64, 64], [64, 16, 3, 3], (2, 2), (1, 1)),
            ("[8,64,64,64] → 16, 2×2 s2", [8, 64, 64, 64], [16, 64, 2, 2], (2, 2), (0, 0)),
        ] {
            let xt = randomTensor(xShape, seed: 5), wt = randomTensor(wShape, seed: 6, range: -0.1...0.1)
            let fwd = milliseconds { _ = xt.conv2d(weight: wt, stride: stride, padding: padding) }
            let rt = randomTensor(xt.conv2d(weight: wt, stride: stride, padding: padding).shape, seed: 7)
            // The loss's own multiply/sum backward, subtracted below.
            let chain = backwardMilliseconds(rt, rt) { $0 }
            func run(inputGrad: Bool, weightGrad: Bool) -> Double {
                backwardMilliseconds { tape in
                    let xv = tape.variable(xt, requiresGrad: inputGrad), wv = tape.variable(wt, requiresGrad: weightGrad)
                    return (xv.conv2d(weight: wv, stride: stride, padding: padding) * tape.variable(rt, requiresGrad: false)).sum()
                }
            }
            let weightOnly = run(inputGrad: false, weightGrad: true), inputOnly = run(inputGrad: true, weightGrad: false)
            // The previous weight gradient: conv of the batch/channel-swapped input with the swapped output gradient,
            // stride and dilation traded, cropped.
            let previous = milliseconds {
                _ = xt.permuted([1, 0, 2, 3]).conv2d(weight: rt.permuted([1, 0, 2, 3]), stride: (1, 1), padding: padding,
                                                     dilation: stride)
                    .slice(axis: 2, start: 0, end: wShape[2]).slice(axis: 3, start: 0, end: wShape[3]).permuted([1, 0, 2, 3])
            }
            line(String(format: "conv %@: forward %.3f ms, weight grad ≈ %.3f ms (previous formulation %.3f ms), input grad ≈ %.3f ms",
                        name, fwd, weightOnly - chain, previous, inputOnly - chain))
        }
        // The memory encoder fuser's CXBlock depthwise 7×7 (weight gradient through a grouped conv).
        let xd = randomTensor([2, 64, 64, 64], seed: 8), wd = randomTensor([64, 1, 7, 7], seed: 9, range: -0.1...0.1)
        let rd = randomTensor([2, 64, 64, 64], seed: 10)
        let dwForward = milliseconds { _ = xd.conv2d(weight: wd, padding: (3, 3), groups: 64) }
        func depthwise(inputGrad: Bool, weightGrad: Bool) -> Double {
            backwardMilliseconds { tape in
                let xv = tape.variable(xd, requiresGrad: inputGrad), wv = tape.variable(wd, requiresGrad: weightGrad)
                return (xv.conv2d(weight: wv, padding: (3, 3), groups: 64) * tape.variable(rd, requiresGrad: false)).sum()
            }
        }
        let dwChain = backwardMilliseconds(rd, rd) { $0 }
        // The previous depthwise weight gradient: a grouped conv with the output gradient as a 64×64 kernel.
        let dwPrevious = milliseconds {
            _ = xd.permuted([1, 0, 2, 3]).reshaped([1, 128, 64, 64])
                .conv2d(weight: rd.permuted([1, 0, 2, 3]), padding: (3, 3), groups: 64)
                .slice(axis: 2, start: 0, end: 7).slice(axis: 3, start: 0, end: 7).reshaped([64, 1, 7, 7])
        }
        line(String(format: "depthwise [2,64,64,64] 7×7 p3: forward %.3f ms, weight grad ≈ %.3f ms (previous formulation %.3f ms), input grad ≈ %.3f ms",
                    dwForward, depthwise(inputGrad: false, weightGrad: true) - dwChain, dwPrevious,
                    depthwise(inputGrad: true, weightGrad: false) - dwChain))
    }
}
