import Foundation
import XCTest
import SAM2

/// F.interpolate against PyTorch (Scripts/fixtures/make_conv_fixtures.py).
/// Tolerances: nearest is a pure gather (exact, atol 0); bilinear/bicubic, with or without antialias, 1e-5 absolute
/// on inputs in [-1, 1] (weights are computed in the same float precision as PyTorch; only fused multiply-add
/// contraction may differ).
final class InterpolationTests: XCTestCase {
    private let modes: [InterpolationMode] = [.nearest, .bilinear, .bicubic]

    func testInterpolateMatchesPyTorch() throws {
        let cases = ["nearest_down", "nearest_up", "nearest_x2", "nearest_sf2", "nearest_sf_frac",
                     "bilinear_down", "bilinear_up", "bilinear_ac_down", "bilinear_ac_up", "bilinear_sf_frac", "bilinear_to1",
                     "bilinear_aa_down", "bilinear_aa_up", "bilinear_aa_mixed", "bilinear_aa_width_only", "bilinear_aa_ac_down",
                     "bicubic_down", "bicubic_up", "bicubic_ac", "bicubic_pos_embed", "bicubic_aa_down", "bicubic_aa_up"]
        for name in cases {
            let x = try fixture("conv/\(name)_x.npy"), y = try fixture("conv/\(name)_y.npy")
            let p = try fixture("conv/\(name)_p.npy").data
            let mode = modes[Int(p[4])], alignCorners = p[5] != 0, antialias = p[6] != 0
            let out: Tensor
            if p[0] > 0 {
                out = x.interpolate(size: (Int(p[0]), Int(p[1])), mode: mode, alignCorners: alignCorners, antialias: antialias)
            } else {
                // Stored in thousandths; the quotient rounds to the same double as Python's literal (e.g. 1.7).
                let sf = (Double(p[2]) / 1000, Double(p[3]) / 1000)
                out = x.interpolate(scaleFactor: sf, mode: mode, alignCorners: alignCorners, antialias: antialias)
            }
            assertClose(out, y, atol: mode == .nearest ? 0 : 1e-5, "interpolate \(name)")
        }
    }

    /// SAM 2's image preprocessing resize (torchvision Resize((1024, 1024)) on a float tensor = antialiased
    /// bilinear) at real frame sizes; the fixture stores a strided subset of the 1024² output.
    func testAntialiasedResizeToSAM2InputSize() throws {
        for name in ["aa_540x960_to_1024", "aa_1080x1920_to_1024"] {
            let p = try fixture("conv/\(name)_p.npy").data.map { Int($0) }
            let (c, h, w, oh, ow, rs, cs) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6])
            // Same closed-form uint8-like pattern as the fixture script.
            var x = Tensor.zeros([1, c, h, w])
            for ci in 0..<c { for hi in 0..<h { for wi in 0..<w {
                let k = (hi * hi * 7 + wi * 13 + hi * wi * 3 + ci * 101) % 256
                x.data[(ci * h + hi) * w + wi] = Float(k) / Float(255)
            } } }
            let full = x.interpolate(size: (oh, ow), mode: .bilinear, antialias: true)
            let expected = try fixture("conv/\(name)_y.npy")
            let sh = (oh + rs - 1) / rs, sw = (ow + cs - 1) / cs
            var subset = Tensor.zeros([1, c, sh, sw])
            for ci in 0..<c { for i in 0..<sh { for j in 0..<sw {
                subset[0, ci, i, j] = full[0, ci, i * rs, j * cs]
            } } }
            assertClose(subset, expected, atol: 1e-5, "antialiased resize \(name)")
        }
    }

    /// Resizing to the same size is the identity in every mode (PyTorch short-circuits it too).
    func testSameSizeIsIdentity() {
        let x = randomTensor([1, 2, 9, 11], seed: 7)
        for mode in modes {
            assertClose(x.interpolate(size: (9, 11), mode: mode), x, atol: 0, "\(mode)")
        }
        assertClose(x.interpolate(size: (9, 11), mode: .bilinear, antialias: true), x, atol: 0, "antialias")
    }
}
