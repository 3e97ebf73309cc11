/// Bad prompt tensors given to a prompt encoder (shapes that the official code would reject or mis-read).
public enum PromptEncoderError: Error, CustomStringConvertible, Equatable {
    /// `argument` has shape `got`, where `expected` describes the accepted shapes.
    case shapeMismatch(argument: String, expected: String, got: [Int])

    public var description: String {
        switch self {
        case let .shapeMismatch(argument, expected, got):
            return "PromptEncoder: \(argument) has shape \(got), expected \(expected)"
        }
    }
}

/// Embeds point, box and mask prompts for a mask decoder (the predictors depend on this, not on the official type).
public protocol PromptEncoding: Sendable {
    /// Channels of the embeddings.
    var embedDim: Int { get }
    /// Size of the image embedding the dense outputs match.
    var imageEmbeddingSize: (height: Int, width: Int) { get }
    /// Size of the model's input image, the space prompt coordinates are given in.
    var inputImageSize: (height: Int, width: Int) { get }
    /// Size mask prompts must have (4× the image embedding).
    var maskInputSize: (height: Int, width: Int) { get }

    /// Embeds prompts: points (coords [B, N, 2] in input-image pixels, labels [B, N]), boxes [B, 4]
    /// (x0, y0, x1, y1) and masks [B, 1, maskH, maskW] (logits), each optional. Returns sparse [B, N', C]
    /// and dense [B, C, h, w] embeddings.
    func callAsFunction(points: (coords: Tensor, labels: Tensor)?, boxes: Tensor?, masks: Tensor?) throws
        -> (sparse: Tensor, dense: Tensor)

    /// `get_dense_pe()`: the positional encoding of the image embedding grid, [1, C, h, w].
    func getDensePE() -> Tensor
}

/// SAM 2's official `PromptEncoder` (sam2/modeling/sam/prompt_encoder.py).
public struct PromptEncoder: PromptEncoding {
    public let embedDim: Int
    public let imageEmbeddingSize: (height: Int, width: Int)
    public let inputImageSize: (height: Int, width: Int)
    /// `pe_layer`, with embedDim/2 frequencies.
    public let peLayer: PositionEmbeddingRandom
    /// `point_embeddings.{0…3}.weight`, each [1, C]: negative click, positive click, box top-left, box bottom-right.
    public var pointEmbeddings: [Tensor]
    /// `not_a_point_embed.weight` [1, C], for padding points (label −1).
    public var notAPointEmbed: Tensor
    /// `no_mask_embed.weight` [1, C], the dense embedding when no mask is given.
    public var noMaskEmbed: Tensor
    /// `mask_downscaling` layers 0, 1, 3, 4, 6 (GELU at 2 and 5).
    public var maskDownscaling: (conv0: Conv2d, norm1: LayerNorm2d, conv3: Conv2d, norm4: LayerNorm2d, conv6: Conv2d)
    /// `get_dense_pe()` computed once: it depends only on the weights, and the predictors ask for it every call.
    private let densePE: Tensor

    public var maskInputSize: (height: Int, width: Int) {
        (4 * imageEmbeddingSize.height, 4 * imageEmbeddingSize.width)
    }

    /// Reads the official parameters under `w` (e.g. `sam_prompt_encoder`); SAM 2 builds it with
    /// `embedDim` = hidden dim, `imageEmbeddingSize` = image_size/16, `inputImageSize` = image_size, `maskInChans` 16.
    public init(_ w: Weights, embedDim: Int, imageEmbeddingSize: (height: Int, width: Int),
                inputImageSize: (height: Int, width: Int), maskInChans: Int = 16) throws {
        self.embedDim = embedDim
        self.imageEmbeddingSize = imageEmbeddingSize
        self.inputImageSize = inputImageSize
        peLayer = try PositionEmbeddingRandom(w.scoped("pe_layer"), numPosFeats: embedDim / 2)
        pointEmbeddings = try (0..<4).map { try w("point_embeddings.\($0).weight", shape: [1, embedDim]) }
        notAPointEmbed = try w("not_a_point_embed.weight", shape: [1, embedDim])
        noMaskEmbed = try w("no_mask_embed.weight", shape: [1, embedDim])
        let md = w.scoped("mask_downscaling")
        maskDownscaling = (
            conv0: try Conv2d(md.scoped("0"), inChannels: 1, outChannels: maskInChans / 4, kernelSize: 2, stride: 2),
            norm1: try LayerNorm2d(md.scoped("1"), channels: maskInChans / 4),
            conv3: try Conv2d(md.scoped("3"), inChannels: maskInChans / 4, outChannels: maskInChans, kernelSize: 2, stride: 2),
            norm4: try LayerNorm2d(md.scoped("4"), channels: maskInChans),
            conv6: try Conv2d(md.scoped("6"), inChannels: maskInChans, outChannels: embedDim, kernelSize: 1))
        densePE = peLayer(size: imageEmbeddingSize).unsqueezed(axis: 0)
    }

    public func getDensePE() -> Tensor { densePE }

    public func callAsFunction(points: (coords: Tensor, labels: Tensor)?, boxes: Tensor?, masks: Tensor?) throws
        -> (sparse: Tensor, dense: Tensor) {
        let bs = try Self.batchSize(points: points, boxes: boxes, masks: masks, maskInputSize: maskInputSize)
        var parts: [Tensor] = []
        if let points { parts.append(embedPoints(points.coords, labels: points.labels, pad: boxes == nil)) }
        if let boxes { parts.append(embedBoxes(boxes)) }
        let sparse = parts.isEmpty ? Tensor.zeros([bs, 0, embedDim]) : Tensor.concat(parts, axis: 1)
        let dense: Tensor
        if let masks {
            dense = embedMasks(masks)
        } else {
            dense = noMaskEmbed.reshaped([1, embedDim, 1, 1])
                .expanded(to: [bs, embedDim, imageEmbeddingSize.height, imageEmbeddingSize.width])
        }
        return (sparse, dense)
    }

    /// `_get_batch_size`, after checking the shapes the official code relies on.
    /// (Shared with the trainable prompt encoder, which takes the same prompts.)
    static func batchSize(points: (coords: Tensor, labels: Tensor)?, boxes: Tensor?, masks: Tensor?,
                          maskInputSize: (height: Int, width: Int)) throws -> Int {
        var bs: Int?
        if let points {
            let (coords, labels) = (points.coords, points.labels)
            guard coords.rank == 3, coords.shape[2] == 2 else {
                throw PromptEncoderError.shapeMismatch(argument: "point coords", expected: "[B, N, 2]", got: coords.shape)
            }
            guard labels.shape == [coords.shape[0], coords.shape[1]] else {
                throw PromptEncoderError.shapeMismatch(argument: "point labels",
                                                       expected: "[\(coords.shape[0]), \(coords.shape[1])] (as the coords)",
                                                       got: labels.shape)
            }
            bs = coords.shape[0]
        }
        if let boxes {
            // The official code reads any tensor as corner pairs (reshape(-1, 2, 2)): one box per batch item.
            let expected = bs.map { "[\($0), 4]" } ?? "[B, 4]"
            guard boxes.rank >= 1, boxes.shape.last == 4, boxes.count / 4 == (bs ?? boxes.shape[0]) else {
                throw PromptEncoderError.shapeMismatch(argument: "boxes", expected: expected, got: boxes.shape)
            }
            bs = bs ?? boxes.shape[0]
        }
        if let masks {
            let (mh, mw) = maskInputSize
            guard masks.rank == 4, masks.shape[1] == 1, masks.shape[2] == mh, masks.shape[3] == mw else {
                throw PromptEncoderError.shapeMismatch(argument: "masks", expected: "[B, 1, \(mh), \(mw)]", got: masks.shape)
            }
            bs = bs ?? masks.shape[0]
        }
        return bs ?? 1
    }

    /// The points `_embed_points` encodes: +0.5 pixel shift and, with `pad`, a padding point (0, 0) labelled −1
    /// per item (shared with the trainable prompt encoder).
    static func shiftedPoints(_ coords: Tensor, labels: Tensor, pad: Bool) -> (points: Tensor, labels: Tensor) {
        var points = coords + 0.5
        var labels = labels
        if pad {
            let b = points.shape[0]
            points = Tensor.concat([points, Tensor.zeros([b, 1, 2])], axis: 1)
            labels = Tensor.concat([labels, Tensor(shape: [b, 1], repeating: -1)], axis: 1)
        }
        return (points, labels)
    }

    /// `_embed_points`: +0.5 pixel shift, optional padding point (label −1), positional encoding, then per label:
    /// −1 → not_a_point_embed alone, 0…3 → PE + point_embeddings[label], any other label → bare PE.
    private func embedPoints(_ coords: Tensor, labels: Tensor, pad: Bool) -> Tensor {
        let (points, labels) = Self.shiftedPoints(coords, labels: labels, pad: pad)
        var embedding = peLayer.forwardWithCoords(points, imageSize: inputImageSize)
        let c = embedDim
        embedding.withUnsafeMutableBufferPointer { e in
            labels.withUnsafeBufferPointer { l in
                for p in 0..<l.count {
                    let row = p * c
                    if l[p] == -1 {
                        notAPointEmbed.withUnsafeBufferPointer { na in
                            for j in 0..<c { e[row + j] = na[j] }
                        }
                    } else if l[p] >= 0 && l[p] <= 3 && l[p].rounded() == l[p] {
                        pointEmbeddings[Int(l[p])].withUnsafeBufferPointer { pe in
                            for j in 0..<c { e[row + j] += pe[j] }
                        }
                    }
                }
            }
        }
        return embedding
    }

    /// `_embed_boxes`: the two corners (+0.5 shift) encoded as points, plus point_embeddings[2] / [3].
    private func embedBoxes(_ boxes: Tensor) -> Tensor {
        let corners = (boxes + 0.5).reshaped([-1, 2, 2])
        let pe = peLayer.forwardWithCoords(corners, imageSize: inputImageSize)
        let cornerEmbed = Tensor.concat([pointEmbeddings[2], pointEmbeddings[3]], axis: 0).unsqueezed(axis: 0)
        return pe + cornerEmbed
    }

    /// `_embed_masks`: conv 2×2/2 → LayerNorm2d → GELU → conv 2×2/2 → LayerNorm2d → GELU → conv 1×1.
    private func embedMasks(_ masks: Tensor) -> Tensor {
        let m = maskDownscaling
        var x = m.norm1(m.conv0(masks)).gelu()
        x = m.norm4(m.conv3(x)).gelu()
        return m.conv6(x)
    }
}
