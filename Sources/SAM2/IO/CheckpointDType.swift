import Foundation

/// Element type of a stored tensor, as named by PyTorch storages and safetensors headers.
public enum CheckpointDType: Equatable, Hashable, Sendable, CustomStringConvertible {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool
    /// A type we can list but not convert (complex, float8, unsigned wide ints…), by its source name.
    case other(String)

    /// Bytes per element, nil for `.other` (its size is unknown to us).
    public var itemSize: Int? {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        case .other: return nil
        }
    }

    public var description: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .float64: return "float64"
        case .int64: return "int64"
        case .int32: return "int32"
        case .int16: return "int16"
        case .int8: return "int8"
        case .uint8: return "uint8"
        case .bool: return "bool"
        case let .other(name): return name
        }
    }

    /// From a PyTorch typed-storage class name (`FloatStorage`, `BFloat16Storage`…).
    public init(storageClass name: String) {
        switch name {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "DoubleStorage": self = .float64
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: self = .other(name)
        }
    }

    /// From a `torch.<dtype>` attribute name (`float32`, `half`, `bfloat16`…), used by `_rebuild_tensor_v3`.
    public init(torchName name: String) {
        switch name {
        case "float32", "float": self = .float32
        case "float16", "half": self = .float16
        case "bfloat16": self = .bfloat16
        case "float64", "double": self = .float64
        case "int64", "long": self = .int64
        case "int32", "int": self = .int32
        case "int16", "short": self = .int16
        case "int8": self = .int8
        case "uint8": self = .uint8
        case "bool": self = .bool
        default: self = .other("torch." + name)
        }
    }

    /// From a safetensors header dtype (`F32`, `BF16`…).
    public init(safetensorsName name: String) {
        switch name {
        case "F32": self = .float32
        case "F16": self = .float16
        case "BF16": self = .bfloat16
        case "F64": self = .float64
        case "I64": self = .int64
        case "I32": self = .int32
        case "I16": self = .int16
        case "I8": self = .int8
        case "U8": self = .uint8
        case "BOOL": self = .bool
        default: self = .other(name)
        }
    }
}
