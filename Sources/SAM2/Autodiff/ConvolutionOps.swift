import Foundation

// Convolution gradients are themselves convolutions, so they reuse the forward kernels:
//  - conv2d's input gradient is a transposed convolution of the output gradient with the same weight;
//  - a weight gradient is a convolution of the input (channels and batch swapped) with the output gradient
//    (likewise swapped) in which stride and dilation trade places; it is cropped to the kernel size.
// Depthwise convolutions (groups == C == O) get single grouped calls instead: the weight gradient is one
// grouped conv over the input viewed as [1, C·N, H, W], and at stride 1 the input gradient is a depthwise conv of
// the output gradient with the spatially flipped kernel. Other grouped convolutions (and strided depthwise input
// gradients) are handled one group at a time, as convTranspose2d has no groups.
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
            let depthwise = groups == c && o == c && cg == 1
            let flippedPadding = (dilation.0 * (kh - 1) - padding.0, dilation.1 * (kw - 1) - padding.1)
            if requiresGrad && depthwise && stride == (1, 1) && flippedPadding.0 >= 0 && flippedPadding.1 >= 0 {
                grads[0] = g.conv2d(weight: Variable.spatiallyFlipped(w), padding: flippedPadding, dilation: dilation, groups: c)
            } else if requiresGrad {
                // Output padding recovers the input rows/columns the strided forward never reached.
                let outPad = (x.shape[2] + 2 * padding.0 - dilation.0 * (kh - 1) - 1 - (g.shape[2] - 1) * stride.0,
                              x.shape[3] + 2 * padding.1 - dilation.1 * (kw - 1) - 1 - (g.shape[3] - 1) * stride.1)
                let parts = (0..<groups).map { i in
                    group(g, 1, og, i).convTranspose2d(weight: group(w, 0, og, i), stride: stride, padding: padding,
                                                      outputPadding: outPad, dilation: dilation)
                }
                grads[0] = groups == 1 ? parts[0] : Tensor.concat(parts, axis: 1)
            }
            if weight.requiresGrad && depthwise {
                let n = x.shape[0]
                let xs = x.permuted([1, 0, 2, 3]).reshaped([1, c * n, x.shape[2], x.shape[3]])
                let r = xs.conv2d(weight: g.permuted([1, 0, 2, 3]), stride: dilation, padding: padding, dilation: stride, groups: c)
                grads[1] = r.slice(axis: 2, start: 0, end: kh).slice(axis: 3, start: 0, end: kw).reshaped([c, 1, kh, kw])
            } else if weight.requiresGrad {
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

    /// The kernel rotated by 180° in its spatial dimensions (correlation ↔ convolution).
    private static func spatiallyFlipped(_ w: Tensor) -> Tensor {
        let (kh, kw) = (w.shape[2], w.shape[3])
        var out = w
        let planes = w.shape[0] * w.shape[1]
        for p in 0..<planes {
            for i in 0..<kh { for j in 0..<kw { out.data[(p * kh + i) * kw + j] = w.data[(p * kh + kh - 1 - i) * kw + kw - 1 - j] } }
        }
        return out
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
