import Foundation
import XCTest
import SAM2

/// conv2d / convTranspose2d against PyTorch (Scripts/fixtures/make_conv_fixtures.py).
/// Tolerance: atol 2e-5 + rtol 1e-5 — float32 sums of ≤ 147 products of O(1) values summed in a different order
/// than PyTorch's kernels.
final class ConvolutionTests: XCTestCase {
    let atol: Float = 2e-5, rtol: Float = 1e-5

    private func ints(_ t: Tensor) -> [Int] { t.data.map { Int($0) } }
    private func optionalFixture(_ name: String) -> Tensor? {
        FileManager.default.fileExists(atPath: fixturesDir.appendingPathComponent(name).path) ? try? fixture(name) : nil
    }

    func testConv2dMatchesPyTorch() throws {
        let cases = ["patch_embed", "patch_embed_big", "k3s2p1", "pointwise", "pointwise_groups", "k1s2", "k4s4", "k2s2",
                     "grouped_dilated", "asymmetric", "dilated", "depthwise7", "depthwise7_big", "depthwise3_s2_d2",
                     "depthwise_multiplier"]
        for name in cases {
            let x = try fixture("conv/\(name)_x.npy"), w = try fixture("conv/\(name)_w.npy")
            let y = try fixture("conv/\(name)_y.npy"), p = ints(try fixture("conv/\(name)_p.npy"))
            let b = optionalFixture("conv/\(name)_b.npy")
            let out = x.conv2d(weight: w, bias: b, stride: (p[0], p[1]), padding: (p[2], p[3]),
                               dilation: (p[4], p[5]), groups: p[6])
            assertClose(out, y, atol: atol, rtol: rtol, "conv2d \(name)")
        }
    }

    func testConvTranspose2dMatchesPyTorch() throws {
        let cases = ["t_k2s2", "t_k2s2_batch", "t_k3s2p1op1", "t_k4s2p1", "t_k3d2", "t_asymmetric"]
        for name in cases {
            let x = try fixture("conv/\(name)_x.npy"), w = try fixture("conv/\(name)_w.npy")
            let y = try fixture("conv/\(name)_y.npy"), p = ints(try fixture("conv/\(name)_p.npy"))
            let b = optionalFixture("conv/\(name)_b.npy")
            let out = x.convTranspose2d(weight: w, bias: b, stride: (p[0], p[1]), padding: (p[2], p[3]),
                                        outputPadding: (p[4], p[5]), dilation: (p[6], p[7]))
            assertClose(out, y, atol: atol, rtol: rtol, "convTranspose2d \(name)")
        }
    }

    /// The depthwise and pointwise fast paths against the general im2col path on the same weights
    /// (depthwise as a grouped conv with one extra zero output per group cannot take the fast path).
    func testFastPathsAgreeWithGeneralPath() {
        let x = randomTensor([2, 6, 17, 19], seed: 1)
        let w = randomTensor([6, 1, 5, 5], seed: 2), b = randomTensor([6], seed: 3)
        let fast = x.conv2d(weight: w, bias: b, stride: (1, 2), padding: (2, 1), groups: 6)
        // Same conv with a channel multiplier of 2 whose second copy has zero weights, then drop those outputs.
        var w2 = Tensor.zeros([12, 1, 5, 5]), b2 = Tensor.zeros([12])
        for c in 0..<6 {
            for k in 0..<25 { w2.data[(2 * c) * 25 + k] = w.data[c * 25 + k] }
            b2.data[2 * c] = b.data[c]
        }
        let general = x.conv2d(weight: w2, bias: b2, stride: (1, 2), padding: (2, 1), groups: 6)
        var picked = Tensor.zeros(fast.shape)
        let plane = fast.shape[2] * fast.shape[3]
        for n in 0..<2 { for c in 0..<6 { for i in 0..<plane {
            picked.data[(n * 6 + c) * plane + i] = general.data[(n * 12 + 2 * c) * plane + i]
        } } }
        assertClose(fast, picked, atol: 1e-5, "depthwise fast path vs im2col")

        // 1×1 stride 1 (direct GEMM) vs the same weights as a 1×1 conv with padding 1, cropped back.
        let wp = randomTensor([5, 6, 1, 1], seed: 4)
        let direct = x.conv2d(weight: wp)
        let padded = x.conv2d(weight: wp, padding: (1, 1))
        var cropped = Tensor.zeros(direct.shape)
        for n in 0..<2 { for o in 0..<5 { for i in 0..<17 { for j in 0..<19 {
            cropped[n, o, i, j] = padded[n, o, i + 1, j + 1]
        } } } }
        assertClose(direct, cropped, atol: 1e-5, "pointwise direct GEMM vs im2col")
    }

    /// Timings at SAM 2's sizes; run with SAM2_CONV_BENCH=1 (skipped otherwise).
    func testTimingsAtSAM2Sizes() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["SAM2_CONV_BENCH"] == "1", "set SAM2_CONV_BENCH=1")
        func time(_ label: String, _ body: () -> Tensor) {
            var shape = body().shape, best = Double.infinity
            for _ in 0..<3 {
                let t0 = Date()
                shape = body().shape
                best = min(best, Date().timeIntervalSince(t0))
            }
            print(String(format: "%@: best of 3 %.1f ms -> %@", label, best * 1000, "\(shape)"))
        }
        let image = randomTensor([1, 3, 1024, 1024], seed: 1)
        let patch = randomTensor([96, 3, 7, 7], seed: 2)
        time("patch embed 7x7/4 3->96 @1024²") { image.conv2d(weight: patch, stride: (4, 4), padding: (3, 3)) }
        let mem = randomTensor([1, 256, 64, 64], seed: 3)
        let dw = randomTensor([256, 1, 7, 7], seed: 4)
        time("depthwise 7x7 256ch @64²") { mem.conv2d(weight: dw, padding: (3, 3), groups: 256) }
        let pw = randomTensor([256, 256, 1, 1], seed: 5)
        time("pointwise 256->256 @64²") { mem.conv2d(weight: pw) }
        let mask = randomTensor([1, 1, 1024, 1024], seed: 6)
        time("mask downsampler 3x3/2 1->4 @1024²") { mask.conv2d(weight: randomTensor([4, 1, 3, 3], seed: 7), stride: (2, 2), padding: (1, 1)) }
        let m16 = randomTensor([1, 16, 256, 256], seed: 8)
        time("mask downsampler 3x3/2 16->64 @256²") { m16.conv2d(weight: randomTensor([64, 16, 3, 3], seed: 9), stride: (2, 2), padding: (1, 1)) }
        let up = randomTensor([1, 256, 64, 64], seed: 10)
        time("convTranspose 2x2/2 256->64 @64²") { up.convTranspose2d(weight: randomTensor([256, 64, 2, 2], seed: 11), stride: (2, 2)) }
        let frame = randomTensor([1, 3, 540, 960], seed: 12, range: 0...1)
        time("antialiased bilinear 540x960 -> 1024²") { frame.interpolate(size: (1024, 1024), mode: .bilinear, antialias: true) }
        let big = randomTensor([1, 3, 1080, 1920], seed: 13, range: 0...1)
        time("antialiased bilinear 1080x1920 -> 1024²") { big.interpolate(size: (1024, 1024), mode: .bilinear, antialias: true) }
        let logits = randomTensor([1, 3, 256, 256], seed: 14)
        time("bilinear 256² -> 1080x1920") { logits.interpolate(size: (1080, 1920), mode: .bilinear) }
        let pos = randomTensor([1, 144, 7, 7], seed: 15)
        time("bicubic pos embed 7² -> 256²") { pos.interpolate(size: (256, 256), mode: .bicubic) }
    }
}
