import ArgumentParser
import SAM2

/// `workbench bench …`: kernel and model benchmarks (the model ones are in ModelBenchCommands.swift).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the compute kernels (sgemm, fused attention) and the model's modules (encoder, memory attention).",
        subcommands: [Gemm.self, Encoder.self, Attention.self, Track.self, All.self]
    )

    struct Gemm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "sgemm GFLOP/s at SAM 2 sizes and the fused attention (4096 queries × 28,736 keys × 256).")

        @Option(help: "Worker threads for our kernels and OpenBLAS (default: all cores).")
        var threads: Int?

        @Option(help: "Timed runs per size after one warm-up.")
        var repeats: Int = 5

        @Flag(help: "Also sweep the attention block sizes and schedules (slow; uses --sweep-keys keys).")
        var sweep = false

        @Option(help: "Keys in the block sweep (28,736 in SAM 2; fewer is quicker and blocks behave the same).")
        var sweepKeys: Int = 28_736

        func validate() throws {
            if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
            if repeats < 1 { throw ValidationError("--repeats must be ≥ 1, got \(repeats)") }
            if sweepKeys < 1 { throw ValidationError("--sweep-keys must be ≥ 1, got \(sweepKeys)") }
        }

        func run() throws {
            if sweep {
                if let threads { Parallel.setThreadCount(threads) }
                print("attention block sweep (4096 × \(sweepKeys) × 256), threads \(Parallel.threadCount)")
                print(GemmBenchmark.attentionBlockSweep(queryBlocks: [128, 256, 512], keyBlocks: [256, 512],
                                                        lk: sweepKeys, repeats: repeats))
                return
            }
            print(GemmBenchmark.run(threads: threads, repeats: repeats).report)
        }
    }
}
