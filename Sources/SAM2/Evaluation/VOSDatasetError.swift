import Foundation

/// Errors reading a VOS dataset layout; each names the folder or file at fault and the layout that was expected.
public enum VOSDatasetError: Error, CustomStringConvertible, Equatable {
    /// A folder of the layout does not exist.
    case missingFolder(path: String, expectedLayout: String)
    /// A file of the layout does not exist (or a folder holds none of the files it should).
    case missingFile(path: String, expectedLayout: String)
    /// A file or folder exists but its content is not what the layout says.
    case malformed(path: String, reason: String)
    /// The sequence is not part of the dataset (split).
    case unknownSequence(name: String, dataset: String)

    public var description: String {
        switch self {
        case let .missingFolder(path, layout): return "\(path): missing folder (expected layout: \(layout))"
        case let .missingFile(path, layout): return "\(path): missing file (expected layout: \(layout))"
        case let .malformed(path, reason): return "\(path): \(reason)"
        case let .unknownSequence(name, dataset): return "sequence '\(name)' is not in \(dataset)"
        }
    }
}
