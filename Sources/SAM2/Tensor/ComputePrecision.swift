/// Arithmetic precision of the model's matrix products, set process-wide through `ComputePrecision.current`.
public enum ComputePrecision: String, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE single precision throughout (the default, the precision of the official float32 model).
    case float32
    /// Matrix products take their operands rounded to bfloat16 (as PyTorch's `.to(torch.bfloat16)`) and accumulate
    /// in float32; everything else (softmax, norms, activations, storage) stays float32. Faster on CPUs with
    /// AVX512_BF16, at bfloat16's ~3 significant digits per operand.
    case bfloat16

    /// The precision every `Tensor.sgemm` uses. Process-wide on purpose: GEMMs run inside Dispatch workers, where a
    /// TaskLocal would not be visible. Change it between model calls, not while another thread runs one.
    nonisolated(unsafe) public static var current: ComputePrecision = .float32

    /// Parses `float32` (also `fp32`, `f32`) or `bfloat16` (also `bf16`), ignoring case.
    public init(parsing text: String) throws(ComputePrecisionError) {
        switch text.lowercased() {
        case "float32", "fp32", "f32": self = .float32
        case "bfloat16", "bf16": self = .bfloat16
        default: throw .unknown(text)
        }
    }

    /// Runs `body` with `precision` as the current precision and restores the previous one afterwards.
    public static func with<R>(_ precision: ComputePrecision, _ body: () throws -> R) rethrows -> R {
        let saved = current
        current = precision
        defer { current = saved }
        return try body()
    }

    public var description: String { rawValue }
}

/// A precision name that is neither float32 nor bfloat16.
public enum ComputePrecisionError: Error, CustomStringConvertible, Equatable {
    case unknown(String)

    public var description: String {
        switch self {
        case .unknown(let text): return "unknown precision '\(text)' (expected float32 or bfloat16)"
        }
    }
}
