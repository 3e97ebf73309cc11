import Foundation

/// Errors building a SAM 2 model from a checkpoint.
public enum SAM2ModelError: Error, CustomStringConvertible, Equatable {
    case unknownConfig(path: String, name: String, known: [String])
    case incompatible(path: String, message: String)

    public var description: String {
        switch self {
        case let .unknownConfig(path, name, known):
            return "\(path): unknown model config '\(name)' (expected one of \(known.joined(separator: ", ")))"
        case let .incompatible(path, message): return "\(path): \(message)"
        }
    }
}

/// Sizes and flags of a SAM 2 model (SAM2Base's constructor arguments), read from the checkpoint's shapes
/// with the official presets for what shapes cannot tell (window sizes, global-attention blocks).
public struct SAM2ModelConfig: Sendable, Equatable {
    /// Config name, e.g. "sam2.1_hiera_t", or "custom".
    public var name: String
    /// SAM 2 or SAM 2.1 (nil when the memory modules are absent: image-only state dicts).
    public var family: InferredModelConfig.Family?
    /// Side of the square model input (1024 for every released model).
    public var imageSize: Int
    /// Hidden dimension of the neck, prompt encoder and mask decoder (256 released).
    public var hiddenDim: Int
    /// Image encoder (Hiera trunk + FPN neck).
    public var encoder: HieraImageEncoder.Config
    /// Mask decoder.
    public var decoder: MaskDecoderConfig
    /// Add `no_mem_embed` to the lowest-resolution features of a frame without memory (image mode).
    public var directlyAddNoMemEmbed: Bool = true
    /// Output 3 masks for ambiguous prompts on conditioning frames.
    public var multimaskOutputInSam: Bool = true

    /// Stride of the image embedding relative to the input.
    public var backboneStride: Int { 16 }
    /// Side of the image embedding (image_size / 16).
    public var embeddingSize: Int { imageSize / backboneStride }

    /// The eight released config names, e.g. "sam2.1_hiera_t" (also accepted: "sam2.1_hiera_tiny", "…_small",
    /// "…_base_plus", "…_large" as the checkpoint files are named).
    public static let releasedNames: [String] = ["sam2", "sam2.1"].flatMap { f in ["t", "s", "b+", "l"].map { "\(f)_hiera_\($0)" } }

    /// Parses a released config name into family and size.
    public static func parseName(_ name: String) -> (InferredModelConfig.Family, InferredModelConfig.Size)? {
        let aliases = ["tiny": "t", "small": "s", "base_plus": "b+", "large": "l"]
        for family in [InferredModelConfig.Family.sam2_1, .sam2] {
            let prefix = family.rawValue + "_hiera_"
            guard name.hasPrefix(prefix) else { continue }
            let rest = String(name.dropFirst(prefix.count))
            if let size = InferredModelConfig.Size(rawValue: aliases[rest] ?? rest) { return (family, size) }
        }
        return nil
    }

    /// The config of a checkpoint: trunk shapes decide the Hiera preset (or pass `encoder` for a trunk that
    /// is not one of the four released sizes); `imageSize` overrides 1024 (the reduced test models use 256).
    /// A released `name` overrides the inference (its Hiera preset must still fit the weights: shapes are
    /// checked when the modules load). A checkpoint written by the trainer records its `SAM2Architecture`, which
    /// supplies the trunk and the input size (nil `imageSize`: the recorded one, else 1024).
    public static func inferred(from checkpoint: Checkpoint, imageSize: Int? = nil,
                                encoder: HieraImageEncoder.Config? = nil, name: String? = nil) throws -> SAM2ModelConfig {
        let shapes = checkpoint.shapes
        let recorded = try SAM2Architecture.recorded(in: checkpoint)
        let imageSize = imageSize ?? recorded?.imageSize ?? 1024
        var encoder = encoder ?? (name == nil ? recorded?.encoder : nil)
        var named: (InferredModelConfig.Family, InferredModelConfig.Size)? = nil
        if let name {
            guard let parsed = parseName(name) else {
                throw SAM2ModelError.unknownConfig(path: checkpoint.path, name: name, known: releasedNames)
            }
            named = parsed
            encoder = HieraImageEncoder.Config.official(parsed.1)
        }
        let inferred = InferredModelConfig.infer(shapes: shapes)
        guard let hidden = shapes["sam_prompt_encoder.no_mask_embed.weight"]?.last else {
            throw SAM2ModelError.incompatible(path: checkpoint.path,
                                              message: "no SAM 2 prompt encoder (missing key sam_prompt_encoder.no_mask_embed.weight)")
        }
        guard imageSize > 0, imageSize % 16 == 0 else {
            throw SAM2ModelError.incompatible(path: checkpoint.path, message: "image size \(imageSize) is not a positive multiple of 16")
        }
        let encoderConfig = try encoder ?? HieraImageEncoder.Config.inferred(shapes: shapes)
        var decoder = MaskDecoderConfig(transformerDim: hidden)
        decoder.predObjScores = shapes["sam_mask_decoder.obj_score_token.weight"] != nil
        decoder.predObjScoresMLP = shapes["sam_mask_decoder.pred_obj_score_head.layers.0.weight"] != nil
        decoder.useHighResFeatures = shapes["sam_mask_decoder.conv_s0.weight"] != nil
        if let iou = shapes["sam_mask_decoder.iou_prediction_head.layers.0.weight"] { decoder.iouHeadHiddenDim = iou[0] }
        if let mlp = shapes["sam_mask_decoder.transformer.layers.0.mlp.layers.0.weight"] { decoder.transformerMLPDim = mlp[0] }
        let configName = named.map { "\($0.0.rawValue)_hiera_\($0.1.rawValue)" }
            ?? (inferred.size != nil && imageSize == 1024 ? inferred.name : "custom")
        return SAM2ModelConfig(name: configName, family: named?.0 ?? inferred.family, imageSize: imageSize, hiddenDim: hidden,
                               encoder: encoderConfig, decoder: decoder)
    }
}

/// The features of one image as the predictors use them (SAM2Base.forward_image + _prepare_backbone_features).
public struct ImageFeatures: Sendable {
    /// Lowest-resolution features [1, C, h, w] (with `no_mem_embed` added in image mode).
    public var imageEmbed: Tensor
    /// High-resolution features after conv_s0 / conv_s1: [1, C/8, 4h, 4w] and [1, C/4, 2h, 2w].
    public var highResFeatures: [Tensor]
    /// The raw encoder output (FPN levels after the projections, positional encodings).
    public var backbone: BackboneOutput
}

/// SAM 2's model (SAM2Base) as far as images need it: image encoder, prompt encoder, mask decoder and the
/// learned embeddings between them. The parts are swappable through `ImageEncoder` and `MaskDecoding`.
public final class SAM2Model: @unchecked Sendable {
    /// Sizes and flags.
    public let config: SAM2ModelConfig
    /// Where the weights came from.
    public let checkpointPath: String
    /// Backbone: image → multi-scale features.
    public let imageEncoder: any ImageEncoder
    /// Points, boxes and masks → sparse and dense embeddings.
    public let promptEncoder: PromptEncoder
    /// Embeddings → mask logits, IoU, object score.
    public let maskDecoder: MaskDecoder
    /// `no_mem_embed` [1, 1, C].
    public let noMemEmbed: Tensor

    /// Loads a model from a `.pt` (official download layout) or `.safetensors` checkpoint.
    /// `config` names a released config ("sam2.1_hiera_l") instead of inferring it from the shapes.
    public convenience init(checkpoint path: String, config name: String? = nil, imageSize: Int? = nil,
                            parts: Parts = Parts()) throws {
        let checkpoint = try Checkpoint.open(path)
        try self.init(checkpoint: checkpoint,
                      config: try SAM2ModelConfig.inferred(from: checkpoint, imageSize: imageSize, name: name), parts: parts)
    }

    /// Which registered encoder and decoder to build, with their options (`Registry.shared`).
    public struct Parts: Sendable {
        public var encoder = "hiera"
        public var encoderOptions: [String: OptionValue] = [:]
        public var decoder = "sam2"
        public var decoderOptions: [String: OptionValue] = [:]
        public init() {}
    }

    /// Builds the model from an opened checkpoint and an explicit config.
    public init(checkpoint: Checkpoint, config: SAM2ModelConfig, parts: Parts = Parts(), registry: Registry = .shared) throws {
        self.config = config
        checkpointPath = checkpoint.path
        let w = Weights(checkpoint)
        imageEncoder = try registry.makeImageEncoder(parts.encoder, weights: w.scoped("image_encoder"), config: config,
                                                     options: parts.encoderOptions)
        let e = config.embeddingSize
        promptEncoder = try PromptEncoder(w.scoped("sam_prompt_encoder"), embedDim: config.hiddenDim,
                                          imageEmbeddingSize: (e, e), inputImageSize: (config.imageSize, config.imageSize))
        maskDecoder = try registry.makeMaskDecoder(parts.decoder, weights: w.scoped("sam_mask_decoder"), config: config,
                                                   options: parts.decoderOptions)
        noMemEmbed = try w("no_mem_embed", shape: [1, 1, config.hiddenDim])
    }

    /// Encodes a normalised image [1, 3, S, S] (SAM2Base.forward_image): backbone, then conv_s0/conv_s1 on
    /// the two high-resolution FPN levels; in image mode `no_mem_embed` is added to the lowest resolution.
    public func forwardImage(_ image: Tensor, addNoMemEmbed: Bool = true) throws -> ImageFeatures {
        var backbone = try imageEncoder.encode(image)
        var high: [Tensor] = []
        if let projected = try maskDecoder.projectHighResFeatures(backbone.backboneFPN[0], backbone.backboneFPN[1]) {
            backbone.backboneFPN[0] = projected[0]
            backbone.backboneFPN[1] = projected[1]
            high = projected
        }
        var embed = backbone.backboneFPN[backbone.backboneFPN.count - 1]
        if addNoMemEmbed && config.directlyAddNoMemEmbed {
            embed = embed + noMemEmbed.reshaped([1, config.hiddenDim, 1, 1])
        }
        return ImageFeatures(imageEmbed: embed, highResFeatures: high, backbone: backbone)
    }

    /// A one-line description: config name, parameter sizes, image size.
    public var summary: String {
        "\(config.name) (\(config.family?.rawValue ?? "image-only"), hidden \(config.hiddenDim), input \(config.imageSize)², from \(checkpointPath))"
    }
}
