import Foundation

/// The official SAM 2 memory selection (`SAM2Base._prepare_memory_conditioned_features`, evaluation mode):
/// conditioning frames at slot 0 (at most `maxCondFramesInAttn`, the temporally closest), the `numMaskmem − 1`
/// previous non-conditioning frames (the nearest at slot `numMaskmem − 1`, the others every `memoryTemporalStride`
/// frames), up to `maxObjPtrs` object pointers (conditioning ones only from the past), reverse mode mirrored.
/// After each frame it keeps only the non-conditioning outputs the rest of the propagation can still select.
public struct OfficialMemoryPolicy: MemoryPolicy, Equatable {
    public var name: String { "official" }
    /// Memory slots used (1 conditioning + `numMaskmem − 1` recent); at most the model's.
    public var numMaskmem = 7
    /// `memory_temporal_stride_for_eval`.
    public var memoryTemporalStride = 1
    /// `max_cond_frames_in_attn` (−1: all).
    public var maxCondFramesInAttn = -1
    /// `max_obj_ptrs_in_encoder`.
    public var maxObjPtrs = 16
    /// Attend to object pointers (also requires the model's `use_obj_ptrs_in_encoder`).
    public var useObjPtrs = true
    /// `only_obj_ptrs_in_the_past_for_eval`.
    public var onlyObjPtrsInThePast = true
    /// Drop outputs the propagation can no longer select (off: keep everything, as the official).
    public var evict = true

    /// The official defaults.
    public init() {}

    /// Registry entry.
    public static let descriptor = ComponentDescriptor(
        kind: .memoryPolicy, name: "official",
        summary: "official SAM 2: conditioning frames + 6 recent memories, 16 object pointers (past only), FIFO eviction",
        options: [ComponentOption("num_maskmem", .int(7), "memory slots: 1 conditioning + num_maskmem-1 recent frames"),
                  ComponentOption("memory_temporal_stride", .int(1), "stride between the older recent memories"),
                  ComponentOption("max_cond_frames_in_attn", .int(-1), "conditioning frames attended (-1: all; else >= 2, closest)"),
                  ComponentOption("max_obj_ptrs", .int(16), "object pointers attended (incl. conditioning frames)"),
                  ComponentOption("use_obj_ptrs", .bool(true), "attend to object pointers"),
                  ComponentOption("only_past_ptrs", .bool(true), "conditioning-frame pointers only from the past"),
                  ComponentOption("evict", .bool(true), "drop outputs no later frame of the propagation can select")])

    /// From resolved registry options.
    public init(options o: ResolvedOptions) throws {
        numMaskmem = o.int("num_maskmem")
        memoryTemporalStride = o.int("memory_temporal_stride")
        maxCondFramesInAttn = o.int("max_cond_frames_in_attn")
        maxObjPtrs = o.int("max_obj_ptrs")
        useObjPtrs = o.bool("use_obj_ptrs")
        onlyObjPtrsInThePast = o.bool("only_past_ptrs")
        evict = o.bool("evict")
        guard numMaskmem >= 1 else { throw MemoryPolicyError.badOption(policy: name, option: "num_maskmem", message: "must be >= 1, got \(numMaskmem)") }
        guard memoryTemporalStride >= 1 else {
            throw MemoryPolicyError.badOption(policy: name, option: "memory_temporal_stride", message: "must be >= 1, got \(memoryTemporalStride)")
        }
        guard maxCondFramesInAttn == -1 || maxCondFramesInAttn >= 2 else {
            throw MemoryPolicyError.badOption(policy: name, option: "max_cond_frames_in_attn", message: "must be -1 or >= 2, got \(maxCondFramesInAttn)")
        }
        guard maxObjPtrs >= 1 else { throw MemoryPolicyError.badOption(policy: name, option: "max_obj_ptrs", message: "must be >= 1, got \(maxObjPtrs)") }
    }

    /// `select_closest_cond_frames`: the selected conditioning frames (before, after, then the closest others)
    /// and the unselected ones.
    public static func selectClosestCondFrames(_ frameIdx: Int, condFrames: [Int], maxCondFrameNum: Int)
        -> (selected: [Int], unselected: [Int]) {
        let sorted = condFrames.sorted()
        if maxCondFrameNum == -1 || sorted.count <= maxCondFrameNum { return (sorted, []) }
        var selected: [Int] = []
        if let before = sorted.last(where: { $0 < frameIdx }) { selected.append(before) }
        if let after = sorted.first(where: { $0 >= frameIdx }) { selected.append(after) }
        let remain = maxCondFrameNum - selected.count
        // Python's sort is stable: ties in distance keep ascending frame order.
        let others = sorted.filter { !selected.contains($0) }
            .enumerated().sorted { (abs($0.element - frameIdx), $0.offset) < (abs($1.element - frameIdx), $1.offset) }
            .map(\.element)
        selected += others.prefix(max(0, remain))
        return (selected, sorted.filter { !selected.contains($0) })
    }

    /// Pointers of the selected conditioning frames (only those in the past when `onlyPast`), at their temporal
    /// distance, signed by the tracking direction in SAM 2.1 (`use_signed_tpos_enc_to_obj_ptrs`).
    static func conditioningPointers(_ selected: [Int], _ q: MemoryQuery, onlyPast: Bool) -> [SelectedPointer] {
        let t = q.frameIdx, sign = q.reverse ? -1 : 1
        return selected.filter { !onlyPast || (q.reverse ? $0 >= t : $0 <= t) }.map { c in
            SelectedPointer(frame: c, tPos: q.settings.useSignedTposEncToObjPtrs ? (t - c) * sign : abs(t - c))
        }
    }

    /// The frame taking recent-memory slot `tPos` (1 ..< numMaskmem) when tracking `frameIdx`.
    func recentFrame(_ frameIdx: Int, tPos: Int, reverse: Bool) -> Int {
        let tRel = numMaskmem - tPos, s = memoryTemporalStride
        if tRel == 1 { return reverse ? frameIdx + 1 : frameIdx - 1 }
        if reverse {
            return pyCeilDiv(frameIdx + 2, s) * s + (tRel - 2) * s
        }
        return pyFloorDiv(frameIdx - 2, s) * s - (tRel - 2) * s
    }

    public func select(_ q: MemoryQuery, bank: MemoryBank) -> MemorySelection {
        let t = q.frameIdx
        let slots = Swift.min(numMaskmem, q.settings.numMaskmem)
        let (selected, unselected) = Self.selectClosestCondFrames(t, condFrames: bank.conditioningFrames,
                                                                  maxCondFrameNum: maxCondFramesInAttn)
        let unselectedSet = Set(unselected)
        func usable(_ f: Int) -> Bool { bank.nonConditioning(f) != nil || unselectedSet.contains(f) }

        var memories = selected.map { SelectedMemory(frame: $0, tPos: 0) }
        if slots > 1 {
            let policy = OfficialMemoryPolicy(numMaskmem: slots, stride: memoryTemporalStride)
            for tPos in 1..<slots {
                let f = policy.recentFrame(t, tPos: tPos, reverse: q.reverse)
                if usable(f) { memories.append(SelectedMemory(frame: f, tPos: tPos)) }
            }
        }

        var pointers: [SelectedPointer] = []
        let maxPtrs = Swift.min(q.numFrames, maxObjPtrs)
        if useObjPtrs && q.settings.useObjPtrsInEncoder {
            pointers = Self.conditioningPointers(selected, q, onlyPast: onlyObjPtrsInThePast)
            if maxPtrs > 1 {
                for tDiff in 1..<maxPtrs {
                    let f = q.reverse ? t + tDiff : t - tDiff
                    if f < 0 || f >= q.numFrames { break }
                    if usable(f) { pointers.append(SelectedPointer(frame: f, tPos: tDiff)) }
                }
            }
        }
        return MemorySelection(memories: memories, pointers: pointers, pointerTPosScale: Swift.max(1, maxPtrs - 1))
    }

    public func retain(_ q: MemoryQuery, bank: MemoryBank) -> Set<Int> {
        let stored = bank.nonConditioningFrames
        guard evict else { return Set(stored) }
        // Frames later in the propagation select from ever nearer frames, so the next one sets the bound.
        let next = q.reverse ? q.frameIdx - 1 : q.frameIdx + 1
        var reach = 1
        if numMaskmem > 1 {
            for tPos in 1..<numMaskmem { reach = Swift.max(reach, abs(recentFrame(next, tPos: tPos, reverse: q.reverse) - next)) }
        }
        if useObjPtrs { reach = Swift.max(reach, Swift.min(q.numFrames, maxObjPtrs) - 1) }
        return Set(stored.filter { q.reverse ? $0 <= next + reach : $0 >= next - reach })
    }

    private init(numMaskmem: Int, stride: Int) {
        self.numMaskmem = numMaskmem
        memoryTemporalStride = stride
    }
}

/// Python's `//` on Ints.
@inline(__always) private func pyFloorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

/// `-(-a // b)`.
@inline(__always) private func pyCeilDiv(_ a: Int, _ b: Int) -> Int { -pyFloorDiv(-a, b) }
