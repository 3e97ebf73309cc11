import XCTest
import SAM2

/// Fused streaming-softmax attention vs a naive materialised softmax (Double) and PyTorch fixtures.
/// Tolerance: atol 1e-5 + rtol 1e-5 for inputs in [-1, 1] (float32 sgemm accumulation over ≤ 1100 terms).
final class AttentionTests: XCTestCase {
    /// Materialises the full score matrix in Double: softmax(scale·q·kᵀ)·v over [..., L, D] tensors.
    func naiveAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float? = nil) -> Tensor {
        let r = q.rank
        let lq = q.shape[r - 2], d = q.shape[r - 1], lk = k.shape[r - 2], dv = v.shape[r - 1]
        let batch = q.count / max(lq * d, 1)
        let s = Double(scale ?? 1 / Float(d).squareRoot())
        var out = [Float](repeating: 0, count: batch * lq * dv)
        for b in 0..<batch {
            for i in 0..<lq {
                var scores = [Double](repeating: 0, count: lk)
                for j in 0..<lk {
                    var dot = 0.0
                    for c in 0..<d { dot += Double(q.data[(b * lq + i) * d + c]) * Double(k.data[(b * lk + j) * d + c]) }
                    scores[j] = dot * s
                }
                let m = scores.max() ?? 0
                let w = scores.map { Foundation.exp($0 - m) }
                let total = w.reduce(0, +)
                for c in 0..<dv {
                    var acc = 0.0
                    for j in 0..<lk { acc += w[j] * Double(v.data[(b * lk + j) * dv + c]) }
                    out[(b * lq + i) * dv + c] = Float(acc / total)
                }
            }
        }
        return Tensor(shape: Array(q.shape.dropLast()) + [dv], data: out)
    }

    /// Every schedule, including small blocks that force many key blocks, partial blocks and rescaling.
    let configs: [AttentionKernelConfig] = [
        .default,
        AttentionKernelConfig(queryBlock: 16, keyBlock: 100, schedule: .perBlock),
        AttentionKernelConfig(queryBlock: 7, keyBlock: 64, sharedRowsBlock: 24, schedule: .sharedRows),
        AttentionKernelConfig(queryBlock: 1, keyBlock: 1, sharedRowsBlock: 1, schedule: .perBlock),
    ]

    func checkAgainstNaive(_ qs: [Int], lk: Int, dv: Int, scale: Float? = nil, seed: UInt64,
                           file: StaticString = #filePath, line: UInt = #line) {
        var ks = qs, vs = qs
        ks[ks.count - 2] = lk
        vs[vs.count - 2] = lk
        vs[vs.count - 1] = dv
        let q = randomTensor(qs, seed: seed), k = randomTensor(ks, seed: seed + 1), v = randomTensor(vs, seed: seed + 2)
        let expected = naiveAttention(q, k, v, scale: scale)
        for config in configs {
            let out = Tensor.scaledDotProductAttention(q, k, v, scale: scale, config: config)
            assertClose(out, expected, atol: 1e-5, rtol: 1e-5, "q \(qs) lk \(lk) dv \(dv) \(config)", file: file, line: line)
        }
    }

    func testShapesAgainstNaive() {
        checkAgainstNaive([2, 3, 37, 16], lk: 1000, dv: 16, seed: 10)    // Lk not a multiple of any key block
        checkAgainstNaive([1, 1, 1, 32], lk: 777, dv: 32, seed: 20)      // Lq = 1
        checkAgainstNaive([2, 5, 24], lk: 3, dv: 40, seed: 30)           // D ≠ Dv, rank 3, tiny Lk
        checkAgainstNaive([4, 9, 8], lk: 1, dv: 8, scale: 0.7, seed: 40) // single key: output is v
        checkAgainstNaive([1, 130, 64], lk: 513, dv: 48, scale: 0.05, seed: 50)
    }

    /// Big enough to run threaded (concurrent single-threaded OpenBLAS calls in `.perBlock`, threaded sgemm plus
    /// split softmax in `.sharedRows`).
    func testParallelPathsAgainstNaive() {
        checkAgainstNaive([3, 2, 150, 32], lk: 600, dv: 32, seed: 60)
        checkAgainstNaive([1, 300, 64], lk: 1500, dv: 64, seed: 70)
    }

    /// `.perBlock` calls single-threaded OpenBLAS from several workers at once; each task's arithmetic does not
    /// depend on which worker runs it, so repeated runs must agree bit for bit (a buffer race would not).
    func testConcurrentBlasCallsAreDeterministic() {
        let q = randomTensor([8, 128, 64], seed: 90), k = randomTensor([8, 512, 64], seed: 91)
        let v = randomTensor([8, 512, 64], seed: 92)
        let config = AttentionKernelConfig(queryBlock: 32, keyBlock: 96, schedule: .perBlock)
        let first = Tensor.scaledDotProductAttention(q, k, v, config: config)
        for run in 0..<20 {
            let again = Tensor.scaledDotProductAttention(q, k, v, config: config)
            XCTAssertEqual(again.data, first.data, "run \(run) differs")
        }
        assertClose(first, naiveAttention(q, k, v), atol: 1e-5, rtol: 1e-5, "concurrent perBlock")
    }

    /// Logits in the thousands: exact in float32 (small integers, power-of-two scale), so any deviation from the
    /// naive result is the kernel's; a non-stabilised softmax would overflow to inf/NaN.
    func testLargeLogitsAreStable() {
        func integers(_ shape: [Int], seed: UInt64) -> Tensor {
            let t = randomTensor(shape, seed: seed, range: -8...8)
            return Tensor(shape: shape, data: t.data.map { $0.rounded() })
        }
        let q = integers([2, 20, 16], seed: 1), k = integers([2, 900, 16], seed: 2)
        let v = randomTensor([2, 900, 12], seed: 3)
        for scale: Float in [1, 8, -4] {
            let expected = naiveAttention(q, k, v, scale: scale)
            for config in configs {
                let out = Tensor.scaledDotProductAttention(q, k, v, scale: scale, config: config)
                XCTAssertTrue(out.data.allSatisfy { $0.isFinite }, "scale \(scale) \(config)")
                assertClose(out, expected, atol: 1e-5, rtol: 1e-5, "large logits, scale \(scale), \(config)")
            }
        }
    }

    /// [B, L, H·D] layout equals splitting heads, attending per head and recombining.
    func testPackedHeadsLayout() {
        let b = 2, lq = 45, lk = 530, heads = 4, d = 8, dv = 6
        let q = randomTensor([b, lq, heads * d], seed: 80)
        let k = randomTensor([b, lk, heads * d], seed: 81)
        let v = randomTensor([b, lk, heads * dv], seed: 82)
        func split(_ t: Tensor, _ l: Int, _ c: Int) -> Tensor {  // [B, L, H·C] → [B, H, L, C]
            Tensor(shape: [b, heads, l, c]) { buf in
                for bi in 0..<b { for h in 0..<heads { for i in 0..<l { for j in 0..<c {
                    buf[((bi * heads + h) * l + i) * c + j] = t.data[(bi * l + i) * heads * c + h * c + j]
                } } } }
            }
        }
        let perHead = naiveAttention(split(q, lq, d), split(k, lk, d), split(v, lk, dv))
        let expected = Tensor(shape: [b, lq, heads * dv]) { buf in
            for bi in 0..<b { for h in 0..<heads { for i in 0..<lq { for j in 0..<dv {
                buf[(bi * lq + i) * heads * dv + h * dv + j] = perHead.data[((bi * heads + h) * lq + i) * dv + j]
            } } } }
        }
        for config in configs {
            let out = Tensor.scaledDotProductAttention(q, k, v, heads: heads, config: config)
            assertClose(out, expected, atol: 1e-5, rtol: 1e-5, "packed heads \(config)")
        }
    }

    /// No keys: PyTorch returns zeros (empty softmax times empty v).
    func testEmptyKeysGiveZeros() {
        let out = Tensor.scaledDotProductAttention(randomTensor([1, 2, 3, 4], seed: 1), Tensor.zeros([1, 2, 0, 4]),
                                                   Tensor.zeros([1, 2, 0, 5]))
        XCTAssertEqual(out.shape, [1, 2, 3, 5])
        XCTAssertTrue(out.data.allSatisfy { $0 == 0 })
    }

    /// torch.nn.functional.scaled_dot_product_attention (float64 reference, saved as float32).
    func testPyTorchFixtures() throws {
        for (name, scale) in [("heads", nil), ("dv_scale", Float(0.3)), ("sharp", nil)] as [(String, Float?)] {
            let q = try fixture("attention/\(name)_q.npy"), k = try fixture("attention/\(name)_k.npy")
            let v = try fixture("attention/\(name)_v.npy"), expected = try fixture("attention/\(name)_out.npy")
            for config in configs {
                let out = Tensor.scaledDotProductAttention(q, k, v, scale: scale, config: config)
                assertClose(out, expected, atol: 1e-5, rtol: 1e-5, "fixture \(name) \(config)")
            }
        }
    }
}
