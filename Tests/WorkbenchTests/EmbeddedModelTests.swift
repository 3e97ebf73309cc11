import Foundation
import XCTest
import Workbench

/// The committed embedded model (Models/embedded, MODEL_CARD.md) tracks each object for real: on held-out synthetic
/// videos of its training distribution, tracked from first-frame masks, its masks overlap the ground truth and
/// different objects get different masks (the failure of the earlier runs was one mask for every object).
final class EmbeddedModelTests: XCTestCase {
    func testEmbeddedModelTracksEachObject() throws {
        let out = try temporaryFolder(self)
        let s = try LuaState(projectRoot: projectRoot)
        let r = try s.execute("""
            local stats = require "tracking_stats"
            local model = require("model_loader").load()
            assert(model:info().image_size == 256)
            local data = stats.videos("\(out)/data", 2, 16, 31337)
            local r = stats.measure(model, data, {{1, 15}}, 5)
            return r.ranges[1].iou, r.ranges[1].cross, r.prompted.box
            """)
        guard r.count == 3, case let .number(iou) = r[0], case let .number(cross) = r[1], case let .number(box) = r[2] else {
            return XCTFail("expected three numbers, got \(r)")
        }
        // Measured on the committed model (H6, MODEL_CARD.md): IoU 0.93, between objects 0.000, box 0.66 (H3, committed
        // before it: 0.93, 0.000, 0.65; L5: 0.93, 0.000, 0.67; emb6: 0.91, 0.001, 0.67; emb4, which gave every object one
        // mask: IoU 0.33, box 0.20).
        XCTAssertGreaterThan(iou, 0.75, "mean IoU of tracked objects")
        XCTAssertLessThan(cross, 0.15, "IoU between different objects' masks")
        XCTAssertGreaterThan(box, 0.5, "box-prompted single-image IoU")
    }

    /// The built-in `score_gated` policy and the same rule written in Lua (Scripts/custom_memory_policy.lua's
    /// `lua_score_gated`, registered here without running the script's ablation) give identical masks on videos with
    /// exits, where the embedded model predicts objects absent, and differ there from the official policy.
    func testScoreGatedPolicyMatchesItsLuaVersion() throws {
        let out = try temporaryFolder(self)
        let s = try LuaState(projectRoot: projectRoot)
        let script = try String(contentsOfFile: projectRoot + "/Scripts/custom_memory_policy.lua", encoding: .utf8)
        // The policy definitions only: everything before the ablation's argument parsing and run.
        guard let start = script.range(of: "-- Stored frames the policy may use"),
              let end = script.range(of: "ablation.run(") else { return XCTFail("custom_memory_policy.lua changed its layout") }
        try s.execute(String(script[start.lowerBound..<end.lowerBound]))
        let r = try s.execute("""
            local stats = require "tracking_stats"
            local model = require("model_loader").load()
            local data = stats.videos("\(out)/data", 3, 60, 777)
            local function run(policy)
              local areas, absent = {}, 0
              for _, seq in ipairs(data.sequences) do
                local video = sam2.video(data.root .. "/JPEGImages/480p/" .. seq)
                local tracker = model:track(video, {memory = policy})
                for id = 1, 3 do
                  local m = sam2.mask(data.root .. "/Annotations/480p/" .. seq .. "/" .. video:name(0) .. ".png", id)
                  if m.area > 0 then tracker:add_mask(0, id, m) end
                end
                for frame, masks, scores in tracker:propagate() do
                  for id = 1, 3 do
                    if masks[id] then
                      areas[#areas + 1] = masks[id].area
                      if scores[id] <= 0 then absent = absent + 1 end
                    end
                  end
                end
              end
              return areas, absent
            end
            local gated, absent = run("score_gated")
            local lua = run("lua_score_gated")
            local official = run("official")
            local same, differ = 0, 0
            for i = 1, #gated do
              if gated[i] == lua[i] then same = same + 1 end
              if gated[i] ~= official[i] then differ = differ + 1 end
            end
            return #gated, same, differ, absent
            """)
        let v = r.compactMap(\.double)
        guard v.count == 4 else { return XCTFail("expected four numbers, got \(r)") }
        let (n, same, differ, absent) = (v[0], v[1], v[2], v[3])
        // Measured (committed model H6): 540 masks, all equal; 161 predicted absent; 23 differ from the official policy's
        // (H3: 125 absent, 78 differ; L5: 109 absent, 11 differ; with L5, 2 videos × 40 frames gave only 2: too few to
        // rely on across BLAS builds).
        XCTAssertGreaterThan(n, 100)
        XCTAssertEqual(same, n, "masks of the Lua policy equal to the built-in one")
        XCTAssertGreaterThan(absent, 0, "the model predicted some object absent, so the gate mattered")
        XCTAssertGreaterThan(differ, 0, "gating changes some masks against the official policy")
    }
}
