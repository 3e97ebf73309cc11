/// How far a reduced-precision run's outputs are from the float32 run on the same input (`bench … --precision bf16`).
public struct PrecisionFidelity: Sendable, Codable, Equatable {
    /// The error of one output tensor.
    public struct OutputError: Sendable, Codable, Equatable {
        public var name: String
        /// ‖test − reference‖₂ / ‖reference‖₂.
        public var relativeL2: Double
        /// max |test − reference|.
        public var maxAbsError: Double
        /// max |reference|, the scale `maxAbsError` is to be read against.
        public var referenceMaxAbs: Double
    }

    /// The precision compared with float32.
    public var precision: String
    public var outputs: [OutputError]
    /// Per-frame, per-object IoU of the binarised masks (logits > 0) between the two runs (`track` only).
    public var maskIoU: [Double]? = nil

    /// Relative L2 and max abs error of `test` against `reference` (same element count).
    public static func compare(_ name: String, test: Tensor, reference: Tensor) -> OutputError {
        precondition(test.count == reference.count, "PrecisionFidelity: \(name) has \(test.count) vs \(reference.count) elements")
        var diff2 = 0.0, ref2 = 0.0, maxAbs = 0.0, refMax = 0.0
        test.withUnsafeBufferPointer { t in
            reference.withUnsafeBufferPointer { r in
                for i in 0..<r.count {
                    let d = Double(t[i]) - Double(r[i])
                    diff2 += d * d
                    ref2 += Double(r[i]) * Double(r[i])
                    maxAbs = Swift.max(maxAbs, abs(d))
                    refMax = Swift.max(refMax, abs(Double(r[i])))
                }
            }
        }
        return OutputError(name: name, relativeL2: ref2 > 0 ? (diff2 / ref2).squareRoot() : diff2.squareRoot(),
                           maxAbsError: maxAbs, referenceMaxAbs: refMax)
    }

    /// One line per output (and the IoU summary), for the benchmark table.
    public var summary: String {
        var parts = outputs.map {
            "\($0.name) rel L2 \(sci($0.relativeL2)), max abs \(sci($0.maxAbsError)) (of \(sci($0.referenceMaxAbs)))"
        }
        if let iou = maskIoU, !iou.isEmpty {
            parts.append(String(format: "mask IoU vs float32 mean %.4f, min %.4f over %d", iou.reduce(0, +) / Double(iou.count),
                                iou.min() ?? 0, iou.count))
        }
        return "\(precision) vs float32: " + parts.joined(separator: "; ")
    }

    private func sci(_ x: Double) -> String { String(format: "%.2e", x) }
}
