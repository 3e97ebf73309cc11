import Foundation

/// Bad arguments to `SAM2Transforms`.
public enum SAM2TransformsError: Error, CustomStringConvertible, Equatable {
    /// An argument has the wrong shape; names the argument and what was expected.
    case badShape(argument: String, expected: String, got: [Int])
    /// Absolute coordinates need the original image size.
    case missingOriginalSize(argument: String)

    public var description: String {
        switch self {
        case let .badShape(argument, expected, got):
            return "SAM2Transforms: \(argument) must be \(expected), got shape \(got)"
        case let .missingOriginalSize(argument):
            return "SAM2Transforms: \(argument) are absolute (normalize: true) but origHW was not given"
        }
    }
}

/// The official `SAM2Transforms` (sam2/utils/transforms.py): image → S×S input, prompt coordinates → input
/// frame, low-resolution mask logits → original size with optional hole / sprinkle removal.
public struct SAM2Transforms: Sendable {
    /// Model input side S (1024 for the released models).
    public var resolution: Int
    /// Logit threshold that binarises masks.
    public var maskThreshold: Double
    /// Background components of at most this area are filled (0 disables).
    public var maxHoleArea: Double
    /// Foreground components of at most this area are removed (0 disables).
    public var maxSprinkleArea: Double
    /// ImageNet channel means (torchvision `Normalize`).
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet channel standard deviations.
    public static let std: [Float] = [0.229, 0.224, 0.225]

    /// Same arguments as the official constructor.
    public init(resolution: Int = 1024, maskThreshold: Double = 0, maxHoleArea: Double = 0, maxSprinkleArea: Double = 0) {
        precondition(resolution > 0, "SAM2Transforms: resolution must be positive, got \(resolution)")
        self.resolution = resolution
        self.maskThreshold = maskThreshold
        self.maxHoleArea = maxHoleArea
        self.maxSprinkleArea = maxSprinkleArea
    }

    /// `ToTensor` → `Resize((S, S))` (bilinear, antialias) → `Normalize`: an 8-bit image (gray/alpha converted
    /// to RGB as PIL does) to a [3, S, S] model input.
    public func callAsFunction(_ image: Image8) -> Tensor {
        transform(Self.toTensor(image.rgb))
    }

    /// The same on a float [3, H, W] image with values in 0…1.
    public func callAsFunction(_ image: Tensor) throws -> Tensor {
        guard image.rank == 3, image.shape[0] == 3, image.shape[1] > 0, image.shape[2] > 0 else {
            throw SAM2TransformsError.badShape(argument: "image", expected: "[3, H, W]", got: image.shape)
        }
        return transform(image)
    }

    /// `forward_batch`: several images stacked into [N, 3, S, S].
    public func forwardBatch(_ images: [Image8]) -> Tensor {
        let s = resolution, plane = 3 * s * s
        let outs = images.map { callAsFunction($0) }
        return Tensor(shape: [images.count, 3, s, s]) { buf in
            for (k, t) in outs.enumerated() {
                t.withUnsafeBufferPointer { src in
                    for i in 0..<plane { buf[k * plane + i] = src[i] }
                }
            }
        }
    }

    /// torchvision `to_tensor` of a uint8 HWC image: CHW floats x / 255 (a division, as torchvision does,
    /// not a multiplication by 1/255, which rounds differently for some values).
    static func toTensor(_ image: Image8) -> Tensor {
        let (h, w, c) = (image.height, image.width, image.channels)
        let plane = h * w
        return image.pixels.withUnsafeBufferPointer { src in
            Tensor(shape: [c, h, w]) { dst in
                // src holds plane·c interleaved samples, dst c planes of `plane` floats.
                let (s, d) = (src, dst)
                Parallel.forChunks(plane, grain: 1 << 15) { range in
                    for ch in 0..<c {
                        for p in range { d[ch * plane + p] = Float(s[p * c + ch]) / 255 }
                    }
                }
            }
        }
    }

    private func transform(_ image: Tensor) -> Tensor {
        let (h, w) = (image.shape[1], image.shape[2])
        var x = image.reshaped([1, 3, h, w]).interpolate(size: (resolution, resolution), mode: .bilinear,
                                                           alignCorners: false, antialias: true)
        let plane = resolution * resolution
        x.withUnsafeMutableBufferPointer { buf in
            // buf holds 3 planes of resolution² floats.
            let b = buf
            Parallel.forChunks(3 * plane, grain: 1 << 15) { range in
                for i in range {
                    let ch = i / plane
                    b[i] = (b[i] - Self.mean[ch]) / Self.std[ch]
                }
            }
        }
        return x.reshaped([3, resolution, resolution])
    }

    /// `transform_coords`: points [..., 2] as (x, y) → model input frame. With `normalize`, the points are
    /// absolute pixels of an image of size `origHW` (h, w) and are first divided by (w, h); then × S.
    public func transformCoords(_ coords: Tensor, normalize: Bool = false, origHW: (Int, Int)? = nil) throws -> Tensor {
        guard coords.rank >= 1, coords.shape[coords.rank - 1] == 2 else {
            throw SAM2TransformsError.badShape(argument: "coords", expected: "[..., 2]", got: coords.shape)
        }
        var scale = (Float(1), Float(1))
        if normalize {
            guard let (h, w) = origHW else { throw SAM2TransformsError.missingOriginalSize(argument: "coords") }
            scale = (Float(w), Float(h))
        }
        let s = Float(resolution)
        var out = coords
        for i in 0..<(coords.count / 2) {
            if normalize {
                out.data[2 * i] = out.data[2 * i] / scale.0
                out.data[2 * i + 1] = out.data[2 * i + 1] / scale.1
            }
            out.data[2 * i] *= s
            out.data[2 * i + 1] *= s
        }
        return out
    }

    /// `transform_boxes`: boxes [..., 4] as (x0, y0, x1, y1) → corner points [B, 2, 2] in the input frame.
    public func transformBoxes(_ boxes: Tensor, normalize: Bool = false, origHW: (Int, Int)? = nil) throws -> Tensor {
        guard boxes.rank >= 1, boxes.shape[boxes.rank - 1] == 4 else {
            throw SAM2TransformsError.badShape(argument: "boxes", expected: "[..., 4]", got: boxes.shape)
        }
        return try transformCoords(boxes.reshaped([-1, 2, 2]), normalize: normalize, origHW: origHW)
    }

    /// `postprocess_masks`: low-resolution logits [B, C, h, w] → [B, C, H, W] at `origHW` (bilinear,
    /// align_corners false). First, when enabled, background components (logit ≤ threshold) of area ≤
    /// `maxHoleArea` are set to threshold + 10 and foreground components (logit > threshold) of area ≤
    /// `maxSprinkleArea` to threshold − 10, both found (8-connected) on the input logits. The official code
    /// does this with a CUDA kernel and silently skips it without one; we always do it. No clamping here: the
    /// image predictor clamps only the low-resolution logits it returns, to ±32.
    public func postprocessMasks(_ masks: Tensor, origHW: (Int, Int)) -> Tensor {
        precondition(masks.rank == 4, "postprocessMasks: needs [B, C, h, w], got \(masks.shape)")
        precondition(origHW.0 > 0 && origHW.1 > 0, "postprocessMasks: bad output size \(origHW)")
        var out = masks
        if maxHoleArea > 0 || maxSprinkleArea > 0 {
            out = Self.fillComponents(masks, threshold: maskThreshold, maxHoleArea: maxHoleArea,
                                      maxSprinkleArea: maxSprinkleArea)
        }
        return out.interpolate(size: origHW, mode: .bilinear, alignCorners: false)
    }

    /// The hole / sprinkle step of `postprocess_masks` on any [..., h, w] logits, without resizing.
    public static func fillComponents(_ masks: Tensor, threshold: Double, maxHoleArea: Double,
                                      maxSprinkleArea: Double, holeValue: Float? = nil,
                                      sprinkleValue: Float? = nil) -> Tensor {
        precondition(masks.rank >= 2, "fillComponents: needs [..., h, w], got \(masks.shape)")
        let (h, w) = (masks.shape[masks.rank - 2], masks.shape[masks.rank - 1])
        let plane = h * w, n = plane == 0 ? 0 : masks.count / plane
        // PyTorch compares float32 logits with a Python float in float32, but computes threshold ± 10 in double.
        let t = Float(threshold)
        let fillHole = holeValue ?? Float(threshold + 10), fillSprinkle = sprinkleValue ?? Float(threshold - 10)
        var out = masks
        let src = masks
        out.withUnsafeMutableBufferPointer { dst in
            src.withUnsafeBufferPointer { s in
                // Both buffers hold n planes of h·w logits; each worker touches only its own plane.
                let (d, s) = (dst, s)
                Parallel.forEach(n) { k in
                    let base = k * plane
                    if maxHoleArea > 0 {
                        let cc = ConnectedComponents(height: h, width: w) { s[base + $0] <= t }
                        for i in 0..<plane where cc.labels[i] > 0 && Double(cc.areas[Int(cc.labels[i])]) <= maxHoleArea {
                            d[base + i] = fillHole
                        }
                    }
                    if maxSprinkleArea > 0 {
                        let cc = ConnectedComponents(height: h, width: w) { s[base + $0] > t }
                        for i in 0..<plane where cc.labels[i] > 0 && Double(cc.areas[Int(cc.labels[i])]) <= maxSprinkleArea {
                            d[base + i] = fillSprinkle
                        }
                    }
                }
            }
        }
        return out
    }

    /// `fill_holes_in_mask_scores` (sam2/utils/misc.py, used by the video predictor): background (logit ≤ 0)
    /// components of area ≤ `maxArea` get the small positive score 0.1.
    public static func fillHolesInMaskScores(_ mask: Tensor, maxArea: Double) -> Tensor {
        precondition(maxArea > 0, "fillHolesInMaskScores: maxArea must be positive")
        return fillComponents(mask, threshold: 0, maxHoleArea: maxArea, maxSprinkleArea: 0, holeValue: 0.1)
    }
}
