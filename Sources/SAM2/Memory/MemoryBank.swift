import Foundation

/// What the tracker keeps of one object on one frame (the official predictor's compact frame output).
public struct FrameOutput: Sendable {
    /// Memory features [1, memDim, h, w] from the memory encoder (nil until encoded).
    public var maskmemFeatures: StoredTensor?
    /// Low-resolution mask logits [1, 1, 4h, 4w] (after hole filling, as the official stores them).
    public var predMasks: Tensor
    /// Object pointer [1, hidden].
    public var objPtr: Tensor
    /// Object-presence logit [1, 1] (> 0: visible).
    public var objectScoreLogits: Tensor

    public init(maskmemFeatures: StoredTensor?, predMasks: Tensor, objPtr: Tensor, objectScoreLogits: Tensor) {
        self.maskmemFeatures = maskmemFeatures
        self.predMasks = predMasks
        self.objPtr = objPtr
        self.objectScoreLogits = objectScoreLogits
    }

    /// The object score as a number.
    public var objectScore: Float { objectScoreLogits.data.first ?? 0 }
}

/// One object's stored frame outputs: conditioning frames (prompted) and non-conditioning frames (tracked).
/// A frame is in at most one of the two sets (the official `output_dict` after `propagate_in_video_preflight`).
public struct MemoryBank: Sendable {
    /// Storage precision of memory features.
    public let precision: MemoryPrecision
    private var cond: [Int: FrameOutput] = [:]
    private var nonCond: [Int: FrameOutput] = [:]

    /// An empty bank.
    public init(precision: MemoryPrecision = .bfloat16) { self.precision = precision }

    /// Frames with a conditioning output, ascending.
    public var conditioningFrames: [Int] { cond.keys.sorted() }
    /// Frames with a non-conditioning output, ascending.
    public var nonConditioningFrames: [Int] { nonCond.keys.sorted() }
    /// Number of stored outputs.
    public var count: Int { cond.count + nonCond.count }
    /// Bytes held by the stored tensors (features, masks, pointers, scores).
    public var byteCount: Int {
        (Array(cond.values) + Array(nonCond.values)).reduce(0) {
            $0 + ($1.maskmemFeatures?.byteCount ?? 0) + 4 * ($1.predMasks.count + $1.objPtr.count + $1.objectScoreLogits.count)
        }
    }

    /// The conditioning output on `frame`.
    public func conditioning(_ frame: Int) -> FrameOutput? { cond[frame] }
    /// The non-conditioning output on `frame`.
    public func nonConditioning(_ frame: Int) -> FrameOutput? { nonCond[frame] }
    /// Whichever output is stored on `frame`.
    public func output(_ frame: Int) -> FrameOutput? { cond[frame] ?? nonCond[frame] }
    /// Whether `frame` holds a conditioning output.
    public func isConditioning(_ frame: Int) -> Bool { cond[frame] != nil }

    /// Stores an output, replacing any output on that frame (in either set).
    public mutating func store(_ output: FrameOutput, frame: Int, conditioning: Bool) {
        if conditioning { nonCond[frame] = nil; cond[frame] = output } else { cond[frame] = nil; nonCond[frame] = output }
    }

    /// Memory features stored at this bank's precision.
    public func storable(_ features: Tensor) -> StoredTensor { StoredTensor(features, precision: precision) }

    /// Drops the output on `frame`.
    public mutating func remove(_ frame: Int) { cond[frame] = nil; nonCond[frame] = nil }

    /// Turns a conditioning output into a non-conditioning one (its prompts were cleared).
    @discardableResult
    public mutating func downgrade(_ frame: Int) -> Bool {
        guard let out = cond.removeValue(forKey: frame) else { return false }
        nonCond[frame] = out
        return true
    }

    /// Drops every non-conditioning output whose frame is not in `keep`.
    public mutating func retainNonConditioning(_ keep: Set<Int>) {
        for t in nonCond.keys where !keep.contains(t) { nonCond[t] = nil }
    }

    /// Drops everything.
    public mutating func removeAll() { cond.removeAll(); nonCond.removeAll() }
}
