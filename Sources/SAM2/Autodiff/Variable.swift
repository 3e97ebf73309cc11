import Foundation

/// A node of the autodiff graph: a tensor value, its accumulated gradient and whether it needs one.
/// Reference type so the tape and every op that uses it see the same gradient slot.
public final class Variable {
    /// The forward value (parameters are updated in place by optimisers).
    public var value: Tensor
    /// Accumulated d loss / d value (nil until a backward pass reaches it); same shape as `value`.
    public var grad: Tensor?
    /// Whether gradients flow to (and are kept for) this variable.
    public internal(set) var requiresGrad: Bool
    /// True for variables created directly (parameters, inputs), false for op outputs.
    public internal(set) var isLeaf = true
    /// The tape ops on this variable record to (weak: the tape owns the graph, see GradientTape.swift).
    weak var tape: GradientTape?

    /// A leaf variable not yet bound to a tape (bind with `GradientTape.watch` before differentiating).
    public init(_ value: Tensor, requiresGrad: Bool = true) {
        self.value = value
        self.requiresGrad = requiresGrad
    }

    /// A constant (no gradient) leaf.
    public static func constant(_ value: Tensor) -> Variable { Variable(value, requiresGrad: false) }

    /// Shape of the value.
    public var shape: [Int] { value.shape }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }

    /// Adds `g` to the gradient (gradient accumulation for nodes used more than once).
    func accumulate(_ g: Tensor) {
        if grad == nil { grad = g } else { grad! += g }
    }
}
