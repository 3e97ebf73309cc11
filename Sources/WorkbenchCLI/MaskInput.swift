import Foundation
import SAM2

/// A `--mask-input` file that cannot be used; names the file and what was expected.
struct MaskInputError: Error, CustomStringConvertible {
    var path: String
    var message: String
    var description: String { "--mask-input \(path): \(message)" }
}

/// The mask prompt of `workbench segment`: low-res logits [1, h, w] read from a .npy of logits or a PNG mask.
struct MaskInput {
    /// Logits [1, lowRes, lowRes] as `SAM2ImagePredictor.predict(maskInput:)` takes them.
    var logits: Tensor
    /// What was used, for scores.json ("low_res_logits.npy[1]", "mask.png (binary → ±10)").
    var description: String

    /// Reads `path` (format by magic bytes): a .npy of low-res logits, or a PNG mask of the image's size.
    static func load(_ path: String, imageWidth: Int, imageHeight: Int, modelSize: Int, lowResSize: Int) throws -> MaskInput {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MaskInputError(path: path, message: "cannot read the file")
        }
        if data.starts(with: [0x93] + Array("NUMPY".utf8)) {
            return try fromLogits(Npy.decode(data, path: path), path: path, lowResSize: lowResSize)
        }
        guard ImageIO.detectFormat(data) == .png else {
            throw MaskInputError(path: path, message: "expected a .npy of low-res logits or a PNG mask")
        }
        return try fromPNG(ImageIO.decode(data, path: path), path: path, imageWidth: imageWidth, imageHeight: imageHeight,
                           modelSize: modelSize, lowResSize: lowResSize)
    }

    /// [h,w], [1,h,w], [C,h,w] or [1,C,h,w] logits; with C > 1 the best mask by the "iou" of a scores.json
    /// beside the file (what `segment --logits` writes), else the first.
    static func fromLogits(_ t: Tensor, path: String, lowResSize s: Int) throws -> MaskInput {
        var stack = t
        if stack.rank == 2 { stack = stack.unsqueezed(axis: 0) }
        if stack.rank == 4 && stack.shape[0] == 1 { stack = stack.squeezed(axis: 0) }
        guard stack.rank == 3, stack.shape[1] == s, stack.shape[2] == s, stack.shape[0] >= 1 else {
            throw MaskInputError(path: path, message: "expected low-res logits [C, \(s), \(s)] (image size / 4), got \(t.shape)")
        }
        let c = stack.shape[0]
        var index = 0
        if c > 1 {
            let scoresPath = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("scores.json").path
            if let ious = Self.ious(at: scoresPath), ious.count == c {
                index = ious.indices.max { ious[$0] < ious[$1] } ?? 0
            } else {
                CLI.warn("--mask-input \(path) holds \(c) masks and no scores.json with \(c) IoUs beside it; using the first")
            }
        }
        let name = URL(fileURLWithPath: path).lastPathComponent
        return MaskInput(logits: stack.slice(axis: 0, start: index, end: index + 1),
                         description: c > 1 ? "\(name)[\(index)]" : name)
    }

    /// A binary mask (non-zero = foreground) of the image's size → ±10 logits at the low-res size, as the
    /// official video predictor treats mask prompts (`add_new_mask` + `_use_mask_as_output`).
    static func fromPNG(_ decoded: DecodedImage, path: String, imageWidth w: Int, imageHeight h: Int,
                        modelSize: Int, lowResSize s: Int) throws -> MaskInput {
        guard decoded.width == w, decoded.height == h else {
            throw MaskInputError(path: path, message: "mask is \(decoded.width)×\(decoded.height), the image is \(w)×\(h)")
        }
        let foreground: [Float]
        switch decoded {
        case let .indexed(mask): foreground = mask.indices.map { $0 != 0 ? 1 : 0 }
        case let .pixels(img):
            // Alpha (channel 2 of gray+alpha, 4 of RGBA) does not mark foreground.
            let c = img.channels, colour = c == 2 ? 1 : min(c, 3)
            foreground = (0..<(w * h)).map { p in
                (0..<colour).contains { img.pixels[p * c + $0] != 0 } ? 1 : 0
            }
        }
        let full = Tensor(shape: [1, 1, h, w], data: foreground)
        let atModel = full.interpolate(size: (modelSize, modelSize), mode: .bilinear, antialias: true)
            .map { $0 >= 0.5 ? 10 : -10 }
        let low = atModel.interpolate(size: (s, s), mode: .bilinear, antialias: true)
        let name = URL(fileURLWithPath: path).lastPathComponent
        return MaskInput(logits: low.reshaped([1, s, s]), description: "\(name) (binary → ±10 logits)")
    }

    private static func ious(at path: String) -> [Double]? {
        struct Scores: Decodable { var iou: [Double] }
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(Scores.self, from: data).iou
    }
}
