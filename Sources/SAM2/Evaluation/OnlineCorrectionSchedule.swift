import Foundation

/// "online" (SAM 2 paper, online evaluation): first-frame clicks, then a single propagation pass during which
/// a frame whose IoU falls below `threshold` gets a corrective click (up to `clicksPerFrame`), becomes a
/// conditioning frame, and every later frame is tracked again from it, until the video's corrective-click
/// `budget` is spent. Objects are checked in id order on each frame.
public struct OnlineCorrectionSchedule: PromptSchedule, Equatable {
    public var name: String { "online" }
    /// First-frame prompt.
    public var initial: ClickPromptSchedule
    /// IoU under which a frame is corrected (0…1).
    public var threshold: Double
    /// Corrective clicks per video, all objects together (first-frame clicks not counted).
    public var budget: Int
    /// Corrective clicks one object may get on one frame.
    public var clicksPerFrame: Int

    /// An online schedule (threshold in [0, 1], budget ≥ 0, clicksPerFrame ≥ 1).
    public init(initial: ClickPromptSchedule, threshold: Double = 0.5, budget: Int = 8, clicksPerFrame: Int = 1) throws {
        guard threshold >= 0 && threshold <= 1 else {
            throw PromptScheduleError.badOption(schedule: "online", option: "threshold", expected: "a number in [0, 1]", got: "\(threshold)")
        }
        guard budget >= 0 else { throw PromptScheduleError.badOption(schedule: "online", option: "budget", expected: ">= 0", got: "\(budget)") }
        guard clicksPerFrame >= 1 else {
            throw PromptScheduleError.badOption(schedule: "online", option: "clicks_per_frame", expected: ">= 1", got: "\(clicksPerFrame)")
        }
        self.initial = initial; self.threshold = threshold; self.budget = budget; self.clicksPerFrame = clicksPerFrame
    }

    public func initialPrompt(groundTruth: BinaryMask, objectId: Int,
                              predict: ([Click]) throws -> BinaryMask) throws -> ObjectPrompt? {
        try initial.initialPrompt(groundTruth: groundTruth, objectId: objectId, predict: predict)
    }

    public func wantsOnlineCorrection(_ score: ObjectFrameScore, clicksUsed: Int, clicksOnFrame: Int) -> Bool {
        score.iou < threshold && clicksUsed < budget && clicksOnFrame < clicksPerFrame
    }

    public func correctiveClick(groundTruth: BinaryMask, prediction: BinaryMask) -> Click? {
        initial.correctiveClick(groundTruth: groundTruth, prediction: prediction)
    }
}
