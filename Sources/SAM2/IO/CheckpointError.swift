import Foundation

/// Errors opening or reading a checkpoint (.pt zip+pickle or .safetensors); each names the file and what is wrong.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case unknownFormat(path: String, reason: String)
    case notZip(path: String, reason: String)
    case truncated(path: String, reason: String)
    case compressedEntry(path: String, entry: String, method: Int)
    case missingEntry(path: String, entry: String)
    case unsupportedOpcode(path: String, opcode: UInt8, offset: Int)
    case malformedPickle(path: String, offset: Int, reason: String)
    case malformedTensor(path: String, key: String, reason: String)
    case noStateDict(path: String)
    case unsupportedDType(path: String, key: String, dtype: String)
    case missingKey(path: String, key: String)
    case shapeMismatch(path: String, key: String, expected: [Int], got: [Int])
    case badHeader(path: String, reason: String)
    case offsetOutOfRange(path: String, key: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .unknownFormat(path, reason): return "\(path): not a PyTorch (.pt zip) or safetensors checkpoint: \(reason)"
        case let .notZip(path, reason): return "\(path): not a zip archive: \(reason)"
        case let .truncated(path, reason): return "\(path): file is truncated: \(reason)"
        case let .compressedEntry(path, entry, method):
            return "\(path): zip entry '\(entry)' is compressed (method \(method)); only stored entries (as torch.save writes) are supported"
        case let .missingEntry(path, entry): return "\(path): archive has no entry '\(entry)'"
        case let .unsupportedOpcode(path, opcode, offset):
            return "\(path): unsupported pickle opcode 0x\(String(opcode, radix: 16)) at offset \(offset) of data.pkl"
        case let .malformedPickle(path, offset, reason): return "\(path): malformed pickle at offset \(offset) of data.pkl: \(reason)"
        case let .malformedTensor(path, key, reason): return "\(path): malformed tensor record '\(key)': \(reason)"
        case let .noStateDict(path): return "\(path): no state dict found (expected a dict of tensors, or a dict with key \"model\")"
        case let .unsupportedDType(path, key, dtype): return "\(path): tensor '\(key)' has unsupported dtype \(dtype)"
        case let .missingKey(path, key): return "\(path): missing key '\(key)'"
        case let .shapeMismatch(path, key, expected, got): return "\(path): shape mismatch for '\(key)': expected \(expected), got \(got)"
        case let .badHeader(path, reason): return "\(path): bad safetensors header: \(reason)"
        case let .offsetOutOfRange(path, key, reason): return "\(path): tensor '\(key)' data out of range: \(reason)"
        case let .writeFailed(path, reason): return "\(path): cannot write: \(reason)"
        }
    }
}
