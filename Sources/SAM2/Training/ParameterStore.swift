import Foundation

/// The trainable state of a SAM 2 model: one long-lived `Variable` per state-dict key (official names), so the
/// differentiable modules (Trainable*.swift) and the inference modules read the same weights — a store exports to a
/// state dict that `SAM2VideoModel` loads, and loads from any checkpoint the inference side reads.
///
/// Reference type: every trainable module built from a store holds the store's variables, so an optimiser step on
/// `variables` is seen by all of them. Not thread-safe (one training loop owns it).
public final class ParameterStore {
    /// Variables by state-dict key.
    public private(set) var variables: [String: Variable] = [:]
    /// Keys in insertion order (the checkpoint's order when loaded from one).
    public private(set) var keys: [String] = []
    /// Where the initial values came from (for error messages).
    public let source: String

    /// An empty store (fill with `add`).
    public init(source: String = "memory") { self.source = source }

    /// Every tensor of `checkpoint` as a trainable variable.
    public convenience init(checkpoint: Checkpoint) throws {
        self.init(source: checkpoint.path)
        for key in checkpoint.keys { add(key, try checkpoint.tensor(named: key)) }
    }

    /// Adds (or replaces) the variable for `key`.
    public func add(_ key: String, _ value: Tensor, requiresGrad: Bool = true) {
        if variables[key] == nil { keys.append(key) }
        variables[key] = Variable(value, requiresGrad: requiresGrad)
    }

    /// Whether the store holds `key`.
    public func contains(_ key: String) -> Bool { variables[key] != nil }

    /// The variable for `key`, its shape checked when `shape` is given (typed error naming the key otherwise).
    public func variable(_ key: String, shape: [Int]? = nil) throws -> Variable {
        guard let v = variables[key] else { throw CheckpointError.missingKey(path: source, key: key) }
        if let shape, v.shape != shape {
            throw CheckpointError.shapeMismatch(path: source, key: key, expected: shape, got: v.shape)
        }
        return v
    }

    /// The view of the parameters under a key prefix, e.g. `store.scope("image_encoder.trunk")`.
    public func scope(_ prefix: String = "") -> ParameterScope { ParameterScope(store: self, prefix: prefix) }

    /// Variables whose key starts with one of `prefixes` (all when empty), in key order.
    public func parameters(matching prefixes: [String] = []) -> [(key: String, variable: Variable)] {
        keys.filter { k in prefixes.isEmpty || prefixes.contains { k.hasPrefix($0) } }.map { ($0, variables[$0]!) }
    }

    /// Marks the variables under `prefixes` as frozen (no gradient, not updated) or trainable.
    public func setTrainable(_ trainable: Bool, prefixes: [String]) {
        guard !prefixes.isEmpty else { return }
        for (_, v) in parameters(matching: prefixes) { v.requiresGrad = trainable }
    }

    /// The variables that currently require a gradient.
    public var trainable: [Variable] { keys.compactMap { variables[$0] }.filter(\.requiresGrad) }

    /// Total element count of all variables.
    public var parameterCount: Int { variables.values.reduce(0) { $0 + $1.value.count } }

    /// Current values as a state dict (what `SafeTensors.write` and the inference modules take).
    public var stateDict: [String: Tensor] { variables.mapValues(\.value) }
}

/// A key-prefix view of a `ParameterStore`, the trainable counterpart of `Weights`.
public struct ParameterScope {
    /// The store read from.
    public let store: ParameterStore
    /// Dotted key prefix without the trailing dot ("" = whole state dict).
    public let prefix: String

    /// The full key for a parameter name under this prefix.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// The sub-view for a child module, e.g. `scope.scoped("blocks.3")`.
    public func scoped(_ child: String) -> ParameterScope { ParameterScope(store: store, prefix: key(child)) }

    /// Whether the store holds `name` under this prefix (optional parameters).
    public func contains(_ name: String) -> Bool { store.contains(key(name)) }

    /// The variable for a parameter, its shape checked when `shape` is given.
    public func callAsFunction(_ name: String, shape: [Int]? = nil) throws -> Variable {
        try store.variable(key(name), shape: shape)
    }

    /// The variable if present (optional biases, version-specific embeddings).
    public func optional(_ name: String, shape: [Int]? = nil) throws -> Variable? {
        contains(name) ? try self(name, shape: shape) : nil
    }
}
