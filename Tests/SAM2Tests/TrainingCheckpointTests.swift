import XCTest
import SAM2

/// TrainingCheckpoint: a run stopped after a checkpoint and resumed from it in fresh objects ends bit-identical to
/// an uninterrupted run; bad files get typed errors naming the file and the key, and leave the parameters alone.
final class TrainingCheckpointTests: XCTestCase {
    private let x = randomTensor([32, 2], seed: 70)

    private func freshParameters() -> [String: Variable] {
        ["fc1.weight": Variable(randomTensor([8, 2], seed: 71) * 0.7), "fc1.bias": Variable(.zeros([8])),
         "fc2.weight": Variable(randomTensor([1, 8], seed: 72) * 0.3), "fc2.bias": Variable(.zeros([1]))]
    }

    /// AdamW steps `range` of fitting y = x₀·x₁ with a linear → GELU → linear model.
    private func train(_ p: [String: Variable], _ opt: AdamW, steps range: Range<Int>) {
        var target = Tensor(shape: [32, 1])
        for i in 0..<32 { target.data[i] = x.data[2 * i] * x.data[2 * i + 1] }
        let params = p.keys.sorted().map { p[$0]! }
        let schedule = LearningRateSchedule(peak: 2e-2, final: 1e-3, warmupSteps: 5, totalSteps: 40)
        for step in range {
            let tape = GradientTape()
            tape.watch(params)
            let pred = Variable.constant(x).linear(weight: p["fc1.weight"]!, bias: p["fc1.bias"]!).gelu()
                .linear(weight: p["fc2.weight"]!, bias: p["fc2.bias"]!)
            let diff = pred - Variable.constant(target)
            opt.zeroGrad(params)
            tape.backward((diff * diff).mean())
            opt.learningRate = schedule.rate(at: step)
            opt.step(params)
        }
    }

    private func tempPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trainckpt-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    func testResumedRunIsBitIdenticalToUninterruptedRun() throws {
        let straight = freshParameters(), straightOpt = AdamW(weightDecay: 0.05)
        train(straight, straightOpt, steps: 0..<40)

        let first = freshParameters(), firstOpt = AdamW(weightDecay: 0.05)
        train(first, firstOpt, steps: 0..<17)
        let path = tempPath("step17.safetensors")
        try TrainingCheckpoint.save(to: path, parameters: first, optimizer: firstOpt, step: 17, metadata: ["note": "test"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".partial"))

        let resumed = freshParameters(), resumedOpt = AdamW(weightDecay: 0.05)
        XCTAssertEqual(try TrainingCheckpoint.load(from: path, parameters: resumed, optimizer: resumedOpt), 17)
        train(resumed, resumedOpt, steps: 17..<40)
        for name in straight.keys {
            XCTAssertEqual(resumed[name]!.value.data, straight[name]!.value.data, name)
            XCTAssertNotEqual(resumed[name]!.value.data, freshParameters()[name]!.value.data, "\(name) was trained")
        }
        // The parameters load as a plain state dict, and the step counts come back.
        let file = try SafeTensors.read(path)
        XCTAssertEqual(file.metadata["step"], "17")
        XCTAssertEqual(file.metadata["optimizer.step.fc1.weight"], "17")
        XCTAssertEqual(try file.tensor(named: "fc2.bias").shape, [1])
    }

    func testBadCheckpointsGetTypedErrorsAndChangeNothing() throws {
        let p = freshParameters(), opt = AdamW()
        let path = tempPath("a.safetensors")
        try TrainingCheckpoint.save(to: path, parameters: ["fc1.weight": p["fc1.weight"]!], optimizer: opt, step: 3)
        let before = p["fc1.weight"]!.value.data
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: path, parameters: p, optimizer: opt)) { error in
            XCTAssertTrue("\(error)".contains("fc1.bias") && "\(error)".contains(path), "\(error)")
        }
        XCTAssertEqual(p["fc1.weight"]!.value.data, before, "a failed load leaves the parameters alone")
        let wrong = ["fc1.weight": Variable(.zeros([3, 3]))]
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: path, parameters: wrong, optimizer: opt)) { error in
            XCTAssertTrue("\(error)".contains("[3, 3]"), "\(error)")
        }
        let plain = tempPath("plain.safetensors")
        try SafeTensors.write(["w": Tensor.zeros([2])], to: plain)
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: plain, parameters: [:], optimizer: opt)) { error in
            XCTAssertTrue("\(error)".contains("not a training checkpoint"), "\(error)")
        }
    }
}
