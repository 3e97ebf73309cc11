import Foundation

// Reverse-mode automatic differentiation over `Tensor`.
//
// Why a tape: every differentiable op appends one entry (its output, its inputs and a closure mapping the
// output's gradient to the inputs' gradients) to the tape while the forward pass runs. Entries are appended
// only after their inputs exist, so the recording order is already a topological order of the graph; the
// backward pass is a single reverse walk over the entries, with no graph search and no recursion (deep
// networks cannot overflow the stack). A node used by several ops simply receives several contributions,
// which are summed into its `grad` before its own entry is reached.
//
// Ownership: the tape owns its entries, and entries hold their output and input `Variable`s strongly (the
// backward closures need the saved values). A `Variable` refers back to its tape weakly, so there is no
// retain cycle: dropping the tape frees the whole graph of that step, and `backward` clears the entries too.
// Parameters are long-lived leaf `Variable`s that are `watch`ed by each step's tape; their `grad` accumulates
// across `backward` calls until `zeroGrad`. Forward values are captured by value (copy-on-write tensors) when an
// op is recorded, so an optimiser updating `value` in place cannot corrupt a pending backward pass.
//
// Typical step: `let tape = GradientTape(); tape.watch(params); let loss = …; opt.zeroGrad(params);
// tape.backward(loss); Variable.clipGradientNorm(params, maxNorm: m); opt.step(params)`.
//
// Thread-safety: none by design. A tape and the variables recorded on it belong to one training loop on one
// thread (the tensor kernels underneath still spread their work over cores with `Parallel`). Use one tape per
// loop and per step.

/// Records differentiable operations on `Variable`s and runs reverse-mode differentiation from a scalar.
public final class GradientTape {
    /// One recorded op: `backward` maps the output gradient to one gradient per input (nil = no gradient).
    struct Entry {
        let output: Variable
        let inputs: [Variable]
        let backward: (Tensor) -> [Tensor?]
    }

    private(set) var entries: [Entry] = []
    private var pausedDepth = 0

    /// An empty tape.
    public init() {}

    /// Number of recorded ops (for tests and diagnostics).
    public var recordedCount: Int { entries.count }

    /// True while inside `noGrad`: ops compute values but are not recorded.
    public var isRecording: Bool { pausedDepth == 0 }

    /// A new leaf variable bound to this tape.
    public func variable(_ value: Tensor, requiresGrad: Bool = true) -> Variable {
        let v = Variable(value, requiresGrad: requiresGrad)
        v.tape = self
        return v
    }

    /// Binds existing leaf variables (typically parameters that live across steps) to this tape.
    public func watch(_ variables: [Variable]) {
        for v in variables {
            precondition(v.isLeaf, "GradientTape.watch: only leaf variables can be watched")
            v.tape = self
        }
    }

    /// Runs `body` without recording (values only; results do not require gradients), as torch.no_grad.
    public func noGrad<R>(_ body: () throws -> R) rethrows -> R {
        pausedDepth += 1
        defer { pausedDepth -= 1 }
        return try body()
    }

    /// Appends an op whose output value is `value`; returns the output variable, which requires a gradient
    /// only when some input does and the tape is recording.
    func record(_ value: Tensor, inputs: [Variable], backward: @escaping (Tensor) -> [Tensor?]) -> Variable {
        let out = Variable(value, requiresGrad: false)
        out.tape = self
        guard isRecording, inputs.contains(where: \.requiresGrad) else { return out }
        out.requiresGrad = true
        out.isLeaf = false
        entries.append(Entry(output: out, inputs: inputs, backward: backward))
        return out
    }

    /// Back-propagates from a scalar `loss` (d loss / d loss = 1): accumulates into `grad` of every leaf that
    /// requires one. Gradients of intermediate variables are released once consumed. The tape is cleared
    /// afterwards (record a new forward pass before calling again).
    public func backward(_ loss: Variable) {
        precondition(loss.value.count == 1, "backward: loss must be a scalar, got shape \(loss.value.shape)")
        // A loss that depends on no variable needing a gradient (everything frozen) has nothing to propagate.
        guard loss.requiresGrad else { return }
        precondition(loss.tape === self, "backward: loss was not recorded on this tape")
        loss.accumulate(Tensor(shape: loss.value.shape, repeating: 1))
        for entry in entries.reversed() {
            guard let g = entry.output.grad else { continue }
            if !entry.output.isLeaf { entry.output.grad = nil }
            let grads = entry.backward(g)
            precondition(grads.count == entry.inputs.count, "backward: op returned \(grads.count) gradients for \(entry.inputs.count) inputs")
            for (input, grad) in zip(entry.inputs, grads) where input.requiresGrad {
                guard let grad else { continue }
                precondition(grad.shape == input.value.shape,
                             "backward: gradient shape \(grad.shape) for input of shape \(input.value.shape)")
                input.accumulate(grad)
            }
        }
        entries.removeAll()
    }

    /// The single tape shared by `inputs` (those without one are constants); traps on a mix of tapes or on
    /// a variable that needs a gradient but was never bound to a tape (a programmer error).
    static func common(_ inputs: [Variable], _ op: String) -> GradientTape {
        var tape: GradientTape?
        for v in inputs {
            if let t = v.tape {
                precondition(tape == nil || tape === t, "\(op): variables from different tapes")
                tape = t
            } else {
                precondition(!v.requiresGrad, "\(op): a variable requiring a gradient is not bound to a tape (watch it first)")
            }
        }
        // Constants only: record on a throw-away tape so the op still returns a (non-differentiable) Variable.
        return tape ?? GradientTape()
    }
}
