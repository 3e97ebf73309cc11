import Foundation

/// "clicks": k clicks on the first annotated frame, as the SAM 2 paper simulates them — the first at the
/// interior point farthest from the boundary, each later one at the centre of the largest error region of
/// the model's prediction after the previous clicks (positive in a miss, negative in a false alarm).
public struct ClickPromptSchedule: PromptSchedule, Equatable {
    public var name: String { "clicks" }
    /// Clicks per object (the paper uses 1, 3 and 5).
    public var k: Int
    /// How the error region of later clicks is chosen.
    public var rule: ClickSimulation.ErrorRegionRule

    /// k clicks with `rule` (k ≥ 1).
    public init(k: Int = 1, rule: ClickSimulation.ErrorRegionRule = .farthestPoint) throws {
        guard k >= 1 else { throw PromptScheduleError.badOption(schedule: "clicks", option: "k", expected: ">= 1", got: "\(k)") }
        self.k = k; self.rule = rule
    }

    public func initialPrompt(groundTruth: BinaryMask, objectId: Int,
                              predict: ([Click]) throws -> BinaryMask) throws -> ObjectPrompt? {
        let clicks = try ClickSimulation.clicks(gt: groundTruth, count: k, rule: rule, predict: predict)
        return clicks.isEmpty ? nil : .clicks(clicks)
    }

    public func correctiveClick(groundTruth: BinaryMask, prediction: BinaryMask) -> Click? {
        ClickSimulation.nextClick(gt: groundTruth, prediction: prediction, rule: rule)
    }
}

extension ClickSimulation.ErrorRegionRule {
    /// The option spelling: "farthest" (official `sample_one_point_from_error_center`) or "largest"
    /// (centre of the largest connected error region).
    public var optionName: String {
        switch self {
        case .farthestPoint: return "farthest"
        case .largestArea: return "largest"
        }
    }

    /// Parses the option spelling; throws naming the schedule and option.
    static func parse(_ s: String, schedule: String) throws -> Self {
        switch s {
        case "farthest": return .farthestPoint
        case "largest": return .largestArea
        default: throw PromptScheduleError.badOption(schedule: schedule, option: "rule", expected: "\"farthest\" or \"largest\"", got: "\"\(s)\"")
        }
    }
}
