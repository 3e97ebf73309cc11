import Foundation

/// "box": the ground truth's bounding box on the first annotated frame, optionally jittered (SAM 2's
/// `sample_box_points` noise: uniform in ±min(noise·side, bound) px per coordinate, or SAM's Gaussian).
public struct BoxPromptSchedule: PromptSchedule {
    public var name: String { "box" }
    /// Corner noise model (`.none` for the tight box).
    public var noise: ClickSimulation.BoxNoise
    /// Base seed; each object draws from its own stream (seed, object id), so results do not depend on order.
    public var seed: UInt64

    /// A box schedule with `noise` and `seed`.
    public init(noise: ClickSimulation.BoxNoise = .none, seed: UInt64 = 0) { self.noise = noise; self.seed = seed }

    public func initialPrompt(groundTruth: BinaryMask, objectId: Int,
                              predict: ([Click]) throws -> BinaryMask) throws -> ObjectPrompt? {
        var rng = SplitMix64(seed: SplitMix64.hash(seed, objectId, 0xB0C5))
        return ClickSimulation.box(groundTruth, noise: noise, rng: &rng).map { .box($0) }
    }
}
