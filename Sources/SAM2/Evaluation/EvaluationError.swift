import Foundation

/// Errors of the VOS evaluation (J&F): bad folders, unreadable or mismatched masks, bad arguments.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// A folder the evaluation needs does not exist (or is not a folder); `expected` describes the layout.
    case missingFolder(path: String, expected: String)
    /// A folder exists but holds nothing to evaluate.
    case emptyFolder(path: String, expected: String)
    /// A sequence asked for with `--sequences` is not in the ground truth.
    case unknownSequence(name: String, available: [String])
    /// A mask file could not be read or decoded.
    case unreadableMask(path: String, reason: String)
    /// A predicted mask's size differs from its ground truth.
    case sizeMismatch(path: String, expected: (width: Int, height: Int), got: (width: Int, height: Int))
    /// An argument is not what the function needs.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .missingFolder(path, expected): return "\(path): no such folder (expected \(expected))"
        case let .emptyFolder(path, expected): return "\(path): nothing to evaluate (expected \(expected))"
        case let .unknownSequence(name, available):
            let list = available.prefix(8).joined(separator: ", ") + (available.count > 8 ? ", …" : "")
            return "sequence '\(name)' is not in the ground truth (have: \(list.isEmpty ? "none" : list))"
        case let .unreadableMask(path, reason): return "\(path): cannot read mask: \(reason)"
        case let .sizeMismatch(path, e, g):
            return "\(path): mask is \(g.width)×\(g.height), the ground truth is \(e.width)×\(e.height)"
        case let .invalidArgument(reason): return "invalid evaluation argument: \(reason)"
        }
    }

    public static func == (a: EvaluationError, b: EvaluationError) -> Bool { a.description == b.description }
}
