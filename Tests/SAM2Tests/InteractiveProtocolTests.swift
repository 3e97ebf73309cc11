import Foundation
import XCTest
import SAM2

/// Prompt schedules (simulated users) and the interactive runner on a tiny synthetic video (8 frames of
/// 128×96, 2 objects) with the reduced random-weights model: J&F values are meaningless, so the tests check
/// prompts against independent computations from the ground truth, corrective-click placement, budgets,
/// rounds, registry entries, typed errors and determinism.
final class InteractiveProtocolTests: XCTestCase {
    static func generator() throws -> SyntheticVideoGenerator {
        var c = SyntheticVideoConfig()
        c.width = 128; c.height = 96; c.frames = 8; c.objects = 2
        c.objectSize = 0.18...0.25; c.speed = 4; c.seed = 11
        return try SyntheticVideoGenerator(config: c)
    }

    static func video() throws -> GroundTruthVideo { try GroundTruthVideo(synthetic: try generator(), name: "tiny") }

    static func evaluation(skipFirstAndLast: Bool = false) throws -> InteractiveEvaluation {
        InteractiveEvaluation(model: try VideoPredictorParityTests.model(), skipFirstAndLast: skipFirstAndLast)
    }

    /// Ground truth of object `id` on `frame` as a BinaryMask.
    static func groundTruth(_ frame: Int, _ id: Int) throws -> BinaryMask {
        BinaryMask(try generator().frame(frame).mask, id: id)
    }

    /// Naive farthest-from-boundary pixel (padding ring counts as background), first in row-major order on ties.
    func naiveCenter(_ m: BinaryMask) -> Click? {
        var zeros: [(Int, Int)] = []
        for y in 0..<m.height { for x in 0..<m.width where !m[y, x] { zeros.append((x, y)) } }
        var best = 0, at: (Int, Int)? = nil
        for y in 0..<m.height {
            for x in 0..<m.width where m[y, x] {
                var d = min((x + 1) * (x + 1), (m.width - x) * (m.width - x), (y + 1) * (y + 1), (m.height - y) * (m.height - y))
                for z in zeros { d = min(d, (z.0 - x) * (z.0 - x) + (z.1 - y) * (z.1 - y)) }
                if d > best { best = d; at = (x, y) }
            }
        }
        return at.map { Click(x: $0.0, y: $0.1, positive: true) }
    }

    // MARK: - Registry and options

    /// A registry holding only the built-in schedules (Registry.shared also holds schedules other tests in
    /// this process registered from Lua).
    static let builtins: Registry = {
        let r = Registry()
        try! PromptSchedules.register(in: r)
        return r
    }()

    func testRegistryListsSchedulesWithOptions() throws {
        let listed = Self.builtins.components(.promptSchedule)
        XCTAssertEqual(listed.map(\.name), ["box", "clicks", "mask", "offline", "online"])
        XCTAssertTrue(Set(listed.map(\.name)).isSubset(of: Set(Registry.shared.components(.promptSchedule).map(\.name))))
        let options = Dictionary(uniqueKeysWithValues: listed.map { ($0.name, $0.options.map(\.name)) })
        XCTAssertEqual(options["clicks"], ["k", "rule"])
        XCTAssertEqual(options["box"], ["noise", "noise_model", "bound", "seed"])
        XCTAssertEqual(options["mask"], [])
        XCTAssertEqual(options["offline"], ["k", "rule", "rounds", "budget"])
        XCTAssertEqual(options["online"], ["k", "rule", "threshold", "budget", "clicks_per_frame"])
        XCTAssertTrue(listed.allSatisfy { $0.kind == .promptSchedule && !$0.summary.isEmpty })

        let clicks = try XCTUnwrap(try PromptSchedules.make("clicks", options: ["k": .int(3), "rule": .string("largest")]) as? ClickPromptSchedule)
        XCTAssertEqual(clicks.k, 3)
        XCTAssertEqual(clicks.rule.optionName, "largest")
        let offline = try XCTUnwrap(try PromptSchedules.make("offline", options: ["rounds": .int(2), "budget": .int(5)]) as? OfflineCorrectionSchedule)
        XCTAssertEqual(offline.correctionRounds, 2)
        XCTAssertEqual(offline.budget, 5)
        XCTAssertEqual(offline.initial.k, 1)
        let online = try XCTUnwrap(try PromptSchedules.make("online", options: ["threshold": .int(1)]) as? OnlineCorrectionSchedule)
        XCTAssertEqual(online.threshold, 1)  // ints are accepted for number options
        XCTAssertEqual(online.budget, 8)
        XCTAssertTrue(try PromptSchedules.make("mask") is MaskPromptSchedule)
        XCTAssertTrue(try PromptSchedules.make("box", options: ["noise": .number(0.1)]) is BoxPromptSchedule)
    }

    func testBadOptionsGiveTypedErrors() {
        func expect<E: Error & Equatable>(_ name: String, _ options: [String: OptionValue], _ expected: E) {
            XCTAssertThrowsError(try PromptSchedules.make(name, options: options, registry: Self.builtins), "\(name) \(options)") { error in
                XCTAssertEqual(error as? E, expected, "\(error)")
                XCTAssertFalse("\(error)".isEmpty)
            }
        }
        expect("lasso", [:], RegistryError.unknownComponent(kind: .promptSchedule, name: "lasso",
                                                             known: ["box", "clicks", "mask", "offline", "online"]))
        expect("clicks", ["kk": .int(3)], RegistryError.unknownOption(kind: .promptSchedule, component: "clicks", option: "kk", known: ["k", "rule"]))
        expect("clicks", ["k": .string("3")], RegistryError.optionType(kind: .promptSchedule, component: "clicks", option: "k", expected: "int", got: "string"))
        expect("clicks", ["k": .int(0)], PromptScheduleError.badOption(schedule: "clicks", option: "k", expected: ">= 1", got: "0"))
        expect("offline", ["k": .int(-2)], PromptScheduleError.badOption(schedule: "offline", option: "k", expected: ">= 1", got: "-2"))
        expect("clicks", ["rule": .string("nearest")],
               PromptScheduleError.badOption(schedule: "clicks", option: "rule", expected: "\"farthest\" or \"largest\"", got: "\"nearest\""))
        expect("offline", ["budget": .int(-1)], PromptScheduleError.badOption(schedule: "offline", option: "budget", expected: ">= 0", got: "-1"))
        expect("offline", ["rounds": .int(-1)], PromptScheduleError.badOption(schedule: "offline", option: "rounds", expected: ">= 0", got: "-1"))
        expect("online", ["threshold": .number(1.5)],
               PromptScheduleError.badOption(schedule: "online", option: "threshold", expected: "a number in [0, 1]", got: "1.5"))
        expect("online", ["clicks_per_frame": .int(0)],
               PromptScheduleError.badOption(schedule: "online", option: "clicks_per_frame", expected: ">= 1", got: "0"))
        expect("box", ["noise": .number(0.1), "noise_model": .string("cauchy")],
               PromptScheduleError.badOption(schedule: "box", option: "noise_model", expected: "\"uniform\" or \"gaussian\"", got: "\"cauchy\""))
        expect("box", ["noise": .number(-0.1)], PromptScheduleError.badOption(schedule: "box", option: "noise", expected: "a fraction >= 0", got: "-0.1"))
    }

    // MARK: - First-frame prompts without the model

    func testBoxAndMaskPromptsFromGroundTruth() throws {
        let gt = try Self.groundTruth(0, 1)
        let b = try XCTUnwrap(gt.bounds)
        let noPredict: ([Click]) throws -> BinaryMask = { _ in XCTFail("box/mask schedules never predict"); return gt }
        let tight = try PromptSchedules.make("box").initialPrompt(groundTruth: gt, objectId: 1, predict: noPredict)
        XCTAssertEqual(tight, .box(BoxPrompt(x0: Double(b.minX), y0: Double(b.minY), x1: Double(b.maxX), y1: Double(b.maxY))))

        let jitter = try PromptSchedules.make("box", options: ["noise": .number(0.1), "bound": .number(3), "seed": .int(4)])
        guard case let .box(j1)? = try jitter.initialPrompt(groundTruth: gt, objectId: 1, predict: noPredict),
              case let .box(j1again)? = try jitter.initialPrompt(groundTruth: gt, objectId: 1, predict: noPredict),
              case let .box(j2)? = try jitter.initialPrompt(groundTruth: gt, objectId: 2, predict: noPredict) else {
            return XCTFail("box schedule gave no box")
        }
        XCTAssertEqual(j1, j1again, "same seed and object → same box")
        XCTAssertNotEqual(j1, j2, "each object has its own noise stream")
        let side = [Double(b.maxX - b.minX), Double(b.maxY - b.minY)]
        for (v, (t, s)) in zip([j1.x0, j1.y0, j1.x1, j1.y1], zip([b.minX, b.minY, b.maxX, b.maxY].map(Double.init), [side[0], side[1], side[0], side[1]])) {
            XCTAssertLessThanOrEqual(abs(v - t), min(0.1 * s, 3) + 1e-9, "uniform noise stays within min(0.1·side, bound)")
        }
        XCTAssertEqual(try PromptSchedules.make("mask").initialPrompt(groundTruth: gt, objectId: 1, predict: noPredict), .mask(gt))
        XCTAssertNil(try PromptSchedules.make("mask").initialPrompt(groundTruth: BinaryMask(width: 4, height: 4), objectId: 1, predict: noPredict))
    }

    /// Offline frame choice: worst IoU per object (earliest on ties), perfect frames skipped, budget respected.
    func testOfflineSelectionAndBudget() throws {
        let s = try OfflineCorrectionSchedule(initial: try ClickPromptSchedule(k: 1), rounds: 3, budget: 3)
        let scores = [ObjectFrameScore(objectId: 2, frame: 0, iou: 0.9), ObjectFrameScore(objectId: 2, frame: 4, iou: 0.2),
                      ObjectFrameScore(objectId: 2, frame: 6, iou: 0.2), ObjectFrameScore(objectId: 1, frame: 1, iou: 1),
                      ObjectFrameScore(objectId: 1, frame: 3, iou: 0.7), ObjectFrameScore(objectId: 3, frame: 2, iou: 1)]
        XCTAssertEqual(s.offlineCorrections(round: 1, scores: scores, clicksUsed: 0),
                       [ObjectFrameScore(objectId: 1, frame: 3, iou: 0.7), ObjectFrameScore(objectId: 2, frame: 4, iou: 0.2)])
        XCTAssertEqual(s.offlineCorrections(round: 2, scores: scores, clicksUsed: 2), [ObjectFrameScore(objectId: 1, frame: 3, iou: 0.7)])
        XCTAssertEqual(s.offlineCorrections(round: 3, scores: scores, clicksUsed: 3), [])

        let o = try OnlineCorrectionSchedule(initial: try ClickPromptSchedule(k: 1), threshold: 0.5, budget: 2, clicksPerFrame: 2)
        let low = ObjectFrameScore(objectId: 1, frame: 3, iou: 0.4)
        XCTAssertTrue(o.wantsOnlineCorrection(low, clicksUsed: 1, clicksOnFrame: 1))
        XCTAssertFalse(o.wantsOnlineCorrection(low, clicksUsed: 2, clicksOnFrame: 0), "budget spent")
        XCTAssertFalse(o.wantsOnlineCorrection(low, clicksUsed: 0, clicksOnFrame: 2), "per-frame limit")
        XCTAssertFalse(o.wantsOnlineCorrection(ObjectFrameScore(objectId: 1, frame: 3, iou: 0.5), clicksUsed: 0, clicksOnFrame: 0))
    }

    /// The corrective click goes to the centre of the largest error region with the sign of that region.
    func testCorrectiveClickOnLargestErrorRegion() throws {
        let (w, h) = (40, 30)
        var gt = BinaryMask(width: w, height: h), pred = BinaryMask(width: w, height: h)
        for y in 5..<25 { for x in 5..<35 { gt[y, x] = true } }
        for y in 5..<25 { for x in 5..<20 { pred[y, x] = true } }   // misses x 20..<35 (300 px)
        for y in 0..<3 { for x in 0..<4 { pred[y, x] = true } }     // small false alarm (12 px)
        var missed = BinaryMask(width: w, height: h)
        for y in 5..<25 { for x in 20..<35 { missed[y, x] = true } }
        let expected = try XCTUnwrap(naiveCenter(missed))
        for name in ["offline", "online", "clicks"] {
            let s = try PromptSchedules.make(name, options: ["rule": .string("largest")])
            XCTAssertEqual(s.correctiveClick(groundTruth: gt, prediction: pred), expected, name)
        }
        // A large false alarm gets a negative click at its centre.
        var spurious = pred
        for y in 0..<30 { for x in 36..<40 { spurious[y, x] = true } }
        for y in 5..<25 { for x in 20..<35 { spurious[y, x] = true } }
        var fp = BinaryMask(width: w, height: h)
        for y in 0..<3 { for x in 0..<4 { fp[y, x] = true } }
        for y in 0..<30 { for x in 36..<40 { fp[y, x] = true } }
        let neg = try XCTUnwrap(try PromptSchedules.make("offline", options: ["rule": .string("largest")])
            .correctiveClick(groundTruth: gt, prediction: spurious))
        XCTAssertFalse(neg.positive)
        XCTAssertFalse(gt[neg.y, neg.x])
        XCTAssertGreaterThanOrEqual(neg.x, 36, "in the larger (bar) false alarm")
    }

    // MARK: - With the model

    func testClickScheduleFirstClickAndLaterClicksFollowTheModel() throws {
        let video = try Self.video()
        XCTAssertEqual(video.objects.map(\.id), [1, 2])
        XCTAssertEqual(video.objects.map(\.firstFrame), [0, 0])
        let result = try Self.evaluation().run(video, schedule: try PromptSchedules.make("clicks", options: ["k": .int(3)]))
        XCTAssertEqual(result.prompts.map(\.objectId), [1, 2])
        let m = try VideoPredictorParityTests.model()
        for p in result.prompts {
            let gt = try Self.groundTruth(0, p.objectId)
            XCTAssertEqual(p.kind, "clicks")
            XCTAssertEqual(p.frame, 0)
            XCTAssertEqual(p.clicks.first, naiveCenter(gt), "first click: interior point farthest from the boundary")
            XCTAssertEqual(p.clicks.count, 3, "random weights never give an exact mask, so all 3 clicks are used")
            // Replay: click 2 is the error centre of the model's mask after click 1 on a fresh tracker.
            let replay = SAM2VideoPredictor(model: m, frames: video.frames)
            let c = p.clicks[0]
            let r = try replay.addPoints(frame: 0, objectId: p.objectId, points: [[Float(c.x), Float(c.y)]], labels: [1])
            let pred = try BinaryMask(width: 128, height: 96, bits: try XCTUnwrap(r.mask(objectId: p.objectId)))
            XCTAssertEqual(p.clicks[1], ClickSimulation.nextClick(gt: gt, prediction: pred))
            XCTAssertEqual(gt[p.clicks[1].y, p.clicks[1].x], p.clicks[1].positive, "sign matches the ground truth")
        }
        XCTAssertEqual(result.rounds.count, 1)
        XCTAssertTrue(result.corrections.isEmpty)
        XCTAssertEqual(result.totalClicks, result.prompts.reduce(0) { $0 + $1.clicks.count })
        for o in result.rounds[0].objects {
            XCTAssertEqual(o.frames, Array(0..<8))
            XCTAssertEqual(o.j.count, 8)
            XCTAssertTrue(o.j.allSatisfy { (0...1).contains($0) } && o.f.allSatisfy { (0...1).contains($0) })
        }
    }

    func testOfflineRoundsBudgetAndWorstFrame() throws {
        let eval = try Self.evaluation()
        let schedule = try PromptSchedules.make("offline", options: ["rounds": .int(2), "budget": .int(3)])
        let result = try eval.run(try Self.video(), schedule: schedule)
        XCTAssertLessThanOrEqual(result.correctiveClicks, 3, "budget")
        XCTAssertEqual(result.rounds.map(\.round), Array(0..<result.rounds.count))
        XCTAssertEqual(result.rounds.count, 3, "random weights never give perfect masks: both rounds run")
        XCTAssertEqual(result.corrections.filter { $0.round == 1 }.map(\.objectId), [1, 2], "one click per object in round 1")
        XCTAssertEqual(result.corrections.filter { $0.round == 2 }.count, 1, "budget leaves one click for round 2")
        for c in result.corrections {
            // The clicked frame is the object's worst frame of the previous pass (earliest on ties).
            let before = try XCTUnwrap(result.rounds[c.round - 1].objects.first { $0.objectId == c.objectId })
            let worst = try XCTUnwrap(before.j.min())
            XCTAssertEqual(c.iouBefore, worst, accuracy: 1e-12)
            XCTAssertEqual(c.frame, before.frames[try XCTUnwrap(before.j.firstIndex(of: worst))])
            let gt = try Self.groundTruth(c.frame, c.objectId)
            XCTAssertEqual(gt[c.click.y, c.click.x], c.click.positive, "positive inside a miss, negative in a false alarm")
            XCTAssertEqual(result.rounds[c.round].correctiveClicks, result.corrections.filter { $0.round <= c.round }.count)
        }
        // Clicks per object = first-frame clicks + its corrections.
        for o in try XCTUnwrap(result.final).objects {
            XCTAssertEqual(o.clicks, 1 + result.corrections.filter { $0.objectId == o.objectId }.count)
        }
        // Determinism and Codable output.
        let again = try eval.run(try Self.video(), schedule: schedule)
        let data = try result.jsonData()
        XCTAssertEqual(data, try again.jsonData(), "same video, schedule and model → same result")
        let decoded = try InteractiveVideoResult.decode(data)
        XCTAssertEqual(try decoded.jsonData(), data)
        let json = String(decoding: data, as: UTF8.self)
        for key in ["\"jAndF\"", "\"rounds\"", "\"corrections\"", "\"totalClicks\""] { XCTAssertTrue(json.contains(key), key) }
    }

    func testOnlineCorrectsWhilePropagatingWithinBudget() throws {
        let eval = try Self.evaluation(skipFirstAndLast: true)
        let result = try eval.run(try Self.video(), schedule: try PromptSchedules.make(
            "online", options: ["threshold": .number(1), "budget": .int(3), "clicks_per_frame": .int(1)]))
        XCTAssertEqual(result.rounds.count, 1, "online: a single pass")
        XCTAssertEqual(result.correctiveClicks, 3, "threshold 1 asks on every imperfect frame until the budget is spent")
        XCTAssertTrue(result.corrections.allSatisfy { $0.round == 0 && $0.iouBefore < 1 })
        var seen = Set<[Int]>()
        for c in result.corrections {
            XCTAssertTrue(seen.insert([c.frame, c.objectId]).inserted, "at most clicks_per_frame = 1 per object and frame")
            let gt = try Self.groundTruth(c.frame, c.objectId)
            XCTAssertEqual(gt[c.click.y, c.click.x], c.click.positive)
        }
        XCTAssertEqual(result.corrections.map(\.frame), result.corrections.map(\.frame).sorted(), "clicks follow the propagation")
        XCTAssertEqual(result.final?.correctiveClicks, 3)
        XCTAssertEqual(result.totalClicks, 2 + 3)
        XCTAssertEqual(result.final?.objects.map(\.frames), [Array(1..<7), Array(1..<7)], "DAVIS protocol drops first and last")

        let none = try eval.run(try Self.video(), schedule: try PromptSchedules.make("online", options: ["threshold": .number(0)]))
        XCTAssertEqual(none.correctiveClicks, 0, "IoU is never below 0")
    }

    /// The DAVIS-layout path: the synthetic video written to disk and read back as a data-set sequence gives
    /// the same objects, first frames and ground truth; a mask schedule runs on it.
    func testDAVISLayoutSequence() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("interactive-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let g = try Self.generator()
        try SyntheticDataset.write(root: root, sequences: [.init(name: "tiny", config: g.config)])
        let seq = try DAVISDataset(root: root).sequence("tiny")
        let video = try GroundTruthVideo(sequence: seq)
        XCTAssertEqual(video.objects.map(\.id), [1, 2])
        XCTAssertEqual(video.objects.map(\.firstFrame), [0, 0])
        XCTAssertEqual(video.frames.frameCount, 8)
        for t in [0, 5] {
            let masks = try XCTUnwrap(try video.groundTruth(t))
            for id in [1, 2] { XCTAssertEqual(try XCTUnwrap(masks[id]).bits, try Self.groundTruth(t, id).bits, "frame \(t) object \(id)") }
        }
        let result = try Self.evaluation(skipFirstAndLast: true).run(video, schedule: try PromptSchedules.make("mask"))
        XCTAssertEqual(result.video, "tiny")
        XCTAssertEqual(result.prompts.map(\.kind), ["mask", "mask"])
        XCTAssertEqual(result.totalClicks, 0)
        XCTAssertEqual(result.final?.objects.map(\.frames), [Array(1..<7), Array(1..<7)])
    }

    /// `addAllFramesToCorrectAsCond`: a click on a tracked frame becomes a conditioning frame that
    /// re-propagation keeps; with the official default it is a non-conditioning output that is recomputed.
    func testCorrectionOnTrackedFrameBecomesConditioning() throws {
        let video = try Self.video()
        let m = try VideoPredictorParityTests.model()
        for asCond in [false, true] {
            let p = SAM2VideoPredictor(model: m, frames: video.frames)
            p.addAllFramesToCorrectAsCond = asCond
            try p.addPoints(frame: 0, objectId: 1, points: [[40, 40]], labels: [1])
            try p.propagate { _ in true }
            let clicked = try p.addPoints(frame: 3, objectId: 1, points: [[20, 20]], labels: [0], clearOldPoints: false)
            var after: VideoFrameResult?
            try p.propagate { r in if r.frameIndex == 3 { after = r }; return true }
            let bank = try XCTUnwrap(p.memoryBank(objectId: 1))
            XCTAssertEqual(bank.conditioningFrames, asCond ? [0, 3] : [0])
            let kept = try XCTUnwrap(after).videoResMasks.maxAbsDifference(clicked.videoResMasks) == 0
            XCTAssertEqual(kept, asCond, "the corrected mask survives re-propagation only as a conditioning frame")
        }
    }
}
