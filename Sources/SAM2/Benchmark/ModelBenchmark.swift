import Foundation
import COpenBLAS

/// Errors of the model benchmarks (bad options; checkpoint problems surface as `CheckpointError`).
public enum BenchmarkError: Error, CustomStringConvertible, Equatable {
    case invalidOption(name: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidOption(name, reason): return "benchmark option \(name): \(reason)"
        }
    }
}

/// Seconds per frame, GFLOP/s, fraction of the machine's sgemm rate and peak RSS of SAM 2's modules at their
/// real sizes (`workbench bench encoder|attention|all`). FLOPs come from `ModelFlops`.
public enum ModelBenchmark {
    /// What is timed.
    public enum Kind: String, CaseIterable, Sendable, Codable {
        /// `forward_image`: Hiera trunk + FPN neck + conv_s0/conv_s1 on one [1, 3, S, S] image.
        case encoder
        /// `memory_attention` at steady state: S/16 × S/16 current tokens, `memories` spatial memories of as many
        /// tokens each, plus `pointerTokens` object-pointer tokens.
        case attention
    }

    /// The weights and configs a benchmark runs on.
    public struct Model: Sendable {
        /// Config name ("sam2.1_hiera_t", or "custom").
        public var name: String
        public var encoder: HieraImageEncoder.Config
        public var memoryAttention: MemoryAttentionConfig
        public var checkpoint: Checkpoint
        /// Side of the square input image.
        public var imageSize: Int

        public init(name: String, encoder: HieraImageEncoder.Config, memoryAttention: MemoryAttentionConfig,
                    checkpoint: Checkpoint, imageSize: Int) {
            self.name = name; self.encoder = encoder; self.memoryAttention = memoryAttention
            self.checkpoint = checkpoint; self.imageSize = imageSize
        }

        /// A released config (e.g. "sam2.1_hiera_t") with seeded random weights built in memory.
        public static func random(config name: String, imageSize: Int = 1024, seed: UInt64 = 0) throws -> Model {
            guard let (_, size) = SAM2ModelConfig.parseName(name) else {
                throw SAM2ModelError.unknownConfig(path: "(random weights)", name: name, known: SAM2ModelConfig.releasedNames)
            }
            return try random(name: name, encoder: .official(size), memoryAttention: MemoryAttentionConfig(),
                              imageSize: imageSize, seed: seed)
        }

        /// Any config (e.g. a reduced one for tests) with seeded random weights built in memory (the full SAM 2
        /// state dict, so that `bench track` can build the video model from it).
        public static func random(name: String, encoder: HieraImageEncoder.Config, memoryAttention: MemoryAttentionConfig,
                                  imageSize: Int, seed: UInt64 = 0) throws -> Model {
            let ckpt = try RandomCheckpoint.make(shapes: RandomCheckpoint.sam2Shapes(encoder: encoder, memoryAttention: memoryAttention),
                                                 seed: seed)
            return Model(name: name, encoder: encoder, memoryAttention: memoryAttention, checkpoint: ckpt, imageSize: imageSize)
        }

        /// The weights of a .pt / .safetensors checkpoint; the encoder config is inferred from its shapes unless a
        /// released `config` name is given; memory-attention sizes are read from its shapes.
        public static func load(checkpoint path: String, config name: String? = nil, imageSize: Int = 1024) throws -> Model {
            let ckpt = try Checkpoint.open(path)
            let shapes = ckpt.shapes
            var encoder = try HieraImageEncoder.Config.inferred(shapes: shapes)
            var modelName = InferredModelConfig.infer(shapes: shapes).name
            if let name {
                guard let (_, size) = SAM2ModelConfig.parseName(name) else {
                    throw SAM2ModelError.unknownConfig(path: path, name: name, known: SAM2ModelConfig.releasedNames)
                }
                encoder = .official(size)
                modelName = name
            }
            let p = "memory_attention."
            var ma = MemoryAttentionConfig(dModel: shapes[p + "norm.weight"]?.first ?? 256,
                                           kvInDim: shapes[p + "layers.0.cross_attn_image.k_proj.weight"]?.last ?? 64)
            ma.dimFeedforward = shapes[p + "layers.0.linear1.weight"]?.first ?? ma.dimFeedforward
            ma.numLayers = Swift.max(1, shapes.keys.filter { $0.hasPrefix(p + "layers.") && $0.hasSuffix(".norm1.weight") }.count)
            return Model(name: modelName, encoder: encoder, memoryAttention: ma, checkpoint: ckpt, imageSize: imageSize)
        }
    }

    /// How to measure.
    public struct Options: Sendable {
        /// Worker threads for our kernels and OpenBLAS (nil keeps the current setting).
        public var threads: Int?
        /// Timed runs after one warm-up run.
        public var repeats = 3
        /// Spatial memories of the attention benchmark (7 = the official num_maskmem at steady state).
        public var memories = 7
        /// Object-pointer tokens (16 pointers × 256/64 tokens each at steady state).
        public var pointerTokens = 64
        /// sgemm size (m, n, k) whose rate the results are compared with (the memory attention's MLP shape).
        public var sgemmSize = [4096, 2048, 256]
        /// Precision of the timed runs (`ComputePrecision.current` during them); other than float32, one float32 run
        /// on the same input is compared with it (`Measurement.fidelity`). The machine's sgemm rate stays float32.
        public var precision: ComputePrecision = .float32

        public init(threads: Int? = nil, repeats: Int = 3) { self.threads = threads; self.repeats = repeats }

        func validate() throws {
            if let threads, threads < 1 { throw BenchmarkError.invalidOption(name: "threads", reason: "must be ≥ 1, got \(threads)") }
            if repeats < 1 { throw BenchmarkError.invalidOption(name: "repeats", reason: "must be ≥ 1, got \(repeats)") }
            if memories < 0 { throw BenchmarkError.invalidOption(name: "memories", reason: "must be ≥ 0, got \(memories)") }
            if pointerTokens < 0 { throw BenchmarkError.invalidOption(name: "pointerTokens", reason: "must be ≥ 0, got \(pointerTokens)") }
            if sgemmSize.count != 3 || sgemmSize.contains(where: { $0 < 1 }) {
                throw BenchmarkError.invalidOption(name: "sgemmSize", reason: "needs three sizes ≥ 1, got \(sgemmSize)")
            }
        }
    }

    /// The machine's reference rate and load, measured at the start of a run.
    public struct Machine: Sendable, Codable {
        public var threads: Int
        /// (m, n, k) of the reference sgemm.
        public var sgemmSize: [Int]
        /// Best-of-N sgemm rate (2·m·n·k / best wall time).
        public var sgemmGflops: Double
        /// sgemm rate per process CPU second (2·m·n·k / least CPU time): the steadier figure on a shared machine.
        public var sgemmGflopsPerCPUSecond: Double
        /// /proc/loadavg (1, 5, 15 minutes) at the start.
        public var loadAverage: [Double]
        /// OpenBLAS's kernel set (`Parallel.blasCoreDescription`).
        public var blasCore: String?
    }

    /// One benchmark on one model.
    public struct Measurement: Sendable, Codable {
        public var benchmark: String
        public var model: String
        /// Input sizes, e.g. "1×3×1024×1024" or "4096 q × (7×4096 + 64) k".
        public var shape: String
        public var flops: FlopCount
        /// Wall seconds of each timed run (after the warm-up).
        public var seconds: [Double]
        public var bestSeconds: Double
        public var medianSeconds: Double
        /// Least process CPU seconds (all threads) of a run.
        public var leastCPUSeconds: Double
        /// Model FLOPs / best wall time.
        public var gflops: Double
        /// Model FLOPs / least CPU time.
        public var gflopsPerCPUSecond: Double
        /// `gflops` / the machine's sgemm rate.
        public var fractionOfSgemm: Double
        /// `gflopsPerCPUSecond` / the machine's sgemm rate per CPU second (steadier under load).
        public var fractionOfSgemmPerCPUSecond: Double
        /// VmHWM over the timed runs (after resetting it once the model was built): weights, inputs, activations
        /// and the process baseline. Nil where /proc is unavailable.
        public var peakRSSBytes: Int?
        /// /proc/loadavg right after the runs.
        public var loadAverageAfter: [Double]
        /// Per-part seconds per run (`track`: encoder, memory attention, decoder, memory encoder, other).
        public var parts: [TrackBenchmark.PartTime]? = nil
        /// `track` runs of ≥ 50 frames: peak RSS so far after frame 50, every 250th frame and the last.
        public var peakRSSByFrame: [TrackBenchmark.RSSSample]? = nil
        /// Precision of the timed runs.
        public var precision: String = ComputePrecision.float32.rawValue
        /// Outputs against a float32 run, when `precision` is not float32.
        public var fidelity: PrecisionFidelity? = nil
    }

    /// Everything one run measured.
    public struct Report: Sendable, Codable {
        public var machine: Machine
        public var repeats: Int
        public var measurements: [Measurement]

        public init(machine: Machine, repeats: Int, measurements: [Measurement]) {
            self.machine = machine; self.repeats = repeats; self.measurements = measurements
        }

        /// A fixed-width table.
        public var table: String {
            var lines = ["threads \(machine.threads)\(machine.blasCore.map { ", OpenBLAS core \($0)" } ?? ""), sgemm \(machine.sgemmSize.map(String.init).joined(separator: "×")): "
                         + String(format: "%.1f GFLOP/s (%.1f GFLOP per CPU-s), load average %@ at start; ",
                                  machine.sgemmGflops, machine.sgemmGflopsPerCPUSecond,
                                  machine.loadAverage.map { String(format: "%.2f", $0) }.joined(separator: " "))
                         + "best/median of \(repeats) after 1 warm-up"]
            let widths = [10, 16, 9, 9, 10, 9, 9, 10, 8, 10, 10, 7]
            if let p = measurements.first?.precision, p != ComputePrecision.float32.rawValue {
                lines.append("precision \(p) (sgemm columns: fraction of the float32 sgemm rate)")
            }
            lines.append(GemmBenchmark.row(["benchmark", "model", "GFLOP", "best s", "median s", "cpu s", "GFLOP/s",
                                            "GF/cpu-s", "sgemm", "sgemm cpu", "peak MiB", "load"], widths: widths))
            for m in measurements {
                lines.append(GemmBenchmark.row([
                    m.benchmark, m.model, String(format: "%.1f", Double(m.flops.total) / 1e9),
                    String(format: "%.3f", m.bestSeconds), String(format: "%.3f", m.medianSeconds),
                    String(format: "%.3f", m.leastCPUSeconds), String(format: "%.1f", m.gflops),
                    String(format: "%.1f", m.gflopsPerCPUSecond), String(format: "%.0f%%", 100 * m.fractionOfSgemm),
                    String(format: "%.0f%%", 100 * m.fractionOfSgemmPerCPUSecond),
                    m.peakRSSBytes.map { String(format: "%.0f", Double($0) / 1_048_576) } ?? "n/a",
                    m.loadAverageAfter.first.map { String(format: "%.2f", $0) } ?? "n/a",
                ], widths: widths))
                if let fidelity = m.fidelity {
                    lines.append(String(repeating: " ", count: 12) + fidelity.summary)
                }
                if let parts = m.parts {
                    lines.append(String(repeating: " ", count: 12) + "per frame (mean / best s): " + parts.map {
                        String(format: "%@ %.3f / %.3f", $0.name, $0.meanSeconds, $0.bestSeconds)
                    }.joined(separator: ", "))
                }
                if let curve = m.peakRSSByFrame, let first = curve.first, let last = curve.last {
                    lines.append(String(repeating: " ", count: 12) + "peak RSS after frame (MiB): " + curve.map {
                        String(format: "%d: %.1f", $0.frame, Double($0.peakBytes) / 1_048_576)
                    }.joined(separator: ", ") + String(format: " (last vs frame %d: %+.1f%%)", first.frame,
                                                       100 * (Double(last.peakBytes) / Double(Swift.max(1, first.peakBytes)) - 1)))
                }
            }
            return lines.joined(separator: "\n")
        }

        /// The report as JSON (snake_case keys, as the PyTorch reference script prints).
        public func json() throws -> Data {
            let e = JSONEncoder()
            e.keyEncodingStrategy = .convertToSnakeCase
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            return try e.encode(self)
        }
    }

    /// Sets the thread count and measures the reference sgemm rate.
    public static func machine(_ options: Options) throws -> Machine {
        try options.validate()
        if let t = options.threads { Parallel.setThreadCount(t) }
        let s = options.sgemmSize
        let g = GemmBenchmark.measureGemm(m: s[0], n: s[1], k: s[2], repeats: Swift.max(10, options.repeats))
        return Machine(threads: Parallel.threadCount, sgemmSize: s, sgemmGflops: g.gflops,
                       sgemmGflopsPerCPUSecond: Double(2 * s[0] * s[1] * s[2]) / g.cpuSeconds / 1e9,
                       loadAverage: loadAverage(),
                       blasCore: Parallel.blasCoreDescription)
    }

    /// Runs `kinds` on each model (models in order, each model's benchmarks in `kinds` order).
    public static func run(_ kinds: [Kind], models: [Model], options: Options) throws -> Report {
        let machine = try machine(options)
        var results: [Measurement] = []
        for model in models {
            for kind in kinds { results.append(try measure(kind, model: model, options: options, machine: machine)) }
        }
        return Report(machine: machine, repeats: options.repeats, measurements: results)
    }

    /// Builds the module `kind` needs from `model`'s weights and times it.
    public static func measure(_ kind: Kind, model: Model, options: Options, machine: Machine) throws -> Measurement {
        try options.validate()
        switch kind {
        case .encoder: return try encoder(model: model, options: options, machine: machine)
        case .attention: return try attention(model: model, options: options, machine: machine)
        }
    }

    static func encoder(model: Model, options: Options, machine: Machine) throws -> Measurement {
        let w = Weights(model.checkpoint)
        let encoder = try HieraImageEncoder(w.scoped("image_encoder"), config: model.encoder)
        let d = model.encoder.neck.dModel
        let convS0 = try Conv2d(w.scoped("sam_mask_decoder.conv_s0"), inChannels: d, outChannels: d / 8, kernelSize: 1)
        let convS1 = try Conv2d(w.scoped("sam_mask_decoder.conv_s1"), inChannels: d, outChannels: d / 4, kernelSize: 1)
        let s = model.imageSize
        let image = Tensor(shape: [1, 3, s, s], data: GemmBenchmark.noise(3 * s * s, seed: 11))
        let flops = ModelFlops.imageEncoder(model.encoder, imageSize: s)
        let run = { () throws -> [Tensor] in
            let out = try encoder.encode(image)
            return out.backboneFPN + [convS0(out.backboneFPN[0]), convS1(out.backboneFPN[1])]
        }
        var m = try timed("encoder", model: model.name, shape: "1×3×\(s)×\(s)", flops: flops, options: options,
                          machine: machine) { _ = try run() }
        if options.precision != .float32 {
            let reference = try ComputePrecision.with(.float32, run)
            let test = try ComputePrecision.with(options.precision, run)
            let names = (0..<(test.count - 2)).map { "backbone_fpn[\($0)]" } + ["conv_s0", "conv_s1"]
            m.fidelity = PrecisionFidelity(precision: options.precision.rawValue, outputs: zip(names, zip(test, reference)).map {
                PrecisionFidelity.compare($0.0, test: $0.1.0, reference: $0.1.1)
            })
        }
        return m
    }

    static func attention(model: Model, options: Options, machine: Machine) throws -> Measurement {
        let c = model.memoryAttention
        let module = try MemoryAttention(Weights(model.checkpoint).scoped("memory_attention"), config: c)
        let side = model.imageSize / 16, l = side * side
        let lm = options.memories * l + options.pointerTokens
        let curr = Tensor(shape: [1, l, c.dModel], data: GemmBenchmark.noise(l * c.dModel, seed: 21))
        let currPos = Tensor(shape: [1, l, c.dModel], data: GemmBenchmark.noise(l * c.dModel, seed: 22))
        let memory = Tensor(shape: [1, lm, c.kvInDim], data: GemmBenchmark.noise(lm * c.kvInDim, seed: 23))
        let memoryPos = Tensor(shape: [1, lm, c.kvInDim], data: GemmBenchmark.noise(lm * c.kvInDim, seed: 24))
        let flops = ModelFlops.memoryAttention(c, queries: l, memoryTokens: lm)
        let run = {
            module(curr: curr, memory: memory, currPos: currPos, memoryPos: memoryPos, numObjPtrTokens: options.pointerTokens)
        }
        var m = try timed("attention", model: model.name,
                          shape: "\(l) q × (\(options.memories)×\(l) + \(options.pointerTokens)) k", flops: flops,
                          options: options, machine: machine) { _ = run().count }
        if options.precision != .float32 {
            let reference = ComputePrecision.with(.float32, run)
            let test = ComputePrecision.with(options.precision, run)
            m.fidelity = PrecisionFidelity(precision: options.precision.rawValue,
                                           outputs: [PrecisionFidelity.compare("output", test: test, reference: reference)])
        }
        return m
    }

    /// One warm-up then `repeats` timed calls of `body`, with the peak RSS over them.
    static func timed(_ name: String, model: String, shape: String, flops: FlopCount, options: Options,
                      machine: Machine, _ body: () throws -> Void) throws -> Measurement {
        let saved = ComputePrecision.current
        ComputePrecision.current = options.precision
        defer { ComputePrecision.current = saved }
        let canResetPeak = GemmBenchmark.resetPeakRSS()
        try body()
        var times: [Double] = []
        var cpu = Double.infinity
        for _ in 0..<options.repeats {
            let c0 = GemmBenchmark.processCPUSeconds(), t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            cpu = Swift.min(cpu, GemmBenchmark.processCPUSeconds() - c0)
        }
        let peak = canResetPeak ? GemmBenchmark.procStatusBytes("VmHWM") : nil
        var m = measurement(name, model: model, shape: shape, flops: flops, times: times, leastCPU: cpu, peak: peak,
                            machine: machine)
        m.precision = options.precision.rawValue
        return m
    }

    /// A measurement from the wall times of its runs (non-empty), the least CPU time and the peak RSS.
    static func measurement(_ name: String, model: String, shape: String, flops: FlopCount, times: [Double],
                            leastCPU cpu: Double, peak: Int?, machine: Machine) -> Measurement {
        let sorted = times.isEmpty ? [Double.nan] : times.sorted()
        let total = Double(flops.total)
        let gflops = total / sorted[0] / 1e9
        return Measurement(benchmark: name, model: model, shape: shape, flops: flops, seconds: times,
                           bestSeconds: sorted[0], medianSeconds: sorted[sorted.count / 2], leastCPUSeconds: cpu,
                           gflops: gflops, gflopsPerCPUSecond: total / cpu / 1e9,
                           fractionOfSgemm: machine.sgemmGflops > 0 ? gflops / machine.sgemmGflops : 0,
                           fractionOfSgemmPerCPUSecond: machine.sgemmGflopsPerCPUSecond > 0
                               ? total / cpu / 1e9 / machine.sgemmGflopsPerCPUSecond : 0,
                           peakRSSBytes: peak, loadAverageAfter: loadAverage())
    }

    /// The 1, 5 and 15 minute load averages (empty where /proc/loadavg is unavailable).
    public static func loadAverage() -> [Double] {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        return text.split(separator: " ").prefix(3).compactMap { Double($0) }
    }
}
