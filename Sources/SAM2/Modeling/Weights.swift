/// A view of a checkpoint's state dict under a key prefix, from which a module reads its parameters.
/// Shapes are checked on read, so a checkpoint that does not fit the config fails with the key's name.
public struct Weights: Sendable {
    /// The checkpoint the tensors come from.
    public let checkpoint: Checkpoint
    /// Dotted key prefix (without the trailing dot), e.g. "image_encoder.trunk".
    public let prefix: String

    /// Weights of the whole state dict (empty prefix).
    public init(_ checkpoint: Checkpoint, prefix: String = "") {
        self.checkpoint = checkpoint
        self.prefix = prefix
    }

    /// The full key for a parameter name under this prefix.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// The sub-view for a child module, e.g. `weights.scoped("blocks.3")`.
    public func scoped(_ child: String) -> Weights { Weights(checkpoint, prefix: key(child)) }

    /// Whether the state dict holds `name` under this prefix (for optional parameters).
    public func contains(_ name: String) -> Bool { checkpoint.contains(key(name)) }

    /// Reads a parameter, checking its shape when `shape` is given.
    public func callAsFunction(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        if let shape { return try checkpoint.tensor(named: key(name), expectShape: shape) }
        return try checkpoint.tensor(named: key(name))
    }

    /// Reads a parameter if present (optional biases, version-specific embeddings).
    public func optional(_ name: String, shape: [Int]? = nil) throws -> Tensor? {
        contains(name) ? try self(name, shape: shape) : nil
    }
}
