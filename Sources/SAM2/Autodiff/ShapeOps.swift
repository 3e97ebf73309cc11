import Foundation

extension Variable {
    /// Same elements, new shape (one dimension may be −1).
    public func reshaped(_ newShape: [Int]) -> Variable {
        let old = shape
        return GradientTape.common([self], "reshape").record(value.reshaped(newShape), inputs: [self]) { g in [g.reshaped(old)] }
    }

    /// torch.permute; the gradient is permuted back by the inverse permutation.
    public func permuted(_ dims: [Int]) -> Variable {
        let p = dims.map { value.axis($0) }
        var inverse = [Int](repeating: 0, count: p.count)
        for (i, d) in p.enumerated() { inverse[d] = i }
        return GradientTape.common([self], "permute").record(value.permuted(dims), inputs: [self]) { g in [g.permuted(inverse)] }
    }

    /// x[..., start..<end] along `axis` (Python clamping, step 1); the gradient is zero-padded back.
    public func slice(axis: Int, start: Int = 0, end: Int? = nil) -> Variable {
        let ax = value.axis(axis)
        precondition(ax >= 0 && ax < value.rank, "slice: axis \(axis) out of range for \(shape)")
        let n = shape[ax]
        func clampIndex(_ i: Int) -> Int { Swift.min(Swift.max(i < 0 ? i + n : i, 0), n) }
        let lo = clampIndex(start), hi = Swift.max(clampIndex(end ?? n), lo)
        let rank = value.rank
        return GradientTape.common([self], "slice").record(value.slice(axis: ax, start: lo, end: hi), inputs: [self]) { g in
            var widths = [(before: Int, after: Int)](repeating: (0, 0), count: rank)
            widths[ax] = (lo, n - hi)
            return [g.padded(widths)]
        }
    }

    /// torch.cat along `axis`; each input gets its slice of the gradient.
    public static func concat(_ variables: [Variable], axis: Int) -> Variable {
        let tape = GradientTape.common(variables, "concat")
        let y = Tensor.concat(variables.map(\.value), axis: axis)
        let ax = y.axis(axis)
        let sizes = variables.map { $0.shape[ax] }
        return tape.record(y, inputs: variables) { g in g.split(sizes: sizes, axis: ax).map { Optional($0) } }
    }
}

extension Variable {
    /// Constant padding (`widths[d]` before/after dimension d); the gradient is the un-padded interior.
    public func padded(_ widths: [(before: Int, after: Int)], value fill: Float = 0) -> Variable {
        let s = shape
        return GradientTape.common([self], "pad").record(value.padded(widths, value: fill), inputs: [self]) { g in
            var r = g
            for (d, w) in widths.enumerated() where w.before > 0 || w.after > 0 {
                r = r.slice(axis: d, start: w.before, end: w.before + s[d])
            }
            return [r]
        }
    }

    /// x.select(axis, index): drops `axis`; the gradient is zero elsewhere.
    public func select(axis: Int, index: Int) -> Variable {
        let ax = value.axis(axis)
        var kept = shape
        kept.remove(at: ax)
        return slice(axis: ax, start: index, end: index + 1).reshaped(kept)
    }

    /// Inserts a dimension of size 1 at `axis`.
    public func unsqueezed(axis: Int) -> Variable {
        var s = shape
        s.insert(1, at: axis < 0 ? axis + s.count + 1 : axis)
        return reshaped(s)
    }

    /// torch.expand (materialised); the gradient is summed back over the broadcast dimensions.
    public func expanded(to target: [Int]) -> Variable {
        let s = shape
        return GradientTape.common([self], "expand").record(value.expanded(to: target), inputs: [self]) { g in [g.summed(toShape: s)] }
    }

    /// torch.repeat_interleave(times, dim); the gradient sums each group of repeats.
    public func repeatInterleaved(_ times: Int, axis: Int) -> Variable {
        let ax = value.axis(axis)
        var view = shape, target = shape, out = shape
        view.insert(1, at: ax + 1)
        target.insert(times, at: ax + 1)
        out[ax] *= times
        return reshaped(view).expanded(to: target).reshaped(out)
    }

    /// torch.stack: new axis `axis` over same-shaped variables.
    public static func stack(_ variables: [Variable], axis: Int) -> Variable {
        concat(variables.map { $0.unsqueezed(axis: axis) }, axis: axis)
    }
}
