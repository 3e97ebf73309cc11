import Foundation
import XCTest
import SAM2

/// The official memory policy's selection (hand-derived from sam2_base.py for given histories) and eviction,
/// the memory bank's bfloat16 storage, and `_prepare_memory_conditioned_features` on the official fixture.
final class MemoryPolicyTests: XCTestCase {
    /// A bank with dummy outputs on the given frames (selection depends only on which frames exist).
    func bank(cond: [Int], nonCond: [Int]) -> MemoryBank {
        var b = MemoryBank(precision: .float32)
        let out = FrameOutput(maskmemFeatures: nil, predMasks: Tensor.zeros([1, 1, 1, 1]), objPtr: Tensor.zeros([1, 1]),
                              objectScoreLogits: Tensor.ones([1, 1]))
        for f in cond { b.store(out, frame: f, conditioning: true) }
        for f in nonCond { b.store(out, frame: f, conditioning: false) }
        return b
    }

    func mems(_ s: [(Int, Int)]) -> [SelectedMemory] { s.map { SelectedMemory(frame: $0.0, tPos: $0.1) } }
    func ptrs(_ s: [(Int, Int)]) -> [SelectedPointer] { s.map { SelectedPointer(frame: $0.0, tPos: $0.1) } }

    func testForwardSteadyState() {
        let p = OfficialMemoryPolicy()
        let sel = p.select(MemoryQuery(frameIdx: 10, reverse: false, numFrames: 20), bank: bank(cond: [0], nonCond: Array(1...9)))
        XCTAssertEqual(sel.memories, mems([(0, 0), (4, 1), (5, 2), (6, 3), (7, 4), (8, 5), (9, 6)]))
        // Pointer of cond frame 0 at signed distance 10, then non-cond frames 9…1 (0 is a selected cond frame).
        XCTAssertEqual(sel.pointers, ptrs([(0, 10)] + (1...9).map { (10 - $0, $0) }))
        XCTAssertEqual(sel.pointerTPosScale, 15)
    }

    func testPointerCapAndShortVideo() {
        let p = OfficialMemoryPolicy()
        // 40 frames: t_diff runs to 15 only; 10-frame video: t_diff_max = 9.
        let long = p.select(MemoryQuery(frameIdx: 30, reverse: false, numFrames: 40), bank: bank(cond: [0], nonCond: Array(1...29)))
        XCTAssertEqual(long.pointers.count, 1 + 15)
        XCTAssertEqual(long.pointers.last, SelectedPointer(frame: 15, tPos: 15))
        let short = p.select(MemoryQuery(frameIdx: 8, reverse: false, numFrames: 10), bank: bank(cond: [0], nonCond: Array(1...7)))
        XCTAssertEqual(short.pointerTPosScale, 9)
    }

    func testReverseMirrored() {
        let p = OfficialMemoryPolicy()
        let sel = p.select(MemoryQuery(frameIdx: 5, reverse: true, numFrames: 10), bank: bank(cond: [9], nonCond: [6, 7, 8]))
        XCTAssertEqual(sel.memories, mems([(9, 0), (8, 4), (7, 5), (6, 6)]))
        // Cond frame 9 is "past" in reverse: signed distance (5 − 9)·(−1) = 4.
        XCTAssertEqual(sel.pointers, ptrs([(9, 4), (6, 1), (7, 2), (8, 3)]))
        // A future cond frame gets no pointer (only past pointers in evaluation), unsigned in SAM 2.
        var settings = MemoryModelSettings()
        settings.useSignedTposEncToObjPtrs = false
        let fwd = p.select(MemoryQuery(frameIdx: 5, reverse: false, numFrames: 10, settings: settings),
                           bank: bank(cond: [2, 9], nonCond: [3, 4]))
        XCTAssertEqual(fwd.pointers, ptrs([(2, 3), (4, 1), (3, 2)]))
    }

    func testTemporalStride() {
        var p = OfficialMemoryPolicy()
        p.memoryTemporalStride = 3
        // t_rel 1 → 9; t_rel ≥ 2 → ((10 − 2) // 3)·3 − (t_rel − 2)·3 = 6, 3, 0, −3, −6.
        let sel = p.select(MemoryQuery(frameIdx: 10, reverse: false, numFrames: 20), bank: bank(cond: [1], nonCond: [0] + Array(2...9)))
        XCTAssertEqual(sel.memories, mems([(1, 0), (0, 3), (3, 4), (6, 5), (9, 6)]))
        // Reverse: t_rel 1 → 11; −(−(10 + 2) // 3)·3 + (t_rel − 2)·3 = 12, 15, 18, …
        let rev = p.select(MemoryQuery(frameIdx: 10, reverse: true, numFrames: 30), bank: bank(cond: [29], nonCond: Array(11...28)))
        XCTAssertEqual(rev.memories, mems([(29, 0), (24, 1), (21, 2), (18, 3), (15, 4), (12, 5), (11, 6)]))
    }

    func testConditioningFrameCap() {
        var p = OfficialMemoryPolicy()
        p.maxCondFramesInAttn = 3
        let (selected, unselected) = OfficialMemoryPolicy.selectClosestCondFrames(6, condFrames: [0, 4, 8, 12], maxCondFrameNum: 3)
        XCTAssertEqual(selected, [4, 8, 0])          // before, after, then the closest (tie 0/12: first in order)
        XCTAssertEqual(unselected, [12])
        p.maxCondFramesInAttn = 2
        let sel = p.select(MemoryQuery(frameIdx: 6, reverse: false, numFrames: 20), bank: bank(cond: [0, 4, 8, 12], nonCond: [1, 2, 3, 5]))
        // Unselected cond frame 0 stands in as a recent memory (t_pos 1) and pointer (t_diff 6).
        XCTAssertEqual(sel.memories, mems([(4, 0), (8, 0), (0, 1), (1, 2), (2, 3), (3, 4), (5, 6)]))
        XCTAssertEqual(sel.pointers, ptrs([(4, 2), (5, 1), (3, 3), (2, 4), (1, 5), (0, 6)]))
    }

    func testEvictionKeepsOnlyWhatLaterFramesCanSelect() {
        let p = OfficialMemoryPolicy()
        let b = bank(cond: [0], nonCond: Array(1...100))
        let keep = p.retain(MemoryQuery(frameIdx: 100, reverse: false, numFrames: 1000), bank: b)
        XCTAssertEqual(keep, Set(86...100))           // frame 101 reaches back 15 pointers
        var noPtr = p
        noPtr.useObjPtrs = false
        XCTAssertEqual(noPtr.retain(MemoryQuery(frameIdx: 100, reverse: false, numFrames: 1000), bank: b), Set(95...100))
        let rev = p.retain(MemoryQuery(frameIdx: 50, reverse: true, numFrames: 1000), bank: bank(cond: [999], nonCond: Array(50...200)))
        XCTAssertEqual(rev, Set(50...64))
        var keepAll = p
        keepAll.evict = false
        XCTAssertEqual(keepAll.retain(MemoryQuery(frameIdx: 100, reverse: false, numFrames: 1000), bank: b).count, 100)
        // Whatever is kept must cover every selection of the following frames.
        var live = bank(cond: [0], nonCond: [])
        for t in 1..<300 {
            let sel = p.select(MemoryQuery(frameIdx: t, reverse: false, numFrames: 300), bank: live)
            let full = p.select(MemoryQuery(frameIdx: t, reverse: false, numFrames: 300), bank: bank(cond: [0], nonCond: Array(1..<t)))
            XCTAssertEqual(sel, full, "frame \(t)")
            live.store(FrameOutput(maskmemFeatures: nil, predMasks: Tensor.zeros([1, 1, 1, 1]), objPtr: Tensor.zeros([1, 1]),
                                   objectScoreLogits: Tensor.ones([1, 1])), frame: t, conditioning: false)
            live.retainNonConditioning(p.retain(MemoryQuery(frameIdx: t, reverse: false, numFrames: 300), bank: live))
            XCTAssertLessThanOrEqual(live.count, 1 + 15)
        }
    }

    func testRegistry() throws {
        let policy = try Registry.shared.makeMemoryPolicy("official", options: ["max_obj_ptrs": .int(8), "memory_temporal_stride": .int(2)])
        let p = try XCTUnwrap(policy as? OfficialMemoryPolicy)
        XCTAssertEqual(p.maxObjPtrs, 8)
        XCTAssertEqual(p.memoryTemporalStride, 2)
        XCTAssertEqual(try Registry.shared.descriptor(.memoryPolicy, "official").options.map(\.name),
                       ["num_maskmem", "memory_temporal_stride", "max_cond_frames_in_attn", "max_obj_ptrs", "use_obj_ptrs",
                        "only_past_ptrs", "evict"])
        XCTAssertThrowsError(try Registry.shared.makeMemoryPolicy("official", options: ["max_cond_frames_in_attn": .int(1)])) {
            XCTAssertTrue("\($0)".contains("max_cond_frames_in_attn"), "\($0)")
        }
        XCTAssertThrowsError(try Registry.shared.makeMemoryPolicy("fifo2")) { XCTAssertTrue("\($0)".contains("official"), "\($0)") }
    }

    /// A bank whose non-conditioning frames carry the given object-score logits (conditioning frames score 1).
    func scoredBank(cond: [Int], scores: [Int: Float]) -> MemoryBank {
        var b = bank(cond: cond, nonCond: [])
        for (f, s) in scores {
            b.store(FrameOutput(maskmemFeatures: nil, predMasks: Tensor.zeros([1, 1, 1, 1]), objPtr: Tensor.zeros([1, 1]),
                                objectScoreLogits: Tensor(shape: [1, 1], data: [s])), frame: f, conditioning: false)
        }
        return b
    }

    /// Frames 10…17 predicted absent: the six recent slots go to the nearest visible frames (18–20, then 9–7) and
    /// pointers come only from visible frames inside the 16-frame window.
    func testScoreGatedSkipsAbsentFrames() {
        let p = ScoreGatedMemoryPolicy()
        let scores = Dictionary(uniqueKeysWithValues: (1...20).map { ($0, Float((10...17).contains($0) ? -3 : 2)) })
        let sel = p.select(MemoryQuery(frameIdx: 21, reverse: false, numFrames: 60), bank: scoredBank(cond: [0], scores: scores))
        XCTAssertEqual(sel.memories, mems([(0, 0), (7, 1), (8, 2), (9, 3), (18, 4), (19, 5), (20, 6)]))
        XCTAssertEqual(sel.pointers, ptrs([(0, 21), (20, 1), (19, 2), (18, 3), (9, 12), (8, 13), (7, 14), (6, 15)]))
        XCTAssertEqual(sel.pointerTPosScale, 15)
        // A stricter threshold also drops the frames scoring 2; only the conditioning frame is left.
        var strict = p
        strict.threshold = 2
        let none = strict.select(MemoryQuery(frameIdx: 21, reverse: false, numFrames: 60), bank: scoredBank(cond: [0], scores: scores))
        XCTAssertEqual(none.memories, mems([(0, 0)]))
        XCTAssertEqual(none.pointers, ptrs([(0, 21)]))
        // Reverse: frames after the tracked one, mirrored.
        let rev = p.select(MemoryQuery(frameIdx: 5, reverse: true, numFrames: 20),
                           bank: scoredBank(cond: [19], scores: [6: 1, 7: -1, 8: 1, 9: 1]))
        XCTAssertEqual(rev.memories, mems([(19, 0), (9, 4), (8, 5), (6, 6)]))
        XCTAssertEqual(rev.pointers, ptrs([(19, 14), (6, 1), (8, 3), (9, 4)]))
    }

    /// With every frame visible the gated policy is the official one, and its eviction keeps what later frames select.
    func testScoreGatedEqualsOfficialWhenAllVisibleAndEvictsSafely() {
        let gated = ScoreGatedMemoryPolicy(), official = OfficialMemoryPolicy()
        var visible = bank(cond: [0], nonCond: [])
        var rng = SplitMix64(seed: 7)
        var live = scoredBank(cond: [0], scores: [:])
        var all: [Int: Float] = [:]
        for t in 1..<120 {
            let q = MemoryQuery(frameIdx: t, reverse: false, numFrames: 120)
            XCTAssertEqual(gated.select(q, bank: visible), official.select(q, bank: visible), "frame \(t)")
            XCTAssertEqual(gated.select(q, bank: live), gated.select(q, bank: scoredBank(cond: [0], scores: all)), "frame \(t)")
            // Long absent stretches: the score is negative on 40 % of the frames, in runs.
            let score: Float = (t / 10) % 5 < 2 ? -1 : Float(rng.next() % 4) - 0.5
            all[t] = score
            live.store(FrameOutput(maskmemFeatures: nil, predMasks: Tensor.zeros([1, 1, 1, 1]), objPtr: Tensor.zeros([1, 1]),
                                   objectScoreLogits: Tensor(shape: [1, 1], data: [score])), frame: t, conditioning: false)
            live.retainNonConditioning(gated.retain(q, bank: live))
            XCTAssertLessThanOrEqual(live.count, 1 + 6 + 15)
            XCTAssertTrue(live.nonConditioningFrames.allSatisfy { (all[$0] ?? 0) > 0 }, "frame \(t): kept an absent frame")
            visible.store(FrameOutput(maskmemFeatures: nil, predMasks: Tensor.zeros([1, 1, 1, 1]), objPtr: Tensor.zeros([1, 1]),
                                      objectScoreLogits: Tensor.ones([1, 1])), frame: t, conditioning: false)
        }
        XCTAssertThrowsError(try Registry.shared.makeMemoryPolicy("score_gated", options: ["num_maskmem": .int(0)])) {
            XCTAssertTrue("\($0)".contains("num_maskmem"), "\($0)")
        }
        let made = try? Registry.shared.makeMemoryPolicy("score_gated", options: ["threshold": .number(1.5)]) as? ScoreGatedMemoryPolicy
        XCTAssertEqual(made?.threshold, 1.5)
    }

    func testBFloat16Storage() {
        // Round to nearest, ties to even, as torch's float32 → bfloat16 conversion.
        let xs: [Float] = [1, 1.00390625, 1.005859375, 1.0078125 + 0.00390625, -3.14159, 65504, 1e-30, 0, -0.0]
        let t = Tensor(shape: [xs.count], data: xs)
        let s = StoredTensor(t, precision: .bfloat16)
        XCTAssertEqual(s.byteCount, 2 * xs.count)
        let back = s.tensor.data
        XCTAssertEqual(back[0], 1)
        XCTAssertEqual(back[1], 1)                   // 1 + 2^-8: tie → even (1.0)
        XCTAssertEqual(back[2], 1.0078125)           // above the tie → up
        XCTAssertEqual(back[3], 1.015625)            // 1 + 3·2^-8: tie → even (1 + 2^-6)
        XCTAssertEqual(back[4], -3.140625)
        for (x, y) in zip(xs, back) { XCTAssertLessThanOrEqual(abs(x - y), abs(x) / 256) }
        XCTAssertEqual(StoredTensor(t, precision: .float32).tensor.data, xs)
    }

    /// `_prepare_memory_conditioned_features` on the official hand-made output dict (cond 0, 7; non-cond
    /// 1–5, 8, 9; random bf16 memories and a random memory pos enc): layout and output.
    func testPrepareMemoryConditionedFeaturesMatchesOfficial() throws {
        let m = try VideoPredictorParityTests.model()
        let dir = fixturesDir.appendingPathComponent("video_model")
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("prepare_memory.json"))) as! [String: Any]
        func load(_ key: String, _ rec: Any? = nil) throws -> Tensor {
            let r = (rec ?? meta[key]) as! [String: Any]
            return try Npy.read(dir.appendingPathComponent(r["file"] as! String).path)
        }
        let feats = try load("maskmem_features"), pointerData = try load("obj_ptrs"), pos = try load("maskmem_pos_enc")
        var b = MemoryBank(precision: .bfloat16)
        let n = 16 * 16 * 16
        for f in (meta["cond_frames"] as! [Int]) + (meta["non_cond_frames"] as! [Int]) {
            let mf = Tensor(shape: [1, 16, 16, 16], data: Array(feats.data[(f * n)..<((f + 1) * n)]))
            let out = FrameOutput(maskmemFeatures: b.storable(mf), predMasks: Tensor.zeros([1, 1, 64, 64]),
                                  objPtr: Tensor(shape: [1, 32], data: Array(pointerData.data[(f * 32)..<((f + 1) * 32)])),
                                  objectScoreLogits: Tensor.ones([1, 1]))
            b.store(out, frame: f, conditioning: (meta["cond_frames"] as! [Int]).contains(f))
        }
        let seqFirst = { (t: Tensor) in t.reshaped([256, 32]).permuted([1, 0]).reshaped([1, 32, 16, 16]) }
        let features = TrackingFrameFeatures(visionFeatures: seqFirst(try load("current_vision_feat")),
                                             visionPosEnc: seqFirst(try load("current_vision_pos_embed")), highResFeatures: nil)
        for call in meta["calls"] as! [[String: Any]] {
            let name = call["name"] as! String
            let (out, sel) = try m.prepareMemoryConditionedFeatures(
                frameIdx: call["frame_idx"] as! Int, isInitCondFrame: call["is_init_cond_frame"] as! Bool, features: features,
                bank: b, policy: OfficialMemoryPolicy(), numFrames: meta["num_frames"] as! Int,
                reverse: call["track_in_reverse"] as! Bool, maskmemPosEnc: pos)
            if let layout = call["memory_layout"] as? [String: Any] {
                let s = try XCTUnwrap(sel)
                XCTAssertEqual(s.memories, mems((layout["spatial"] as! [[String: Int]]).map { ($0["frame"]!, $0["t_pos"]!) }), name)
                XCTAssertEqual(s.pointers, ptrs((layout["pointers"] as! [[String: Int]]).map { ($0["frame"]!, $0["tpos"]!) }), name)
                XCTAssertEqual(s.pointerTPosScale, layout["t_diff_max"] as? Int, name)
            } else {
                XCTAssertNil(sel, name)
            }
            // float32 throughout; memory attention over ≤ 7·256 + 12 tokens.
            assertClose(out, try load("", call["output"]), atol: 2e-4, rtol: 2e-4, name)
        }
    }
}
