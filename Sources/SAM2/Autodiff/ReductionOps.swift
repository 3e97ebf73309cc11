import Foundation

extension Variable {
    /// Sum over `axes` (all axes when nil, giving a scalar); the gradient is broadcast back.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let x = value
        let resolved = Set((axes ?? Array(0..<x.rank)).map { x.axis($0) })
        precondition(resolved.allSatisfy { $0 >= 0 && $0 < x.rank }, "sum: axes \(axes ?? []) out of range for \(x.shape)")
        var y = x
        for d in resolved.sorted(by: >) { y = y.sum(axis: d, keepDims: true) }
        let keptShape = y.shape
        if !keepDims { y = y.reshaped(x.shape.enumerated().filter { !resolved.contains($0.offset) }.map(\.element)) }
        return GradientTape.common([self], "sum").record(y, inputs: [self]) { g in
            [g.reshaped(keptShape).expanded(to: x.shape)]
        }
    }

    /// Mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let x = value
        let n = (axes ?? Array(0..<x.rank)).reduce(1) { $0 * x.shape[x.axis($1)] }
        return sum(axes: axes, keepDims: keepDims) / Float(n)
    }
}
