import Foundation

/// "offline" (SAM 2 paper, offline evaluation): first-frame clicks, then after each full propagation pass one
/// corrective click per object on the frame where its IoU is worst (earliest frame on ties; perfect frames are
/// never clicked), until `rounds` passes or the video's corrective-click `budget` is spent (when it runs short
/// within a round, lower object ids go first).
public struct OfflineCorrectionSchedule: PromptSchedule, Equatable {
    public var name: String { "offline" }
    /// First-frame prompt.
    public var initial: ClickPromptSchedule
    /// Correction passes after the first propagation.
    public var rounds: Int
    /// Corrective clicks per video, all objects and rounds together (first-frame clicks not counted).
    public var budget: Int

    /// An offline schedule (rounds ≥ 0, budget ≥ 0).
    public init(initial: ClickPromptSchedule, rounds: Int = 3, budget: Int = 8) throws {
        guard rounds >= 0 else { throw PromptScheduleError.badOption(schedule: "offline", option: "rounds", expected: ">= 0", got: "\(rounds)") }
        guard budget >= 0 else { throw PromptScheduleError.badOption(schedule: "offline", option: "budget", expected: ">= 0", got: "\(budget)") }
        self.initial = initial; self.rounds = rounds; self.budget = budget
    }

    public var correctionRounds: Int { rounds }

    public func initialPrompt(groundTruth: BinaryMask, objectId: Int,
                              predict: ([Click]) throws -> BinaryMask) throws -> ObjectPrompt? {
        try initial.initialPrompt(groundTruth: groundTruth, objectId: objectId, predict: predict)
    }

    public func offlineCorrections(round: Int, scores: [ObjectFrameScore], clicksUsed: Int) -> [ObjectFrameScore] {
        var worst: [Int: ObjectFrameScore] = [:]
        for s in scores where s.iou < 1 {
            if let w = worst[s.objectId], (w.iou, w.frame) <= (s.iou, s.frame) { continue }
            worst[s.objectId] = s
        }
        let left = max(0, budget - clicksUsed)
        return Array(worst.keys.sorted().prefix(left).compactMap { worst[$0] })
    }

    public func correctiveClick(groundTruth: BinaryMask, prediction: BinaryMask) -> Click? {
        initial.correctiveClick(groundTruth: groundTruth, prediction: prediction)
    }
}
