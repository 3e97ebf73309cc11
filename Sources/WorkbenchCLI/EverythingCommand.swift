import ArgumentParser
import Foundation
import SAM2

private let defaults = AutomaticMaskGeneratorOptions()

/// `workbench everything IMAGE --checkpoint CKPT --out DIR`: every mask of an image (automatic mask generator).
struct EverythingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "everything",
        abstract: "Segment everything: prompt a point grid and keep the good masks (SAM2AutomaticMaskGenerator).",
        discussion: """
        Writes into --out: masks.json (the official generate() records with output_mode "coco_rle": \
        segmentation {"size": [h, w], "counts": "…"}, area, bbox [x, y, w, h], predicted_iou, point_coords \
        [[x, y]], stability_score, crop_box [x, y, w, h]) and overlay.png (every mask coloured, largest first so \
        small ones stay visible). With --output-mode uncompressed_rle the segmentation is the official         uncompressed RLE {"size", "counts": [runs…]} (column-major); with binary_mask it is the file name of a         0/255 PNG under masks/. Defaults are the official ones. Progress over point batches goes to stderr.
        """
    )

    /// The official output modes of SAM2AutomaticMaskGenerator.
    enum OutputMode: String, ExpressibleByArgument, CaseIterable {
        case cocoRLE = "coco_rle", uncompressedRLE = "uncompressed_rle", binaryMask = "binary_mask"
    }

    @Option(name: .customLong("output-mode"), help: "Segmentation format in masks.json: coco_rle, uncompressed_rle or binary_mask.")
    var outputMode: OutputMode = .cocoRLE

    @Argument(help: "Image (PNG or JPEG).")
    var image: String

    @OptionGroup(title: "Model")
    var model: ModelOptions

    @Option(help: "Output directory (created if missing).")
    var out: String

    @Option(name: .customLong("points-per-side"), help: "Grid points along one side (points-per-side² prompts).")
    var pointsPerSide: Int = defaults.pointsPerSide ?? 32

    @Option(name: .customLong("points-per-batch"), help: "Points run through the decoder at once.")
    var pointsPerBatch: Int = defaults.pointsPerBatch

    @Option(name: .customLong("pred-iou-thresh"), help: "Keep masks whose predicted IoU is above this.")
    var predIoUThresh: Double = defaults.predIoUThresh

    @Option(name: .customLong("stability-score-thresh"), help: "Keep masks whose stability score is at least this.")
    var stabilityScoreThresh: Double = defaults.stabilityScoreThresh

    @Option(name: .customLong("stability-score-offset"), help: "Logit offset of the stability score.")
    var stabilityScoreOffset: Double = defaults.stabilityScoreOffset

    @Option(name: .customLong("box-nms-thresh"), help: "Box IoU for non-maximum suppression within a crop.")
    var boxNMSThresh: Double = defaults.boxNMSThresh

    @Option(name: .customLong("crop-n-layers"), help: "Extra layers of image crops (0: whole image only).")
    var cropNLayers: Int = defaults.cropNLayers

    @Option(name: .customLong("crop-nms-thresh"), help: "Box IoU for suppression across crops.")
    var cropNMSThresh: Double = defaults.cropNMSThresh

    @Option(name: .customLong("crop-overlap-ratio"), help: "Overlap of neighbouring crops, as a fraction of the crop size.")
    var cropOverlapRatio: Double = defaults.cropOverlapRatio

    @Option(name: .customLong("crop-n-points-downscale-factor"), help: "Crop layer i uses points-per-side / factor^i.")
    var cropNPointsDownscaleFactor: Int = defaults.cropNPointsDownscaleFactor

    @Option(name: .customLong("min-mask-region-area"), help: "Fill holes / remove islands up to this area in the low-res logits (0: off).")
    var minMaskRegionArea: Int = defaults.minMaskRegionArea

    @Flag(name: .customLong("use-m2m"), help: "Refine each mask once with its own low-res logits as the mask prompt.")
    var useM2M = false

    @Flag(name: .customLong("no-multimask"), help: "One mask per point instead of three.")
    var noMultimask = false

    var options: AutomaticMaskGeneratorOptions {
        var o = AutomaticMaskGeneratorOptions()
        o.pointsPerSide = pointsPerSide
        o.pointsPerBatch = pointsPerBatch
        o.predIoUThresh = predIoUThresh
        o.stabilityScoreThresh = stabilityScoreThresh
        o.stabilityScoreOffset = stabilityScoreOffset
        o.boxNMSThresh = boxNMSThresh
        o.cropNLayers = cropNLayers
        o.cropNMSThresh = cropNMSThresh
        o.cropOverlapRatio = cropOverlapRatio
        o.cropNPointsDownscaleFactor = cropNPointsDownscaleFactor
        o.minMaskRegionArea = minMaskRegionArea
        o.useM2M = useM2M
        o.multimaskOutput = !noMultimask
        return o
    }

    func validate() throws {
        if pointsPerSide < 1 { throw ValidationError("--points-per-side must be ≥ 1, got \(pointsPerSide)") }
        if pointsPerBatch < 1 { throw ValidationError("--points-per-batch must be ≥ 1, got \(pointsPerBatch)") }
        if cropNLayers < 0 { throw ValidationError("--crop-n-layers must be ≥ 0, got \(cropNLayers)") }
        if cropNPointsDownscaleFactor < 1 {
            throw ValidationError("--crop-n-points-downscale-factor must be ≥ 1, got \(cropNPointsDownscaleFactor)")
        }
        if minMaskRegionArea < 0 { throw ValidationError("--min-mask-region-area must be ≥ 0, got \(minMaskRegionArea)") }
        if !(0..<1).contains(cropOverlapRatio) {
            throw ValidationError("--crop-overlap-ratio must be in [0, 1), got \(cropOverlapRatio)")
        }
        for (name, v) in [("--pred-iou-thresh", predIoUThresh), ("--stability-score-thresh", stabilityScoreThresh),
                          ("--stability-score-offset", stabilityScoreOffset), ("--box-nms-thresh", boxNMSThresh),
                          ("--crop-nms-thresh", cropNMSThresh)] where !v.isFinite {
            throw ValidationError("\(name) must be a finite number, got \(v)")
        }
    }

    func run() throws {
        let start = CLI.now()
        let picture = CLI.orFail { try ImageIO.readRGB(image) }
        CLI.makeDirectory(out, argument: "--out")
        let sam = model.load()
        let tModel = CLI.now()
        let generator = CLI.orFail { try SAM2AutomaticMaskGenerator(model: sam, options: options) }

        let bar = ProgressBar(total: Self.batchCount(options, height: picture.height, width: picture.width),
                              label: "everything", unit: "batches")
        bar.update(0)
        let masks = CLI.orFail { try generator.generate(picture) { done, _ in bar.update(done) } }
        bar.finish()
        let tGenerate = CLI.now()

        switch outputMode {
        case .cocoRLE:
            CLI.writeJSON(masks.map { MaskRecord($0, segmentation: $0.rle.coco) }, to: CLI.join(out, "masks.json"))
        case .uncompressedRLE:
            CLI.writeJSON(masks.map { MaskRecord($0, segmentation: $0.rle) }, to: CLI.join(out, "masks.json"))
        case .binaryMask:
            let folder = CLI.join(out, "masks")
            CLI.makeDirectory(folder, argument: "--out")
            var records: [MaskRecord<String>] = []
            for (i, m) in masks.enumerated() {
                let name = String(format: "masks/%04d.png", i)
                CLI.orFail {
                    let bits = try m.binaryMask()
                    let png = try Image8(width: picture.width, height: picture.height, channels: 1,
                                         pixels: bits.data.map { $0 > 0 ? 255 : 0 })
                    try ImageIO.write(png, to: CLI.join(out, name))
                }
                records.append(MaskRecord(m, segmentation: name))
            }
            CLI.writeJSON(records, to: CLI.join(out, "masks.json"))
        }
        let overlay = Overlay.render(frame: picture, mask: Self.paint(masks, width: picture.width, height: picture.height))
        CLI.orFail { try ImageIO.write(overlay, to: CLI.join(out, "overlay.png")) }
        let end = CLI.now()

        print(String(format: "%d masks; load %.2f s, generate %.2f s, total %.2f s → %@",
                     masks.count, tModel - start, tGenerate - tModel, end - start, out))
    }

    /// All masks in one index image, largest first so smaller masks are painted over it and stay visible;
    /// ids cycle through the 255 palette colours. Painted from the RLE runs, so no mask is decoded.
    static func paint(_ masks: [GeneratedMask], width w: Int, height h: Int) -> IndexMask {
        var index = IndexMask(width: w, height: h)
        let order = masks.indices.sorted { masks[$0].area > masks[$1].area }
        for (rank, k) in order.enumerated() {
            let rle = masks[k].rle
            guard rle.size == [h, w] else { continue }
            let id = UInt8(rank % 255 + 1)
            var p = 0  // column-major position
            for (i, run) in rle.counts.enumerated() {
                let end = min(p + max(run, 0), w * h)
                if i % 2 == 1 && p < end {
                    for q in p..<end { index.indices[(q % h) * w + q / h] = id }
                }
                p = end
            }
        }
        return index
    }

    /// Point batches the generator will run (one per `pointsPerBatch` grid points, per crop), for the bar's ETA.
    static func batchCount(_ o: AutomaticMaskGeneratorOptions, height: Int, width: Int) -> Int {
        let grids = MaskGenerationUtilities.buildAllLayerPointGrids(
            nPerSide: o.pointsPerSide ?? 1, nLayers: o.cropNLayers, scalePerLayer: o.cropNPointsDownscaleFactor)
        let (_, layers) = MaskGenerationUtilities.generateCropBoxes(
            imageSize: (height, width), nLayers: o.cropNLayers, overlapRatio: o.cropOverlapRatio)
        return layers.reduce(0) { $0 + (grids[$1].count + o.pointsPerBatch - 1) / o.pointsPerBatch }
    }
}

/// One masks.json record, in the key order of the official `generate` output; the segmentation's type
/// follows --output-mode.
struct MaskRecord<Segmentation: Encodable>: Encodable {
    var segmentation: Segmentation
    var area: Int
    var bbox: [Float]
    var predictedIoU: Float
    var pointCoords: [[Float]]
    var stabilityScore: Float
    var cropBox: [Int]

    enum CodingKeys: String, CodingKey {
        case segmentation, area, bbox, predictedIoU = "predicted_iou", pointCoords = "point_coords"
        case stabilityScore = "stability_score", cropBox = "crop_box"
    }

    init(_ m: GeneratedMask, segmentation: Segmentation) {
        self.segmentation = segmentation
        area = m.area
        bbox = m.bbox
        predictedIoU = m.predictedIoU
        pointCoords = [m.pointCoords]
        stabilityScore = m.stabilityScore
        cropBox = m.cropBox
    }
}
