import Foundation
import XCTest
import SAM2
import CKernels

/// The training pipeline: architecture records, initialisation, prompt simulation, clip sampling, the clip forward
/// against the inference tracker, learning on a fixed clip, and the trainer's checkpoints / resume.
final class TrainingTests: XCTestCase {
    /// sam2.1-mini (Scripts/fixtures/configs/sam2.1_hiera_mini.yaml) as a SAM2Architecture.
    static let mini = SAM2Architecture(imageSize: 256, hieraEmbedDim: 8, hieraNumHeads: 1, hieraStages: [1, 2, 3, 2],
                                       hieraWindowSpec: [8, 4, 14, 7], hieraGlobalAttBlocks: [4],
                                       hieraWindowPosEmbedBkgSpatialSize: [7, 7], hiddenDim: 32, memDim: 16,
                                       memoryAttentionLayers: 4, memoryAttentionFeedforward: 64, numMaskmem: 7)
    /// The embedded architecture cut to one Hiera block per stage and one memory-attention layer (trainer tests).
    static var oneBlock: SAM2Architecture {
        var a = SAM2Architecture.embedded
        a.hieraStages = [1, 1, 1, 1]; a.hieraGlobalAttBlocks = [2]; a.memoryAttentionLayers = 1
        return a
    }

    /// A trainer over a fresh `arch` model (initial weights seed 8) on `videos` at 256², writing to `dir`.
    static func trainer(_ o: TrainingOptions, videos: [GroundTruthVideo], dir: String, arch: SAM2Architecture = oneBlock) throws -> Trainer {
        let model = try SAM2TrainModel(architecture: arch, store: SAM2Initialization.store(arch, seed: 8))
        return try Trainer(model: model, options: o, sampler: try TrainingClipSampler(videos: videos, imageSize: 256), outputDirectory: dir)
    }
    static var miniPath: String { fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path }

    /// A small synthetic video at 256² (3 objects, occlusions and exits).
    static func video(frames: Int, seed: UInt64 = 7) throws -> SyntheticVideoGenerator {
        try SyntheticVideoGenerator(config: TrainingDataSpec.syntheticConfig(seed: seed, size: 256, frames: frames))
    }

    func testArchitectureOfTheMiniCheckpointAndItsShapes() throws {
        let ckpt = try Checkpoint.open(Self.miniPath)
        // The released-style state dict of the mini model has exactly the keys and shapes the architecture describes.
        var expected = Self.mini.stateDictShapes
        let shapes = ckpt.shapes
        XCTAssertEqual(Set(expected.keys), Set(shapes.keys))
        for (k, s) in shapes { XCTAssertEqual(expected.removeValue(forKey: k), s, k) }
        // Shapes alone cannot tell a custom trunk's windows: without a recorded architecture that is a typed error.
        XCTAssertThrowsError(try TrainingRun.architecture(of: Checkpoint.open(Self.miniPath))) { e in
            XCTAssertTrue("\(e)".contains("matches no official Hiera size"), "\(e)")
        }
    }

    func testRecordedArchitectureIsWhatInferenceLoads() throws {
        let arch = SAM2Architecture.embedded
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.safetensors").path
        try SafeTensors.write(SAM2Initialization.stateDict(arch, seed: 1), metadata: [SAM2Architecture.metadataKey: arch.json], to: path)
        let model = try SAM2VideoModel(checkpoint: path)          // no image size, no trunk given
        XCTAssertEqual(model.imageSize, 256)
        XCTAssertEqual(model.model.config.encoder, arch.encoder)
        XCTAssertEqual(model.memDim, 32)
        XCTAssertEqual(try SAM2Architecture.recorded(in: Checkpoint.open(path)), arch)
        // A broken record is a typed error naming the key.
        let bad = dir.appendingPathComponent("bad.safetensors").path
        try SafeTensors.write(["x": Tensor.zeros([1])], metadata: [SAM2Architecture.metadataKey: "{\"imageSize\": 1}"], to: bad)
        XCTAssertThrowsError(try SAM2Architecture.recorded(in: Checkpoint.open(bad))) { e in
            XCTAssertTrue("\(e)".contains(SAM2Architecture.metadataKey), "\(e)")
        }
    }

    func testInitialisationFollowsTheOfficialModules() throws {
        let arch = SAM2Architecture.embedded
        let a = SAM2Initialization.stateDict(arch, seed: 3), b = SAM2Initialization.stateDict(arch, seed: 3)
        let c = SAM2Initialization.stateDict(arch, seed: 4)
        XCTAssertEqual(a.keys.sorted(), arch.stateDictShapes.keys.sorted())
        XCTAssertEqual(a["memory_attention.layers.0.linear1.weight"]!.data, b["memory_attention.layers.0.linear1.weight"]!.data)
        XCTAssertNotEqual(a["memory_attention.layers.0.linear1.weight"]!.data, c["memory_attention.layers.0.linear1.weight"]!.data)
        // LayerNorm 1 / 0; layer scale 1e-6; Hiera position embeddings 0.
        XCTAssertEqual(a["image_encoder.trunk.blocks.0.norm1.weight"]!.data, [Float](repeating: 1, count: 16))
        XCTAssertEqual(a["image_encoder.trunk.blocks.0.norm1.bias"]!.data, [Float](repeating: 0, count: 16))
        XCTAssertEqual(a["memory_encoder.fuser.layers.0.gamma"]!.data, [Float](repeating: 1e-6, count: 64))
        XCTAssertTrue(a["image_encoder.trunk.pos_embed"]!.data.allSatisfy { $0 == 0 })
        // Linear: uniform in ±1/√fan_in for weight and bias (fan_in 64 → 0.125); spread close to the bound.
        let w = a["memory_attention.layers.0.linear1.weight"]!.data, bias = a["memory_attention.layers.0.linear1.bias"]!.data
        XCTAssertLessThanOrEqual(w.map(abs).max()!, 0.125); XCTAssertGreaterThan(w.map(abs).max()!, 0.12)
        XCTAssertLessThanOrEqual(bias.map(abs).max()!, 0.125)
        // Transposed conv [in 64, out 16, 2, 2]: fan_in = 16·4 as torch computes it.
        XCTAssertLessThanOrEqual(a["sam_mask_decoder.output_upscaling.0.weight"]!.data.map(abs).max()!, 0.125)
        // Embeddings N(0, 1); truncated normal (std 0.02, cut at ±2) for SAM2Base's learned vectors.
        let tokens = a["sam_mask_decoder.mask_tokens.weight"]!.data
        let std = (tokens.map { Double($0 * $0) }.reduce(0, +) / Double(tokens.count)).squareRoot()
        XCTAssertEqual(std, 1, accuracy: 0.15)
        let tpos = a["maskmem_tpos_enc"]!.data
        let tstd = (tpos.map { Double($0 * $0) }.reduce(0, +) / Double(tpos.count)).squareRoot()
        XCTAssertEqual(tstd, 0.02, accuracy: 0.005)
        // The Fourier matrix is a buffer: in the store but frozen.
        let store = SAM2Initialization.store(arch, seed: 3)
        XCTAssertFalse(try store.variable("sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix").requiresGrad)
        XCTAssertTrue(try store.variable("no_mem_embed").requiresGrad)
    }

    func testPromptPlansFollowTheReleasedProbabilities() {
        var rng = SplitMix64(seed: 11)
        let settings = TrainingPromptSettings()
        var points = 0, boxes = 0, promptedFrames = 0, twoInit = 0
        let n = 4000
        for _ in 0..<n {
            let p = ClipPromptPlan.draw(numFrames: 8, settings: settings, rng: &rng)
            XCTAssertEqual(p.initCondFrames.first, 0)
            XCTAssertTrue((1...2).contains(p.initCondFrames.count))
            XCTAssertEqual(Set(p.processingOrder), Set(0..<8)); XCTAssertEqual(p.processingOrder.count, 8)
            XCTAssertEqual(Array(p.processingOrder.prefix(p.initCondFrames.count)), p.initCondFrames)
            XCTAssertEqual(Array(p.processingOrder.dropFirst(p.initCondFrames.count)), (0..<8).filter { !p.initCondFrames.contains($0) })
            if p.useMaskInput {
                XCTAssertTrue(p.framesToCorrect.isEmpty); XCTAssertTrue(p.boxFrames.isEmpty)
            } else {
                points += 1
                XCTAssertEqual(Array(p.framesToCorrect.prefix(p.initCondFrames.count)), p.initCondFrames)
                XCTAssertLessThanOrEqual(p.framesToCorrect.count, 2)
                boxes += p.boxFrames.count; promptedFrames += p.initCondFrames.count
            }
            if p.initCondFrames.count == 2 { twoInit += 1 }
        }
        XCTAssertEqual(Double(points) / Double(n), 0.5, accuracy: 0.03)
        XCTAssertEqual(Double(boxes) / Double(promptedFrames), 0.5, accuracy: 0.03)
        XCTAssertEqual(Double(twoInit) / Double(n), 0.5, accuracy: 0.03)
        // A single frame (an image) always gets clicks.
        XCTAssertFalse(ClipPromptPlan.draw(numFrames: 1, settings: settings, rng: &rng).useMaskInput)
    }

    func testClicksComeFromTheErrorRegionAndBoxesHugTheMask() {
        // Object: rows 10..<20, cols 30..<50 of a 64² frame; prediction: rows 10..<20, cols 40..<60.
        let s = 64
        var gt = [Float](repeating: 0, count: s * s), pred = [Bool](repeating: false, count: s * s)
        for y in 10..<20 { for x in 30..<50 { gt[y * s + x] = 1 }; for x in 40..<60 { pred[y * s + x] = true } }
        let target = Tensor(shape: [1, s, s], data: gt)
        var rng = SplitMix64(seed: 5)
        var pos = 0, neg = 0
        for _ in 0..<400 {
            let c = TrainingPointSampler.errorPoints(target, prediction: pred, rng: &rng)
            let x = Int(c.coords.data[0]), y = Int(c.coords.data[1])
            XCTAssertTrue((10..<20).contains(y))
            if c.labels.data[0] == 1 { pos += 1; XCTAssertTrue((30..<40).contains(x)) } else { neg += 1; XCTAssertTrue((50..<60).contains(x)) }
        }
        XCTAssertEqual(Double(pos) / 400, 0.5, accuracy: 0.1)      // equal error areas
        // No prediction: a positive click inside the object.
        let first = TrainingPointSampler.errorPoints(target, prediction: nil, rng: &rng)
        XCTAssertEqual(first.labels.data, [1])
        XCTAssertEqual(gt[Int(first.coords.data[1]) * s + Int(first.coords.data[0])], 1)
        // Box: corners within 10 % of the size (≤ 20 px) of the tight box [30, 10, 49, 19]; labels 2, 3.
        for _ in 0..<100 {
            let b = TrainingPointSampler.boxPoints(target, settings: TrainingPromptSettings(), rng: &rng)
            XCTAssertEqual(b.labels.data, [2, 3])
            let d = b.coords.data
            XCTAssertEqual(d[0], 30, accuracy: 1.9 + 1e-4); XCTAssertEqual(d[2], 49, accuracy: 1.9 + 1e-4)
            XCTAssertEqual(d[1], 10, accuracy: 0.9 + 1e-4); XCTAssertEqual(d[3], 19, accuracy: 0.9 + 1e-4)
        }
    }

    func testDataSpecsAndClips() throws {
        XCTAssertEqual(try TrainingDataSpec.parse("synthetic:12"), .synthetic(count: 12, seed: 0))
        XCTAssertEqual(try TrainingDataSpec.parse("synthetic:3:9"), .synthetic(count: 3, seed: 9))
        XCTAssertEqual(try TrainingDataSpec.parse("ytvos:/data/yt"), .youtubeVOS(root: "/data/yt", split: "train"))
        for bad in ["synthetic", "synthetic:0", "synthetic:x", "synthetic:2:-1", "/no/such/folder", ""] {
            XCTAssertThrowsError(try TrainingDataSpec.parse(bad), bad) { e in XCTAssertTrue("\(e)".contains("--data"), "\(e)") }
        }
        let videos = try TrainingDataSpec.synthetic(count: 2, seed: 1).videos(imageSize: 256, syntheticFrames: 30)
        var sampler = try TrainingClipSampler(videos: videos, imageSize: 256)
        sampler.maxObjects = 2
        var rng = SplitMix64(seed: 2)
        var clip: TrainingClip? = nil
        while clip == nil { clip = try sampler.sample(&rng) }
        let c = clip!
        XCTAssertEqual(c.frames.shape, [8, 3, 256, 256])
        XCTAssertEqual(c.masks.count, 8)
        XCTAssertTrue((1...2).contains(c.objects))
        XCTAssertEqual(c.masks[0].shape, [c.objects, 256, 256])
        let plane = 256 * 256
        for i in 0..<c.objects { XCTAssertTrue(c.masks[0].data[(i * plane)..<((i + 1) * plane)].contains(1), "object visible on frame 0") }
        let steps = zip(c.frameIndices.dropFirst(), c.frameIndices).map { $0 - $1 }
        XCTAssertEqual(Set(steps).count, 1); XCTAssertTrue((1...3).contains(steps[0]))
    }

    /// `requireReappearance` keeps only clips where a kept object is visible, then gone, then visible again; the
    /// uniform draw gives such clips rarely enough that the option changes what the model sees.
    func testReappearanceClips() throws {
        XCTAssertTrue(TrainingClipSampler.reappears([true, false, false, true]))
        XCTAssertTrue(TrainingClipSampler.reappears([true, false, true, false, false, false, true]))
        XCTAssertFalse(TrainingClipSampler.reappears([true, true, false, true, false]))
        XCTAssertFalse(TrainingClipSampler.reappears([true, true, false, false]))
        XCTAssertFalse(TrainingClipSampler.reappears([false, false, true, true]))
        XCTAssertFalse(TrainingClipSampler.reappears([true, true, true]))
        let videos = try TrainingDataSpec.synthetic(count: 6, seed: 3).videos(imageSize: 128, syntheticFrames: 48)
        var sampler = try TrainingClipSampler(videos: videos, imageSize: 128)
        sampler.maxStride = 4; sampler.maxObjects = 1
        func returning(_ c: TrainingClip) -> Bool {
            let plane = 128 * 128
            return (0..<c.objects).contains { o in
                TrainingClipSampler.reappears(c.masks.map { $0.data[(o * plane)..<((o + 1) * plane)].contains(1) })
            }
        }
        var rng = SplitMix64(seed: 5)
        var uniform = 0, drawn = 0
        while drawn < 40 { if let c = try sampler.sample(&rng) { drawn += 1; if returning(c) { uniform += 1 } } }
        var required = 0
        while required < 10 {
            guard let c = try sampler.sample(&rng, requireReappearance: true) else { continue }
            XCTAssertEqual(c.objects, 1)
            XCTAssertTrue(returning(c), "clip \(c.video) \(c.frameIndices) has no object that leaves and returns")
            required += 1
        }
        XCTAssertLessThan(uniform, 20, "uniform clips with a return: \(uniform) of 40")
    }

    /// The clip forward of training equals the inference tracker's `track_step` on the same weights: first-frame masks
    /// for two objects (batched in training, one at a time in inference), then tracking (memory attention over the
    /// memories and object pointers, multimask choice, memory encoding of each prediction). The video predictor itself
    /// differs by design, as the official one does: it re-encodes a prompted frame's memory from its low-res mask.
    func testClipForwardMatchesTrackStep() throws {
        let frames = 5
        let generator = try Self.video(frames: frames, seed: 21)
        let store = try ParameterStore(checkpoint: Checkpoint.open(Self.miniPath))
        let train = try SAM2TrainModel(architecture: Self.mini, store: store)
        let ckpt = try Checkpoint.open(Self.miniPath)
        var config = try SAM2ModelConfig.inferred(from: ckpt, imageSize: 256, encoder: Self.mini.encoder)
        // Training mode has no dynamic multimask via stability (the official decoder applies it only in eval); the
        // mask prompt's object pointer comes from a single-mask decoder call, where eval mode would apply it.
        config.decoder.dynamicMultimaskViaStability = false
        let video = try SAM2VideoModel(model: SAM2Model(checkpoint: ckpt, config: config), checkpoint: ckpt)
        let first = try generator.frame(0).mask
        let ids = generator.objectIDs.filter { id in BitMask(first, id: id).count > 50 }.prefix(2)
        XCTAssertEqual(ids.count, 2)
        let gtMasks = ids.map { BinaryMask(first, id: $0).toTensor().reshaped([1, 256, 256]) }
        var frameTensors: [Tensor] = []
        for i in 0..<frames { frameTensors.append(VideoFramePreprocessing.tensor(try generator.frame(i).image, imageSize: 256)) }
        let clip = TrainingClip(frames: Tensor.concat(frameTensors, axis: 0),
                                masks: Array(repeating: Tensor.concat(gtMasks, axis: 0), count: frames),
                                objectIDs: Array(ids), video: "parity", frameIndices: Array(0..<frames))
        let plan = ClipPromptPlan(initCondFrames: [0], useMaskInput: true, boxFrames: [], framesToCorrect: [],
                                  processingOrder: Array(0..<frames))
        let tape = GradientTape()
        tape.watch(store.trainable)
        var rng = SplitMix64(seed: 1)
        let out = try tape.noGrad { try train.forward(clip, plan: plan, rng: &rng) }
        for (k, mask) in gtMasks.enumerated() {
            var bank = MemoryBank(precision: .float32)
            for f in 0..<frames {
                let features = try video.frameFeatures(frameTensors[f].reshaped([1, 3, 256, 256]))
                let step = try video.trackStep(frameIdx: f, isInitCondFrame: f == 0, features: features, points: nil,
                                               maskInputs: f == 0 ? mask.reshaped([1, 1, 256, 256]) : nil, bank: bank,
                                               policy: OfficialMemoryPolicy(), numFrames: frames)
                bank.store(FrameOutput(maskmemFeatures: bank.storable(step.maskmemFeatures!), predMasks: step.predMasks,
                                       objPtr: step.objPtr, objectScoreLogits: step.objectScoreLogits), frame: f, conditioning: f == 0)
                let got = out.frameLogits[f].slice(axis: 0, start: k, end: k + 1)
                let scale = step.predMasks.data.map(abs).max()!
                assertClose(got, step.predMasks, atol: 2e-5 * scale, "object \(k) frame \(f) logits")
                XCTAssertEqual(out.objectScores[f][k], step.objectScoreLogits.data[0], accuracy: 1e-4 * max(1, abs(step.objectScoreLogits.data[0])))
            }
        }
    }

    /// Gradients reach every module through the clip (memory encoder and attention, pointers, temporal encodings,
    /// image encoder), and a few steps on one clip lower its loss.
    func testTrainingOnOneClipLowersItsLoss() throws {
        let store = try ParameterStore(checkpoint: Checkpoint.open(Self.miniPath))
        let model = try SAM2TrainModel(architecture: Self.mini, store: store)
        var sampler = try TrainingClipSampler(videos: [GroundTruthVideo(synthetic: Self.video(frames: 12))], imageSize: 256)
        sampler.length = 4; sampler.maxObjects = 2
        var rng = SplitMix64(seed: 3)
        var clip: TrainingClip? = nil
        while clip == nil { clip = try sampler.sample(&rng) }
        var settings = TrainingPromptSettings()
        settings.numCorrectionPtPerFrame = 2
        model.prompts = settings
        let plan = ClipPromptPlan(initCondFrames: [0], useMaskInput: false, boxFrames: [], framesToCorrect: [0, 2],
                                  processingOrder: [0, 1, 2, 3])
        let params = store.trainable
        let optimizer = AdamW(learningRate: 2e-3, weightDecay: 0)
        var losses: [Float] = []
        for step in 0..<12 {
            var r = SplitMix64(seed: 99)                                  // same clicks every step
            let tape = GradientTape()
            tape.watch(params)
            let out = try model.forward(clip!, plan: plan, rng: &r)
            XCTAssertEqual(out.steps, 4 + 2 * 2)
            tape.backward(out.losses.core)
            if step == 0 {
                for key in ["memory_attention.layers.0.cross_attn_image.k_proj.weight", "memory_encoder.fuser.layers.0.dwconv.weight",
                            "maskmem_tpos_enc", "obj_ptr_proj.layers.0.weight", "obj_ptr_tpos_proj.weight", "no_mem_embed",
                            "image_encoder.trunk.patch_embed.proj.weight", "sam_mask_decoder.iou_prediction_head.layers.0.weight",
                            "sam_prompt_encoder.point_embeddings.1.weight", "sam_mask_decoder.pred_obj_score_head.layers.0.weight"] {
                    let g = try store.variable(key).grad
                    XCTAssertNotNil(g, key)
                    XCTAssertTrue(g!.data.allSatisfy(\.isFinite), key)
                    XCTAssertGreaterThan(g!.data.map(abs).max()!, 0, key)
                }
            }
            losses.append(out.losses.core.value.data[0])
            optimizer.step(params)
            optimizer.zeroGrad(params)
        }
        XCTAssertLessThan(losses.last!, losses.first! * 0.7, "losses \(losses)")
    }

    /// A short run writes its log, checkpoint and model; the model loads for inference; a run interrupted after
    /// 2 steps and resumed ends with the same weights as an uninterrupted 4-step run.
    func testTrainerCheckpointsAndResumesExactly() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var o = TrainingOptions()
        o.steps = 4; o.clipLength = 3; o.maxObjects = 1; o.checkpointEvery = 2; o.warmupSteps = 1
        o.prompts.numCorrectionPtPerFrame = 1
        let videos = try TrainingDataSpec.synthetic(count: 2, seed: 5).videos(imageSize: 256, syntheticFrames: 20)
        func trainer(_ dir: String, steps: Int) throws -> Trainer {
            var opts = o
            opts.steps = steps
            return try Self.trainer(opts, videos: videos, dir: dir)
        }
        let full = try trainer(root.appendingPathComponent("full").path, steps: 4)
        try full.run()
        let log = try String(contentsOfFile: full.logPath, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 5)
        XCTAssertTrue(FileManager.default.fileExists(atPath: full.checkpointPath))
        let loaded = try SAM2VideoModel(checkpoint: full.modelPath)
        XCTAssertEqual(loaded.imageSize, 256)

        let dir = root.appendingPathComponent("resumed").path
        // "Interrupted" after step 2 (the checkpoint of step 2 is the last thing written), then resumed in fresh objects.
        var first = try trainer(dir, steps: 4)
        first.onStep = { row in row.step < 2 }
        try first.run()
        XCTAssertEqual(first.step, 2)
        // Another run's options (here another seed) must not silently continue this checkpoint.
        o.seed = 99
        let other = try trainer(dir, steps: 4)
        o.seed = 0
        XCTAssertThrowsError(try other.resumeIfPossible()) { e in
            XCTAssertTrue("\(e)".contains("seed 0 there vs 99 here") && "\(e)".contains("--no-resume"), "\(e)")
        }
        o.checkpointEvery = 1                                // how often to checkpoint may change on resume
        first = try trainer(dir, steps: 4)
        XCTAssertEqual(try first.resumeIfPossible(), 2)
        try first.run()
        for (key, v) in full.model.store.parameters() {
            XCTAssertEqual(try first.model.store.variable(key).value.data, v.value.data, key)
        }
        let resumedLog = try String(contentsOfFile: first.logPath, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(resumedLog.count, 5)

        // A checkpoint written before `batchSize` and `lossWeights` existed resumes: absent options take their defaults.
        let ckpt = try Checkpoint.open(first.checkpointPath)
        var tensors: [String: Tensor] = [:]
        for key in ckpt.keys { tensors[key] = try ckpt.tensor(named: key) }
        var meta = ckpt.metadata
        var recorded = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(XCTUnwrap(meta[Trainer.optionsKey]).utf8)) as? [String: Any])
        XCTAssertNotNil(recorded.removeValue(forKey: "batchSize"))
        XCTAssertNotNil(recorded.removeValue(forKey: "lossWeights"))
        meta[Trainer.optionsKey] = String(decoding: try JSONSerialization.data(withJSONObject: recorded), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: meta, to: first.checkpointPath)
        XCTAssertEqual(try trainer(dir, steps: 6).resumeIfPossible(), 4)
        o.batchSize = 2                                      // but a recorded batch of 1 is not silently continued as 2
        XCTAssertThrowsError(try trainer(dir, steps: 6).resumeIfPossible()) { e in
            XCTAssertTrue("\(e)".contains("batchSize 1 there vs 2 here"), "\(e)")
        }
    }

    /// A batch of B clips trains on the clips a batch-size-1 run draws at steps sB … sB + B − 1 (each on its own worker
    /// thread against a replica of the weights) and takes the mean of their gradients and losses; a batch is all images
    /// or all video clips; batched runs are deterministic.
    func testBatchAveragesTheGradientsOfItsClips() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("batch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var o = TrainingOptions()
        o.steps = 2; o.clipLength = 3; o.maxObjects = 2; o.warmupSteps = 0; o.validationVideos = 0
        o.prompts.numCorrectionPtPerFrame = 1; o.seed = 4
        let videos = try TrainingDataSpec.synthetic(count: 2, seed: 5).videos(imageSize: 256, syntheticFrames: 12)
        func trainer(batch: Int, _ name: String) throws -> Trainer {
            var opts = o
            opts.batchSize = batch
            return try Self.trainer(opts, videos: videos, dir: root.appendingPathComponent(name).path)
        }
        func gradients(_ t: Trainer) -> [String: [Float]] {
            Dictionary(uniqueKeysWithValues: t.model.store.parameters().compactMap { p in p.variable.grad.map { (p.key, $0.data) } })
        }
        let one = try trainer(batch: 1, "one"), two = try trainer(batch: 2, "two")
        let a = try one.computeGradients(step: 0), ga = gradients(one)
        let b = try one.computeGradients(step: 1), gb = gradients(one)
        let ab = try two.computeGradients(step: 0), gab = gradients(two)
        XCTAssertEqual(ab.frames, a.frames + b.frames)
        XCTAssertEqual(ab.result.frameIoU, a.result.frameIoU + b.result.frameIoU)
        let meanLoss = (a.result.losses.core.value.data[0] + b.result.losses.core.value.data[0]) / 2
        XCTAssertEqual(ab.result.losses.core.value.data[0], meanLoss, accuracy: abs(meanLoss) * 1e-5)
        XCTAssertEqual(Set(gab.keys), Set(ga.keys).union(gb.keys))
        XCTAssertGreaterThan(gab.count, 100)
        var differ = 0
        for (key, g) in gab {
            let x = ga[key] ?? [Float](repeating: 0, count: g.count), y = gb[key] ?? [Float](repeating: 0, count: g.count)
            let scale = zip(x, y).map { max(abs($0), abs($1)) }.max() ?? 0
            let error = zip(g, zip(x, y)).map { abs($0 - ($1.0 + $1.1) / 2) }.max() ?? 0
            XCTAssertLessThanOrEqual(error, scale * 1e-4 + 1e-12, key)
            if zip(x, y).contains(where: { abs($0 - $1) > 1e-3 * scale }) { differ += 1 }
        }
        XCTAssertGreaterThan(differ, gab.count / 2, "the two clips give different gradients")
        // With image steps, a batch takes its first clip's kind: 4 frames (4 images) or 4 clips of 3.
        o.imageFraction = 0.5
        let four = try trainer(batch: 4, "four")
        let kinds = try (0..<6).map { try four.computeGradients(step: $0).frames }
        XCTAssertTrue(kinds.allSatisfy { $0 == 4 || $0 == 12 }, "\(kinds)")
        XCTAssertEqual(Set(kinds).count, 2, "\(kinds)")
        // Two batched runs of two steps end with the same weights and logs.
        let r1 = try trainer(batch: 2, "r1"), r2 = try trainer(batch: 2, "r2")
        try r1.run(); try r2.run()
        for (key, v) in r1.model.store.parameters() { XCTAssertEqual(try r2.model.store.variable(key).value.data, v.value.data, key) }
        let rows = { (t: Trainer) in try String(contentsOfFile: t.logPath, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").dropLast().joined(separator: ",") } }
        XCTAssertEqual(try rows(r1), try rows(r2))
        XCTAssertEqual(try rows(r1).count, 3)
    }

    /// `ema` keeps ema ← d·ema + (1 − d)·weights from the starting weights after every step without changing the
    /// training; it survives an interruption (stored in the checkpoint) and is written as model_ema.safetensors.
    func testMovingAverageOfTheWeights() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ema-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var o = TrainingOptions()
        o.steps = 3; o.clipLength = 2; o.maxObjects = 1; o.warmupSteps = 0; o.validationVideos = 0; o.checkpointEvery = 1
        o.prompts.numCorrectionPtPerFrame = 1; o.seed = 3; o.learningRate = 1e-2
        let videos = try TrainingDataSpec.synthetic(count: 1, seed: 5).videos(imageSize: 256, syntheticFrames: 8)
        let plain = try Self.trainer(o, videos: videos, dir: root.appendingPathComponent("plain").path)
        o.ema = 0.75
        let averaged = try Self.trainer(o, videos: videos, dir: root.appendingPathComponent("ema").path)
        XCTAssertNil(averaged.emaWeights)
        var expected = averaged.model.store.stateDict
        for _ in 0..<2 {
            _ = try plain.trainStep(); _ = try averaged.trainStep()
            for (key, v) in averaged.model.store.parameters() { expected[key] = expected[key]! * 0.75 + v.value * 0.25 }
        }
        let ema = try XCTUnwrap(averaged.emaWeights)
        var moved = 0
        for (key, v) in averaged.model.store.parameters() {
            XCTAssertEqual(try plain.model.store.variable(key).value.data, v.value.data, "the average changes the training: \(key)")
            XCTAssertEqual(zip(ema[key]!.data, expected[key]!.data).map { abs($0 - $1) }.max(), 0, key)
            if zip(ema[key]!.data, v.value.data).contains(where: { abs($0 - $1) > 1e-6 }) { moved += 1 }
        }
        XCTAssertGreaterThan(moved, 50, "the average lags the weights")
        // Interrupted after step 2 and resumed in fresh objects: the average comes back from the checkpoint.
        try averaged.saveCheckpoint()
        let resumed = try Self.trainer(o, videos: videos, dir: averaged.outputDirectory)
        XCTAssertEqual(try resumed.resumeIfPossible(), 2)
        XCTAssertTrue(resumed.emaWeights?.mapValues(\.data) == ema.mapValues(\.data))
        try resumed.run()
        for (key, v) in resumed.model.store.parameters() { expected[key] = expected[key]! * 0.75 + v.value * 0.25 }
        let written = try Checkpoint.open(resumed.emaModelPath)
        for key in ["sam_mask_decoder.iou_prediction_head.layers.0.weight", "memory_attention.layers.0.cross_attn_image.q_proj.bias"] {
            XCTAssertEqual(zip(try written.tensor(named: key).data, expected[key]!.data).map { abs($0 - $1) }.max(), 0, key)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: plain.emaModelPath))
        // A checkpoint without the average (written by a run without ema) is refused as another run's.
        try plain.saveCheckpoint()
        XCTAssertThrowsError(try Self.trainer(o, videos: videos, dir: plain.outputDirectory).resumeIfPossible()) { e in
            XCTAssertTrue("\(e)".contains("ema 0 there vs 0.75 here"), "\(e)")
        }
        for bad: Float in [1, -0.1, .nan] {
            o.ema = bad
            XCTAssertThrowsError(try o.validate()) { e in XCTAssertTrue("\(e)".contains("ema"), "\(e)") }
        }
    }

    /// The trainer's allocator settings take effect: after them a 30 MiB block comes from the heap, not from its own
    /// mmap (glibc's default threshold, at most 32 MiB and adapting, would map it), and freeing it keeps the memory.
    func testTrainerKeepsFreedMemoryInTheHeap() throws {
        func statistics() throws -> (mapped: Int, inUse: Int, heap: Int) {
            var s = [Int](repeating: 0, count: 3)
            guard s.withUnsafeMutableBufferPointer({ sam2_malloc_statistics($0.baseAddress!) }) == 1 else { throw XCTSkip("glibc ≥ 2.33 only") }
            return (s[0], s[1], s[2])
        }
        _ = try statistics()
        XCTAssertTrue(Trainer.retainsFreedMemory, "glibc refused the settings")
        let before = try statistics()
        let block = UnsafeMutableRawPointer.allocate(byteCount: 30 << 20, alignment: 16)
        let during = try statistics()
        XCTAssertEqual(during.mapped, before.mapped, "a 30 MiB block was mapped on its own")
        XCTAssertGreaterThanOrEqual(during.inUse, before.inUse + (30 << 20))
        block.deallocate()
        let after = try statistics()
        XCTAssertGreaterThanOrEqual(after.heap, during.heap, "the heap was trimmed after the free")
    }

    /// `lossWeights` replace the released weights by name and reach the trainer's loss; bad names and weights are
    /// errors naming them.
    func testLossWeightsReplaceTheReleasedOnes() throws {
        var o = TrainingOptions()
        XCTAssertEqual([o.loss.weightMask, o.loss.weightDice, o.loss.weightIoU, o.loss.weightClass], [20, 1, 1, 1])
        o.lossWeights = try TrainingOptions.parseLossWeights("class=4, dice=0.5")
        XCTAssertEqual([o.loss.weightMask, o.loss.weightDice, o.loss.weightIoU, o.loss.weightClass], [20, 0.5, 1, 4])
        for text in ["klass=2", "class=-1", "class", "mask=inf"] {
            XCTAssertThrowsError(try TrainingOptions.parseLossWeights(text), text) { e in
                XCTAssertTrue("\(e)".contains("loss weights"), "\(e)")
            }
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lossw-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        o.validationVideos = 0
        let videos = try TrainingDataSpec.synthetic(count: 1, seed: 5).videos(imageSize: 256, syntheticFrames: 10)
        let model = try Self.trainer(o, videos: videos, dir: root.path).model
        XCTAssertEqual([model.loss.weightMask, model.loss.weightDice, model.loss.weightIoU, model.loss.weightClass], [20, 0.5, 1, 4])
    }

    /// `learningRateScales` (longest prefix wins) times the trunk's layer decay: AdamW's first step moves each weight
    /// by lr × its group's scale (|m̂ / √v̂| = 1), so the largest move per tensor reads the scale back.
    func testLearningRateScalesSetEachGroupsStep() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lrscale-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var o = TrainingOptions()
        o.steps = 1; o.clipLength = 2; o.maxObjects = 1; o.warmupSteps = 0; o.weightDecay = 0; o.clipNorm = 0
        o.prompts.numCorrectionPtPerFrame = 1; o.layerDecay = 0.5; o.validationVideos = 0
        o.learningRateScales = ["image_encoder": 0.1, "image_encoder.neck": 0.25]
        let videos = try TrainingDataSpec.synthetic(count: 1, seed: 5).videos(imageSize: 256, syntheticFrames: 10)
        let trainer = try Self.trainer(o, videos: videos, dir: root.path), model = trainer.model   // no parameter scales: weights as initialised
        let before = Dictionary(uniqueKeysWithValues: model.store.parameters().map { ($0.key, $0.variable.value) })
        _ = try trainer.trainStep()
        let lr = trainer.schedule.rate(at: 0)
        func largestMove(_ key: String) throws -> Float {
            let now = try model.store.variable(key).value
            return zip(now.data, before[key]!.data).map { abs($0 - $1) }.max()!
        }
        let expected: [(String, Float)] = [
            ("sam_mask_decoder.conv_s0.weight", 1),                          // no prefix: the base rate
            ("image_encoder.neck.convs.0.conv.weight", 0.25),                 // the longer prefix wins
            ("image_encoder.trunk.blocks.3.attn.qkv.weight", 0.1 * 0.5),      // last block: one layer-decay factor
            ("image_encoder.trunk.blocks.0.attn.qkv.weight", 0.1 * 0.0625),   // first block: 0.5^4
        ]
        for (key, scale) in expected {
            XCTAssertEqual(try largestMove(key), lr * scale, accuracy: lr * scale * 1e-3, key)
        }
        var bad = o
        bad.learningRateScales = ["sam_mask_decoder": 0]
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("lr scale"), "\($0)") }
        bad.learningRateScales = ["no_such_module": 2]
        XCTAssertThrowsError(try Trainer(model: model, options: bad, sampler: try TrainingClipSampler(videos: videos, imageSize: 256),
                                         outputDirectory: root.path)) { XCTAssertTrue("\($0)".contains("no_such_module"), "\($0)") }
        XCTAssertEqual(try TrainingOptions.parseLearningRateScales("image_encoder=0.05, sam_mask_decoder=2"),
                       ["image_encoder": 0.05, "sam_mask_decoder": 2])
        for text in ["image_encoder", "image_encoder=x", "=0.5", "image_encoder=-1"] {
            XCTAssertThrowsError(try TrainingOptions.parseLearningRateScales(text), text)
        }
    }

    /// `parameterScales` multiplies the matching starting weights once (patterns with `*`), leaves the rest alone, and
    /// names a pattern that matches nothing.
    func testParameterScalesMultiplyMatchingWeights() throws {
        XCTAssertTrue(TrainingOptions.key("memory_attention.layers.1.cross_attn_image.q_proj.bias",
                                          matches: "memory_attention.layers.*.cross_attn_image.q_proj.bias"))
        XCTAssertFalse(TrainingOptions.key("memory_attention.layers.1.cross_attn_image.v_proj.bias",
                                           matches: "memory_attention.layers.*.cross_attn_image.q_proj.bias"))
        XCTAssertTrue(TrainingOptions.key("a.b.c", matches: "a.*"))
        XCTAssertTrue(TrainingOptions.key("a.b.c", matches: "*.c"))
        XCTAssertTrue(TrainingOptions.key("a.b.c", matches: "a*b*c"))
        XCTAssertFalse(TrainingOptions.key("a.c", matches: "a*b*c"))
        XCTAssertFalse(TrainingOptions.key("ab", matches: "ab*b"))
        XCTAssertTrue(TrainingOptions.key("a.b", matches: "a.b"))
        XCTAssertFalse(TrainingOptions.key("a.bc", matches: "a.b"))
        XCTAssertEqual(try TrainingOptions.parseParameterScales("memory_attention.layers.*.cross_attn_image.q_proj.bias=0.3, no_mem_embed=0"),
                       ["memory_attention.layers.*.cross_attn_image.q_proj.bias": 0.3, "no_mem_embed": 0])
        for text in ["x", "x=nan", "=1", "x=inf"] { XCTAssertThrowsError(try TrainingOptions.parseParameterScales(text), text) }

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pscale-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var arch = SAM2Architecture.embedded
        arch.hieraStages = [1, 1, 1, 1]; arch.hieraGlobalAttBlocks = [2]; arch.memoryAttentionLayers = 2
        var o = TrainingOptions()
        o.steps = 1; o.warmupSteps = 0; o.validationVideos = 0
        o.parameterScales = ["memory_attention.layers.*.cross_attn_image.q_proj.bias": 0.3, "no_obj_ptr": -2]
        let videos = try TrainingDataSpec.synthetic(count: 1, seed: 5).videos(imageSize: 256, syntheticFrames: 10)
        let model = try SAM2TrainModel(architecture: arch, store: SAM2Initialization.store(arch, seed: 8))
        let before = Dictionary(uniqueKeysWithValues: model.store.parameters().map { ($0.key, $0.variable.value) })
        _ = try Trainer(model: model, options: o, sampler: try TrainingClipSampler(videos: videos, imageSize: 256), outputDirectory: root.path)
        var scaled: [String] = []
        for (key, v) in model.store.parameters() {
            let old = before[key]!.data, new = v.value.data
            let factor: Float? = key.hasSuffix("cross_attn_image.q_proj.bias") ? 0.3 : key == "no_obj_ptr" ? -2 : nil
            if let factor {
                scaled.append(key)
                XCTAssertTrue(old.contains { $0 != 0 }, key)
                for (a, b) in zip(old, new) { XCTAssertEqual(b, a * factor, key) }
            } else {
                XCTAssertEqual(old, new, key)
            }
        }
        XCTAssertEqual(scaled.sorted(), ["memory_attention.layers.0.cross_attn_image.q_proj.bias",
                                         "memory_attention.layers.1.cross_attn_image.q_proj.bias", "no_obj_ptr"])
        o.parameterScales = ["memory_attention.*.nothing": 0.5]
        XCTAssertThrowsError(try Trainer(model: model, options: o, sampler: try TrainingClipSampler(videos: videos, imageSize: 256),
                                         outputDirectory: root.path)) { XCTAssertTrue("\($0)".contains("memory_attention.*.nothing"), "\($0)") }
        o.parameterScales = ["no_obj_ptr": .nan]
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains("scale parameters"), "\($0)") }
    }
}
