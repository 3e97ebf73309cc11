import Foundation

/// The pieces of a training run that the CLI and Lua share: the model to train from a `--model` value, the
/// held-out validation videos, and the loss-curve picture.
public enum TrainingRun {
    /// Base seed of the held-out synthetic validation set (fixed, so every run is scored on the same videos).
    public static let validationSeed: UInt64 = 0x5641_4C31

    /// `embedded` (the embedded default architecture from scratch), a JSON file holding a `SAM2Architecture`
    /// (from scratch), or a checkpoint (.pt / .safetensors) to fine-tune: its recorded architecture, or for the
    /// released models the official config its shapes identify.
    public static func model(_ spec: String, seed: UInt64) throws -> SAM2TrainModel {
        if spec == "embedded" {
            return try SAM2TrainModel(architecture: .embedded, store: SAM2Initialization.store(.embedded, seed: seed))
        }
        if spec.lowercased().hasSuffix(".json") {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: spec)) }
            catch { throw TrainingError.badOption(name: "--model \(spec)", expected: "a readable JSON file (\(error.localizedDescription))") }
            let arch: SAM2Architecture
            do { arch = try JSONDecoder().decode(SAM2Architecture.self, from: data) }
            catch { throw TrainingError.badOption(name: "--model \(spec)", expected: "a SAM2Architecture JSON object (\(error))") }
            return try SAM2TrainModel(architecture: arch, store: SAM2Initialization.store(arch, seed: seed))
        }
        let checkpoint = try Checkpoint.open(spec)
        let arch = try architecture(of: checkpoint)
        let store = try ParameterStore(checkpoint: checkpoint)
        for key in store.keys where ParameterStore.isBuffer(key) { store.setTrainable(false, prefixes: [key]) }
        return try SAM2TrainModel(architecture: arch, store: store)
    }

    /// The architecture of a checkpoint: recorded by the trainer, or read from a released model's shapes.
    public static func architecture(of checkpoint: Checkpoint) throws -> SAM2Architecture {
        if let recorded = try SAM2Architecture.recorded(in: checkpoint) { return recorded }
        let config = try SAM2ModelConfig.inferred(from: checkpoint)
        let shapes = checkpoint.shapes
        let t = config.encoder.trunk
        var layers = 0
        while shapes["memory_attention.layers.\(layers).linear1.weight"] != nil { layers += 1 }
        guard layers > 0, let ff = shapes["memory_attention.layers.0.linear1.weight"]?.first,
              let mem = shapes["memory_encoder.out_proj.weight"]?.first, let slots = shapes["maskmem_tpos_enc"]?.first else {
            throw SAM2ModelError.incompatible(path: checkpoint.path, message: "no memory modules: training needs a full SAM 2 video model")
        }
        return SAM2Architecture(imageSize: config.imageSize, hieraEmbedDim: t.embedDim, hieraNumHeads: t.numHeads, hieraStages: t.stages,
                                hieraWindowSpec: t.windowSpec, hieraGlobalAttBlocks: t.globalAttBlocks,
                                hieraWindowPosEmbedBkgSpatialSize: t.windowPosEmbedBkgSpatialSize, hiddenDim: config.hiddenDim,
                                memDim: mem, memoryAttentionLayers: layers, memoryAttentionFeedforward: ff, numMaskmem: slots)
    }

    /// The held-out synthetic validation videos at input size `size`.
    public static func validationVideos(size: Int, count: Int, frames: Int) throws -> [GroundTruthVideo] {
        try (0..<count).map { i in
            let config = TrainingDataSpec.syntheticConfig(seed: SyntheticDataset.videoSeed(base: validationSeed, index: i), size: size, frames: frames)
            return try GroundTruthVideo(synthetic: SyntheticVideoGenerator(config: config), name: String(format: "val_%04d", i))
        }
    }

    /// Draws train_log.csv's loss (and its moving median over `window` steps) against the step as a PNG; false
    /// (nothing written) when the log has no step rows yet.
    @discardableResult
    public static func writeLossCurve(log: String, to png: String, window: Int = 50) throws -> Bool {
        let text: String
        do { text = try String(contentsOfFile: log, encoding: .utf8) }
        catch { throw CheckpointError.unreadable(path: log, reason: error.localizedDescription) }
        var steps: [Double] = [], losses: [Double] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",")
            guard f.count >= 3, let s = Double(f[0]), let l = Double(f[2]), l.isFinite else { continue }
            steps.append(s); losses.append(l)
        }
        guard !steps.isEmpty else { return false }
        // A median, not a mean: steps where an object is predicted absent (the official −1024 logits) cost 10–100×
        // a typical step, and a mean would follow those spikes instead of the typical step.
        let smooth = losses.indices.map { i -> Double in
            let w = losses[max(0, i - window + 1)...i].sorted()
            return w.count % 2 == 1 ? w[w.count / 2] : (w[w.count / 2 - 1] + w[w.count / 2]) / 2
        }
        var chart = LineChart(title: "training loss (focal×20 + dice + IoU + object score, summed over the clip)",
                              xLabel: "step", yLabel: "loss",
                              series: [.init(name: "per step", x: steps, y: losses), .init(name: "median of \(window)", x: steps, y: smooth)])
        chart.width = 800; chart.height = 450
        chart.markers = false
        // The spikes would flatten the curve: the axis ends at 3× the largest moving median after the first
        // `window` steps, and taller steps are drawn at the top edge.
        if smooth.count > 2 * window, let top = smooth.dropFirst(window).max(), top > 0 { chart.yMin = 0; chart.yMax = 3 * top }
        try ImageIO.write(try chart.render(), to: png)
        return true
    }
}
