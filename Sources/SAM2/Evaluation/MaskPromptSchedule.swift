import Foundation

/// "mask": the ground-truth mask of the first annotated frame (SAM 2's mask prompt, semi-supervised VOS).
public struct MaskPromptSchedule: PromptSchedule, Equatable {
    public var name: String { "mask" }

    /// The mask schedule (no options).
    public init() {}

    public func initialPrompt(groundTruth: BinaryMask, objectId: Int,
                              predict: ([Click]) throws -> BinaryMask) throws -> ObjectPrompt? {
        groundTruth.area == 0 ? nil : .mask(groundTruth)
    }
}
