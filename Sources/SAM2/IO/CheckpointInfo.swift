import Foundation

/// A one-screen summary of a checkpoint: container, tensor and parameter counts, dtypes and the inferred model.
public struct CheckpointInfo: Sendable {
    /// Container format.
    public let format: Checkpoint.Format
    /// Number of tensors.
    public let tensorCount: Int
    /// Sum of all tensors' element counts.
    public let parameterCount: Int
    /// Tensors per stored dtype.
    public let dtypeCounts: [String: Int]
    /// The official config the shapes match, or unknown.
    public let config: InferredModelConfig
    /// The architecture a checkpoint written by the trainer records (nil for official checkpoints).
    public let architecture: SAM2Architecture?

    /// Summarises `checkpoint` from its index alone (no tensor data is read).
    public init(_ checkpoint: Checkpoint) {
        format = checkpoint.format
        tensorCount = checkpoint.count
        parameterCount = checkpoint.parameterCount
        var counts: [String: Int] = [:]
        for key in checkpoint.keys { if let e = checkpoint.entry(key) { counts[e.dtype.description, default: 0] += 1 } }
        dtypeCounts = counts
        config = InferredModelConfig.infer(checkpoint)
        architecture = try? SAM2Architecture.recorded(in: checkpoint)
    }

    /// Opens `path` and summarises it.
    public static func load(_ path: String) throws -> CheckpointInfo { CheckpointInfo(try Checkpoint.open(path)) }

    /// `key: value` lines as the `info` command prints them.
    public var lines: [String] {
        ["format: \(format.rawValue)",
         "tensors: \(tensorCount)",
         "parameters: \(parameterCount)",
         "dtypes: " + dtypeCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "),
         "config: \(config.name)"] + (architecture.map { ["architecture (recorded by the trainer): \($0.json)"] } ?? [])
    }
}
