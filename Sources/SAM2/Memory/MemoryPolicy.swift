import Foundation

/// Model settings a memory policy must respect (fixed by the checkpoint's config).
public struct MemoryModelSettings: Sendable, Equatable {
    /// Temporal slots of `maskmem_tpos_enc` (`num_maskmem`, 7 released): memory t_pos must be below it.
    public var numMaskmem: Int
    /// `use_obj_ptrs_in_encoder`: whether object pointers are attended to at all.
    public var useObjPtrsInEncoder: Bool
    /// `use_signed_tpos_enc_to_obj_ptrs` (SAM 2.1): conditioning pointers get a signed temporal distance.
    public var useSignedTposEncToObjPtrs: Bool

    public init(numMaskmem: Int = 7, useObjPtrsInEncoder: Bool = true, useSignedTposEncToObjPtrs: Bool = true) {
        self.numMaskmem = numMaskmem
        self.useObjPtrsInEncoder = useObjPtrsInEncoder
        self.useSignedTposEncToObjPtrs = useSignedTposEncToObjPtrs
    }
}

/// The frame being tracked: index, direction, video length, model settings.
public struct MemoryQuery: Sendable, Equatable {
    public var frameIdx: Int
    /// Tracking in reverse time order.
    public var reverse: Bool
    public var numFrames: Int
    public var settings: MemoryModelSettings

    public init(frameIdx: Int, reverse: Bool, numFrames: Int, settings: MemoryModelSettings = MemoryModelSettings()) {
        self.frameIdx = frameIdx
        self.reverse = reverse
        self.numFrames = numFrames
        self.settings = settings
    }
}

/// A stored frame's memory and the temporal slot it takes (0: conditioning, `numMaskmem − 1`: the nearest frame).
public struct SelectedMemory: Sendable, Equatable, CustomStringConvertible {
    public var frame: Int
    public var tPos: Int
    public init(frame: Int, tPos: Int) { self.frame = frame; self.tPos = tPos }
    public var description: String { "\(frame)@\(tPos)" }
}

/// A stored frame's object pointer and the temporal position given to its sine encoding.
public struct SelectedPointer: Sendable, Equatable, CustomStringConvertible {
    public var frame: Int
    /// Temporal distance from the tracked frame (signed for conditioning frames in SAM 2.1).
    public var tPos: Int
    public init(frame: Int, tPos: Int) { self.frame = frame; self.tPos = tPos }
    public var description: String { "\(frame)@\(tPos)" }
}

/// What the memory attention sees on one frame, in concatenation order.
public struct MemorySelection: Sendable, Equatable {
    /// Spatial memories (conditioning frames first, then older to newer).
    public var memories: [SelectedMemory]
    /// Object pointers (conditioning frames first, then nearer to farther).
    public var pointers: [SelectedPointer]
    /// Pointer positions are divided by this before the sine encoding (official `t_diff_max`).
    public var pointerTPosScale: Int

    public init(memories: [SelectedMemory] = [], pointers: [SelectedPointer] = [], pointerTPosScale: Int = 1) {
        self.memories = memories
        self.pointers = pointers
        self.pointerTPosScale = pointerTPosScale
    }
}

/// Decides which stored memories and object pointers the memory attention sees, and which stored outputs
/// are kept after a frame is tracked. Policies are registered by name (`Registry`, kind `.memoryPolicy`).
public protocol MemoryPolicy: Sendable {
    /// Registered name.
    var name: String { get }
    /// The memories (with temporal slots) and pointers for tracking `query.frameIdx` from `bank`
    /// (not called on initial conditioning frames, which see no memory).
    func select(_ query: MemoryQuery, bank: MemoryBank) -> MemorySelection
    /// After tracking `query.frameIdx` (continuing in `query.reverse`'s direction): the non-conditioning
    /// frames to keep; the tracker drops the others. Conditioning outputs are always kept.
    func retain(_ query: MemoryQuery, bank: MemoryBank) -> Set<Int>
}

/// Errors building memory policies.
public enum MemoryPolicyError: Error, CustomStringConvertible, Equatable {
    case notAPolicy(name: String)
    case badOption(policy: String, option: String, message: String)

    public var description: String {
        switch self {
        case let .notAPolicy(name): return "memory policy '\(name)': the registered factory did not return a MemoryPolicy"
        case let .badOption(policy, option, message): return "memory policy '\(policy)': option '\(option)' \(message)"
        }
    }
}

extension Registry {
    /// Builds the named memory policy with its options ("official" is built in; see `Registry.shared`).
    public func makeMemoryPolicy(_ name: String, options: [String: OptionValue] = [:]) throws -> any MemoryPolicy {
        guard let policy = try make(.memoryPolicy, name, options: options) as? any MemoryPolicy else {
            throw MemoryPolicyError.notAPolicy(name: name)
        }
        return policy
    }
}
