import Foundation

/// A score-gated memory (the idea behind SAMURAI's and SAM2Long's memory selection, not the official SAM 2): a
/// tracked frame's memory and object pointer are used only when its object score exceeds `threshold`, so frames
/// where the object was predicted absent (exits, full occlusions) never fill the memory. Conditioning frames are
/// handled as the official policy does (slot 0; signed pointers from the past). The recent memories are the
/// `numMaskmem − 1` nearest gated frames at any distance (the nearest at slot `numMaskmem − 1`, the next ones on the
/// slots below, as the official orders them); pointers come from the gated frames inside the official window (less
/// than `maxObjPtrs` frames away), so their temporal positions stay in the range the model was trained on.
public struct ScoreGatedMemoryPolicy: MemoryPolicy, Equatable {
    public var name: String { "score_gated" }
    /// Memory slots used (1 conditioning + `numMaskmem − 1` gated recent frames); at most the model's.
    public var numMaskmem = 7
    /// Object-score logit a tracked frame must exceed to be remembered (0: predicted visible).
    public var threshold: Float = 0
    /// `max_cond_frames_in_attn` (−1: all).
    public var maxCondFramesInAttn = -1
    /// Object pointers attended (incl. conditioning frames); also the pointer window in frames.
    public var maxObjPtrs = 16
    /// Attend to object pointers (also requires the model's `use_obj_ptrs_in_encoder`).
    public var useObjPtrs = true

    /// Defaults: 7 slots, threshold 0, 16 pointers.
    public init() {}

    /// Registry entry.
    public static let descriptor = ComponentDescriptor(
        kind: .memoryPolicy, name: "score_gated",
        summary: "SAMURAI/SAM2Long-like: only frames whose object score exceeds a threshold give memories and pointers",
        options: [ComponentOption("num_maskmem", .int(7), "memory slots: 1 conditioning + num_maskmem-1 gated recent frames"),
                  ComponentOption("threshold", .number(0), "object-score logit a frame must exceed to be remembered"),
                  ComponentOption("max_cond_frames_in_attn", .int(-1), "conditioning frames attended (-1: all; else >= 2, closest)"),
                  ComponentOption("max_obj_ptrs", .int(16), "object pointers attended (incl. conditioning frames); the pointer window"),
                  ComponentOption("use_obj_ptrs", .bool(true), "attend to object pointers")])

    /// From resolved registry options.
    public init(options o: ResolvedOptions) throws {
        numMaskmem = o.int("num_maskmem")
        threshold = Float(o.number("threshold"))
        maxCondFramesInAttn = o.int("max_cond_frames_in_attn")
        maxObjPtrs = o.int("max_obj_ptrs")
        useObjPtrs = o.bool("use_obj_ptrs")
        guard numMaskmem >= 1 else { throw MemoryPolicyError.badOption(policy: name, option: "num_maskmem", message: "must be >= 1, got \(numMaskmem)") }
        guard threshold.isFinite else { throw MemoryPolicyError.badOption(policy: name, option: "threshold", message: "must be finite") }
        guard maxCondFramesInAttn == -1 || maxCondFramesInAttn >= 2 else {
            throw MemoryPolicyError.badOption(policy: name, option: "max_cond_frames_in_attn", message: "must be -1 or >= 2, got \(maxCondFramesInAttn)")
        }
        guard maxObjPtrs >= 1 else { throw MemoryPolicyError.badOption(policy: name, option: "max_obj_ptrs", message: "must be >= 1, got \(maxObjPtrs)") }
    }

    /// Stored non-conditioning frames before `frame` in the tracking direction whose score passes the gate,
    /// nearest first.
    func gatedFrames(before frame: Int, reverse: Bool, bank: MemoryBank) -> [Int] {
        let stored = bank.nonConditioningFrames.filter { reverse ? $0 > frame : $0 < frame }
        return (reverse ? stored : stored.reversed()).filter { (bank.nonConditioning($0)?.objectScore ?? -.infinity) > threshold }
    }

    public func select(_ q: MemoryQuery, bank: MemoryBank) -> MemorySelection {
        let t = q.frameIdx
        let slots = Swift.min(numMaskmem, q.settings.numMaskmem)
        let (selected, _) = OfficialMemoryPolicy.selectClosestCondFrames(t, condFrames: bank.conditioningFrames,
                                                                         maxCondFrameNum: maxCondFramesInAttn)
        let gated = gatedFrames(before: t, reverse: q.reverse, bank: bank)
        var memories = selected.map { SelectedMemory(frame: $0, tPos: 0) }
        // Oldest first, the nearest gated frame at the highest slot.
        let recent = gated.prefix(slots - 1)
        for (rank, f) in recent.enumerated().reversed() { memories.append(SelectedMemory(frame: f, tPos: slots - 1 - rank)) }

        var pointers: [SelectedPointer] = []
        let maxPtrs = Swift.min(q.numFrames, maxObjPtrs)
        if useObjPtrs && q.settings.useObjPtrsInEncoder {
            pointers = OfficialMemoryPolicy.conditioningPointers(selected, q, onlyPast: true)
            for f in gated where abs(t - f) < maxPtrs { pointers.append(SelectedPointer(frame: f, tPos: abs(t - f))) }
        }
        return MemorySelection(memories: memories, pointers: pointers, pointerTPosScale: Swift.max(1, maxPtrs - 1))
    }

    public func retain(_ q: MemoryQuery, bank: MemoryBank) -> Set<Int> {
        // The next frame selects only gated frames: the nearest numMaskmem − 1 and those inside the pointer window.
        let next = q.reverse ? q.frameIdx - 1 : q.frameIdx + 1
        let window = useObjPtrs ? Swift.min(q.numFrames, maxObjPtrs) : 0
        let gated = gatedFrames(before: next, reverse: q.reverse, bank: bank)
        return Set(gated.prefix(Swift.max(0, numMaskmem - 1)) + gated.filter { abs(next - $0) < window })
    }
}
