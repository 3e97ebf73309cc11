import Foundation

// Axial RoPE as a differentiable op. A rotation by angle θ on each (re, im) channel pair is orthogonal, so its
// vector-Jacobian product is the rotation by −θ: the backward pass rotates the output gradient with the conjugate
// table (same kernel, sines negated). Tokens past `tokens` (object-pointer keys) pass through untouched, so their
// gradient passes through untouched too.
extension AxialRotaryTable {
    /// The table of the inverse rotations (cos, −sin): rotating by it undoes a rotation by `self`.
    public var conjugate: AxialRotaryTable {
        var data = freqsCis.data
        var i = 1
        while i < data.count { data[i] = -data[i]; i += 2 }
        return AxialRotaryTable(dim: dim, length: length, freqsCis: Tensor(shape: freqsCis.shape, data: data))
    }
}

extension Variable {
    /// Official `apply_rotary_enc` on one packed [B, L, H·dim] tensor: tokens 0..<`tokens` of every batch item
    /// rotated by `table` (token t uses row t mod table.length, i.e. the table tiled as `repeat_freqs_k`), every head
    /// alike; the rest unchanged. `inverse` is the conjugate table (pass it to avoid recomputing it per call).
    public func rotaryEncoded(_ table: AxialRotaryTable, heads: Int, tokens: Int,
                              inverse: AxialRotaryTable? = nil) -> Variable {
        let tape = GradientTape.common([self], "rotaryEncoded")
        var y = value
        table.rotate(&y, heads: heads, tokens: tokens)
        return tape.record(y, inputs: [self]) { g in
            var dx = g
            (inverse ?? table.conjugate).rotate(&dx, heads: heads, tokens: tokens)
            return [dx]
        }
    }
}
