import Foundation

/// Options of `SAM2AutomaticMaskGenerator`, with the official defaults.
public struct AutomaticMaskGeneratorOptions: Sendable, Codable, Equatable {
    /// Points sampled along one side of the image (grid points_per_side²); nil when `pointGrids` is given.
    public var pointsPerSide: Int? = 32
    /// Points run through the model at once.
    public var pointsPerBatch: Int = 64
    /// Keep masks whose predicted IoU is above this.
    public var predIoUThresh: Double = 0.8
    /// Keep masks whose stability score is at least this.
    public var stabilityScoreThresh: Double = 0.95
    /// Logit offset for the stability score.
    public var stabilityScoreOffset: Double = 1.0
    /// Logit threshold for binarising masks.
    public var maskThreshold: Double = 0.0
    /// Box IoU for non-maximum suppression within a crop.
    public var boxNMSThresh: Double = 0.7
    /// Extra layers of image crops (0 = whole image only).
    public var cropNLayers: Int = 0
    /// Box IoU for suppression across crops.
    public var cropNMSThresh: Double = 0.7
    /// Overlap between neighbouring crops, as a fraction of the crop size.
    public var cropOverlapRatio: Double = 512.0 / 1500.0
    /// Each crop layer uses points_per_side / factor^layer points per side.
    public var cropNPointsDownscaleFactor: Int = 1
    /// Explicit normalised point grids, one per crop layer (instead of `pointsPerSide`).
    public var pointGrids: [[[Double]]]? = nil
    /// Holes and sprinkles up to this area are removed from the low-res logits (0 = off).
    public var minMaskRegionArea: Int = 0
    /// Refine each mask once by feeding its low-res logits back as a mask prompt.
    public var useM2M: Bool = false
    /// Three masks per point (best kept by the filters) instead of one.
    public var multimaskOutput: Bool = true

    /// The official defaults.
    public init() {}
}

/// One mask found by the automatic mask generator, as the official `generate` returns it.
public struct GeneratedMask: Sendable {
    /// Uncompressed column-major RLE of the mask at image size.
    public var rle: UncompressedRLE
    /// Foreground pixels.
    public var area: Int
    /// Box [x, y, w, h] around the mask (inclusive pixel extent as the official `batched_mask_to_box`).
    public var bbox: [Float]
    /// The model's IoU estimate.
    public var predictedIoU: Float
    /// IoU of the mask thresholded at ± the stability offset.
    public var stabilityScore: Float
    /// The prompt point in image pixels.
    public var pointCoords: [Float]
    /// The crop the mask came from, [x, y, w, h].
    public var cropBox: [Int]

    /// The mask as a 0/1 tensor [H, W].
    public func binaryMask() throws -> Tensor { try rle.decode() }
}

/// Errors of the automatic mask generator.
public enum AutomaticMaskGeneratorError: Error, CustomStringConvertible {
    case invalidOption(name: String, message: String)

    public var description: String {
        switch self {
        case let .invalidOption(name, message): return "automatic mask generator option \(name): \(message)"
        }
    }
}

/// `SAM2AutomaticMaskGenerator`: prompts the model with a grid of points over the image (and optional crops),
/// filters the masks by predicted IoU and stability, removes duplicates by box NMS, and returns the survivors.
public final class SAM2AutomaticMaskGenerator {
    /// The options in use.
    public let options: AutomaticMaskGeneratorOptions
    /// The image predictor doing the encoding and decoding (configured with the hole/sprinkle area).
    public let predictor: SAM2ImagePredictor
    private let pointGrids: [[SIMD2<Double>]]

    /// A generator over `model` with `options`; throws on inconsistent options.
    public init(model: SAM2Model, options: AutomaticMaskGeneratorOptions = .init()) throws {
        self.options = options
        guard (options.pointsPerSide == nil) != (options.pointGrids == nil) else {
            throw AutomaticMaskGeneratorError.invalidOption(
                name: "points_per_side", message: "exactly one of points_per_side or point_grids must be given")
        }
        guard options.pointsPerBatch > 0 else {
            throw AutomaticMaskGeneratorError.invalidOption(name: "points_per_batch", message: "must be positive")
        }
        guard options.cropNLayers >= 0, options.cropNPointsDownscaleFactor >= 1 else {
            throw AutomaticMaskGeneratorError.invalidOption(
                name: "crop_n_layers", message: "crop_n_layers must be ≥ 0 and crop_n_points_downscale_factor ≥ 1")
        }
        if let side = options.pointsPerSide {
            guard side > 0 else {
                throw AutomaticMaskGeneratorError.invalidOption(name: "points_per_side", message: "must be positive, got \(side)")
            }
            pointGrids = MaskGenerationUtilities.buildAllLayerPointGrids(
                nPerSide: side, nLayers: options.cropNLayers, scalePerLayer: options.cropNPointsDownscaleFactor)
        } else {
            let grids = options.pointGrids ?? []
            guard grids.count == options.cropNLayers + 1,
                  grids.allSatisfy({ $0.allSatisfy { $0.count == 2 } }) else {
                throw AutomaticMaskGeneratorError.invalidOption(
                    name: "point_grids", message: "expected \(options.cropNLayers + 1) grids of [x, y] points in 0…1")
            }
            pointGrids = grids.map { $0.map { SIMD2($0[0], $0[1]) } }
        }
        predictor = SAM2ImagePredictor(model: model, maskThreshold: 0,
                                       maxHoleArea: Double(options.minMaskRegionArea),
                                       maxSprinkleArea: Double(options.minMaskRegionArea))
    }

    /// Masks of an RGB image, in the official order (crop by crop, NMS order within a crop).
    public func generate(_ image: Image8, progress: ((Int, Int) -> Void)? = nil) throws -> [GeneratedMask] {
        let rgb = image.rgb
        let (origH, origW) = (rgb.height, rgb.width)
        let (cropBoxes, layerIdxs) = MaskGenerationUtilities.generateCropBoxes(
            imageSize: (origH, origW), nLayers: options.cropNLayers, overlapRatio: options.cropOverlapRatio)
        var all: [Candidate] = []
        let totalBatches = zip(cropBoxes, layerIdxs).reduce(0) { acc, pair in
            acc + (pointGrids[pair.1].count + options.pointsPerBatch - 1) / options.pointsPerBatch
        }
        var done = 0
        for (crop, layer) in zip(cropBoxes, layerIdxs) {
            all += try processCrop(rgb, crop: crop, layer: layer, origSize: (origH, origW)) {
                done += 1; progress?(done, totalBatches)
            }
        }
        if cropBoxes.count > 1 && !all.isEmpty {
            // Across crops prefer masks from smaller crops: score = 1 / crop area.
            let boxes = Tensor(shape: [all.count, 4], data: all.flatMap(\.box))
            let scores = all.map { 1 / Float($0.crop.area) }
            let keep = BoxOperations.batchedNMS(boxes, scores: scores, idxs: [Int](repeating: 0, count: all.count),
                                                iouThreshold: options.cropNMSThresh)
            all = keep.map { all[$0] }
        }
        return all.map { c in
            GeneratedMask(rle: c.rle, area: c.rle.area,
                          bbox: [c.box[0], c.box[1], c.box[2] - c.box[0], c.box[3] - c.box[1]],
                          predictedIoU: c.iou, stabilityScore: c.stability, pointCoords: c.point,
                          cropBox: c.crop.xywh)
        }
    }

    /// A mask that survived a crop's filters; box and point already in image coordinates.
    private struct Candidate {
        var rle: UncompressedRLE
        var box: [Float]
        var iou: Float
        var stability: Float
        var point: [Float]
        var crop: CropBox
    }

    private func processCrop(_ image: Image8, crop: CropBox, layer: Int, origSize: (Int, Int),
                             onBatch: () -> Void) throws -> [Candidate] {
        let cropped = image.cropped(x0: crop.x0, y0: crop.y0, x1: crop.x1, y1: crop.y1)
        let cropHW = (cropped.height, cropped.width)
        try predictor.setImage(cropped)
        defer { predictor.resetPredictor() }
        let points = MaskGenerationUtilities.scalePoints(pointGrids[layer], cropHW: cropHW)
        var kept: [Candidate] = []
        for range in MaskGenerationUtilities.batchRanges(batchSize: options.pointsPerBatch, count: points.shape[0]) {
            kept += try processBatch(points.slice(axis: 0, range), cropHW: cropHW, crop: crop, origSize: origSize)
            onBatch()
        }
        guard !kept.isEmpty else { return [] }
        let boxes = Tensor(shape: [kept.count, 4], data: kept.flatMap(\.box))
        let keep = BoxOperations.batchedNMS(boxes, scores: kept.map(\.iou), idxs: [Int](repeating: 0, count: kept.count),
                                            iouThreshold: options.boxNMSThresh)
        return keep.map { i in
            var c = kept[i]
            c.box = [c.box[0] + Float(crop.x0), c.box[1] + Float(crop.y0), c.box[2] + Float(crop.x0), c.box[3] + Float(crop.y0)]
            c.point = [c.point[0] + Float(crop.x0), c.point[1] + Float(crop.y0)]
            return c
        }
    }

    private func processBatch(_ points: Tensor, cropHW: (Int, Int), crop: CropBox,
                              origSize: (Int, Int)) throws -> [Candidate] {
        let n = points.shape[0]
        let inPoints = try predictor.transforms.transformCoords(points, normalize: true, origHW: cropHW)
        let labels = Tensor(shape: [n, 1], repeating: 1)
        // Low-res logits only: each candidate is brought to full size after the IoU filter, one at a time, so a
        // batch never holds every candidate at full resolution (64 points × 3 masks at 1800×1200 would be 1.7 GB).
        // Per-mask post-processing is the official batched one plane by plane, so results are identical.
        let out = try predictor.predictTransformed(pointCoords: inPoints.reshaped([n, 1, 2]), pointLabels: labels,
                                                   multimaskOutput: options.multimaskOutput, returnLogits: true,
                                                   upscale: false)
        let perPoint = out.masks.shape[1]
        let (lh, lw) = (out.masks.shape[2], out.masks.shape[3])
        var low = out.masks.reshaped([n * perPoint, 1, lh, lw])
        var ious = out.iouPredictions.data
        let pointIndex = (0..<(n * perPoint)).map { $0 / perPoint }

        if options.useM2M {
            // Refine each candidate with its own low-res logits as the mask prompt (single-mask output).
            let prompts = out.lowResMasks.reshaped([n * perPoint, 1, lh, lw])
            let allPoints = Tensor(shape: [n * perPoint, 1, 2], data: pointIndex.flatMap { [inPoints.data[2 * $0], inPoints.data[2 * $0 + 1]] })
            var refined: [Tensor] = [], refinedIoU: [Float] = []
            for r in MaskGenerationUtilities.batchRanges(batchSize: options.pointsPerBatch, count: n * perPoint) {
                let res = try predictor.predictTransformed(
                    pointCoords: allPoints.slice(axis: 0, r), pointLabels: Tensor(shape: [r.count, 1], repeating: 1),
                    maskInput: prompts.slice(axis: 0, r), multimaskOutput: false, returnLogits: true, upscale: false)
                refined.append(res.masks.reshaped([r.count, 1, lh, lw]))
                refinedIoU += res.iouPredictions.data
            }
            low = Tensor.concat(refined, axis: 0)
            ious = refinedIoU
        }

        // Filter by predicted IoU (no full-size mask needed), then bring each survivor to full size and filter it
        // by stability, binarise, box, drop it if its box touches the crop's inner edges, uncrop and encode it.
        var keep = Array(0..<ious.count)
        if options.predIoUThresh > 0 { keep = keep.filter { Double(ious[$0]) > options.predIoUThresh } }
        let threshold = Float(options.maskThreshold)
        let origBox = CropBox(0, 0, origSize.1, origSize.0)
        var candidates: [Candidate] = []
        for i in keep {
            var mask = predictor.transforms.postprocessMasks(low.slice(axis: 0, i..<(i + 1)), origHW: cropHW)
            let stability = MaskGenerationUtilities.calculateStabilityScore(
                mask, maskThreshold: options.maskThreshold, thresholdOffset: options.stabilityScoreOffset).data[0]
            if options.stabilityScoreThresh > 0 && !(Double(stability) >= options.stabilityScoreThresh) { continue }
            mask.withUnsafeMutableBufferPointer { buf in
                // Binarise in place (the logits are not needed again); each worker owns a disjoint chunk.
                let b = buf
                Parallel.forChunks(b.count, grain: 1 << 16) { r in for j in r { b[j] = b[j] > threshold ? 1 : 0 } }
            }
            let binary = mask.reshaped([1, cropHW.0, cropHW.1])
            let box = MaskGenerationUtilities.batchedMaskToBox(binary)
            if MaskGenerationUtilities.isBoxNearCropEdge(box, cropBox: crop, origBox: origBox)[0] { continue }
            let full = crop == origBox ? binary
                : MaskGenerationUtilities.uncropMasks(binary, cropBox: crop, origH: origSize.0, origW: origSize.1)
            let p = pointIndex[i]
            candidates.append(Candidate(rle: UncompressedRLE.encode(full)[0], box: box.data, iou: ious[i],
                                        stability: stability, point: [points.data[2 * p], points.data[2 * p + 1]],
                                        crop: crop))
        }
        return candidates
    }
}
