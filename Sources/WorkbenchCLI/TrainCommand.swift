import ArgumentParser
import Foundation
import SAM2

/// `workbench train …`: trains SAM 2 on video clips with simulated prompts (the paper's procedure), from scratch or
/// from a checkpoint, with a progress bar, a CSV log, periodic validation J&F, resumable checkpoints and freezing.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train SAM 2 on video clips with simulated prompts and corrective clicks (resumes from OUT/checkpoint.safetensors).",
        discussion: """
        --model: 'embedded' (the embedded small architecture, from scratch), ARCH.json (a SAM2Architecture, from scratch) \
        or a checkpoint (.pt / .safetensors) to fine-tune.
        --data: synthetic:COUNT[:SEED], davis:ROOT[:SPLIT], ytvos:ROOT[:SPLIT], sav:ROOT, or a DAVIS root.
        Writes OUT/train_log.csv (one row per step), OUT/validation.csv, OUT/checkpoint.safetensors (parameters + AdamW \
        state, every --checkpoint-every steps), OUT/model.safetensors (final weights; load it with any command's \
        --checkpoint; with --ema also OUT/model_ema.safetensors) and OUT/loss_curve.png. Re-running the same command after an interruption resumes.
        """)

    @Option(help: "embedded | ARCH.json | CHECKPOINT") var model: String
    @Option(help: "Training videos (see below).") var data: String
    @Option(help: "Optimiser steps (--batch-size clips each).") var steps: Int
    @Option(help: "Clips per step, gradients averaged (one worker thread each; 2 on 2 cores: 1.3× the frames per second of 1).") var batchSize: Int = 1
    @Option(help: "Output directory.") var out: String
    @Option(name: .customLong("lr"), help: "Peak learning rate.") var learningRate: Float = 1e-3
    @Option(name: .customLong("final-lr"), help: "Learning rate at the last step.") var finalLearningRate: Float = 1e-5
    @Option(help: "Warm-up steps (default: min(50, steps / 10)).") var warmup: Int?
    @Option(help: "Steps at the peak rate after warm-up, before the decay starts (0: decay at once).") var hold: Int = 0
    @Option(help: "Decay after warm-up (and --hold): cosine or linear.") var decay: String = "cosine"
    @Option(help: "AdamW weight decay (matrices and kernels only).") var weightDecay: Float = 0.01
    @Option(help: "Global gradient-norm clip (0: off).") var clipNorm: Float = 1
    @Option(help: "Layer-wise learning-rate decay of the Hiera trunk (1: off; the released fine-tuning uses 0.9).") var layerDecay: Float = 1
    @Option(help: "Learning-rate multipliers by key prefix, e.g. image_encoder=0.1,sam_mask_decoder=2 (longest prefix wins).") var lrScale: String = ""
    @Option(help: "Loss weights replacing the released mask=20,dice=1,iou=1,class=1, e.g. class=4.") var lossWeights: String = ""
    @Option(help: "Keep an exponential moving average of the weights with this decay per step, e.g. 0.998 (0: off); writes OUT/model_ema.safetensors.") var ema: Float = 0
    @Option(help: "Frames per clip.") var clipLength: Int = 8
    @Option(help: "Objects per clip (max_num_objects).") var maxObjects: Int = 3
    @Option(help: "Largest frame stride inside a clip.") var maxStride: Int = 3
    @Option(help: "Multiply starting weights by key pattern before the first step, e.g. 'memory_attention.layers.*.cross_attn_image.q_proj.bias=0.3' (* matches any characters).") var scaleParameters: String = ""
    @Option(help: "Fraction of steps on a single frame (image training).") var imageFraction: Double = 0
    @Option(help: "Fraction of video steps whose clip shows an object leaving and coming back.") var reappearanceFraction: Double = 0
    @Option(help: "Corrective clicks per corrected frame (num_correction_pt_per_frame).") var correctionClicks: Int = 7
    @Option(help: "Comma list of key prefixes to freeze, e.g. image_encoder,sam_prompt_encoder.") var freeze: String = ""
    @Option(help: "Seed of the initial weights, clips and prompts.") var seed: UInt64 = 0
    @Option(help: "Checkpoint every N steps.") var checkpointEvery: Int = 100
    @Option(help: "Validate every N steps (0: only at the end).") var validateEvery: Int = 0
    @Option(help: "Held-out synthetic validation videos (0: no validation).") var valVideos: Int = 4
    @Option(help: "Frames per validation video.") var valFrames: Int = 40
    @Option(help: "Frames per synthetic training video.") var syntheticFrames: Int = 48
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Flag(help: "Start over even if OUT/checkpoint.safetensors exists.") var noResume = false

    func options() throws -> TrainingOptions {
        var o = TrainingOptions()
        o.steps = steps; o.batchSize = batchSize; o.learningRate = learningRate; o.finalLearningRate = finalLearningRate; o.warmupSteps = warmup ?? min(50, steps / 10)
        o.holdSteps = hold; o.decay = decay; o.weightDecay = weightDecay; o.clipNorm = clipNorm; o.layerDecay = layerDecay
        do { o.learningRateScales = try TrainingOptions.parseLearningRateScales(lrScale) } catch { throw ValidationError("--lr-scale: \(error)") }
        do { o.parameterScales = try TrainingOptions.parseParameterScales(scaleParameters) } catch { throw ValidationError("--scale-parameters: \(error)") }
        do { o.lossWeights = try TrainingOptions.parseLossWeights(lossWeights) } catch { throw ValidationError("--loss-weights: \(error)") }
        o.clipLength = clipLength; o.maxObjects = maxObjects; o.maxStride = maxStride; o.imageFraction = imageFraction
        o.reappearanceFraction = reappearanceFraction; o.ema = ema
        o.prompts.numCorrectionPtPerFrame = correctionClicks
        o.freeze = freeze.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        o.seed = seed; o.checkpointEvery = checkpointEvery; o.validateEvery = validateEvery
        o.validationVideos = valVideos; o.validationFrames = valFrames; o.syntheticFrames = syntheticFrames
        do { try o.validate() } catch { throw ValidationError("\(error)") }
        return o
    }

    func validate() throws {
        _ = try options()
        if correctionClicks < 0 { throw ValidationError("--correction-clicks must be ≥ 0, got \(correctionClicks)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
        do { _ = try TrainingDataSpec.parse(data) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        if let threads { Parallel.setThreadCount(threads) }
        let o = try options()
        if noResume { try? FileManager.default.removeItem(atPath: out + "/checkpoint.safetensors") }
        let trainer: Trainer = CLI.orFail {
            let model = try TrainingRun.model(self.model, seed: o.seed)
            let videos = try TrainingDataSpec.parse(data).videos(imageSize: model.architecture.imageSize, syntheticFrames: o.syntheticFrames)
            let sampler = try TrainingClipSampler(videos: videos, imageSize: model.architecture.imageSize)
            let t = try Trainer(model: model, options: o, sampler: sampler, outputDirectory: out)
            t.validationVideos = try TrainingRun.validationVideos(size: model.architecture.imageSize, count: o.validationVideos,
                                                                  frames: o.validationFrames)
            return t
        }
        let start = CLI.orFail { try trainer.resumeIfPossible() }
        let arch = trainer.model.architecture
        print("model: \(model) — \(arch.json)")
        print(String(format: "parameters: %d (%.2f MB as float32), trainable %d", trainer.model.store.parameterCount,
                     Double(trainer.model.store.parameterCount * 4) / 1e6, trainer.model.store.trainable.reduce(0) { $0 + $1.value.count }))
        if start > 0 { print("resuming at step \(start) from \(trainer.checkpointPath)") }
        let bar = ProgressBar(total: max(0, steps - start), label: "train", unit: "steps")
        var recent: [Float] = [], recentIoU: [Double] = []
        trainer.onStep = { row in
            recent.append(row.loss); recentIoU.append(row.meanIoU)
            if recent.count > 20 { recent.removeFirst(); recentIoU.removeFirst() }
            bar.setStatus(String(format: "step %d loss %.3f (mean of %d: %.3f) IoU %.2f lr %.2g", row.step, row.loss, recent.count,
                                 recent.reduce(0, +) / Float(recent.count), recentIoU.reduce(0, +) / Double(recentIoU.count), row.learningRate))
            bar.advance()
            return true
        }
        trainer.onValidation = { step, results in
            let text = results.map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: ", ")
            FileHandle.standardError.write(Data("\nvalidation J&F at step \(step): \(text)\n".utf8))
        }
        CLI.orFail { try trainer.run() }
        bar.finish()
        CLI.orFail { try TrainingRun.writeLossCurve(log: trainer.logPath, to: out + "/loss_curve.png") }
        if trainer.options.ema > 0 { print("moving average: \(trainer.emaModelPath)") }
        print("model: \(trainer.modelPath)\nlog: \(trainer.logPath)\nloss curve: \(out)/loss_curve.png")
    }
}
