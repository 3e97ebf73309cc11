import ArgumentParser
import Foundation
import SAM2

/// The options of every command that loads a SAM 2 model: checkpoint, input size, and the Hiera settings a
/// checkpoint's shapes cannot tell for trunks that are not one of the four released sizes.
struct ModelOptions: ParsableArguments {
    @Option(help: "Checkpoint (.pt or .safetensors) of a SAM 2 / 2.1 model.")
    var checkpoint: String

    @Option(help: "Released config name (sam2.1_hiera_t, sam2_hiera_l, …) instead of inferring it from the checkpoint's shapes.")
    var config: String?

    @Option(name: .customLong("image-size"),
            help: "Model input side (default: the size a trained checkpoint records, else 1024 as the released ones).")
    var imageSize: Int?

    @Option(name: .customLong("hiera-heads"),
            help: "Hiera heads of the first stage, for a trunk that is not a released size (default: 1, Hiera's).")
    var hieraHeads: Int?

    @Option(name: .customLong("hiera-window-spec"),
            help: ArgumentHelp("Hiera window size per stage, for a trunk that is not a released size.", valueName: "w1,w2,w3,w4"))
    var hieraWindowSpec: String?

    @Option(name: .customLong("hiera-global-att-blocks"),
            help: ArgumentHelp("Hiera blocks with global attention, for a trunk that is not a released size.", valueName: "i,j,…"))
    var hieraGlobalAttBlocks: String?

    @Option(help: ArgumentHelp("Precision of the matrix products: float32 (default) or bfloat16 (faster on CPUs with AVX512_BF16; features within ~3e-3 relative L2 of float32).",
                               valueName: "float32|bfloat16"),
            transform: { try ComputePrecision(parsing: $0) })
    var precision: ComputePrecision = .float32

    func validate() throws {
        if let imageSize, imageSize <= 0 || imageSize % 16 != 0 {
            throw ValidationError("--image-size must be a positive multiple of 16, got \(imageSize)")
        }
        if let h = hieraHeads, h < 1 { throw ValidationError("--hiera-heads must be ≥ 1, got \(h)") }
        _ = try windowSpec()
        _ = try globalAttBlocks()
    }

    /// Opens the checkpoint and builds the model; on failure prints the typed error and exits 1.
    func load() -> SAM2Model {
        ComputePrecision.current = precision
        return CLI.orFail {
            let ckpt = try Checkpoint.open(checkpoint)
            let config: SAM2ModelConfig
            do {
                config = try SAM2ModelConfig.inferred(from: ckpt, imageSize: imageSize, encoder: try encoderOverride(ckpt),
                                                      name: self.config)
            }
            catch let error as HieraError {
                guard case .unknownTrunk = error else { throw error }
                CLI.fail("\(error.description) — for such a trunk give --hiera-window-spec and --hiera-global-att-blocks (and --hiera-heads if not 1)")
            }
            return try SAM2Model(checkpoint: ckpt, config: config)
        }
    }

    /// The encoder config when any --hiera-* option is given: the released trunk the shapes identify (or one
    /// built from the shapes' embed dim, stages and background position-embedding size), with the options applied.
    private func encoderOverride(_ ckpt: Checkpoint) throws -> HieraImageEncoder.Config? {
        let window = try windowSpec(), global = try globalAttBlocks()
        guard hieraHeads != nil || window != nil || global != nil else { return nil }
        let shapes = ckpt.shapes
        let inferred = InferredModelConfig.infer(shapes: shapes)
        var trunk: HieraConfig
        if let size = inferred.size {
            trunk = .official(size)
        } else {
            guard let embedDim = inferred.embedDim, !inferred.stages.isEmpty else {
                throw ValidationError("\(checkpoint): no Hiera trunk found (image_encoder.trunk.*)")
            }
            guard window != nil, global != nil else {
                throw ValidationError("\(checkpoint): the trunk (embed_dim \(embedDim), stages \(inferred.stages)) is not a released size; give both --hiera-window-spec and --hiera-global-att-blocks")
            }
            let background = shapes["image_encoder.trunk.pos_embed"].map { Array($0.suffix(2)) } ?? [14, 14]
            trunk = HieraConfig(embedDim: embedDim, stages: inferred.stages, windowPosEmbedBkgSpatialSize: background)
        }
        if let h = hieraHeads { trunk.numHeads = h }
        if let window { trunk.windowSpec = window }
        if let global { trunk.globalAttBlocks = global }
        let dModel = shapes["image_encoder.neck.convs.0.conv.weight"]?.first ?? 256
        return HieraImageEncoder.Config(trunk: trunk, neck: FpnNeck.Config(dModel: dModel, backboneChannelList: trunk.channelList))
    }

    private func windowSpec() throws -> [Int]? {
        try hieraWindowSpec.map { try Self.ints($0, option: "--hiera-window-spec", minimum: 1) }
    }

    private func globalAttBlocks() throws -> [Int]? {
        try hieraGlobalAttBlocks.map { try Self.ints($0, option: "--hiera-global-att-blocks", minimum: 0) }
    }

    private static func ints(_ text: String, option: String, minimum: Int) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.map { p in
            guard let v = Int(p), v >= minimum else {
                throw ValidationError("\(option) '\(text)': expected comma-separated integers ≥ \(minimum); '\(p)' is not")
            }
            return v
        }
    }
}
