import ArgumentParser
import Foundation
import SAM2

/// `workbench segment IMAGE --checkpoint CKPT --point X,Y …`: masks for one prompt set with the image predictor.
struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Predict masks for clicks / a box / a mask prompt on one image (SAM2ImagePredictor.predict).",
        discussion: """
        Writes into --out: mask_<i>.png (binary 0/255 gray, one per mask), overlay.png (the image with the \
        best-scoring mask and the prompts drawn), scores.json (IoU predictions, object score, prompt, model, \
        timing) and with --logits the image-size logits mask_<i>.npy [H,W] and low_res_logits.npy [C,h,w] \
        (float32; h = w = image size / 4).

        Points and boxes are in image pixels. Prompts outside the image only warn: the official predictor \
        accepts them. An inverted box (X1 < X0 or Y1 < Y0) is an error.

        --mask-input takes either a previous run's low_res_logits.npy ([h,w], [1,h,w], [C,h,w] or [1,C,h,w]; \
        with C > 1 the mask with the highest "iou" in the scores.json beside it is used, else the first), or a \
        PNG mask of the image's size (any non-zero pixel is foreground). A PNG is converted with the official \
        video predictor's convention for mask prompts: resized to the model's input size (bilinear, antialias, \
        >= 0.5), mapped to ±10 logits, then resized to the low-res size (bilinear, antialias).
        """
    )

    @Argument(help: "Image (PNG or JPEG).")
    var image: String

    @OptionGroup(title: "Model")
    var model: ModelOptions

    @Option(name: .customLong("point"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A click X,Y[,LABEL] in pixels (LABEL 1 positive, the default; 0 negative). Repeatable.",
                               valueName: "x,y[,label]"),
            transform: { try PointArgument.parse($0) })
    var points: [PointArgument] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("A box X0,Y0,X1,Y1 in pixels.", valueName: "x0,y0,x1,y1"),
            transform: { try BoxArgument.parse($0) })
    var box: BoxArgument?

    @Option(name: .customLong("mask-input"), help: "A previous low_res_logits.npy or a binary PNG mask, used as the mask prompt.")
    var maskInput: String?

    @Flag(help: "Three masks for an ambiguous prompt instead of one.")
    var multimask = false

    @Option(help: "Output directory (created if missing).")
    var out: String

    @Flag(help: "Also write the logits: mask_<i>.npy at image size and low_res_logits.npy.")
    var logits = false

    @Option(help: "Logit threshold for the binary masks.")
    var threshold: Double = 0

    func validate() throws {
        if !threshold.isFinite { throw ValidationError("--threshold must be a finite number, got \(threshold)") }
        if points.isEmpty && box == nil && maskInput == nil {
            throw ValidationError("no prompt: give at least one --point, a --box or a --mask-input")
        }
    }

    func run() throws {
        let start = CLI.now()
        let picture = CLI.orFail { try ImageIO.readRGB(image) }
        let (w, h) = (picture.width, picture.height)
        warnOutside(width: w, height: h)
        CLI.makeDirectory(out, argument: "--out")
        let tRead = CLI.now()

        let sam = model.load()
        let tModel = CLI.now()
        // The input size is known once the checkpoint is open (a trained model records its own).
        let imageSize = sam.config.imageSize, lowRes = imageSize / 4
        let mask = maskInput.map { path in
            CLI.orFail { try MaskInput.load(path, imageWidth: w, imageHeight: h, modelSize: imageSize, lowResSize: lowRes) }
        }
        let predictor = SAM2ImagePredictor(model: sam, maskThreshold: threshold)
        CLI.orFail { try predictor.setImage(picture) }
        let tEmbed = CLI.now()
        let coords = points.isEmpty ? nil : Tensor(shape: [points.count, 2], data: points.flatMap { [Float($0.x), Float($0.y)] })
        let labels = points.isEmpty ? nil : Tensor(shape: [points.count], data: points.map { Float($0.label) })
        let boxTensor = box.map { Tensor(shape: [4], data: [Float($0.x0), Float($0.y0), Float($0.x1), Float($0.y1)]) }
        // Logits always: the binary masks are thresholded here, so --logits costs no second decoder pass.
        let prediction = CLI.orFail {
            try predictor.predict(pointCoords: coords, pointLabels: labels, box: boxTensor, maskInput: mask?.logits,
                                  multimaskOutput: multimask, returnLogits: true)
        }
        let tPredict = CLI.now()

        let count = prediction.masks.shape[1]
        let ious = Array(prediction.iouPredictions.data.prefix(count))
        let best = ious.indices.max { ious[$0] < ious[$1] } ?? 0
        let t = Float(threshold)
        var names: [String] = []
        var bestMask = BinaryMask(width: w, height: h)
        for i in 0..<count {
            let logit = prediction.masks.select(axis: 0, index: 0).select(axis: 0, index: i)
            let binary = logit.data.map { $0 > t }
            let gray = CLI.orFail { try Image8(width: w, height: h, channels: 1, pixels: binary.map { $0 ? 255 : 0 }) }
            let name = "mask_\(i).png"
            CLI.orFail { try ImageIO.write(gray, to: CLI.join(out, name)) }
            names.append(name)
            if logits { CLI.orFail { try Npy.write(logit, to: CLI.join(out, "mask_\(i).npy")) } }
            if i == best { bestMask = CLI.orFail { try BinaryMask(width: w, height: h, bits: binary) } }
        }
        if logits {
            CLI.orFail { try Npy.write(prediction.lowResMasks.select(axis: 0, index: 0), to: CLI.join(out, "low_res_logits.npy")) }
        }
        let clicks = points.map { Click(x: Int($0.x.rounded()), y: Int($0.y.rounded()), positive: $0.label == 1) }
        let boxes = box.map { [BoxPrompt(x0: $0.x0, y0: $0.y0, x1: $0.x1, y1: $0.y1)] } ?? []
        var style = Overlay.Style()
        // Markers that stay visible on large photos.
        style.clickRadius = max(style.clickRadius, min(w, h) / 150)
        style.boxThickness = max(style.boxThickness, min(w, h) / 300)
        let overlay = Overlay.render(frame: picture, masks: [bestMask], ids: [1], clicks: clicks, boxes: boxes, style: style)
        CLI.orFail { try ImageIO.write(overlay, to: CLI.join(out, "overlay.png")) }
        let end = CLI.now()

        let scores = SegmentScores(
            iou: ious, objectScore: prediction.objectScoreLogits.data.first ?? .nan, best: best, threshold: threshold,
            masks: names,
            prompt: .init(points: points.map { [$0.x, $0.y, Double($0.label)] }, box: box.map { [$0.x0, $0.y0, $0.x1, $0.y1] },
                          maskInput: mask?.description, multimask: multimask),
            image: .init(path: image, width: w, height: h),
            model: .init(checkpoint: model.checkpoint, config: sam.config.name, imageSize: imageSize),
            timing: .init(readInputsS: tRead - start, loadModelS: tModel - tRead, setImageS: tEmbed - tModel,
                          predictS: tPredict - tEmbed, writeS: end - tPredict, totalS: end - start))
        CLI.writeJSON(scores, to: CLI.join(out, "scores.json"))

        for (i, name) in names.enumerated() {
            print(String(format: "%@  iou %.4f%@", name, ious[i], i == best && count > 1 ? "  (best)" : ""))
        }
        print(String(format: "object score %.4f; load %.2f s, image embedding %.2f s, predict %.3f s, total %.2f s → %@",
                     scores.objectScore, tModel - tRead, tEmbed - tModel, tPredict - tEmbed, end - start, out))
    }

    private func warnOutside(width w: Int, height h: Int) {
        func inside(_ x: Double, _ y: Double) -> Bool { x >= 0 && y >= 0 && x <= Double(w) && y <= Double(h) }
        for p in points where !inside(p.x, p.y) {
            CLI.warn("--point \(p.x),\(p.y) lies outside the \(w)×\(h) image; used as given (the official predictor accepts it)")
        }
        if let b = box, !inside(b.x0, b.y0) || !inside(b.x1, b.y1) {
            CLI.warn("--box \(b.x0),\(b.y0),\(b.x1),\(b.y1) extends outside the \(w)×\(h) image; used as given")
        }
    }
}

/// scores.json of `workbench segment`.
struct SegmentScores: Encodable {
    struct Prompt: Encodable {
        var points: [[Double]]
        var box: [Double]?
        var maskInput: String?
        var multimask: Bool
        enum CodingKeys: String, CodingKey { case points, box, maskInput = "mask_input", multimask }
        func encode(to encoder: Encoder) throws {
            // Absent prompts as explicit nulls, so every file has the same keys.
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(points, forKey: .points)
            try c.encode(box, forKey: .box)
            try c.encode(maskInput, forKey: .maskInput)
            try c.encode(multimask, forKey: .multimask)
        }
    }
    struct ImageInfo: Encodable { var path: String; var width: Int; var height: Int }
    struct Model: Encodable {
        var checkpoint: String, config: String, imageSize: Int
        enum CodingKeys: String, CodingKey { case checkpoint, config, imageSize = "image_size" }
    }
    struct Timing: Encodable {
        var readInputsS: Double, loadModelS: Double, setImageS: Double, predictS: Double, writeS: Double, totalS: Double
        enum CodingKeys: String, CodingKey {
            case readInputsS = "read_inputs_s", loadModelS = "load_model_s", setImageS = "set_image_s"
            case predictS = "predict_s", writeS = "write_s", totalS = "total_s"
        }
    }
    var iou: [Float]
    var objectScore: Float
    var best: Int
    var threshold: Double
    var masks: [String]
    var prompt: Prompt
    var image: ImageInfo
    var model: Model
    var timing: Timing
    enum CodingKeys: String, CodingKey {
        case iou, objectScore = "object_score", best, threshold, masks, prompt, image, model, timing
    }
}
