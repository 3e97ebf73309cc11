import Foundation
import XCTest
import SAM2

/// Folder of committed fixtures (made by Scripts/fixtures/*.py from the official PyTorch / sam2 packages).
let fixturesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Folder of the real sample data shared between projects (../shared/data from the project root).
let sharedDataDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("shared/data")

/// Loads a fixture .npy by path relative to Fixtures/.
func fixture(_ name: String) throws -> Tensor { try Npy.read(fixturesDir.appendingPathComponent(name).path) }

/// Asserts same shape and every element within `atol + rtol·|expected|`; reports the worst element.
func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Float, rtol: Float = 0, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    var worst = 0, worstExcess: Float = -.infinity
    for i in 0..<actual.count {
        let diff = abs(actual.data[i] - expected.data[i])
        let excess = diff - (atol + rtol * abs(expected.data[i]))
        if !(excess <= worstExcess) { worstExcess = excess; worst = i }
        if diff.isNaN { worstExcess = .infinity; worst = i; break }
    }
    if actual.count > 0 && !(worstExcess <= 0) {
        XCTFail("\(message): element \(worst) is \(actual.data[worst]), expected \(expected.data[worst]) (atol \(atol), rtol \(rtol))", file: file, line: line)
    }
}

/// Deterministic pseudo-random tensor (SplitMix64), for naive-reference tests that need no fixture.
func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var state = seed
    return Tensor(shape: shape) { buf in
        for i in 0..<buf.count {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            z ^= z >> 31
            let u = Float(z >> 40) / Float(1 << 24)
            buf[i] = range.lowerBound + u * (range.upperBound - range.lowerBound)
        }
    }
}
