import Foundation

/// Errors of the image predictor; they name the argument at fault and what was expected.
public enum ImagePredictorError: Error, CustomStringConvertible, Equatable {
    case noImageSet
    case badPrompt(argument: String, expected: String, got: String)

    public var description: String {
        switch self {
        case .noImageSet: return "an image must be set with setImage(_:) before mask prediction"
        case let .badPrompt(argument, expected, got): return "\(argument): expected \(expected), got \(got)"
        }
    }
}

/// Masks predicted for one or more prompt sets.
public struct ImagePrediction: Sendable {
    /// Masks at image size [B, C, H, W]: logits with `returnLogits`, else 0/1 (logit > mask threshold).
    public var masks: Tensor
    /// Predicted IoU per mask [B, C].
    public var iouPredictions: Tensor
    /// Low-resolution logits [B, C, 4h, 4w] clamped to ±32 (feed back as `maskInput`).
    public var lowResMasks: Tensor
    /// Object-score logits [B, 1] (> 0: the object is visible).
    public var objectScoreLogits: Tensor
}

/// `SAM2ImagePredictor`: embeds an image once, then predicts masks for any number of prompt sets.
public final class SAM2ImagePredictor {
    /// The model.
    public let model: SAM2Model
    /// Preprocessing and mask postprocessing (resize, normalise, coordinates, hole filling).
    public let transforms: SAM2Transforms
    /// Logit threshold for binary masks.
    public let maskThreshold: Float
    /// The current image's features; nil until `setImage`.
    public private(set) var features: ImageFeatures?
    /// The current image's (height, width).
    public private(set) var originalSize: (height: Int, width: Int)?

    /// A predictor over `model`; holes / sprinkles up to the given areas are removed from the masks.
    public init(model: SAM2Model, maskThreshold: Double = 0, maxHoleArea: Double = 0, maxSprinkleArea: Double = 0) {
        self.model = model
        self.maskThreshold = Float(maskThreshold)
        transforms = SAM2Transforms(resolution: model.config.imageSize, maskThreshold: maskThreshold,
                                    maxHoleArea: maxHoleArea, maxSprinkleArea: maxSprinkleArea)
    }

    /// Computes the image embedding (any size; resized to the model's square input without keeping aspect).
    public func setImage(_ image: Image8) throws {
        resetPredictor()
        guard image.width > 0, image.height > 0 else {
            throw ImagePredictorError.badPrompt(argument: "image", expected: "a non-empty image", got: "\(image.width)×\(image.height)")
        }
        let input = transforms(image).unsqueezed(axis: 0)
        features = try model.forwardImage(input)
        originalSize = (image.height, image.width)
    }

    /// Forgets the current image.
    public func resetPredictor() {
        features = nil
        originalSize = nil
    }

    /// The official `predict`: points [N, 2] or [B, N, 2] (x, y) with labels [N] or [B, N] (1 positive,
    /// 0 negative), a box [4] or [B, 4] (x0, y0, x1, y1), a low-res mask input [1, 4h, 4w] or [B, 1, 4h, 4w].
    /// Coordinates are pixels of the image, or in 0…1 when `normalizeCoords` is false.
    public func predict(pointCoords: Tensor? = nil, pointLabels: Tensor? = nil, box: Tensor? = nil,
                        maskInput: Tensor? = nil, multimaskOutput: Bool = true, returnLogits: Bool = false,
                        normalizeCoords: Bool = true) throws -> ImagePrediction {
        guard let size = originalSize else { throw ImagePredictorError.noImageSet }
        var coords: Tensor? = nil, labels: Tensor? = nil, boxes: Tensor? = nil, mask: Tensor? = nil
        if let pointCoords {
            guard let pointLabels else {
                throw ImagePredictorError.badPrompt(argument: "point_labels", expected: "labels for the given points", got: "none")
            }
            guard (pointCoords.rank == 2 || pointCoords.rank == 3), pointCoords.shape.last == 2 else {
                throw ImagePredictorError.badPrompt(argument: "point_coords", expected: "[N, 2] or [B, N, 2]", got: "\(pointCoords.shape)")
            }
            let c = pointCoords.rank == 2 ? pointCoords.unsqueezed(axis: 0) : pointCoords
            let l = pointLabels.rank == 1 ? pointLabels.unsqueezed(axis: 0) : pointLabels
            guard l.shape == Array(c.shape.dropLast()) else {
                throw ImagePredictorError.badPrompt(argument: "point_labels", expected: "\(Array(c.shape.dropLast()))", got: "\(pointLabels.shape)")
            }
            coords = try transforms.transformCoords(c, normalize: normalizeCoords, origHW: size)
            labels = l
        } else if pointLabels != nil {
            throw ImagePredictorError.badPrompt(argument: "point_coords", expected: "points for the given labels", got: "none")
        }
        if let box {
            guard box.shape.last == 4, box.rank <= 2 else {
                throw ImagePredictorError.badPrompt(argument: "box", expected: "[4] or [B, 4]", got: "\(box.shape)")
            }
            boxes = try transforms.transformBoxes(box, normalize: normalizeCoords, origHW: size)
        }
        if let maskInput { mask = maskInput.rank == 3 ? maskInput.unsqueezed(axis: 0) : maskInput }
        return try predictTransformed(pointCoords: coords, pointLabels: labels, boxes: boxes, maskInput: mask,
                                      multimaskOutput: multimaskOutput, returnLogits: returnLogits)
    }

    /// The official `_predict`: prompts already in the model's input frame (points [B, N, 2], labels [B, N],
    /// boxes as corners [B, 2, 2] or [B, 4], mask input [B, 1, 4h, 4w]). With `upscale` false, `masks` are the
    /// unclamped low-res logits, for callers that post-process only the masks they keep (the mask generator).
    public func predictTransformed(pointCoords: Tensor?, pointLabels: Tensor?, boxes: Tensor? = nil,
                                   maskInput: Tensor? = nil, multimaskOutput: Bool = true,
                                   returnLogits: Bool = false, upscale: Bool = true) throws -> ImagePrediction {
        guard let features, let size = originalSize else { throw ImagePredictorError.noImageSet }
        var points: (coords: Tensor, labels: Tensor)? = nil
        if let pointCoords, let pointLabels { points = (pointCoords, pointLabels) }
        if let boxes {
            // A box enters as two corner points with labels 2 and 3, before the clicks.
            let corners = boxes.reshaped([-1, 2, 2])
            let b = corners.shape[0]
            let boxLabels = Tensor(shape: [b, 2], data: (0..<b).flatMap { _ in [Float(2), 3] })
            if let p = points {
                guard p.coords.shape[0] == b else {
                    throw ImagePredictorError.badPrompt(argument: "box", expected: "\(p.coords.shape[0]) boxes (one per point set)", got: "\(b)")
                }
                points = (Tensor.concat([corners, p.coords], axis: 1), Tensor.concat([boxLabels, p.labels], axis: 1))
            } else {
                points = (corners, boxLabels)
            }
        }
        if let maskInput {
            let m = model.promptEncoder.maskInputSize
            guard maskInput.rank == 4, maskInput.shape[1] == 1, maskInput.shape[2] == m.height, maskInput.shape[3] == m.width else {
                throw ImagePredictorError.badPrompt(argument: "mask_input", expected: "[B, 1, \(m.height), \(m.width)] low-res logits", got: "\(maskInput.shape)")
            }
        }
        let (sparse, dense) = try model.promptEncoder(points: points, boxes: nil, masks: maskInput)
        let batched = (points?.coords.shape[0] ?? 1) > 1
        let out = try model.maskDecoder(imageEmbeddings: features.imageEmbed, imagePE: model.promptEncoder.getDensePE(),
                                        sparsePromptEmbeddings: sparse, densePromptEmbeddings: dense,
                                        multimaskOutput: multimaskOutput, repeatImage: batched,
                                        highResFeatures: features.highResFeatures.isEmpty ? nil : features.highResFeatures)
        guard upscale else {
            return ImagePrediction(masks: out.masks, iouPredictions: out.iouPred, lowResMasks: out.masks.clamp(min: -32, max: 32),
                                   objectScoreLogits: out.objectScoreLogits)
        }
        var masks = transforms.postprocessMasks(out.masks, origHW: (size.height, size.width))
        if !returnLogits {
            let t = maskThreshold
            masks = masks.map { $0 > t ? 1 : 0 }
        }
        return ImagePrediction(masks: masks, iouPredictions: out.iouPred, lowResMasks: out.masks.clamp(min: -32, max: 32),
                               objectScoreLogits: out.objectScoreLogits)
    }
}
