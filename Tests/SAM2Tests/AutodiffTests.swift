import Foundation
import XCTest
import SAM2

/// Reverse-mode autodiff (Sources/SAM2/Autodiff): every op's backward against central finite differences,
/// tape mechanics, AdamW and a conv → layer norm → GELU chain against PyTorch fixtures, and a toy MLP fit.
final class AutodiffTests: XCTestCase {
    // MARK: Finite-difference harness

    /// Compares tape gradients of L = Σ f(inputs) ⊙ r (r a fixed random projection, so the upstream gradient
    /// is not all ones) with central differences (L(x + ε) − L(x − ε)) / 2ε, L summed in Double from the Float
    /// forward. Passes when |analytic − numeric| ≤ atol + rtol·|numeric| for every element of every input.
    private func checkGradients(_ inputs: [Tensor], eps: Float = 1e-2, rtol: Float = 1e-2, atol: Float = 1e-3,
                                _ message: String, file: StaticString = #filePath, line: UInt = #line,
                                _ f: ([Variable]) -> Variable) {
        let probe = f(inputs.map { Variable.constant($0) }).value
        let r = randomTensor(probe.shape, seed: 99)
        func loss(_ xs: [Tensor]) -> Double {
            let y = f(xs.map { Variable.constant($0) }).value
            var s = 0.0
            for i in 0..<y.count { s += Double(y.data[i]) * Double(r.data[i]) }
            return s
        }
        let tape = GradientTape()
        let vars = inputs.map { tape.variable($0) }
        let out = f(vars)
        XCTAssertEqual(out.shape, probe.shape, message, file: file, line: line)
        tape.backward((out * tape.variable(r, requiresGrad: false)).sum())
        for (k, x) in inputs.enumerated() {
            guard let analytic = vars[k].grad else { XCTFail("\(message): no gradient for input \(k)", file: file, line: line); continue }
            var numeric = Tensor(shape: x.shape)
            for i in 0..<x.count {
                var xs = inputs
                xs[k].data[i] = x.data[i] + eps
                let up = loss(xs)
                xs[k].data[i] = x.data[i] - eps
                let down = loss(xs)
                numeric.data[i] = Float((up - down) / (2 * Double(eps)))
            }
            // Guards against a vacuous pass (an input that does not reach the output).
            XCTAssertGreaterThan(numeric.data.map(abs).max() ?? 0, 1e-2, "\(message) input \(k): numeric gradient vanishes",
                                 file: file, line: line)
            assertClose(analytic, numeric, atol: atol, rtol: rtol, "\(message) input \(k)", file: file, line: line)
        }
    }

    /// Random values with |x| ≥ 0.2 (away from kinks at 0).
    private func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor {
        randomTensor(shape, seed: seed).map { $0 >= 0 ? $0 + 0.2 : $0 - 0.2 }
    }

    // MARK: Ops

    func testBroadcastingArithmetic() {
        let a = randomTensor([2, 3, 4], seed: 1)
        checkGradients([a, randomTensor([3, 1], seed: 2)], "add [2,3,4]+[3,1]") { $0[0] + $0[1] }
        checkGradients([a, randomTensor([4], seed: 3)], "sub [2,3,4]-[4]") { $0[0] - $0[1] }
        checkGradients([randomTensor([2, 1, 4], seed: 4), randomTensor([3, 1], seed: 5)], "mul [2,1,4]*[3,1]") { $0[0] * $0[1] }
        checkGradients([a, randomTensor([1, 3, 1], seed: 6, range: 0.5...1.5)], "div [2,3,4]/[1,3,1]") { $0[0] / $0[1] }
        checkGradients([a], "neg") { $0[0].neg() }
    }

    func testScalarArithmetic() {
        let x = randomTensor([3, 5], seed: 7, range: 0.5...1.5)
        checkGradients([x], "x*2.5+1") { $0[0] * 2.5 + 1 }
        checkGradients([x], "3-x/4") { 3 - $0[0] / 4 }
        checkGradients([x], "2/x") { 2 / $0[0] }
        checkGradients([x], "0.5*x-2") { 0.5 * $0[0] - 2 }
    }

    func testMatmulAndLinear() {
        checkGradients([randomTensor([4, 3], seed: 8), randomTensor([3, 5], seed: 9)], "matmul 2-d") { $0[0].matmul($0[1]) }
        checkGradients([randomTensor([2, 4, 3], seed: 10), randomTensor([2, 3, 5], seed: 11)], "matmul batched") { $0[0].matmul($0[1]) }
        checkGradients([randomTensor([2, 4, 3], seed: 12), randomTensor([3, 5], seed: 13)], "matmul shared B") { $0[0].matmul($0[1]) }
        checkGradients([randomTensor([2, 3, 6], seed: 14), randomTensor([5, 6], seed: 15), randomTensor([5], seed: 16)],
                       "linear") { $0[0].linear(weight: $0[1], bias: $0[2]) }
        checkGradients([randomTensor([4, 6], seed: 17), randomTensor([5, 6], seed: 18)], "linear no bias") { $0[0].linear(weight: $0[1]) }
    }

    func testReductions() {
        let x = randomTensor([2, 3, 4], seed: 19)
        checkGradients([x], "sum all") { $0[0].sum() }
        checkGradients([x], "sum axis 1") { $0[0].sum(axes: [1]) }
        checkGradients([x], "sum axes 0,2 keepDims") { $0[0].sum(axes: [0, -1], keepDims: true) }
        checkGradients([x], "mean all") { $0[0].mean() }
        checkGradients([x], "mean axis -1") { $0[0].mean(axes: [-1]) }
        let t = GradientTape()
        let v = t.variable(x)
        XCTAssertEqual(v.sum(axes: [0, 2]).shape, [3])
        XCTAssertEqual(v.mean(axes: [1], keepDims: true).shape, [2, 1, 4])
    }

    func testShapeOps() {
        let x = randomTensor([2, 3, 4], seed: 20)
        checkGradients([x], "reshape") { $0[0].reshaped([4, -1]) }
        checkGradients([x], "permute") { $0[0].permuted([2, 0, 1]) }
        checkGradients([x], "slice axis 1") { $0[0].slice(axis: 1, start: 1, end: 3) }
        checkGradients([x], "slice axis -1 negative start") { $0[0].slice(axis: -1, start: -3) }
        checkGradients([x, randomTensor([2, 2, 4], seed: 21)], "concat axis 1") { Variable.concat([$0[0], $0[1]], axis: 1) }
    }

    func testActivations() {
        let x = awayFromZero([3, 7], seed: 22)
        checkGradients([x], "relu") { $0[0].relu() }
        checkGradients([randomTensor([3, 7], seed: 23, range: -3...3)], "gelu") { $0[0].gelu() }
        checkGradients([randomTensor([3, 7], seed: 24, range: -4...4)], "sigmoid") { $0[0].sigmoid() }
        checkGradients([randomTensor([3, 7], seed: 25, range: -3...3)], "softmax") { $0[0].softmax() }
        checkGradients([randomTensor([3, 7], seed: 26, range: -6...6)], "logSigmoid") { $0[0].logSigmoid() }
    }

    func testUnaryMaths() {
        checkGradients([awayFromZero([3, 5], seed: 55)], "abs") { $0[0].absolute() }
        let positive = randomTensor([3, 5], seed: 56, range: 0.5...1.5)
        for p: Float in [2, 3, 0.5, -1, 1.7] {
            checkGradients([positive], "pow \(p)") { $0[0].power(p) }
        }
        checkGradients([randomTensor([3, 5], seed: 57, range: -2...2)], "exp") { $0[0].exponential() }
    }

    func testBinaryCrossEntropyWithLogits() {
        let targets = randomTensor([4, 5], seed: 27, range: 0...1).map { $0 > 0.5 ? 1 : 0 }
        checkGradients([randomTensor([4, 5], seed: 28, range: -5...5)], "bce with logits") {
            $0[0].binaryCrossEntropyWithLogits(targets: targets)
        }
        // Value against the textbook −[t·log σ(x) + (1 − t)·log(1 − σ(x))] for moderate logits.
        let x = randomTensor([4, 5], seed: 29, range: -3...3)
        let y = Variable.constant(x).binaryCrossEntropyWithLogits(targets: targets).value
        for i in 0..<x.count {
            let s = 1 / (1 + exp(-Double(x.data[i]))), t = Double(targets.data[i])
            XCTAssertEqual(Double(y.data[i]), -(t * log(s) + (1 - t) * log(1 - s)), accuracy: 1e-5)
        }
    }

    func testLayerNorm() {
        let x = randomTensor([2, 3, 8], seed: 30, range: -2...2)
        checkGradients([x, randomTensor([8], seed: 31, range: 0.5...1.5), randomTensor([8], seed: 32)], "layerNorm affine") {
            $0[0].layerNorm(weight: $0[1], bias: $0[2])
        }
        checkGradients([x], "layerNorm plain") { $0[0].layerNorm() }
    }

    func testConv2d() {
        let x = randomTensor([2, 4, 7, 6], seed: 33)
        checkGradients([x, randomTensor([6, 4, 3, 3], seed: 34, range: -0.5...0.5), randomTensor([6], seed: 35)],
                       "conv2d stride 2 padding 1") { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: (2, 2), padding: (1, 1)) }
        checkGradients([x, randomTensor([6, 2, 3, 2], seed: 36, range: -0.5...0.5)], "conv2d groups 2, rect kernel, stride (1,2)") {
            $0[0].conv2d(weight: $0[1], stride: (1, 2), padding: (1, 0), groups: 2)
        }
        checkGradients([x, randomTensor([4, 1, 3, 3], seed: 37, range: -0.5...0.5), randomTensor([4], seed: 38)],
                       "conv2d depthwise") { $0[0].conv2d(weight: $0[1], bias: $0[2], padding: (1, 1), groups: 4) }
        checkGradients([x, randomTensor([4, 1, 3, 3], seed: 53, range: -0.5...0.5)], "conv2d depthwise stride 2") {
            $0[0].conv2d(weight: $0[1], stride: (2, 2), padding: (1, 1), groups: 4)
        }
        checkGradients([x, randomTensor([4, 1, 3, 2], seed: 54, range: -0.5...0.5)], "conv2d depthwise dilation 2, rect kernel") {
            $0[0].conv2d(weight: $0[1], padding: (2, 1), dilation: (2, 2), groups: 4)
        }
        checkGradients([x, randomTensor([3, 4, 2, 2], seed: 39, range: -0.5...0.5)], "conv2d dilation 2") {
            $0[0].conv2d(weight: $0[1], padding: (1, 1), dilation: (2, 2))
        }
        checkGradients([x, randomTensor([5, 4, 1, 1], seed: 40)], "conv2d 1x1") { $0[0].conv2d(weight: $0[1]) }
    }

    func testConvTranspose2d() {
        checkGradients([randomTensor([2, 3, 4, 5], seed: 41), randomTensor([3, 4, 2, 2], seed: 42, range: -0.5...0.5),
                        randomTensor([4], seed: 43)], "convTranspose2d k2 s2") {
            $0[0].convTranspose2d(weight: $0[1], bias: $0[2], stride: (2, 2))
        }
        checkGradients([randomTensor([1, 2, 4, 4], seed: 44), randomTensor([2, 3, 3, 3], seed: 45, range: -0.5...0.5)],
                       "convTranspose2d k3 s2 p1 op1") {
            $0[0].convTranspose2d(weight: $0[1], stride: (2, 2), padding: (1, 1), outputPadding: (1, 1))
        }
    }

    func testScaledDotProductAttention() {
        let q = randomTensor([2, 2, 5, 4], seed: 46), k = randomTensor([2, 2, 6, 4], seed: 47), v = randomTensor([2, 2, 6, 3], seed: 48)
        checkGradients([q, k, v], "sdpa") { Variable.scaledDotProductAttention($0[0], $0[1], $0[2]) }
        // Forward agrees with the fused kernel.
        let fused = Tensor.scaledDotProductAttention(q, k, v)
        let composed = Variable.scaledDotProductAttention(.constant(q), .constant(k), .constant(v)).value
        assertClose(composed, fused, atol: 1e-5, "sdpa forward")
    }

    func testInterpolate() {
        let x = randomTensor([2, 2, 5, 6], seed: 70)
        checkGradients([x], "bilinear up") { $0[0].interpolate(size: (8, 9), mode: .bilinear) }
        checkGradients([x], "bilinear down, alignCorners") { $0[0].interpolate(size: (3, 4), mode: .bilinear, alignCorners: true) }
        checkGradients([x], "bilinear antialiased down") { $0[0].interpolate(size: (3, 2), mode: .bilinear, antialias: true) }
        checkGradients([x], "bicubic") { $0[0].interpolate(size: (7, 4), mode: .bicubic) }
        checkGradients([x], "nearest") { $0[0].interpolate(size: (10, 3), mode: .nearest) }
        checkGradients([x], "bilinear scale factor 2") { $0[0].interpolate(scaleFactor: (2, 1.5), mode: .bilinear) }
    }

    func testMaxPool2d() {
        // A shuffled ramp: all values distinct and ≥ 2/252 apart, so ±ε never changes a window's maximum.
        var rng = SplitMix64(seed: 71)
        let ramp = (0..<252).map { Float($0) / 126 - 1 }.shuffled(using: &rng)
        let x = Tensor(shape: [2, 3, 7, 6], data: ramp)
        checkGradients([x], eps: 1e-3, "maxPool2d k2") { $0[0].maxPool2d(kernelSize: 2) }
        checkGradients([x], eps: 1e-3, "maxPool2d k3 s2 p1 (overlapping)") { $0[0].maxPool2d(kernelSize: 3, stride: 2, padding: 1) }
    }

    // MARK: Tape mechanics

    func testGradientAccumulationForReusedNode() {
        let x = randomTensor([5], seed: 50)
        let tape = GradientTape()
        let v = tape.variable(x)
        // y = Σ (x·x + x): x feeds three uses; dy/dx = 2x + 1.
        tape.backward((v * v + v).sum())
        assertClose(v.grad!, x * 2 + 1, atol: 1e-6, "reused node")
        // A second backward on a new forward pass adds to the leaf's gradient until zeroGrad.
        tape.backward((v * 3).sum())
        assertClose(v.grad!, x * 2 + 4, atol: 1e-6, "accumulated across backward calls")
        v.zeroGrad()
        XCTAssertNil(v.grad)
    }

    func testWatchedParametersAndNoGrad() {
        let w = Variable(randomTensor([3, 2], seed: 51))
        let x = Variable.constant(randomTensor([4, 2], seed: 52))
        let tape = GradientTape()
        tape.watch([w])
        let frozen = tape.noGrad { x.linear(weight: w) }
        XCTAssertFalse(frozen.requiresGrad)
        XCTAssertEqual(tape.recordedCount, 0)
        let loss = x.linear(weight: w).sum()
        XCTAssertEqual(tape.recordedCount, 2)
        tape.backward(loss)
        XCTAssertEqual(tape.recordedCount, 0)
        // d Σ(x·wᵀ) / dw[o, i] = Σ_r x[r, i].
        let expected = x.value.sum(axis: 0).unsqueezed(axis: 0).expanded(to: [3, 2])
        assertClose(w.grad!, expected, atol: 1e-5, "watched parameter")
        XCTAssertNil(x.grad)
    }

    // MARK: Against PyTorch

    func testConvLayerNormGeluMatchesTorch() throws {
        let names = ["x", "w", "b", "lnw", "lnb"]
        let values = try names.map { try fixture("autodiff/convln_\($0).npy") }
        let r = try fixture("autodiff/convln_r.npy")
        let tape = GradientTape()
        let v = values.map { tape.variable($0) }
        let y = v[0].conv2d(weight: v[1], bias: v[2], stride: (2, 2), padding: (1, 1)).permuted([0, 2, 3, 1])
            .layerNorm(weight: v[3], bias: v[4]).gelu()
        let loss = (y * Variable.constant(r)).sum()
        XCTAssertEqual(loss.value.data[0], try fixture("autodiff/convln_loss.npy").data[0], accuracy: 1e-4)
        tape.backward(loss)
        // torch computed in float64; the Swift chain runs in float32.
        for (k, name) in names.enumerated() {
            assertClose(v[k].grad!, try fixture("autodiff/convln_grad_\(name).npy"), atol: 1e-4, rtol: 1e-4, "grad \(name)")
        }
    }

    func testAdamWMatchesTorch() throws {
        let p0 = try fixture("autodiff/adamw_param0.npy")
        let grads = try fixture("autodiff/adamw_grads.npy")
        let expected = try fixture("autodiff/adamw_params.npy")
        let p = Variable(p0)
        let opt = AdamW(learningRate: 1e-2, weightDecay: 0.1)
        for step in 0..<3 {
            opt.zeroGrad([p])
            p.grad = grads.select(axis: 0, index: step)
            opt.step([p])
            assertClose(p.value, expected.select(axis: 0, index: step), atol: 1e-6, rtol: 1e-6, "AdamW step \(step + 1)")
        }
    }

    // MARK: Schedule and clipping

    func testLearningRateSchedule() {
        let cosine = LearningRateSchedule(peak: 1e-3, final: 1e-5, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(cosine.rate(at: 0), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 9), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 10), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 60), 1e-5 + (1e-3 - 1e-5) * 0.5, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 110), 1e-5, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 500), 1e-5, accuracy: 1e-9)
        let linear = LearningRateSchedule(peak: 1, warmupSteps: 0, totalSteps: 4, decay: .linear)
        XCTAssertEqual((0...4).map { linear.rate(at: $0) }, [1, 0.75, 0.5, 0.25, 0])
        // Held: 10 warm-up steps, 50 at the peak, the cosine over the last 50.
        let held = LearningRateSchedule(peak: 1e-3, final: 1e-5, warmupSteps: 10, holdSteps: 50, totalSteps: 110)
        XCTAssertEqual(held.rate(at: 4), 5e-4, accuracy: 1e-9)
        XCTAssertEqual(held.rate(at: 59), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(held.rate(at: 60), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(held.rate(at: 85), 1e-5 + (1e-3 - 1e-5) * 0.5, accuracy: 1e-9)
        XCTAssertEqual(held.rate(at: 110), 1e-5, accuracy: 1e-9)
        let constant = LearningRateSchedule(peak: 2, final: 0, warmupSteps: 0, holdSteps: 4, totalSteps: 4, decay: .linear)
        XCTAssertEqual((0...3).map { constant.rate(at: $0) }, [2, 2, 2, 2])
    }

    func testClipGradientNorm() {
        let a = Variable(.zeros([2])), b = Variable(.zeros([1])), c = Variable(.zeros([3]))
        a.grad = Tensor(shape: [2], data: [3, 0])
        b.grad = Tensor(shape: [1], data: [4])
        let norm = Variable.clipGradientNorm([a, b, c], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.data[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(b.grad!.data[0], 0.8, accuracy: 1e-6)
        XCTAssertNil(c.grad)
        // Under the limit: unchanged.
        XCTAssertEqual(Variable.clipGradientNorm([a, b], maxNorm: 10), 1, accuracy: 1e-5)
        XCTAssertEqual(a.grad!.data[0], 0.6, accuracy: 1e-6)
    }

    // MARK: End to end

    /// A 2-16-1 tanh-free MLP (linear → GELU → linear) fits y = sin(2x₀) + x₁² on 64 seeded points: 300 AdamW
    /// steps with warm-up + cosine decay and clipping reduce the mean squared error at least 20-fold.
    func testTwoLayerMLPFitsToyProblem() {
        let x = randomTensor([64, 2], seed: 60)
        var target = Tensor(shape: [64, 1])
        for i in 0..<64 { target.data[i] = sin(2 * x.data[2 * i]) + x.data[2 * i + 1] * x.data[2 * i + 1] }
        let w1 = Variable(randomTensor([16, 2], seed: 61) * 0.7), b1 = Variable(.zeros([16]))
        let w2 = Variable(randomTensor([1, 16], seed: 62) * 0.25), b2 = Variable(.zeros([1]))
        let params = [w1, b1, w2, b2]
        let opt = AdamW(learningRate: 0, weightDecay: 0)
        let schedule = LearningRateSchedule(peak: 3e-2, final: 1e-3, warmupSteps: 20, totalSteps: 300)
        var first: Float = 0, last: Float = 0
        for step in 0..<300 {
            let tape = GradientTape()
            tape.watch(params)
            let pred = Variable.constant(x).linear(weight: w1, bias: b1).gelu().linear(weight: w2, bias: b2)
            let diff = pred - Variable.constant(target)
            let loss = (diff * diff).mean()
            if step == 0 { first = loss.value.data[0] }
            last = loss.value.data[0]
            opt.zeroGrad(params)
            tape.backward(loss)
            Variable.clipGradientNorm(params, maxNorm: 1)
            opt.learningRate = schedule.rate(at: step)
            opt.step(params)
        }
        XCTAssertLessThan(last, first / 20, "MSE \(first) → \(last)")
    }
}
