-- A memory policy written in Lua. The native tracker calls `select(query)` before each tracked frame: which
-- stored frames the memory attention sees (with their temporal slots) and which object pointers; and
-- `retain(query)` after it: which stored frames to keep. This one is a SAMURAI-like gate: a tracked frame is used
-- as memory only when the model's object score says the object is visible (occluded frames stay out).
--
--   workbench run Examples/memory_policy.lua [OUT_DIR]
local out = arg[1] or "out/memory_policy"
local model = require("model_loader").load()   -- the reduced test model (Scripts/model_loader.lua)

-- query = {frame, reverse, num_frames, num_maskmem (the model's slots), use_obj_ptrs, signed_ptr_tpos,
--          cond = {frames}, non_cond = {frames}, stored = {{frame, cond, score}, …}, options = {…}}
local function gated_recent(q, n)
  local frames = {}
  for i = #q.stored, 1, -1 do                       -- nearest first (forward tracking)
    local s = q.stored[i]
    if not s.cond and s.frame < q.frame and s.score > q.options.threshold then
      frames[#frames + 1] = s.frame
      if #frames == n then break end
    end
  end
  return frames
end

sam2.register("memory", "gated", {
  summary = "frames enter the memory only when the object score exceeds a threshold",
  options = {threshold = 0.0, recent = 6},
  select = function(q)
    local memories, pointers = {}, {}
    for _, c in ipairs(q.cond) do
      memories[#memories + 1] = {c, 0}                               -- slot 0: prompted frames
      if c <= q.frame then pointers[#pointers + 1] = {c, q.frame - c} end
    end
    local recent = gated_recent(q, math.min(q.options.recent, q.num_maskmem - 1))
    for i = #recent, 1, -1 do
      memories[#memories + 1] = {recent[i], q.num_maskmem - i}       -- the nearest at the highest slot
      pointers[#pointers + 1] = {recent[i], q.frame - recent[i]}
    end
    return {memories = memories, pointers = pointers}
  end,
  retain = function(q)
    return gated_recent({stored = q.stored, frame = q.frame + 1, options = q.options}, q.options.recent)
  end,
})

-- A synthetic video where objects pass behind a bar, with exact masks.
local data = synth.generate{out = out .. "/data", frames = 8, size = {192, 128}, objects = 1, occlusion = "bar",
                            hidden_frames = 2, seed = 3}
local seq = data.root .. "/JPEGImages/480p/" .. data.sequences[1]
local ann = data.root .. "/Annotations/480p/" .. data.sequences[1]
local video = sam2.video(seq)

for _, memory in ipairs({"official", "gated"}) do
  local tracker = model:track(video, {memory = memory})
  tracker:add_mask(0, 1, sam2.mask(ann .. "/00000.png", 1))
  local line = {}
  for frame, masks in tracker:propagate{} do
    local gt = sam2.mask(ann .. "/" .. video:name(frame) .. ".png", 1)
    line[#line + 1] = string.format("%.2f", metrics.jf(masks[1], gt).j)
  end
  print(string.format("%-8s J per frame: %s", memory, table.concat(line, " ")))
end
