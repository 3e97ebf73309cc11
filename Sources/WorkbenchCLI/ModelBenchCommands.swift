import ArgumentParser
import Foundation
import SAM2

/// Options shared by `workbench bench encoder|attention|track|all`.
struct ModelBenchOptions: ParsableArguments {
    @Option(help: "Checkpoint (.pt or .safetensors) to take the weights from (default: seeded random weights in memory).")
    var checkpoint: String?

    @Option(help: ArgumentHelp("Released config(s) to benchmark; repeat for several (default: sam2.1_hiera_t and sam2.1_hiera_s, or the checkpoint's).",
                               valueName: "sam2.1_hiera_t"))
    var config: [String] = []

    @Option(help: "Worker threads for our kernels and OpenBLAS (default: all cores).")
    var threads: Int?

    @Option(help: "Timed runs after one warm-up.")
    var repeats: Int = 3

    @Option(name: .customLong("image-size"), help: "Input side (the released models use 1024).")
    var imageSize: Int = 1024

    @Option(help: "Spatial memories seen by the attention benchmark.")
    var memories: Int = 7

    @Option(name: .customLong("pointer-tokens"), help: "Object-pointer tokens seen by the attention benchmark (16 pointers × 4).")
    var pointerTokens: Int = 64

    @Option(help: "Seed of the random weights.")
    var seed: UInt64 = 0

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
        if repeats < 1 { throw ValidationError("--repeats must be ≥ 1, got \(repeats)") }
        if imageSize <= 0 || imageSize % 32 != 0 { throw ValidationError("--image-size must be a positive multiple of 32, got \(imageSize)") }
        if memories < 0 { throw ValidationError("--memories must be ≥ 0, got \(memories)") }
        if pointerTokens < 0 { throw ValidationError("--pointer-tokens must be ≥ 0, got \(pointerTokens)") }
        if checkpoint != nil && config.count > 1 { throw ValidationError("--checkpoint takes at most one --config") }
    }

    /// Runs `kinds` on every selected model, printing each result as it comes and the table at the end.
    func run(_ kinds: [ModelBenchmark.Kind]) {
        var options = ModelBenchmark.Options(threads: threads, repeats: repeats)
        options.memories = memories
        options.pointerTokens = pointerTokens
        let report: ModelBenchmark.Report = CLI.orFail {
            let machine = try ModelBenchmark.machine(options)
            var measurements: [ModelBenchmark.Measurement] = []
            let names = config.isEmpty && checkpoint == nil ? ["sam2.1_hiera_t", "sam2.1_hiera_s"] : config
            let models: [() throws -> ModelBenchmark.Model] = checkpoint.map { path in
                [{ try ModelBenchmark.Model.load(checkpoint: path, config: names.first, imageSize: imageSize) }]
            } ?? names.map { name in { try ModelBenchmark.Model.random(config: name, imageSize: imageSize, seed: seed) } }
            for make in models {
                // One model at a time, so the previous one's weights are freed before the next is built.
                let model = try make()
                for kind in kinds {
                    let m = try ModelBenchmark.measure(kind, model: model, options: options, machine: machine)
                    FileHandle.standardError.write(Data(String(format: "%@ %@: best %.3f s, median %.3f s\n",
                                                               m.benchmark, m.model, m.bestSeconds, m.medianSeconds).utf8))
                    measurements.append(m)
                }
            }
            return ModelBenchmark.Report(machine: machine, repeats: repeats, measurements: measurements)
        }
        print(report.table)
        if let json {
            CLI.orFail { try report.json().write(to: URL(fileURLWithPath: json), options: .atomic) }
        }
    }
}

extension BenchCommand {
    struct Encoder: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time forward_image (Hiera trunk + FPN neck + conv_s0/s1) on one image.")
        @OptionGroup var options: ModelBenchOptions
        func run() throws { options.run([.encoder]) }
    }

    struct Attention: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time the memory attention at steady state (7 memories × 4096 + 64 pointer tokens).")
        @OptionGroup var options: ModelBenchOptions
        func run() throws { options.run([.attention]) }
    }

    struct Track: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time one tracking step per frame (not available yet: needs the video tracker).")
        @OptionGroup var options: ModelBenchOptions
        func run() throws {
            CLI.fail("bench track is not implemented yet: it needs the video tracker (SAM2VideoModel), which is not on this branch")
        }
    }

    struct All: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every model benchmark available (encoder, attention).")
        @OptionGroup var options: ModelBenchOptions
        func run() throws { options.run(ModelBenchmark.Kind.allCases) }
    }
}
