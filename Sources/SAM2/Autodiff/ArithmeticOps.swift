import Foundation

// Broadcasting arithmetic on variables (torch semantics); the gradient of a broadcast operand is summed over
// the dimensions it was broadcast along.
extension Variable {
    /// Elementwise sum with broadcasting.
    public static func + (a: Variable, b: Variable) -> Variable {
        let tape = GradientTape.common([a, b], "add")
        let sa = a.shape, sb = b.shape
        return tape.record(a.value + b.value, inputs: [a, b]) { g in [g.summed(toShape: sa), g.summed(toShape: sb)] }
    }

    /// Elementwise difference with broadcasting.
    public static func - (a: Variable, b: Variable) -> Variable {
        let tape = GradientTape.common([a, b], "sub")
        let sa = a.shape, sb = b.shape
        return tape.record(a.value - b.value, inputs: [a, b]) { g in [g.summed(toShape: sa), g.neg().summed(toShape: sb)] }
    }

    /// Elementwise product with broadcasting.
    public static func * (a: Variable, b: Variable) -> Variable {
        let tape = GradientTape.common([a, b], "mul")
        let va = a.value, vb = b.value
        return tape.record(va * vb, inputs: [a, b]) { g in
            [a.requiresGrad ? (g * vb).summed(toShape: va.shape) : nil,
             b.requiresGrad ? (g * va).summed(toShape: vb.shape) : nil]
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (a: Variable, b: Variable) -> Variable {
        let tape = GradientTape.common([a, b], "div")
        let va = a.value, vb = b.value
        return tape.record(va / vb, inputs: [a, b]) { g in
            [a.requiresGrad ? (g / vb).summed(toShape: va.shape) : nil,
             // d(a/b)/db = −a/b² = −(a/b)/b
             b.requiresGrad ? (g * (va / vb) / vb).neg().summed(toShape: vb.shape) : nil]
        }
    }

    /// −x.
    public func neg() -> Variable {
        GradientTape.common([self], "neg").record(value.neg(), inputs: [self]) { g in [g.neg()] }
    }

    /// x + s.
    public static func + (a: Variable, s: Float) -> Variable {
        GradientTape.common([a], "add").record(a.value + s, inputs: [a]) { g in [g] }
    }
    /// s + x.
    public static func + (s: Float, a: Variable) -> Variable { a + s }
    /// x − s.
    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }
    /// s − x.
    public static func - (s: Float, a: Variable) -> Variable {
        GradientTape.common([a], "sub").record(s - a.value, inputs: [a]) { g in [g.neg()] }
    }
    /// x·s.
    public static func * (a: Variable, s: Float) -> Variable {
        GradientTape.common([a], "mul").record(a.value * s, inputs: [a]) { g in [g * s] }
    }
    /// s·x.
    public static func * (s: Float, a: Variable) -> Variable { a * s }
    /// x / s.
    public static func / (a: Variable, s: Float) -> Variable {
        GradientTape.common([a], "div").record(a.value / s, inputs: [a]) { g in [g / s] }
    }
    /// s / x.
    public static func / (s: Float, a: Variable) -> Variable {
        let y = s / a.value
        // d(s/x)/dx = −s/x² = −y²/s, written as −y/x to stay finite for s = 0.
        let x = a.value
        return GradientTape.common([a], "div").record(y, inputs: [a]) { g in [(g * y / x).neg()] }
    }
}
