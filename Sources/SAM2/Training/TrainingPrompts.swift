import Foundation

/// How prompts are simulated on training clips (`SAM2Train`'s arguments; defaults: the released
/// sam2.1_hiera_b+_MOSE_finetune.yaml): a ground-truth mask or, with `probToUsePtInput`, clicks or (with
/// `probToUseBoxInput` of those) a noisy box on 1…`numInitCondFrames` initial conditioning frames (the first always);
/// with clicks, up to `numFramesToCorrect` frames receive `numCorrectionPtPerFrame` corrective clicks, each drawn
/// uniformly from the current error region (or, with `probToSampleFromGt`, from the ground truth).
public struct TrainingPromptSettings: Codable, Sendable, Equatable {
    public var probToUsePtInput = 0.5
    public var probToUseBoxInput = 0.5
    public var probToSampleFromGt = 0.1
    public var numFramesToCorrect = 2
    public var randFramesToCorrect = true
    public var numInitCondFrames = 2
    public var randInitCondFrames = true
    public var numCorrectionPtPerFrame = 7
    public var addAllFramesToCorrectAsCond = true
    /// Box noise: each side moves by up to `boxNoise` × the box size, at most `boxNoiseBound` pixels.
    public var boxNoise = 0.1
    public var boxNoiseBound = 20.0

    public init() {}
}

/// The prompts of one clip (`SAM2Train.prepare_prompt_inputs`).
public struct ClipPromptPlan: Equatable, Sendable {
    /// Frames prompted before tracking (the first is frame 0).
    public var initCondFrames: [Int]
    /// True: ground-truth masks on the initial conditioning frames; false: clicks or boxes.
    public var useMaskInput: Bool
    /// Initial conditioning frames prompted with a box (only with clicks).
    public var boxFrames: Set<Int>
    /// Frames that receive corrective clicks (the initial conditioning frames first).
    public var framesToCorrect: [Int]
    /// The tracking order: initial conditioning frames, then the others in time order.
    public var processingOrder: [Int]

    /// A plan from its parts (tests and scripted experiments).
    public init(initCondFrames: [Int], useMaskInput: Bool, boxFrames: Set<Int>, framesToCorrect: [Int], processingOrder: [Int]) {
        self.initCondFrames = initCondFrames; self.useMaskInput = useMaskInput; self.boxFrames = boxFrames
        self.framesToCorrect = framesToCorrect; self.processingOrder = processingOrder
    }

    /// Draws a plan for a clip of `numFrames` frames.
    public static func draw(numFrames: Int, settings s: TrainingPromptSettings, rng: inout SplitMix64) -> ClipPromptPlan {
        var usePoints = rng.nextUnit() < s.probToUsePtInput
        var numInit = max(1, s.numInitCondFrames), numCorrect = s.numFramesToCorrect
        if numFrames == 1 { usePoints = true; numInit = 1; numCorrect = 1 }
        numInit = min(numInit, numFrames)
        if s.randInitCondFrames && numInit > 1 { numInit = rng.int(1...numInit) }
        if usePoints && s.randFramesToCorrect && numCorrect > numInit { numCorrect = rng.int(numInit...numCorrect) }
        numCorrect = min(max(numCorrect, numInit), numFrames)
        var rest = Array(1..<numFrames)
        for i in stride(from: rest.count - 1, to: 0, by: -1) { rest.swapAt(i, rng.int(0...i)) }
        let initFrames = [0] + Array(rest.prefix(numInit - 1))
        var boxes = Set<Int>()
        if usePoints { for t in initFrames where rng.nextUnit() < s.probToUseBoxInput { boxes.insert(t) } }
        let others = (0..<numFrames).filter { !initFrames.contains($0) }
        var correct: [Int] = []
        if usePoints {
            var pool = others
            for i in stride(from: pool.count - 1, to: 0, by: -1) { pool.swapAt(i, rng.int(0...i)) }
            correct = initFrames + Array(pool.prefix(numCorrect - numInit))
        }
        return ClipPromptPlan(initCondFrames: initFrames, useMaskInput: !usePoints, boxFrames: boxes, framesToCorrect: correct,
                              processingOrder: initFrames + others)
    }
}

/// Point prompts drawn from masks as SAM 2's training does (`sample_box_points`, `sample_random_points_from_errors`).
public enum TrainingPointSampler {
    /// Noisy boxes of masks [N, S, S] as two points per object (labels 2, 3): coords [N, 2, 2], labels [N, 2].
    public static func boxPoints(_ gt: Tensor, settings: TrainingPromptSettings, rng: inout SplitMix64) -> (coords: Tensor, labels: Tensor) {
        let n = gt.shape[0], h = gt.shape[1], w = gt.shape[2]
        var coords: [Float] = []
        for i in 0..<n {
            var x0 = w, y0 = h, x1 = -1, y1 = -1
            gt.withUnsafeBufferPointer { g in
                for y in 0..<h { for x in 0..<w where g[(i * h + y) * w + x] > 0 {
                    x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
                } }
            }
            if x1 < 0 { x0 = 0; y0 = 0; x1 = 0; y1 = 0 }                  // mask_to_box of an empty mask
            let dx = min(Double(x1 - x0) * settings.boxNoise, settings.boxNoiseBound)
            let dy = min(Double(y1 - y0) * settings.boxNoise, settings.boxNoiseBound)
            var box = [Double(x0), Double(y0), Double(x1), Double(y1)]
            for (k, d) in [dx, dy, dx, dy].enumerated() { box[k] += rng.uniform(-1...1) * d }
            box[0] = min(max(box[0], 0), Double(w - 1)); box[2] = min(max(box[2], 0), Double(w - 1))
            box[1] = min(max(box[1], 0), Double(h - 1)); box[3] = min(max(box[3], 0), Double(h - 1))
            coords += box.map(Float.init)
        }
        return (Tensor(shape: [n, 2, 2], data: coords), Tensor(shape: [n, 2], data: Array(repeating: [2, 3], count: n).flatMap { $0 }))
    }

    /// One click per object drawn uniformly from its error region: a pixel of the ground truth `gt` [N, S, S] missed
    /// by `prediction` (positive) or a pixel of `prediction` outside it (negative); with no prediction every ground-truth
    /// pixel is missed; with no error, any pixel, labelled by the ground truth. coords [N, 1, 2] (x, y), labels [N, 1].
    public static func errorPoints(_ gt: Tensor, prediction: [Bool]?, rng: inout SplitMix64) -> (coords: Tensor, labels: Tensor) {
        let n = gt.shape[0], h = gt.shape[1], w = gt.shape[2], plane = h * w
        var coords: [Float] = [], labels: [Float] = []
        for i in 0..<n {
            var candidates: [Int] = [], positive: [Bool] = []
            gt.withUnsafeBufferPointer { g in
                for p in 0..<plane {
                    let inGT = g[i * plane + p] > 0, inPred = prediction?[i * plane + p] ?? false
                    if inGT != inPred { candidates.append(p); positive.append(inGT) }
                }
            }
            let pick: (pixel: Int, positive: Bool)
            if candidates.isEmpty {
                let p = rng.int(0...(plane - 1))
                pick = (p, gt.data[i * plane + p] > 0)
            } else {
                let k = rng.int(0...(candidates.count - 1))
                pick = (candidates[k], positive[k])
            }
            coords += [Float(pick.pixel % w), Float(pick.pixel / w)]
            labels.append(pick.positive ? 1 : 0)
        }
        return (Tensor(shape: [n, 1, 2], data: coords), Tensor(shape: [n, 1], data: labels))
    }
}
