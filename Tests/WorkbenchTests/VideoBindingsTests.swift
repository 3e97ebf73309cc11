import Foundation
import XCTest
import SAM2
import Workbench

/// The video bindings (sam2.video, model:track, trackers, Lua memory policies) on the reduced model and the
/// 10-frame clip of the tracker fixtures.
final class VideoBindingsTests: XCTestCase {
    let frames = projectRoot + "/Tests/SAM2Tests/Fixtures/video_model/frames"

    func state() throws -> LuaState {
        let s = try LuaState(projectRoot: projectRoot)
        try s.execute("""
            model = sam2.load('\(imageFixtures)/sam2.1-mini.pt', {image_size = 256, trunk = \(miniTrunkLua)})
            video = sam2.video('\(frames)')
            """)
        return s
    }

    /// The same model built in Swift (the trunk of miniTrunkLua).
    func swiftVideoModel() throws -> SAM2VideoModel {
        let ckpt = try Checkpoint.open(imageFixtures + "/sam2.1-mini.pt")
        var trunk = HieraConfig()
        trunk.embedDim = 8; trunk.numHeads = 1; trunk.stages = [1, 2, 3, 2]; trunk.windowSpec = [8, 4, 14, 7]
        trunk.globalAttBlocks = [4]; trunk.windowPosEmbedBkgSpatialSize = [7, 7]
        let dModel = ckpt.shapes["image_encoder.neck.convs.0.conv.weight"]?.first ?? 256
        let encoder = HieraImageEncoder.Config(trunk: trunk, neck: FpnNeck.Config(dModel: dModel, backboneChannelList: trunk.channelList))
        let config = try SAM2ModelConfig.inferred(from: ckpt, imageSize: 256, encoder: encoder, name: nil)
        return try SAM2VideoModel(model: try SAM2Model(checkpoint: ckpt, config: config), checkpoint: ckpt)
    }

    /// Masks (as `sam2.mask` objects) returned by a chunk in a flat list.
    func masks(_ values: [LuaValue]) throws -> [BinaryMask?] {
        guard case let .table(t)? = values.first else { XCTFail("no table"); return [] }
        return try t.array.map { v in
            if case .bool(false) = v { return nil }
            guard case let .object(o) = v, let m = o as? MaskObject else { throw BindingError.invalid("not a mask: \(v.typeName)") }
            return m.mask
        }
    }

    static let scenario = """
        local out, scores, n = {}, {}, 0
        local function keep(m, s)
          for _, id in ipairs({1, 3}) do n = n + 1; out[n] = m[id] or false; scores[n] = s[id] or false end
        end
        keep(tracker:add_points(0, 1, {{160, 90}}))
        keep(tracker:add_box(0, 3, {20, 20, 120, 100}))
        keep(tracker:add_points(5, 1, {{100, 60}, {200, 100, 0}}))
        for f, m, s in tracker:propagate{} do keep(m, s) end
        keep(tracker:add_points(9, 3, {{60, 120}}))
        for f, m, s in tracker:propagate{start = 9, reverse = true, max = 4} do keep(m, s) end
        return out, scores
        """

    /// The Lua tracker gives exactly the masks and object scores of `SAM2VideoPredictor` driven from Swift with
    /// the same prompts (tolerance 0: same code path, bit-equal masks).
    func testTrackerEqualsSwiftPredictor() throws {
        let s = try state()
        let values = try s.execute("tracker = model:track(video)\n" + Self.scenario)
        let lua = try masks(values)
        guard case let .table(luaScores)? = values.dropFirst().first else { return XCTFail("no scores") }

        let p = SAM2VideoPredictor(model: try swiftVideoModel(), frames: try FrameFolder(path: frames))
        var expected: [VideoFrameResult] = []
        expected.append(try p.addPoints(frame: 0, objectId: 1, points: [[160, 90]], labels: [1]))
        expected.append(try p.addPoints(frame: 0, objectId: 3, box: [20, 20, 120, 100]))
        expected.append(try p.addPoints(frame: 5, objectId: 1, points: [[100, 60], [200, 100]], labels: [1, 0]))
        try p.propagate { expected.append($0); return true }
        expected.append(try p.addPoints(frame: 9, objectId: 3, points: [[60, 120]], labels: [1]))
        try p.propagate(start: 9, maxFrames: 4, reverse: true) { expected.append($0); return true }

        XCTAssertEqual(lua.count, expected.count * 2)
        XCTAssertEqual(expected.count, 3 + 10 + 1 + 5)
        for (k, r) in expected.enumerated() {
            for (j, id) in [1, 3].enumerated() {
                let i = 2 * k + j
                guard i < lua.count else { return }
                XCTAssertEqual(lua[i]?.bits, r.mask(objectId: id), "result \(k), object \(id)")
                let score = r.objectIds.firstIndex(of: id).flatMap { r.objectScores[$0] }
                XCTAssertEqual(luaScores.array[i].double, score.map(Double.init), "result \(k), object \(id) score")
            }
        }
    }

    /// Official selection re-implemented in Lua (stride 1, all conditioning frames, 16 past pointers, no eviction):
    /// masks identical to the built-in "official" policy, forwards and in reverse, with two conditioning frames.
    func testLuaPolicyReproducingOfficialGivesIdenticalMasks() throws {
        let s = try state()
        try s.execute("""
            sam2.register("memory", "official_in_lua", {
              select = function(q)
                local t, slots, sign = q.frame, q.num_maskmem, q.reverse and -1 or 1
                local stored = {}
                for _, f in ipairs(q.non_cond) do stored[f] = true end
                local memories, pointers = {}, {}
                for _, c in ipairs(q.cond) do memories[#memories + 1] = {frame = c, slot = 0} end
                for slot = 1, slots - 1 do
                  local f = t - sign * (slots - slot)
                  if stored[f] then memories[#memories + 1] = {f, slot} end
                end
                local max_ptrs = math.min(q.num_frames, 16)
                for _, c in ipairs(q.cond) do
                  if (q.reverse and c >= t) or (not q.reverse and c <= t) then pointers[#pointers + 1] = {c, (t - c) * sign} end
                end
                for d = 1, max_ptrs - 1 do
                  local f = t - sign * d
                  if f < 0 or f >= q.num_frames then break end
                  if stored[f] then pointers[#pointers + 1] = {frame = f, tpos = d} end
                end
                return {memories = memories, pointers = pointers, pointer_scale = math.max(1, max_ptrs - 1)}
              end,
            })
            """)
        let official = try masks(s.execute("tracker = model:track(video, {memory = 'official'})\n" + Self.scenario))
        let lua = try masks(s.execute("tracker = model:track(video, {memory = 'official_in_lua'})\n" + Self.scenario))
        XCTAssertEqual(official.count, 38)
        XCTAssertEqual(lua.count, official.count)
        for (i, (a, b)) in zip(official, lua).enumerated() { XCTAssertEqual(a?.bits, b?.bits, "mask \(i)") }
        XCTAssertTrue(Registry.shared.components(.memoryPolicy).contains { $0.name == "official_in_lua" })
        XCTAssertEqual(try s.number("for _, c in ipairs(sam2.components('memory')) do if c.name == 'official_in_lua' then return 1 end end return 0"), 1)
    }

    /// Switches reach the policy and the model: the settings table, and `num_maskmem = 3` equal to
    /// `memory_options = {num_maskmem = 3}`; fewer memories / no pointers / no high-res features change the masks.
    func testSwitches() throws {
        let s = try state()
        try s.execute("""
            function run(options)
              local t = model:track(video, options)
              t:add_points(0, 1, {{160, 90}})
              local areas = {}
              for f, m in t:propagate{} do areas[#areas + 1] = m[1].area end
              return table.concat(areas, ","), t.settings
            end
            base = run({})
            a = run({num_maskmem = 3, temporal_stride = 2})
            b = run({memory_options = {num_maskmem = 3, memory_temporal_stride = 2}})
            one = run({num_maskmem = 1})
            noptr, noptr_settings = run({obj_ptrs = false})
            nohr, nohr_settings = run({high_res_features = false})
            fp32, fp32_settings = run({memory_precision = "fp32", multimask_tracking = false, max_obj_ptrs = 2,
                                       max_cond_frames = 2, non_overlap = true, fill_hole_area = 0})
            """)
        XCTAssertEqual(try s.string("return a"), try s.string("return b"))
        XCTAssertNotEqual(try s.string("return one"), try s.string("return base"))
        XCTAssertNotEqual(try s.string("return noptr"), try s.string("return base"))
        XCTAssertNotEqual(try s.string("return nohr"), try s.string("return base"))
        XCTAssertEqual(try s.string("return tostring(noptr_settings.obj_ptrs)"), "false")
        XCTAssertEqual(try s.string("return tostring(nohr_settings.high_res_features)"), "false")
        XCTAssertEqual(try s.string("return fp32_settings.memory_precision"), "fp32")
        XCTAssertEqual(try s.string("return tostring(fp32_settings.multimask_tracking)"), "false")
        XCTAssertEqual(try s.number("return fp32_settings.memory_options.max_obj_ptrs"), 2)
        XCTAssertEqual(try s.number("return fp32_settings.memory_options.max_cond_frames_in_attn"), 2)
    }

    func message(_ s: LuaState, _ code: String) -> String {
        do { try s.execute(code); return "no error" } catch { return (error as? LuaError)?.message ?? "\(error)" }
    }

    /// Wrong types, unknown options, bad frame indices and object ids are Lua errors naming the argument.
    func testArgumentErrors() throws {
        let s = try state()
        try s.execute("tracker = model:track(video)")
        let cases: [(String, String)] = [
            ("sam2.video(3)", "bad argument #1 to 'sam2.video' (string expected, got number)"),
            ("sam2.video('/nonexistent')", "/nonexistent: not a folder of frames"),
            ("model:track('x')", "bad argument #1 to 'track' (sam2.video expected, got string)"),
            ("model:track(video, {memry = 'official'})", "unknown option 'memry' (options: memory, memory_options, non_overlap"),
            ("model:track(video, {memory = 'nope'})", "unknown memory 'nope' (registered: "),
            ("model:track(video, {memory_options = {num_maskmem = 0}})", "option 'num_maskmem' must be >= 1"),
            ("model:track(video, {memory_options = {stride = 2}})", "unknown option 'stride' (options: num_maskmem"),
            ("model:track(video, {num_maskmem = 8})", "1…7 expected (the model has 7 memory slots), got 8"),
            ("model:track(video, {memory_precision = 'fp16'})", "\"bf16\" or \"fp32\" expected"),
            ("model:track(video, {obj_ptrs = 1})", "option 'obj_ptrs': boolean expected, got number"),
            ("model:track(video, {num_maskmem = 3, memory_options = {num_maskmem = 4}})", "also given as memory_options.num_maskmem"),
            ("tracker:add_points(10, 1, {{1, 1}})", "bad argument #1 to 'add_points' (frame 10 out of range 0…9)"),
            ("tracker:add_points(-1, 1, {{1, 1}})", "frame -1 out of range"),
            ("tracker:add_points(0, 0, {{1, 1}})", "bad argument #2 to 'add_points' (object id 1…255 expected, got 0)"),
            ("tracker:add_points(0, 1, {{1}})", "item 1: {x, y[, label]} expected, got 1 numbers"),
            ("tracker:add_points(0, 1, {{1, 2, 5}})", "label must be 1 (positive) or 0 (negative)"),
            ("tracker:add_points(0, 1, 'x')", "bad argument #3 to 'add_points' (table expected, got string)"),
            ("tracker:add_box(0, 1, {1, 2, 3})", "4 numbers expected, got 3"),
            ("tracker:add_mask(0, 1, sam2.tensor({{1, 0}, {0, 1}}))", "mask of the video's size 320×180 expected, got shape [2, 2]"),
            ("tracker:add_mask(0, 1, 5)", "sam2.mask or sam2.tensor expected, got number"),
            ("tracker:remove(7)", "object 7 does not exist"),
            ("tracker:propagate{}", "no object has prompts"),
            ("tracker:propagate{sideways = true}", "unknown option 'sideways' (options: reverse, start, max, save)"),
            ("video:frame(10)", "frame 10 out of range 0…9"),
            ("tracker.add_points('x')", "calling 'add_points' on bad self"),
            ("sam2.register('memory', 'official', {select = function() end})", "'official' is built in and cannot be replaced"),
            ("sam2.register('memory', 'x', {})", "option 'select': function expected, got nil"),
            ("sam2.register('decoder', 'x', {select = print})", "kind 'memory' or 'prompts' expected, got 'decoder'"),
            ("sam2.register('memory', 'x', {select = print, bogus = 1})", "unknown option 'bogus' (options: select, retain, options, summary)"),
        ]
        for (code, expected) in cases {
            let m = message(s, code)
            XCTAssertTrue(m.contains(expected), "\(code): got \(m)")
        }
        // The host survives and the tracker still works after all of these.
        XCTAssertEqual(try s.number("return tracker:add_points(0, 1, {{160, 90}})[1].width"), 320)
    }

    /// An error inside a Lua policy callback called from the tracker is a Lua error of the calling script with
    /// the policy and callback names, the callback's file:line and a traceback; bad selections are errors naming
    /// the policy; the state stays usable.
    func testErrorsInsideLuaPolicyCallbacks() throws {
        let s = try state()
        let dir = try temporaryFolder(self)
        try write("""
            sam2.register("memory", "exploding", {
              select = function(q)
                if q.frame == 3 then error("no memory for frame " .. q.frame) end
                return {memories = {{q.cond[1], 0}}}
              end,
            })
            local tracker = model:track(video, {memory = "exploding"})
            tracker:add_points(0, 1, {{160, 90}})
            for f, masks in tracker:propagate{} do last = f end
            """, to: dir + "/policy.lua")
        do {
            try s.run(file: dir + "/policy.lua")
            XCTFail("no error")
        } catch let LuaError.runtime(message, traceback) {
            XCTAssertTrue(message.contains("policy.lua:9:"), message)                      // the calling line
            XCTAssertTrue(message.contains("memory policy 'exploding': error in select(query)"), message)
            XCTAssertTrue(message.contains("policy.lua:3: no memory for frame 3"), message)  // the callback's line
            XCTAssertTrue(traceback.contains("stack traceback"), traceback)
        }
        XCTAssertEqual(try s.number("return last"), 2)

        let cases: [(String, String)] = [
            ("{select = function(q) return 5 end}", "select(query) must return a table {memories, pointers}, got number"),
            ("{select = function(q) return {memories = {{q.cond[1], 9}}} end}", "memory policy 'bad' used temporal slot 9"),
            ("{select = function(q) return {memories = {{8, 1}}} end}", "memory policy 'bad' selected frame 8, which holds no encoded memory"),
            ("{select = function(q) return {} end}", "memory policy 'bad' selected no memory and no object pointer"),
            ("{select = function(q) return {memories = {{'a', 0}}} end}", "returned memories[1]: integers {frame, slot} expected"),
            ("{select = function(q) return {memories = {{0, 0}}, extra = 1} end}", "returned unknown key 'extra'"),
            ("{select = function(q) return {memories = {{0, 0}}} end, retain = function(q) error('cannot keep') end}", "error in retain(query): "),
            ("{select = function(q) return {memories = {{0, 0}}} end, retain = function(q) return {'x'} end}", "item 1 of the returned list: frame index expected, got string"),
        ]
        for (impl, expected) in cases {
            let m = message(s, """
                sam2.register("memory", "bad", \(impl))
                local t = model:track(video, {memory = "bad"})
                t:add_points(0, 1, {{160, 90}})
                for f in t:propagate{} do end
                """.replacingOccurrences(of: "\n", with: " "))
            XCTAssertTrue(m.contains(expected), "\(impl): got \(m)")
        }
        // Still usable: the official tracker on the same state.
        XCTAssertEqual(try s.number("local t = model:track(video); t:add_points(0, 1, {{160, 90}}); local n = 0; for f in t:propagate{max = 2} do n = n + 1 end; return n"), 3)
    }

    /// A policy registered by one Lua state cannot run in another (its callbacks belong to the first state).
    func testPolicyOfAnotherStateIsRejected() throws {
        let a = try state()
        try a.execute("sam2.register('memory', 'state_a_policy', {select = function(q) return {memories = {{q.cond[1], 0}}} end})")
        let b = try state()
        XCTAssertTrue(message(b, "model:track(video, {memory = 'state_a_policy'})").contains("registered by another Lua state"))
    }

    /// Videos, trackers, propagations and per-frame masks are freed when the script drops them (also when a
    /// loop breaks early); saving writes DAVIS palette PNGs whose indices are the object ids.
    func testLifetimeAndSavedMasks() throws {
        let s = try state()
        let dir = try temporaryFolder(self)
        try s.execute("collectgarbage(); collectgarbage(); before = workbench.live_objects()")
        try s.execute("""
            do
              local v = sam2.video('\(frames)')
              local t = model:track(v)
              t:add_points(0, 2, {{160, 90}})
              for f, m in t:propagate{save = '\(dir)'} do if f == 4 then break end end
              local it, st = t:propagate{start = 5}
              local f, m = it(st)
              assert(f == 5 and m[2].width == 320 and m[1] == nil)
            end
            collectgarbage(); collectgarbage()
            """)
        XCTAssertEqual(try s.number("return workbench.live_objects() - before"), 0)
        let saved = try ImageIO.readIndexMask(dir + "/00003.png")
        XCTAssertEqual(saved.width, 320)
        XCTAssertTrue(Set(saved.indices).isSubset(of: [0, 2]))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/00005.png"))
        // A closed tracker is an error, not a crash.
        XCTAssertTrue(message(s, "local t <close> = model:track(video); closed = t").contains("no error"))
        XCTAssertTrue(message(s, "closed:reset()").contains("attempt to use a closed sam2.tracker"))
    }
}
