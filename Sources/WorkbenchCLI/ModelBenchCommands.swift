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

    @Option(help: ArgumentHelp("Precision of the matrix products (float32 or bfloat16/bf16); bf16 also runs float32 once and reports the output error.",
                               valueName: "float32|bfloat16"),
            transform: { try ComputePrecision(parsing: $0) })
    var precision: ComputePrecision = .float32

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
        options.precision = precision
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
            abstract: "Time SAM2VideoPredictor per frame at steady state (7 memories) for 1 and 3 objects, split by part.",
            discussion: """
                A synthetic \(TrackBenchmark.steadyStateFrame)+ frame video (three moving discs, no files), one click per \
                object on frame 0, propagated forwards; frames ≥ \(TrackBenchmark.steadyStateFrame) are timed. Default \
                model: sam2.1_hiera_t with random weights. --repeats is not used (every timed frame is a run).
                """)
        @OptionGroup var options: ModelBenchOptions

        @Option(help: ArgumentHelp("Object counts to time, comma-separated (each 1…3).", valueName: "1,3"))
        var objects: String = "1,3"

        @Option(help: "Frames in the synthetic video (frames ≥ \(TrackBenchmark.steadyStateFrame) are timed; ≥ 17 for 16 object pointers).")
        var frames: Int = 12

        func validate() throws {
            if objectCounts == nil { throw ValidationError("--objects must be a comma-separated list of 1, 2 or 3, got '\(objects)'") }
            if frames <= TrackBenchmark.steadyStateFrame {
                throw ValidationError("--frames must be > \(TrackBenchmark.steadyStateFrame), got \(frames)")
            }
        }

        var objectCounts: [Int]? {
            let v = objects.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !v.isEmpty, v.allSatisfy({ $0.map { (1...3).contains($0) } ?? false }) else { return nil }
            return v.compactMap { $0 }
        }

        func run() throws {
            let o = options
            var benchOptions = ModelBenchmark.Options(threads: o.threads, repeats: 1)
            benchOptions.precision = o.precision
            let report: ModelBenchmark.Report = CLI.orFail {
                let machine = try ModelBenchmark.machine(benchOptions)
                let names = o.config.isEmpty && o.checkpoint == nil ? ["sam2.1_hiera_t"] : o.config
                let models: [() throws -> ModelBenchmark.Model] = o.checkpoint.map { path in
                    [{ try ModelBenchmark.Model.load(checkpoint: path, config: names.first, imageSize: o.imageSize) }]
                } ?? names.map { name in { try ModelBenchmark.Model.random(config: name, imageSize: o.imageSize, seed: o.seed) } }
                var measurements: [ModelBenchmark.Measurement] = []
                for make in models {
                    let model = try make()
                    let video = try TrackBenchmark.videoModel(model)
                    for count in objectCounts ?? [1] {
                        let m = try TrackBenchmark.measure(model: model, videoModel: video, objects: count, frames: frames,
                                                           options: benchOptions, machine: machine)
                        FileHandle.standardError.write(Data(String(format: "%@ %@: best %.3f s/frame, median %.3f s/frame\n",
                                                                   m.benchmark, m.model, m.bestSeconds, m.medianSeconds).utf8))
                        measurements.append(m)
                    }
                }
                return ModelBenchmark.Report(machine: machine, repeats: frames - TrackBenchmark.steadyStateFrame,
                                             measurements: measurements)
            }
            print(report.table)
            if let json = o.json {
                CLI.orFail { try report.json().write(to: URL(fileURLWithPath: json), options: .atomic) }
            }
        }
    }

    struct All: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the per-module benchmarks (encoder, attention); `bench track` runs separately.")
        @OptionGroup var options: ModelBenchOptions
        func run() throws { options.run(ModelBenchmark.Kind.allCases) }
    }
}
