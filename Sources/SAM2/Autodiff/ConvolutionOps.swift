import Foundation

// Convolution gradients are themselves convolutions, so they reuse the forward kernels:
//  - conv2d's input gradient is a transposed convolution of the output gradient with the same weight;
//  - a weight gradient is a convolution of the input (channels and batch swapped) with the output gradient
//    (likewise swapped) in which stride and dilation trade places; it is cropped to the kernel size.
// Grouped convolutions are handled one group at a time (convTranspose2d has no groups); for depthwise convs that
// is one small call per channel, correct but not fast.
extension Variable {
    /// PyTorch `F.conv2d`: input [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] → [N, O, Ho, Wo].
    public func conv2d(weight: Variable, bias: Variable? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Variable {
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        let tape = GradientTape.common(inputs, "conv2d")
        let x = value, w = weight.value
        let y = x.conv2d(weight: w, bias: bias?.value, stride: stride, padding: padding, dilation: dilation, groups: groups)
        return tape.record(y, inputs: inputs) { [requiresGrad] g in
            let c = x.shape[1], o = w.shape[0], cg = c / groups, og = o / groups
            let (kh, kw) = (w.shape[2], w.shape[3])
            func group(_ t: Tensor, _ axis: Int, _ size: Int, _ i: Int) -> Tensor {
                groups == 1 ? t : t.slice(axis: axis, start: i * size, end: (i + 1) * size)
            }
            var grads: [Tensor?] = [nil, nil]
            if requiresGrad {
                // Output padding recovers the input rows/columns the strided forward never reached.
                let outPad = (x.shape[2] + 2 * padding.0 - dilation.0 * (kh - 1) - 1 - (g.shape[2] - 1) * stride.0,
                              x.shape[3] + 2 * padding.1 - dilation.1 * (kw - 1) - 1 - (g.shape[3] - 1) * stride.1)
                let parts = (0..<groups).map { i in
                    group(g, 1, og, i).convTranspose2d(weight: group(w, 0, og, i), stride: stride, padding: padding,
                                                      outputPadding: outPad, dilation: dilation)
                }
                grads[0] = groups == 1 ? parts[0] : Tensor.concat(parts, axis: 1)
            }
            if weight.requiresGrad {
                let parts = (0..<groups).map { i in
                    Variable.convolutionWeightGradient(input: group(x, 1, cg, i), outputGradient: group(g, 1, og, i),
                                                       kernel: (kh, kw), stride: stride, padding: padding, dilation: dilation)
                }
                grads[1] = groups == 1 ? parts[0] : Tensor.concat(parts, axis: 0)
            }
            if bias != nil { grads.append(g.sum(axis: 3).sum(axis: 2).sum(axis: 0)) }
            return grads
        }
    }

    /// PyTorch `F.conv_transpose2d` (groups 1): input [N, Cin, H, W], weight [Cin, Cout, kh, kw], bias [Cout].
    public func convTranspose2d(weight: Variable, bias: Variable? = nil, stride: (Int, Int) = (1, 1),
                                padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0),
                                dilation: (Int, Int) = (1, 1)) -> Variable {
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        let tape = GradientTape.common(inputs, "convTranspose2d")
        let x = value, w = weight.value
        let y = x.convTranspose2d(weight: w, bias: bias?.value, stride: stride, padding: padding,
                                  outputPadding: outputPadding, dilation: dilation)
        return tape.record(y, inputs: inputs) { [requiresGrad] g in
            var grads: [Tensor?] = [nil, nil]
            // The adjoint of a transposed convolution is the plain convolution with the same weight.
            if requiresGrad { grads[0] = g.conv2d(weight: w, stride: stride, padding: padding, dilation: dilation) }
            if weight.requiresGrad {
                grads[1] = Variable.convolutionWeightGradient(input: g, outputGradient: x, kernel: (w.shape[2], w.shape[3]),
                                                              stride: stride, padding: padding, dilation: dilation)
            }
            if bias != nil { grads.append(g.sum(axis: 3).sum(axis: 2).sum(axis: 0)) }
            return grads
        }
    }

    /// d loss / d weight [O, C, kh, kw] of a groups-1 convolution of `input` [N, C, H, W] whose output gradient
    /// is `outputGradient` [N, O, Ho, Wo]: conv2d(inputᵀ [C, N, H, W], outputGradientᵀ [O, N, Ho, Wo]) with
    /// stride ↔ dilation swapped gives [C, O, ≥kh, ≥kw], cropped and transposed.
    static func convolutionWeightGradient(input: Tensor, outputGradient: Tensor, kernel: (Int, Int), stride: (Int, Int),
                                          padding: (Int, Int), dilation: (Int, Int)) -> Tensor {
        let xt = input.permuted([1, 0, 2, 3]), gt = outputGradient.permuted([1, 0, 2, 3])
        let r = xt.conv2d(weight: gt, stride: dilation, padding: padding, dilation: stride)
        return r.slice(axis: 2, start: 0, end: kernel.0).slice(axis: 3, start: 0, end: kernel.1).permuted([1, 0, 2, 3])
    }
}
