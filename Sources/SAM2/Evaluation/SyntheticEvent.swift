import Foundation

/// A scheduled event of one annotated object: it glides towards a hiding place, stays fully invisible for a
/// while, then glides back onto its normal path (so disappearance and reappearance frames are known exactly).
public struct SyntheticEvent: Codable, Sendable, Equatable {
    /// Where the object hides.
    public enum Kind: Codable, Sendable, Equatable {
        /// Leaves the frame through an edge: 0 left, 1 right, 2 top, 3 bottom.
        case exit(edge: Int)
        /// Passes behind the annotated object `occluder` (centred on it, fully covered).
        case behindObject(occluder: Int)
        /// Passes behind the foreground bar (not an object).
        case behindBar
    }

    /// Object id the event moves.
    public let objectID: Int
    /// Hiding place.
    public let kind: Kind
    /// First frame of the glide out.
    public let start: Int
    /// Frames of each glide (out and back).
    public let ramp: Int
    /// Frames fully hidden between the glides.
    public let hidden: Int

    /// Frames during which the object is guaranteed to be invisible (mask area 0).
    public var hiddenFrames: Range<Int> { (start + ramp)..<(start + ramp + hidden) }
    /// All frames the event affects.
    public var frames: Range<Int> { start..<(start + 2 * ramp + hidden) }

    /// Blend weight towards the hiding place at frame t: 0 off-event, smoothstep up, 1 hidden, smoothstep down.
    func weight(_ t: Double) -> Double {
        let a = Double(start), r = Double(ramp), h = Double(hidden)
        if t < a || t >= a + 2 * r + h { return 0 }
        if t >= a + r && t < a + r + h { return 1 }
        let s = t < a + r ? (t - a) / r : (a + 2 * r + h - t) / r
        return s * s * (3 - 2 * s)
    }
}
