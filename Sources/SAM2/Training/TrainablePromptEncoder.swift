import Foundation

/// Differentiable SAM 2 `PromptEncoder` (sam2/modeling/sam/prompt_encoder.py) over the same parameters as
/// `PromptEncoder`. Point and box coordinates are inputs, not differentiated: their Fourier encoding is a
/// constant (the gaussian matrix is a buffer); gradients reach the label embeddings, `no_mask_embed` and the
/// mask-downscaling convolutions (and a mask prompt given as a Variable).
public struct TrainablePromptEncoder {
    /// Channels of the embeddings.
    public let embedDim: Int
    /// Size of the image embedding the dense outputs match.
    public let imageEmbeddingSize: (height: Int, width: Int)
    /// Size of the input image, the space prompt coordinates are given in.
    public let inputImageSize: (height: Int, width: Int)
    /// `pe_layer` (its gaussian matrix copied as a constant).
    let peLayer: PositionEmbeddingRandom
    /// [not_a_point_embed; point_embeddings.0…3] as rows of one table, gathered by a one-hot product.
    let pointEmbeddings: [Variable]
    let notAPointEmbed: Variable
    let noMaskEmbed: Variable
    let conv0: SAMHeadsLayers.Conv2d, norm1: SAMHeadsLayers.LayerNorm2d
    let conv3: SAMHeadsLayers.Conv2d, norm4: SAMHeadsLayers.LayerNorm2d
    let conv6: SAMHeadsLayers.Conv2d
    private let densePE: Tensor

    /// Size mask prompts must have (4× the image embedding).
    public var maskInputSize: (height: Int, width: Int) {
        (4 * imageEmbeddingSize.height, 4 * imageEmbeddingSize.width)
    }

    /// Reads the official parameters under `parameters` (`store.scope("sam_prompt_encoder")`).
    public init(parameters: ParameterScope, embedDim: Int, imageEmbeddingSize: (height: Int, width: Int),
                inputImageSize: (height: Int, width: Int), maskInChans: Int = 16) throws {
        let p = parameters
        self.embedDim = embedDim
        self.imageEmbeddingSize = imageEmbeddingSize
        self.inputImageSize = inputImageSize
        let gaussian = try p("pe_layer.positional_encoding_gaussian_matrix", shape: [2, embedDim / 2]).value
        peLayer = PositionEmbeddingRandom(positionalEncodingGaussianMatrix: gaussian)
        pointEmbeddings = try (0..<4).map { try p("point_embeddings.\($0).weight", shape: [1, embedDim]) }
        notAPointEmbed = try p("not_a_point_embed.weight", shape: [1, embedDim])
        noMaskEmbed = try p("no_mask_embed.weight", shape: [1, embedDim])
        let md = p.scoped("mask_downscaling")
        conv0 = try .init(md.scoped("0"), inChannels: 1, outChannels: maskInChans / 4, kernelSize: 2, stride: 2)
        norm1 = try .init(md.scoped("1"), channels: maskInChans / 4)
        conv3 = try .init(md.scoped("3"), inChannels: maskInChans / 4, outChannels: maskInChans, kernelSize: 2, stride: 2)
        norm4 = try .init(md.scoped("4"), channels: maskInChans)
        conv6 = try .init(md.scoped("6"), inChannels: maskInChans, outChannels: embedDim, kernelSize: 1)
        densePE = peLayer(size: imageEmbeddingSize).unsqueezed(axis: 0)
    }

    /// `get_dense_pe`: [1, C, h, w] (a constant: the gaussian matrix is a buffer, never trained).
    public func denseEmbeddingPE() -> Tensor { densePE }

    /// points: coords [B, N, 2] in input pixels, labels [B, N] (−1 pad, 0 neg, 1 pos, 2/3 box corners);
    /// boxes [B, 4]; masks [B, 1, 4h, 4w]. Returns sparse [B, N', C] and dense [B, C, h, w].
    public func callAsFunction(points: (coords: Tensor, labels: Tensor)?, boxes: Tensor?, masks: Variable?) throws
        -> (sparse: Variable, dense: Variable) {
        let bs = try PromptEncoder.batchSize(points: points, boxes: boxes, masks: masks?.value, maskInputSize: maskInputSize)
        var parts: [Variable] = []
        if let points { parts.append(embedPoints(points.coords, labels: points.labels, pad: boxes == nil)) }
        if let boxes { parts.append(embedBoxes(boxes)) }
        let sparse = parts.isEmpty ? Variable.constant(Tensor.zeros([bs, 0, embedDim]))
            : parts.count == 1 ? parts[0] : Variable.concat(parts, axis: 1)
        let dense: Variable
        if let masks {
            var x = norm1(conv0(masks)).gelu()
            x = norm4(conv3(x)).gelu()
            dense = conv6(x)
        } else {
            dense = noMaskEmbed.reshaped([1, embedDim, 1, 1])
                .expanded(to: [bs, embedDim, imageEmbeddingSize.height, imageEmbeddingSize.width])
        }
        return (sparse, dense)
    }

    /// `_embed_points`: +0.5 shift, optional padding point (label −1), PE zeroed for label −1, then the label's
    /// embedding added — gathered for all points at once as onehot [B·N, 5] × [not_a_point; point_embeddings] [5, C].
    private func embedPoints(_ coords: Tensor, labels: Tensor, pad: Bool) -> Variable {
        let (points, labels) = PromptEncoder.shiftedPoints(coords, labels: labels, pad: pad)
        let (b, n, c) = (points.shape[0], points.shape[1], embedDim)
        var pe = peLayer.forwardWithCoords(points, imageSize: inputImageSize)
        var onehot = Tensor.zeros([b * n, 5])
        pe.withUnsafeMutableBufferPointer { e in
            onehot.withUnsafeMutableBufferPointer { o in
                labels.withUnsafeBufferPointer { l in
                    for i in 0..<l.count {
                        if l[i] == -1 {
                            for j in 0..<c { e[i * c + j] = 0 }
                            o[i * 5] = 1
                        } else if l[i] >= 0 && l[i] <= 3 && l[i].rounded() == l[i] {
                            o[i * 5 + 1 + Int(l[i])] = 1
                        }
                    }
                }
            }
        }
        let table = Variable.concat([notAPointEmbed] + pointEmbeddings, axis: 0)                  // [5, C]
        return Variable.constant(pe) + Variable.constant(onehot).matmul(table).reshaped([b, n, c])
    }

    /// `_embed_boxes`: the two corners (+0.5 shift) encoded as points, plus point_embeddings[2] / [3].
    private func embedBoxes(_ boxes: Tensor) -> Variable {
        let corners = (boxes + 0.5).reshaped([-1, 2, 2])
        let pe = peLayer.forwardWithCoords(corners, imageSize: inputImageSize)
        let cornerEmbed = Variable.concat([pointEmbeddings[2], pointEmbeddings[3]], axis: 0).unsqueezed(axis: 0)
        return Variable.constant(pe) + cornerEmbed
    }
}
