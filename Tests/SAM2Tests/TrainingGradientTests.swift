import Foundation
import XCTest
import SAM2

/// The gradient of a whole clip's loss (prompt encoder → decoder → memory encoder → memory attention → next frame)
/// against central differences, one module at a time along a random direction.
final class TrainingGradientTests: XCTestCase {
    func directional(_ name: String, plan: ClipPromptPlan, frames: Int, expectedModules: Int) throws {
        let store = try ParameterStore(checkpoint: Checkpoint.open(TrainingTests.miniPath))
        let model = try SAM2TrainModel(architecture: TrainingTests.mini, store: store)
        var settings = TrainingPromptSettings()
        settings.boxNoise = 0; settings.numCorrectionPtPerFrame = 1; settings.probToSampleFromGt = 1
        model.prompts = settings
        var sampler = try TrainingClipSampler(videos: [GroundTruthVideo(synthetic: TrainingTests.video(frames: 12))], imageSize: 256)
        sampler.length = frames; sampler.maxObjects = 2
        var rng = SplitMix64(seed: 5)
        var clip: TrainingClip? = nil
        while clip == nil { clip = try sampler.sample(&rng) }
        func loss() throws -> Float {
            var r = SplitMix64(seed: 9)
            return try GradientTape().noGrad { try model.forward(clip!, plan: plan, rng: &r) }.losses.core.value.data[0]
        }
        let tape = GradientTape()
        tape.watch(store.trainable)
        var r = SplitMix64(seed: 9)
        let out = try model.forward(clip!, plan: plan, rng: &r)
        tape.backward(out.losses.core)
        let modules = ["sam_prompt_encoder", "sam_mask_decoder.transformer", "sam_mask_decoder.output_hypernetworks_mlps",
                       "sam_mask_decoder.output_upscaling", "sam_mask_decoder.conv_s0", "sam_mask_decoder.iou_prediction_head",
                       "image_encoder.neck", "image_encoder.trunk", "memory_encoder", "memory_attention", "obj_ptr_proj", "maskmem_tpos_enc"]
        var noise = SplitMix64(seed: 11)
        var checked = 0
        for prefix in modules {
            let params = store.parameters(matching: [prefix]).map(\.variable).filter { $0.requiresGrad }
            if params.isEmpty { continue }
            // A single prompted frame has no memory to read: those modules get no gradient and are skipped.
            if frames == 1 && ["memory_", "obj_ptr", "maskmem"].contains(where: { prefix.hasPrefix($0) }) { continue }
            let dirs = params.map { p in Tensor(shape: p.value.shape, data: (0..<p.value.count).map { _ in Float(noise.nextUnit() * 2 - 1) }) }
            var analytic = 0.0
            for (p, d) in zip(params, dirs) {
                guard let g = p.grad else { continue }
                for i in 0..<g.count { analytic += Double(g.data[i]) * Double(d.data[i]) }
            }
            let originals = params.map(\.value)
            let eps: Float = 3e-4
            for (k, p) in params.enumerated() { p.value = originals[k] + dirs[k] * eps }
            let plus = try loss()
            for (k, p) in params.enumerated() { p.value = originals[k] - dirs[k] * eps }
            let minus = try loss()
            for (k, p) in params.enumerated() { p.value = originals[k] }
            let numeric = Double(plus - minus) / Double(2 * eps)
            // Central differences in float32 through softmaxes, GELUs and the memory encoder's LayerNorms: up to ~7 %
            // curvature error at this step (they converge on the analytic value as it shrinks, measured down to 1e-4),
            // far below what a missing path (0), a sign error or a doubled gradient would show.
            XCTAssertEqual(analytic, numeric, accuracy: 0.1 * max(abs(analytic), abs(numeric)) + 0.05,
                           "\(name): \(prefix) analytic \(analytic) vs numeric \(numeric)")
            checked += 1
        }
        XCTAssertEqual(checked, expectedModules, name)
    }

    /// A box-prompted single frame: prompt encoder, decoder, neck and trunk.
    func testBoxFrameGradient() throws {
        try directional("box", plan: ClipPromptPlan(initCondFrames: [0], useMaskInput: false, boxFrames: [0], framesToCorrect: [],
                                                     processingOrder: [0]), frames: 1, expectedModules: 8)
    }

    /// A mask-prompted frame, then a tracked one: adds the memory encoder, memory attention, pointers and temporal
    /// encodings.
    func testMaskThenTrackGradient() throws {
        try directional("track", plan: ClipPromptPlan(initCondFrames: [0], useMaskInput: true, boxFrames: [], framesToCorrect: [],
                                                       processingOrder: [0, 1]), frames: 2, expectedModules: 12)
    }
}
