import Foundation

/// `workbench bench track`: `SAM2VideoPredictor` tracking a synthetic video with one click per object on frame 0,
/// timed per frame once the memory bank is full (frames ≥ `steadyStateFrame`: the conditioning frame and 6 recent
/// frames = 7 memories, pointers from every earlier frame up to 16).
public enum TrackBenchmark {
    /// First timed frame: frame 7 is the first with 7 memories; one more keeps the warm-up out of the figures.
    public static let steadyStateFrame = 8
    /// Runs longer than this draw frames on demand instead of up front.
    public static let longRunFrames = 64
    /// The frame whose peak RSS the rest of a long run is compared with (the flat-memory criterion).
    public static let rssFirstFrame = 50

    /// Peak RSS (VmHWM) of the process after `frame` frames were tracked.
    public struct RSSSample: Sendable, Codable, Equatable {
        public var frame: Int
        public var peakBytes: Int
    }

    /// Seconds one part took per timed frame (summed over objects).
    public struct PartTime: Sendable, Codable, Equatable {
        public var name: String
        /// Mean over the timed frames.
        public var meanSeconds: Double
        /// Least over the timed frames.
        public var bestSeconds: Double
    }

    /// The synthetic video: a size×size gradient with an integer texture and three discs of radius size/8 that move
    /// by size/128 pixels per frame. Integer arithmetic only, so Scripts/bench/pytorch_reference.py draws the same
    /// bytes.
    public static func frame(_ t: Int, size s: Int) -> Image8 {
        let centers = discCenters(t, size: s), r = s / 8
        let colors: [(Int, Int, Int)] = [(220, 60, 50), (60, 190, 80), (50, 90, 220)]
        var pixels = [UInt8](repeating: 0, count: s * s * 3)
        for y in 0..<s {
            for x in 0..<s {
                let tex = (x * 7 + y * 13 + t * 29) % 23
                var rgb = ((x * 255 / s + 3 * t) % 256, (y * 255 / s) % 256, ((x + y) * 127 / s + 5 * t) % 256)
                for (k, c) in centers.enumerated() where (x - c.x) * (x - c.x) + (y - c.y) * (y - c.y) <= r * r {
                    rgb = colors[k]
                }
                let i = (y * s + x) * 3
                pixels[i] = UInt8(Swift.min(255, rgb.0 + tex))
                pixels[i + 1] = UInt8(Swift.min(255, rgb.1 + tex))
                pixels[i + 2] = UInt8(Swift.min(255, rgb.2 + tex))
            }
        }
        return try! Image8(width: s, height: s, channels: 3, pixels: pixels)   // sizes agree by construction
    }

    /// Centres of the three discs on frame `t` (the clicks of frame 0).
    public static func discCenters(_ t: Int, size s: Int) -> [(x: Int, y: Int)] {
        let d = t * s / 128
        return [(s / 4 + d, 5 * s / 16), (5 * s / 8, 5 * s / 16 + d), (s / 2 - d, 11 * s / 16)]
    }

    /// The video model of `model`'s checkpoint (which must hold the full SAM 2 state dict).
    public static func videoModel(_ model: ModelBenchmark.Model) throws -> SAM2VideoModel {
        let config = try SAM2ModelConfig.inferred(from: model.checkpoint, imageSize: model.imageSize, encoder: model.encoder)
        return try SAM2VideoModel(model: try SAM2Model(checkpoint: model.checkpoint, config: config), checkpoint: model.checkpoint)
    }

    /// Tracks `objects` objects (1…3) over `frames` frames and times frames ≥ `steadyStateFrame`. FLOPs per frame:
    /// the encoder once, and per object the memory attention over what the official policy selected on that frame
    /// (averaged over the timed frames), the mask decoder (2 sparse tokens) and the memory encoder.
    public static func measure(model: ModelBenchmark.Model, videoModel: SAM2VideoModel, objects: Int, frames: Int,
                               options: ModelBenchmark.Options, machine: ModelBenchmark.Machine) throws -> ModelBenchmark.Measurement {
        try options.validate()
        guard (1...3).contains(objects) else {
            throw BenchmarkError.invalidOption(name: "objects", reason: "must be 1, 2 or 3 (the synthetic video has 3 discs), got \(objects)")
        }
        guard frames > steadyStateFrame else {
            throw BenchmarkError.invalidOption(name: "frames", reason: "must be > \(steadyStateFrame) (frames ≥ \(steadyStateFrame) are timed), got \(frames)")
        }
        let s = model.imageSize
        // Drawn up front so that the timed frames measure the tracker, not the synthetic painter; long runs (memory
        // studies) draw each frame when the tracker asks, so that held frames do not pad the RSS being measured.
        let upFront = frames <= longRunFrames ? (0..<frames).map { frame($0, size: s) } : []
        let source = GeneratedFrames(frameCount: frames, width: s, height: s) { upFront.isEmpty ? frame($0, size: s) : upFront[$0] }
        let policy = OfficialMemoryPolicy()
        // Reduced precision: an untimed float32 run first, whose per-frame masks the timed run is compared with
        // (its first `longRunFrames` frames only: held results of a long run would dominate the memory measured).
        let reference = options.precision == .float32 ? nil
            : try ComputePrecision.with(.float32) { try track(videoModel: videoModel, source: source, objects: objects, size: s, frames: Swift.min(frames, longRunFrames)) }
        let saved = ComputePrecision.current
        ComputePrecision.current = options.precision
        defer { ComputePrecision.current = saved }
        var ious: [Double] = [], testLogits: [Float] = [], referenceLogits: [Float] = []
        let predictor = SAM2VideoPredictor(model: videoModel, frames: source, policy: policy)
        let canResetPeak = GemmBenchmark.resetPeakRSS()
        for (k, c) in discCenters(0, size: s).prefix(objects).enumerated() {
            try predictor.addPoints(frame: 0, objectId: k + 1, points: [[Float(c.x), Float(c.y)]], labels: [1])
        }
        let propagation = try predictor.propagation(start: 0)
        var wall: [Double] = [], cpu: [Double] = [], parts: [[Double]] = []
        var attentionFlops = 0, memories: [Int] = [], pointers: [Int] = []
        var rssCurve: [RSSSample] = []
        let hw = (s / 16) * (s / 16)
        for t in 0..<frames {
            let timed = t >= steadyStateFrame
            if timed {
                for id in predictor.objectIds {
                    guard let bank = predictor.memoryBank(objectId: id) else { continue }
                    let sel = policy.select(MemoryQuery(frameIdx: t, reverse: false, numFrames: frames, settings: videoModel.memorySettings),
                                            bank: bank)
                    let tokensPerPointer = videoModel.memDim < videoModel.hiddenDim ? videoModel.hiddenDim / videoModel.memDim : 1
                    attentionFlops += ModelFlops.memoryAttention(videoModel.memoryAttention.config, queries: hw,
                                                                 memoryTokens: sel.memories.count * hw + sel.pointers.count * tokensPerPointer).total
                    memories.append(sel.memories.count); pointers.append(sel.pointers.count)
                }
            }
            videoModel.timings = TrackingTimings()
            let c0 = GemmBenchmark.processCPUSeconds(), t0 = DispatchTime.now().uptimeNanoseconds
            guard let result = try propagation.next() else { break }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let done = t + 1
            if canResetPeak, done == rssFirstFrame || (done > rssFirstFrame && (done % 250 == 0 || done == frames)),
               let bytes = GemmBenchmark.procStatusBytes("VmHWM") {
                rssCurve.append(RSSSample(frame: done, peakBytes: bytes))
            }
            if let reference, t < reference.count {
                ious += try compareMasks(result, reference[t])
                testLogits += result.lowResMasks.data
                referenceLogits += reference[t].lowResMasks.data
            }
            guard timed else { continue }
            wall.append(seconds)
            cpu.append(GemmBenchmark.processCPUSeconds() - c0)
            let tm = videoModel.timings
            parts.append([tm.encoder, tm.memoryAttention, tm.decoder, tm.memoryEncoder, Swift.max(0, seconds - tm.total)])
        }
        let peak = canResetPeak ? GemmBenchmark.procStatusBytes("VmHWM") : nil
        let n = wall.count
        let decoderConfig = videoModel.model.config.decoder
        let flops = FlopCount(parts: [
            .init(name: "encoder", flops: ModelFlops.imageEncoder(model.encoder, imageSize: s).total),
            .init(name: "memory attention", flops: attentionFlops / Swift.max(1, n)),
            .init(name: "decoder", flops: objects * ModelFlops.maskDecoder(decoderConfig, embeddingSize: s / 16, sparseTokens: 2).total),
            .init(name: "memory encoder", flops: objects * ModelFlops.memoryEncoder(videoModel.memoryEncoder.config, imageSize: s).total),
        ])
        let names = ["encoder", "memory attention", "decoder", "memory encoder", "other"]
        let partTimes = names.indices.map { i in
            PartTime(name: names[i], meanSeconds: parts.map { $0[i] }.reduce(0, +) / Double(Swift.max(1, n)),
                     bestSeconds: parts.map { $0[i] }.min() ?? 0)
        }
        let range: ([Int]) -> String = { v in v.min() == v.max() ? "\(v.min() ?? 0)" : "\(v.min() ?? 0)–\(v.max() ?? 0)" }
        let shape = "\(objects) obj, frames \(steadyStateFrame)..<\(frames) of \(s)², \(range(memories)) mem + \(range(pointers)) ptr"
        var m = ModelBenchmark.measurement("track \(objects)", model: model.name, shape: shape, flops: flops, times: wall,
                                           leastCPU: cpu.min() ?? 0, peak: peak, machine: machine)
        m.parts = partTimes
        if !rssCurve.isEmpty { m.peakRSSByFrame = rssCurve }
        if reference != nil {
            let n = testLogits.count
            m.fidelity = PrecisionFidelity(
                precision: options.precision.rawValue,
                outputs: [PrecisionFidelity.compare("low-res logits (all frames)", test: Tensor(shape: [n], data: testLogits),
                                                    reference: Tensor(shape: [n], data: referenceLogits))],
                maskIoU: ious)
        }
        return m
    }

    /// The results of frames 0..<`frames` tracking the first `objects` discs from one click each on frame 0 (untimed).
    static func track(videoModel: SAM2VideoModel, source: GeneratedFrames, objects: Int, size s: Int,
                      frames: Int) throws -> [VideoFrameResult] {
        let predictor = SAM2VideoPredictor(model: videoModel, frames: source, policy: OfficialMemoryPolicy())
        for (k, c) in discCenters(0, size: s).prefix(objects).enumerated() {
            try predictor.addPoints(frame: 0, objectId: k + 1, points: [[Float(c.x), Float(c.y)]], labels: [1])
        }
        let propagation = try predictor.propagation(start: 0, maxFrames: frames - 1)
        var results: [VideoFrameResult] = []
        while let r = try propagation.next() { results.append(r) }
        return results
    }

    /// Per-object IoU (DAVIS J) of the video-resolution masks (logits > 0) of two results of the same frame.
    static func compareMasks(_ a: VideoFrameResult, _ b: VideoFrameResult) throws -> [Double] {
        let h = a.videoResMasks.shape[2], w = a.videoResMasks.shape[3]
        return try a.objectIds.compactMap { id in
            guard let x = a.mask(objectId: id), let y = b.mask(objectId: id) else { return nil }
            return RegionSimilarity.jaccard(annotation: try BitMask(width: w, height: h, bits: y),
                                            segmentation: try BitMask(width: w, height: h, bits: x))
        }
    }
}
