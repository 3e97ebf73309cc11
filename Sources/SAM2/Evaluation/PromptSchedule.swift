import Foundation

/// The prompt a simulated user gives an object on its first annotated frame.
public enum ObjectPrompt: Equatable, Sendable {
    /// Clicks in order (the first from the ground truth alone, later ones from the model's errors).
    case clicks([Click])
    /// A box (tight or jittered bounding box of the ground truth).
    case box(BoxPrompt)
    /// The ground-truth mask itself.
    case mask(BinaryMask)
}

/// One object on one frame as a corrective schedule sees it.
public struct ObjectFrameScore: Sendable, Equatable {
    /// Object id.
    public var objectId: Int
    /// Frame index.
    public var frame: Int
    /// Region IoU (J) of the current prediction.
    public var iou: Double

    /// A score record.
    public init(objectId: Int, frame: Int, iou: Double) { self.objectId = objectId; self.frame = frame; self.iou = iou }
}

/// A simulated user (SAM 2 paper, §6.1): the prompts an object gets on its first annotated frame and,
/// optionally, corrective clicks in reaction to the tracker's errors — after whole propagation passes
/// (offline) or while propagating (online). Schedules are stateless values; the runner
/// (`InteractiveEvaluation`) keeps the click counts and passes them in.
public protocol PromptSchedule: Sendable {
    /// Registry name.
    var name: String { get }
    /// The first prompt of object `objectId` from its ground truth on its first annotated frame. `predict`
    /// applies the clicks given so far on that frame and returns the model's mask (for click schedules whose
    /// later clicks go to the error of the previous prediction). nil: nothing to prompt (empty ground truth).
    func initialPrompt(groundTruth: BinaryMask, objectId: Int,
                       predict: ([Click]) throws -> BinaryMask) throws -> ObjectPrompt?
    /// Offline passes after the first propagation (0: no offline corrections).
    var correctionRounds: Int { get }
    /// Offline: after pass `round` (1-based among correction rounds), the (object, frame) pairs that get one
    /// corrective click each. `scores` holds every tracked frame of every object; `clicksUsed` counts the
    /// corrective clicks given so far in this video.
    func offlineCorrections(round: Int, scores: [ObjectFrameScore], clicksUsed: Int) -> [ObjectFrameScore]
    /// Online: whether object `score.objectId` gets a corrective click on the frame being propagated, given
    /// its IoU there, the video's corrective clicks so far and those already given on this frame.
    func wantsOnlineCorrection(_ score: ObjectFrameScore, clicksUsed: Int, clicksOnFrame: Int) -> Bool
    /// The corrective click for a frame (nil when the prediction is exact).
    func correctiveClick(groundTruth: BinaryMask, prediction: BinaryMask) -> Click?
}

extension PromptSchedule {
    /// No offline rounds by default.
    public var correctionRounds: Int { 0 }
    /// No offline corrections by default.
    public func offlineCorrections(round: Int, scores: [ObjectFrameScore], clicksUsed: Int) -> [ObjectFrameScore] { [] }
    /// No online corrections by default.
    public func wantsOnlineCorrection(_ score: ObjectFrameScore, clicksUsed: Int, clicksOnFrame: Int) -> Bool { false }
    /// The official error-centre click (`ClickSimulation.nextClick`, farthest-point rule).
    public func correctiveClick(groundTruth: BinaryMask, prediction: BinaryMask) -> Click? {
        ClickSimulation.nextClick(gt: groundTruth, prediction: prediction, rule: .farthestPoint)
    }
}

/// Bad values of prompt-schedule options (names and types are checked by the registry).
public enum PromptScheduleError: Error, CustomStringConvertible, Equatable {
    /// An option has a value of the right type outside its domain.
    case badOption(schedule: String, option: String, expected: String, got: String)
    /// A registered component of kind `.promptSchedule` did not build a `PromptSchedule`.
    case notASchedule(name: String)

    public var description: String {
        switch self {
        case let .badOption(schedule, option, expected, got):
            return "prompt schedule '\(schedule)': option '\(option)' expects \(expected), got \(got)"
        case let .notASchedule(name): return "prompt schedule '\(name)' did not build a PromptSchedule"
        }
    }
}
