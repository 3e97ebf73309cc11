import Foundation

/// A loaded state dict (from a PyTorch .pt zip or a .safetensors file): names, shapes and lazily read tensors.
///
/// Only the file's index is parsed when opening; tensor data stays in the memory-mapped file until
/// `tensor(named:)` converts one tensor to Float32, so opening costs about the index's size in memory.
public struct Checkpoint: Sendable {
    /// On-disk container of a checkpoint.
    public enum Format: String, Sendable {
        /// `torch.save` zip archive with a pickled object (official SAM 2 releases).
        case pytorch
        /// Hugging Face safetensors.
        case safetensors
    }

    /// The file this checkpoint was read from.
    public let path: String
    /// Container format.
    public let format: Format
    /// Tensor names in file order.
    public let keys: [String]
    /// Non-tensor information: safetensors `__metadata__`, or top-level scalars of a .pt (e.g. "epoch").
    public let metadata: [String: String]
    private let entries: [String: TensorEntry]
    private let file: MappedFile

    /// Assembles a checkpoint from entries in `file`, validating that every entry's bytes lie inside it.
    public init(path: String, format: Format, file: MappedFile, entries: [TensorEntry], metadata: [String: String] = [:]) throws {
        var byName: [String: TensorEntry] = [:]
        var keys: [String] = []
        for e in entries {
            try e.validate(fileSize: file.count, path: path)
            if byName.updateValue(e, forKey: e.name) == nil { keys.append(e.name) }
        }
        self.path = path; self.format = format; self.file = file
        self.entries = byName; self.keys = keys; self.metadata = metadata
    }

    /// Opens `path`, choosing the reader by the file's first bytes (zip magic → PyTorch, JSON header → safetensors).
    public static func open(_ path: String) throws -> Checkpoint {
        let file = try MappedFile(path: path)
        let ext = (path as NSString).pathExtension.lowercased()
        if file.readUInt(offset: 0, size: 4) == 0x0403_4B50 { return try PyTorchCheckpoint.read(file) }
        if SafeTensors.looksLikeSafeTensors(file) || ext == "safetensors" { return try SafeTensors.read(file) }
        if ["pt", "pth", "ckpt", "bin"].contains(ext) {
            if file.readUInt(offset: 0, size: 2) == 0x0280 {
                throw CheckpointError.notZip(path: path, reason: "legacy (pre-1.6) torch.save format; re-save it with a current PyTorch")
            }
            let head = file.bytes(offset: 0, length: min(4, file.count)) ?? []
            throw CheckpointError.notZip(path: path, reason: "starts with \(head.map { String(format: "%02x", $0) }.joined(separator: " ")), not PK\\3\\4")
        }
        throw CheckpointError.unknownFormat(path: path, reason: "neither zip magic nor a safetensors JSON header at the start (\(file.count) bytes)")
    }

    /// Number of tensors.
    public var count: Int { keys.count }

    /// Dtype, shape and storage location of a tensor, without reading it.
    public func entry(_ name: String) -> TensorEntry? { entries[name] }

    /// True if the checkpoint has a tensor named `name`.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// Shapes of all tensors by name.
    public var shapes: [String: [Int]] { entries.mapValues { $0.shape } }

    /// Total number of elements over all tensors (the model's parameter and buffer count).
    public var parameterCount: Int { entries.values.reduce(0) { $0 + $1.count } }

    /// Reads one tensor as Float32 (any strides/offset resolved into a contiguous row-major tensor).
    public func tensor(named name: String) throws -> Tensor {
        guard let e = entries[name] else { throw CheckpointError.missingKey(path: path, key: name) }
        return try e.materialize(from: file)
    }

    /// Reads one tensor and checks its shape, so a wrong config fails with the key and both shapes.
    public func tensor(named name: String, expectShape: [Int]) throws -> Tensor {
        guard let e = entries[name] else { throw CheckpointError.missingKey(path: path, key: name) }
        guard e.shape == expectShape else { throw CheckpointError.shapeMismatch(path: path, key: name, expected: expectShape, got: e.shape) }
        return try e.materialize(from: file)
    }
}
