import Foundation

/// How a memory bank keeps memory features: bfloat16 as the official video predictor (half the bytes,
/// values rounded to nearest-even), or float32 unchanged.
public enum MemoryPrecision: String, Sendable, CaseIterable, Codable {
    case bfloat16, float32
}

/// A tensor kept at a storage precision; `tensor` gives it back as Float32 (bfloat16 values widen exactly).
public struct StoredTensor: Sendable {
    public let shape: [Int]
    private enum Storage: Sendable { case float32([Float]), bfloat16([UInt16]) }
    private let storage: Storage

    /// Stores `tensor` at `precision` (bfloat16: round to nearest, ties to even, as torch's `.to(torch.bfloat16)`).
    public init(_ tensor: Tensor, precision: MemoryPrecision) {
        shape = tensor.shape
        switch precision {
        case .float32: storage = .float32(tensor.data)
        case .bfloat16:
            storage = .bfloat16(tensor.withUnsafeBufferPointer { src in
                [UInt16](unsafeUninitializedCapacity: src.count) { dst, n in
                    // dst has room for src.count halves; every one is written.
                    for i in 0..<src.count { dst[i] = Self.bfloat16Bits(src[i]) }
                    n = src.count
                }
            })
        }
    }

    /// The stored precision.
    public var precision: MemoryPrecision {
        if case .float32 = storage { return .float32 }
        return .bfloat16
    }

    /// Bytes held by the values.
    public var byteCount: Int {
        switch storage {
        case let .float32(v): return v.count * 4
        case let .bfloat16(v): return v.count * 2
        }
    }

    /// The values as a Float32 tensor.
    public var tensor: Tensor {
        switch storage {
        case let .float32(v): return Tensor(shape: shape, data: v)
        case let .bfloat16(v):
            return Tensor(shape: shape) { dst in
                for i in 0..<v.count { dst[i] = Float(bitPattern: UInt32(v[i]) << 16) }
            }
        }
    }

    /// Float32 → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN.
    @inline(__always)
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040) }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// `x` rounded to the nearest bfloat16 value, as a Float.
    public static func roundedToBFloat16(_ x: Float) -> Float {
        Float(bitPattern: UInt32(bfloat16Bits(x)) << 16)
    }
}
