import XCTest
import SAM2

/// MultiStepMultiMasksAndIous against the official training loss (Scripts/fixtures/make_training_loss_fixtures.py):
/// two objects (the second absent from the ground truth), a 3-mask step and a 1-mask step, 8×8 masks.
final class TrainingLossTests: XCTestCase {
    private func run() throws -> (MultiStepMultiMasksAndIous.Losses, [[Variable]]) {
        let tape = GradientTape()
        var steps: [MultiStepMultiMasksAndIous.Step] = [], leaves: [[Variable]] = []
        for k in 0..<2 {
            let masks = tape.variable(try fixture("training_loss/step\(k)_masks.npy"))
            let ious = tape.variable(try fixture("training_loss/step\(k)_ious.npy"))
            let scores = tape.variable(try fixture("training_loss/step\(k)_scores.npy"))
            steps.append(.init(masks: masks, ious: ious, objectScoreLogits: scores))
            leaves.append([masks, ious, scores])
        }
        let losses = MultiStepMultiMasksAndIous()(steps: steps, targets: try fixture("training_loss/targets.npy"))
        tape.backward(losses.core)
        return (losses, leaves)
    }

    /// Loss values to 1e-5 relative, gradients of core_loss to 1e-6 + 1e-4 relative.
    func testMatchesOfficialLossAndGradients() throws {
        let (losses, leaves) = try run()
        let expected = try fixture("training_loss/losses.npy").data
        let got = [losses.mask, losses.dice, losses.iou, losses.objectClass, losses.core].map { $0.value.data[0] }
        for (name, (g, e)) in zip(["mask", "dice", "iou", "class", "core"], zip(got, expected)) {
            XCTAssertEqual(g, e, accuracy: 1e-5 * max(1, abs(e)), name)
        }
        for k in 0..<2 {
            for (i, name) in ["masks", "ious", "scores"].enumerated() {
                let grad = try XCTUnwrap(leaves[k][i].grad, "step \(k) \(name)")
                assertClose(grad, try fixture("training_loss/step\(k)_\(name)_grad.npy"), atol: 1e-6, rtol: 1e-4,
                            "step \(k) \(name) gradient")
            }
        }
    }

    /// Only the selected mask of the multimask step, and only the present object, get mask gradients.
    func testGradientFlowsToOneMaskOfPresentObjectsOnly() throws {
        let (_, leaves) = try run()
        let g = try XCTUnwrap(leaves[0][0].grad)   // [2, 3, 8, 8]
        let plane = 64
        let nonzero = (0..<3).map { j in g.data[(j * plane)..<((j + 1) * plane)].contains { $0 != 0 } }
        XCTAssertEqual(nonzero.filter { $0 }.count, 1, "object 0: exactly one of 3 masks back-propagated")
        XCTAssertTrue(g.data[(3 * plane)...].allSatisfy { $0 == 0 }, "object 1 is absent: no mask gradient")
        let iouGrad = try XCTUnwrap(leaves[0][1].grad)
        XCTAssertTrue(iouGrad.data[0..<3].allSatisfy { $0 != 0 }, "supervise_all_iou: every IoU prediction learns")
    }
}
