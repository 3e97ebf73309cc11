import Foundation
import CKernels

/// Settings of a training run (what `workbench train` and `sam2.train` take). Defaults: a from-scratch run of the
/// embedded model; the released fine-tuning recipe differs in learning rate (5e-6) and clipping (0.1).
public struct TrainingOptions: Codable, Sendable, Equatable {
    /// Optimiser steps (`batchSize` clips each).
    public var steps = 1000
    /// Clips per optimiser step, their gradients averaged (the official trainer's data parallelism: one clip per GPU,
    /// gradients all-reduced). Each clip runs on its own worker thread against a replica of the weights, because the
    /// kernels of one small-model clip split over cores poorly (2 clips on 2 cores: 1.3× the frames per second of 1).
    public var batchSize = 1
    /// Peak learning rate, reached after `warmupSteps`, then `decay` to `finalLearningRate`.
    public var learningRate: Float = 1e-3
    public var finalLearningRate: Float = 1e-5
    public var warmupSteps = 50
    /// Steps at the peak rate after warm-up, before the decay (0: decay at once).
    public var holdSteps = 0
    public var decay = "cosine"
    /// AdamW weight decay on matrices and kernels (biases, norms, embeddings vectors: none, as the official groups).
    public var weightDecay: Float = 0.01
    /// Global gradient-norm clip (≤ 0: off).
    public var clipNorm: Float = 1
    /// Layer-wise learning-rate decay of the Hiera trunk: block i gets decay^(L + 1 − (i + 1)) (1: off).
    public var layerDecay: Float = 1
    /// Learning-rate multipliers by key prefix (the longest matching prefix wins; times the trunk's layer decay).
    /// The released configs give the vision backbone its own rate (`vision_lr`, 0.6× the base rate).
    public var learningRateScales: [String: Float] = [:]
    /// Factors applied once to the starting weights before the first step, by key pattern (`*` matches any run of
    /// characters; every matching pattern multiplies), e.g. to weaken the memory attention's locality prior for a
    /// second stage. A resumed run loads the already scaled weights from its checkpoint instead.
    public var parameterScales: [String: Float] = [:]
    /// Weights of the loss terms by name (`mask`, `dice`, `iou`, `class`), replacing the released 20, 1, 1, 1 (the
    /// official config's `weight_dict`); unnamed terms keep their released weight.
    public var lossWeights: [String: Float] = [:]
    /// Frames per clip and objects per clip.
    public var clipLength = 8
    public var maxObjects = 3
    /// Largest frame stride inside a clip.
    public var maxStride = 3
    /// Fraction of steps that train on a single frame as an image (SAM 2 trains on images and videos jointly).
    public var imageFraction = 0.0
    /// Fraction of video steps whose clip must show an object leaving and coming back (the held-out videos' hard
    /// case: re-detection from older memories after frames of absence). 0 draws clips uniformly.
    public var reappearanceFraction = 0.0
    /// Keys prefixes left frozen (e.g. "image_encoder", "sam_prompt_encoder").
    public var freeze: [String] = []
    /// Seed of initial weights (from scratch), clip sampling and prompts.
    public var seed: UInt64 = 0
    /// Write the training checkpoint every N steps (and at the end).
    public var checkpointEvery = 100
    /// Validate every N steps (0: only at the end) on `validationVideos` held-out synthetic videos.
    public var validateEvery = 0
    public var validationVideos = 4
    public var validationFrames = 40
    /// Synthetic training videos' length.
    public var syntheticFrames = 48
    /// Prompt simulation.
    public var prompts = TrainingPromptSettings()
    /// Decay of an exponential moving average of the weights kept beside them (0: none), updated after every
    /// optimiser step as ema ← decay·ema + (1 − decay)·weights from the starting weights; written as
    /// `model_ema.safetensors` and validated beside the weights. It does not change the training itself.
    public var ema: Float = 0

    public init() {}

    /// Checks ranges; throws naming the option.
    public func validate() throws {
        func bad(_ n: String, _ e: String) -> TrainingError { .badOption(name: n, expected: e) }
        if steps < 1 { throw bad("steps", "≥ 1, got \(steps)") }
        if batchSize < 1 || batchSize > 64 { throw bad("batch size", "1…64, got \(batchSize)") }
        if !(learningRate > 0) || !(finalLearningRate >= 0) { throw bad("learning rate", "> 0, got \(learningRate) / final \(finalLearningRate)") }
        if warmupSteps < 0 || warmupSteps > steps { throw bad("warmup", "0…steps (\(steps)), got \(warmupSteps)") }
        if holdSteps < 0 || warmupSteps + holdSteps > steps {
            throw bad("hold", "0…steps − warm-up (\(steps - warmupSteps)), got \(holdSteps)")
        }
        if LearningRateSchedule.Decay(rawValue: decay) == nil { throw bad("decay", "cosine or linear, got \(decay)") }
        if clipLength < 1 || clipLength > 64 { throw bad("clip length", "1…64, got \(clipLength)") }
        if maxObjects < 1 { throw bad("max objects", "≥ 1, got \(maxObjects)") }
        if maxStride < 1 { throw bad("max stride", "≥ 1, got \(maxStride)") }
        if !(0...1).contains(imageFraction) { throw bad("image fraction", "0…1, got \(imageFraction)") }
        if !(0...1).contains(reappearanceFraction) { throw bad("reappearance fraction", "0…1, got \(reappearanceFraction)") }
        if !(layerDecay > 0 && layerDecay <= 1) { throw bad("layer decay", "in (0, 1], got \(layerDecay)") }
        for (prefix, f) in learningRateScales where !(f > 0 && f.isFinite) || prefix.isEmpty {
            throw bad("lr scale", "PREFIX=FACTOR with a key prefix and a factor > 0 (freeze instead of 0), got '\(prefix)=\(f)'")
        }
        for (pattern, f) in parameterScales where !f.isFinite || pattern.isEmpty {
            throw bad("scale parameters", "PATTERN=FACTOR with a key pattern and a finite factor, got '\(pattern)=\(f)'")
        }
        for (name, w) in lossWeights where !TrainingOptions.lossTerms.contains(name) || !(w >= 0 && w.isFinite) {
            throw bad("loss weights", "NAME=WEIGHT with NAME one of \(TrainingOptions.lossTerms.joined(separator: ", ")) and a weight ≥ 0, got '\(name)=\(w)'")
        }
        if checkpointEvery < 1 { throw bad("checkpoint every", "≥ 1, got \(checkpointEvery)") }
        if !(ema >= 0 && ema < 1) { throw bad("ema", "a decay in [0, 1) (0: off), got \(ema)") }
        if validateEvery < 0 || validationVideos < 0 { throw bad("validation", "non-negative counts") }
    }
}

extension TrainingOptions {
    /// Parses `PREFIX=FACTOR[,PREFIX=FACTOR…]` (the CLI's `--lr-scale`); throws naming the bad item.
    public static func parseLearningRateScales(_ text: String) throws -> [String: Float] {
        try parseKeyFactors(text, option: "lr scale", positive: true)
    }

    /// Names of the loss terms `lossWeights` takes.
    public static let lossTerms = ["mask", "dice", "iou", "class"]

    /// The released loss with `lossWeights` applied.
    public var loss: MultiStepMultiMasksAndIous {
        var l = MultiStepMultiMasksAndIous()
        if let w = lossWeights["mask"] { l.weightMask = w }
        if let w = lossWeights["dice"] { l.weightDice = w }
        if let w = lossWeights["iou"] { l.weightIoU = w }
        if let w = lossWeights["class"] { l.weightClass = w }
        return l
    }

    /// Parses `NAME=WEIGHT[,…]` (the CLI's `--loss-weights`); throws naming the bad item.
    public static func parseLossWeights(_ text: String) throws -> [String: Float] {
        let w = try parseKeyFactors(text, option: "loss weights", positive: false)
        var o = TrainingOptions()
        o.lossWeights = w
        try o.validate()
        return w
    }

    /// Parses `PATTERN=FACTOR[,PATTERN=FACTOR…]` (the CLI's `--scale-parameters`); throws naming the bad item.
    public static func parseParameterScales(_ text: String) throws -> [String: Float] {
        try parseKeyFactors(text, option: "scale parameters", positive: false)
    }

    /// `KEY=FACTOR` items separated by commas; factors finite, and > 0 when `positive`.
    static func parseKeyFactors(_ text: String, option: String, positive: Bool) throws -> [String: Float] {
        var out: [String: Float] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let f = Float(parts[1]), f.isFinite, !positive || f > 0 else {
                let example = positive ? "PREFIX=FACTOR items with a factor > 0, e.g. image_encoder=0.1"
                                       : "PATTERN=FACTOR items with a finite factor, e.g. memory_attention.layers.*.cross_attn_image.q_proj.bias=0.3"
                throw TrainingError.badOption(name: option, expected: "\(example); got '\(item)'")
            }
            out[parts[0]] = f
        }
        return out
    }

    /// Whether a state-dict key matches a pattern in which `*` stands for any run of characters (none included).
    public static func key(_ key: String, matches pattern: String) -> Bool {
        let pieces = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard pieces.count > 1 else { return key == pattern }
        guard key.hasPrefix(pieces[0]), key.dropFirst(pieces[0].count).hasSuffix(pieces[pieces.count - 1]),
              key.count >= pieces[0].count + pieces[pieces.count - 1].count else { return false }
        var rest = Substring(key.dropFirst(pieces[0].count).dropLast(pieces[pieces.count - 1].count))
        for middle in pieces.dropFirst().dropLast() where !middle.isEmpty {
            guard let r = rest.range(of: middle) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }
}

/// One row of the training log (train_log.csv).
public struct TrainingLogRow: Sendable {
    public var step: Int, learningRate: Float, loss: Float, mask: Float, dice: Float, iou: Float, objectClass: Float
    public var meanIoU: Double, frames: Int, seconds: Double
}

/// Runs SAM 2 training: clips from the sampler, the paper's prompt simulation, the official loss, AdamW with warm-up
/// and decay, clipping; appends a CSV row per step, writes a resumable checkpoint (parameters + optimiser) every
/// `checkpointEvery` steps and the final weights as a model checkpoint the inference side loads. Every step's
/// randomness derives from (seed, step), so a resumed run draws the same clips and prompts as an uninterrupted one.
public final class Trainer {
    public let model: SAM2TrainModel
    public let options: TrainingOptions
    public let sampler: TrainingClipSampler
    public let outputDirectory: String
    public let optimizer: AdamW
    /// Held-out videos for validation J&F.
    public var validationVideos: [GroundTruthVideo] = []
    /// The step the next `run` starts from (set by `resumeIfPossible`).
    public private(set) var step = 0
    /// Called after every step (progress bars, Lua callbacks); returning false stops the run after this step
    /// (which is checkpointed); an error thrown here ends `run` with that error.
    public var onStep: ((TrainingLogRow) throws -> Bool)?
    /// Called after each validation with (step, J&F by memory setting).
    public var onValidation: ((Int, [(String, Double)]) -> Void)?

    public var checkpointPath: String { outputDirectory + "/checkpoint.safetensors" }
    public var modelPath: String { outputDirectory + "/model.safetensors" }
    public var logPath: String { outputDirectory + "/train_log.csv" }
    public var validationPath: String { outputDirectory + "/validation.csv" }
    public var emaModelPath: String { outputDirectory + "/model_ema.safetensors" }

    /// The moving average of the weights by state-dict key (`options.ema` > 0), made from the weights at the first
    /// step or read back from the checkpoint.
    public private(set) var emaWeights: [String: Tensor]? = nil
    /// Checkpoint key prefix of the moving average's tensors.
    static let emaKeyPrefix = "ema."

    /// True once `run` has told glibc to keep freed memory (`sam2_malloc_retain_freed_memory`; once per process, false
    /// on other C libraries): each step frees its tape and the next allocates as much again, which with glibc's
    /// defaults means fresh zeroed pages every step (−4 % step time on a 16-frame step, docs/training.md "Speed").
    public static let retainsFreedMemory: Bool = sam2_malloc_retain_freed_memory() == 1

    public init(model: SAM2TrainModel, options: TrainingOptions, sampler: TrainingClipSampler, outputDirectory: String) throws {
        try options.validate()
        self.model = model
        self.options = options
        var s = sampler
        s.length = options.clipLength; s.maxObjects = options.maxObjects; s.maxStride = options.maxStride
        self.sampler = s
        self.outputDirectory = outputDirectory
        self.optimizer = AdamW(learningRate: options.learningRate, weightDecay: options.weightDecay)
        model.prompts = options.prompts
        model.loss = options.loss
        for (option, prefixes) in [("freeze", options.freeze), ("lr scale", options.learningRateScales.keys.sorted())] {
            for prefix in prefixes where model.store.parameters(matching: [prefix]).isEmpty {
                throw TrainingError.badOption(name: option, expected: "key prefixes of the model (e.g. image_encoder, image_encoder.neck, sam_prompt_encoder, sam_mask_decoder, memory_attention, memory_encoder); '\(prefix)' matches no parameter")
            }
        }
        model.store.setTrainable(false, prefixes: options.freeze)
        for (pattern, factor) in options.parameterScales.sorted(by: { $0.key < $1.key }) {
            let hits = model.store.parameters().filter { TrainingOptions.key($0.key, matches: pattern) }
            guard !hits.isEmpty else {
                throw TrainingError.badOption(name: "scale parameters", expected: "key patterns of the model (`*` for any characters, e.g. memory_attention.layers.*.cross_attn_image.q_proj.bias); '\(pattern)' matches no parameter")
            }
            for h in hits { h.variable.value = h.variable.value * factor }
        }
        guard !model.store.trainable.isEmpty else {
            throw TrainingError.badOption(name: "freeze", expected: "to leave some parameters trainable")
        }
        do { try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true) }
        catch { throw CheckpointError.writeFailed(path: outputDirectory, reason: error.localizedDescription) }
    }

    /// Parameters that train, keyed by name.
    var trainableParameters: [String: Variable] {
        Dictionary(uniqueKeysWithValues: model.store.parameters().filter { $0.variable.requiresGrad }.map { ($0.key, $0.variable) })
    }

    /// Loads `checkpoint.safetensors` from the output directory if present; returns the step it resumes at.
    @discardableResult
    public func resumeIfPossible() throws -> Int {
        guard FileManager.default.fileExists(atPath: checkpointPath) else { return 0 }
        try checkResumable(recorded: Checkpoint.open(checkpointPath).metadata[Self.optionsKey])   // header only
        let all = Dictionary(uniqueKeysWithValues: model.store.parameters().map { ($0.key, $0.variable) })
        let averaged = options.ema > 0 ? Dictionary(uniqueKeysWithValues: all.map { (Self.emaKeyPrefix + $0.key, $0.value.value.shape) }) : [:]
        let loaded = try TrainingCheckpoint.load(from: checkpointPath, parameters: all, optimizer: optimizer, extra: averaged)
        step = loaded.step
        if options.ema > 0 {
            emaWeights = Dictionary(uniqueKeysWithValues: loaded.extra.map { (String($0.key.dropFirst(Self.emaKeyPrefix.count)), $0.value) })
        }
        return step
    }

    /// The parameter groups, built once: which parameters train is fixed when the trainer is made.
    private lazy var parameterGroups = groups()

    /// Parameter groups (learning-rate scale, weight decay) as the official optimiser config builds them.
    func groups() -> [(scale: Float, decay: Float, parameters: [Variable])] {
        let blocks = model.architecture.hieraStages.reduce(0, +)
        var byKey: [String: [Variable]] = [:]
        var settings: [String: (Float, Float)] = [:]
        for (key, v) in model.store.parameters() where v.requiresGrad {
            var layer = blocks + 1
            if key.hasPrefix("image_encoder.trunk.") {
                let rest = key.dropFirst("image_encoder.trunk.".count)
                if rest.hasPrefix("blocks."), let i = Int(rest.dropFirst(7).prefix { $0.isNumber }) { layer = i + 1 } else { layer = 0 }
            }
            var scale = key.hasPrefix("image_encoder.trunk.") ? Float(pow(Double(options.layerDecay), Double(blocks + 1 - layer))) : 1
            if let prefix = options.learningRateScales.keys.filter({ key.hasPrefix($0) }).max(by: { $0.count < $1.count }) {
                scale *= options.learningRateScales[prefix]!
            }
            let decay: Float = v.value.rank > 1 && !SAM2Initialization.isEmbedding(key) ? options.weightDecay : 0
            let name = "\(scale)|\(decay)"
            byKey[name, default: []].append(v)
            settings[name] = (scale, decay)
        }
        return byKey.keys.sorted().map { (settings[$0]!.0, settings[$0]!.1, byKey[$0]!) }
    }

    /// The learning-rate schedule of this run.
    public var schedule: LearningRateSchedule {
        LearningRateSchedule(peak: options.learningRate, final: options.finalLearningRate, warmupSteps: options.warmupSteps,
                             holdSteps: options.holdSteps, totalSteps: options.steps, decay: LearningRateSchedule.Decay(rawValue: options.decay) ?? .cosine)
    }

    /// Replicas of the model for the clips after the first in a batch (weights copied from `model` before each step).
    private var replicas: [SAM2TrainModel] = []

    /// A training model over a copy of `model`'s variables (same keys, values and frozen flags).
    func replica() throws -> SAM2TrainModel {
        let store = ParameterStore(source: model.store.source)
        for (key, v) in model.store.parameters() { store.add(key, v.value, requiresGrad: v.requiresGrad) }
        let r = try SAM2TrainModel(architecture: model.architecture, store: store)
        r.tracking = model.tracking; r.prompts = model.prompts; r.loss = model.loss
        return r
    }

    /// Clip `stream` of the run with its prompt plan, and the generator state the forward pass continues with. Stream k
    /// is what a batch-size-1 run trains on at step k (a step of batch B trains on streams step·B … step·B + B − 1), so
    /// runs with batches draw the same clips as runs without and earlier runs' commands still give the same clips.
    /// `image` overrides the stream's own image-or-video draw (a batch takes its first clip's, so that an image never
    /// waits beside a 16-frame clip).
    func drawClip(stream: Int, image: Bool? = nil) throws -> (clip: TrainingClip, plan: ClipPromptPlan, rng: SplitMix64) {
        var rng = SplitMix64(seed: SplitMix64.hash(options.seed, stream, 0x7EA1))
        let drawn = rng.nextUnit() < options.imageFraction
        let imageStep = image ?? drawn
        var clip: TrainingClip? = nil
        var sampler = self.sampler
        if imageStep { sampler.length = 1 }
        // No extra draw when the option is off, so earlier runs' commands still give the same clips.
        let reappearance = !imageStep && options.reappearanceFraction > 0 && rng.nextUnit() < options.reappearanceFraction
        if reappearance { for _ in 0..<200 where clip == nil { clip = try sampler.sample(&rng, requireReappearance: true) } }
        for _ in 0..<100 where clip == nil { clip = try sampler.sample(&rng) }
        guard let clip else { throw TrainingError.noUsableVideo(source: "training data", reason: "100 draws gave no clip with a visible object") }
        let plan = ClipPromptPlan.draw(numFrames: clip.length, settings: model.prompts, rng: &rng)
        return (clip, plan, rng)
    }

    /// Losses and gradients of step `step`'s batch at the current weights, without updating them: leaves the
    /// batch-mean gradient in the trainable parameters' `grad` and returns the batch-mean losses, every clip's
    /// per-frame IoU and the frames trained on. `trainStep` is this, then clipping and the optimiser.
    public func computeGradients(step: Int) throws -> (result: SAM2TrainModel.ClipResult, frames: Int) {
        let params = model.store.trainable
        optimizer.zeroGrad(params)
        let b = options.batchSize
        if b == 1 {
            // One clip on the calling thread, its kernels spread over the cores.
            var (clip, plan, rng) = try drawClip(stream: step)
            let tape = GradientTape()
            tape.watch(params)
            let result = try model.forward(clip, plan: plan, rng: &rng)
            tape.backward(result.losses.core)
            return (result, clip.length)
        }
        // Clip i on model i (the trainer's model, then replicas with its current weights), one worker thread each.
        // Clips are drawn in order before the parallel part and gradients summed in batch order after it, so the
        // result does not depend on thread timing.
        while replicas.count < b - 1 { replicas.append(try replica()) }
        let models = [model] + replicas.prefix(b - 1)
        let mine = model.store.parameters()
        for r in models.dropFirst() {
            for (p, q) in zip(mine, r.store.parameters()) { q.variable.value = p.variable.value }   // copy-on-write share
        }
        let first = try drawClip(stream: step * b)
        let image = first.clip.length == 1 && options.clipLength > 1
        let draws = try [first] + (1..<b).map { try drawClip(stream: step * b + $0, image: image) }
        var outcomes = [Result<SAM2TrainModel.ClipResult, Error>?](repeating: nil, count: b)
        outcomes.withUnsafeMutableBufferPointer { slots in
            // Each index writes only its own slot; the buffer outlives the concurrent loop.
            let out = slots
            Parallel.forChunks(b, grain: 1) { range in
                for i in range {
                    out[i] = Result<SAM2TrainModel.ClipResult, Error>(catching: {
                        let m = models[i], params = m.store.trainable
                        var rng = draws[i].rng
                        let tape = GradientTape()
                        tape.watch(params)                    // gradients are nil: zeroed after every step
                        let r = try m.forward(draws[i].clip, plan: draws[i].plan, rng: &rng)
                        tape.backward(r.losses.core)
                        return r
                    })
                }
            }
        }
        let results = try outcomes.map { try $0!.get() }
        let scale = 1 / Float(b)
        let stores = models.map { $0.store.parameters() }
        for (index, p) in mine.enumerated() where p.variable.requiresGrad {
            var sum: Tensor? = nil
            for store in stores {
                guard let g = store[index].variable.grad else { continue }
                if sum == nil { sum = g } else { sum! += g }
            }
            p.variable.grad = sum.map { $0 * scale }
        }
        for r in replicas { r.store.trainable.forEach { $0.zeroGrad() } }
        func mean(_ pick: (MultiStepMultiMasksAndIous.Losses) -> Variable) -> Variable {
            Variable.constant(Tensor(shape: [1], data: [results.map { pick($0.losses).value.data[0] }.reduce(0, +) * scale]))
        }
        var merged = results[0]
        merged.losses.core = mean(\.core); merged.losses.mask = mean(\.mask); merged.losses.dice = mean(\.dice)
        merged.losses.iou = mean(\.iou); merged.losses.objectClass = mean(\.objectClass)
        merged.frameIoU = results.flatMap(\.frameIoU)
        merged.steps = results.reduce(0) { $0 + $1.steps }
        merged.frameLogits = results.flatMap(\.frameLogits); merged.objectScores = results.flatMap(\.objectScores)
        return (merged, draws.reduce(0) { $0 + $1.clip.length })
    }

    /// One optimiser step on `batchSize` freshly drawn clips; returns its log row (losses averaged over the batch,
    /// `frames` summed: 1 marks an image step at batch size 1).
    public func trainStep() throws -> TrainingLogRow {
        let start = Date()
        let params = model.store.trainable
        if options.ema > 0 && emaWeights == nil { emaWeights = model.store.stateDict }   // the average starts at the starting weights
        let (result, frames) = try computeGradients(step: step)
        if options.clipNorm > 0 { _ = Variable.clipGradientNorm(params, maxNorm: options.clipNorm) }
        let lr = schedule.rate(at: step)
        for g in parameterGroups {
            optimizer.learningRate = lr * g.scale
            optimizer.weightDecay = g.decay
            optimizer.step(g.parameters)
        }
        optimizer.zeroGrad(params)
        updateMovingAverage()
        step += 1
        let l = result.losses
        return TrainingLogRow(step: step, learningRate: lr, loss: l.core.value.data[0], mask: l.mask.value.data[0],
                              dice: l.dice.value.data[0], iou: l.iou.value.data[0], objectClass: l.objectClass.value.data[0],
                              meanIoU: result.frameIoU.reduce(0, +) / Double(max(1, result.frameIoU.count)), frames: frames,
                              seconds: Date().timeIntervalSince(start))
    }

    /// ema ← decay·ema + (1 − decay)·weights for every parameter (frozen ones stay equal to their weights).
    func updateMovingAverage() {
        let d = options.ema
        guard d > 0, var average = emaWeights else { return }
        emaWeights = nil                                  // sole owner: the tensors below update in place
        for (key, v) in model.store.parameters() {
            average[key]! *= d
            average[key]! += v.value * (1 - d)
        }
        emaWeights = average
    }

    /// The moving average as a state dict (the weights themselves until the first step).
    var emaStateDict: [String: Tensor] { emaWeights ?? model.store.stateDict }

    /// Trains until `options.steps` (or until `onStep` says stop), logging, checkpointing and validating as
    /// configured; then writes the model and validates it.
    public func run() throws {
        _ = Self.retainsFreedMemory
        if step == 0 || !FileManager.default.fileExists(atPath: logPath) {
            try "step,lr,loss,loss_mask,loss_dice,loss_iou,loss_class,mean_iou,frames,seconds\n".write(toFile: logPath, atomically: true, encoding: .utf8)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        log.seekToEndOfFile()
        while step < options.steps {
            let row = try trainStep()
            let line = String(format: "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.4f,%d,%.3f\n", row.step, row.learningRate, row.loss, row.mask,
                              row.dice, row.iou, row.objectClass, row.meanIoU, row.frames, row.seconds)
            log.write(Data(line.utf8))
            let proceed = try onStep?(row) ?? true
            if step % options.checkpointEvery == 0 || step == options.steps || !proceed { try saveCheckpoint() }
            if !proceed { break }
            if options.validateEvery > 0 && step % options.validateEvery == 0 && step < options.steps { try validate() }
        }
        try saveModel(to: modelPath)
        if options.ema > 0 { try saveModel(to: emaModelPath, weights: emaStateDict) }
        try validate()
    }

    /// Metadata key of the options a training checkpoint was written with.
    public static let optionsKey = "sam2_workbench_training_options"

    /// The options as sorted-key JSON, without the ones a resumed run may change: how often it checkpoints and
    /// validates, and its length (`steps`, `warmupSteps`, `holdSteps`: extending a run recomputes the schedule from the new length).
    static func resumeRelevantOptions(_ options: TrainingOptions) -> [String: String] {
        var o = options
        o.checkpointEvery = 1; o.validateEvery = 0; o.validationVideos = 0; o.validationFrames = 0
        o.steps = 1; o.warmupSteps = 0; o.holdSteps = 0
        guard let data = try? JSONEncoder().encode(o),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object.mapValues { value in
            (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]))
                .flatMap { String(data: $0, encoding: .utf8) } ?? "\(value)"
        }
    }

    /// Throws when the checkpoint was written with other options than this run's (a resumed run would silently
    /// continue the other run); checkpoints from before options were recorded resume unchecked.
    func checkResumable(recorded: String?) throws {
        guard let recorded, let data = recorded.data(using: .utf8) else { return }
        guard let theirs = Self.recordedOptions(data) else {
            throw CheckpointError.badHeader(path: checkpointPath, reason: "metadata \"\(Self.optionsKey)\" is not a TrainingOptions JSON object")
        }
        let a = Self.resumeRelevantOptions(theirs), b = Self.resumeRelevantOptions(options)
        let differing = Set(a.keys).union(b.keys).sorted().filter { a[$0] != b[$0] }
        guard !differing.isEmpty else { return }
        let list = differing.map { "\($0) \(a[$0] ?? "unset") there vs \(b[$0] ?? "unset") here" }.joined(separator: "; ")
        throw TrainingError.badOption(name: "resume from \(checkpointPath)",
                                      expected: "the options the checkpoint was written with (\(list)); start over with --no-resume (Lua: resume = false) or write to another --out; steps and warm-up may change to extend a run")
    }

    /// Options recorded in a checkpoint, with the defaults for options added since it was written (an option's default
    /// is the behaviour from before it existed, e.g. `batchSize` 1); nil when the record is not an options object.
    static func recordedOptions(_ data: Data) -> TrainingOptions? {
        func merged(_ defaults: [String: Any], _ recorded: [String: Any]) -> [String: Any] {
            defaults.merging(recorded) { d, r in
                if let d = d as? [String: Any], let r = r as? [String: Any] { return merged(d, r) }
                return r
            }
        }
        guard let recorded = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let defaults = (try? JSONEncoder().encode(TrainingOptions())).flatMap({ try? JSONSerialization.jsonObject(with: $0) }) as? [String: Any],
              let full = try? JSONSerialization.data(withJSONObject: merged(defaults, recorded)) else { return nil }
        return try? JSONDecoder().decode(TrainingOptions.self, from: full)
    }

    /// Writes the resumable checkpoint (all parameters, optimiser state, step, architecture, options).
    public func saveCheckpoint() throws {
        let all = Dictionary(uniqueKeysWithValues: model.store.parameters().map { ($0.key, $0.variable) })
        var meta = [SAM2Architecture.metadataKey: model.architecture.json]
        if let data = try? JSONEncoder().encode(options), let json = String(data: data, encoding: .utf8) { meta[Self.optionsKey] = json }
        let extra = options.ema > 0 ? Dictionary(uniqueKeysWithValues: emaStateDict.map { (Self.emaKeyPrefix + $0.key, $0.value) }) : [:]
        try TrainingCheckpoint.save(to: checkpointPath, parameters: all, optimizer: optimizer, step: step, metadata: meta, extra: extra)
    }

    /// Writes the current weights (or `weights`, a state dict such as the moving average) as a model checkpoint
    /// (state dict + architecture) that `SAM2VideoModel` loads.
    public func saveModel(to path: String, weights: [String: Tensor]? = nil, metadata: [String: String] = [:]) throws {
        var meta = metadata
        meta[SAM2Architecture.metadataKey] = model.architecture.json
        meta["step"] = String(step)
        let partial = path + ".partial"
        try SafeTensors.write(weights ?? model.store.stateDict, metadata: meta, to: partial)
        if FileManager.default.fileExists(atPath: path) { try? FileManager.default.removeItem(atPath: path) }
        do { try FileManager.default.moveItem(atPath: partial, toPath: path) }
        catch { throw CheckpointError.writeFailed(path: path, reason: error.localizedDescription) }
    }

    /// The current weights as an inference model (through a temporary safetensors file).
    public func inferenceModel(weights: [String: Tensor]? = nil) throws -> SAM2VideoModel {
        let path = outputDirectory + "/.validation-model.safetensors"
        try saveModel(to: path, weights: weights)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try SAM2VideoModel(checkpoint: path)
    }

    /// J&F of the current weights (and of their moving average, settings suffixed " ema") on the validation videos
    /// (first-frame masks, DAVIS protocol) with the model's memory and with 1 memory; appended to validation.csv.
    @discardableResult
    public func validate() throws -> [(String, Double)] {
        guard !validationVideos.isEmpty else { return [] }
        let memories = [model.architecture.numMaskmem, 1]
        var results = try Self.evaluate(model: try inferenceModel(), videos: validationVideos, memories: memories)
        if options.ema > 0 {
            results += try Self.evaluate(model: try inferenceModel(weights: emaStateDict), videos: validationVideos, memories: memories)
                .map { ($0.0 + " ema", $0.1) }
        }
        if !FileManager.default.fileExists(atPath: validationPath) {
            try "step,setting,j_and_f\n".write(toFile: validationPath, atomically: true, encoding: .utf8)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: validationPath))
        handle.seekToEndOfFile()
        for (name, v) in results { handle.write(Data(String(format: "%d,%@,%.4f\n", step, name, v).utf8)) }
        try? handle.close()
        onValidation?(step, results)
        return results
    }

    /// Mean J&F over `videos` (semi-supervised: every object's first-frame mask) per memory count.
    public static func evaluate(model: SAM2VideoModel, videos: [GroundTruthVideo], memories: [Int]) throws -> [(String, Double)] {
        try memories.map { k in
            var policy = OfficialMemoryPolicy()
            policy.numMaskmem = k
            policy.evict = false
            let evaluation = InteractiveEvaluation(model: model, policy: policy)
            let scores = try videos.map { try evaluation.run($0, schedule: MaskPromptSchedule()).rounds.first?.jAndF ?? 0 }
            return ("\(k) memor\(k == 1 ? "y" : "ies")", scores.reduce(0, +) / Double(max(1, scores.count)))
        }
    }
}
