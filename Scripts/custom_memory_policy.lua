-- Custom memory policies written in Lua, compared with SAM 2's official one: a SAMURAI-like score-gated memory
-- (a tracked frame enters the memory only when the model is confident the object is visible, so occluded frames
-- never pollute it) — the same rule as the built-in `score_gated`, so the two rows must agree — and a sparse
-- "every other frame" memory.
--
--   workbench run Scripts/custom_memory_policy.lua [OUT_DIR] [CHECKPOINT [IMAGE_SIZE]] [--videos N] [--frames N]
--
-- Without a checkpoint it runs the reduced random-weights test model; re-running with the same OUT_DIR resumes.
local ablation = require "video_ablation"
local a = ablation.parse_args("out/custom_memory_policy")

-- Stored frames the policy may use: the non-conditioning frames before the tracked one in the tracking direction
-- (nearest first) that pass `keep(entry)`, at most `n`.
local function recent(q, n, keep)
  local out = {}
  local stored = q.stored
  local first, last, step = #stored, 1, -1
  if q.reverse then first, last, step = 1, #stored, 1 end
  for i = first, last, step do
    local s = stored[i]
    local before = (not q.reverse and s.frame < q.frame) or (q.reverse and s.frame > q.frame)
    if before and not s.cond and keep(s) then
      out[#out + 1] = s.frame
      if #out == n then break end
    end
  end
  return out
end

-- Conditioning frames at slot 0, then the chosen recent frames, the nearest at the highest slot; pointers of the
-- past conditioning frames and of the chosen frames less than `max_ptrs` frames away (temporal distance as position).
local function selection(q, frames, max_ptrs)
  local memories, pointers = {}, {}
  for _, c in ipairs(q.cond) do memories[#memories + 1] = {c, 0} end
  local slots = math.min(q.options.num_maskmem, q.num_maskmem)
  for i = math.min(#frames, slots - 1), 1, -1 do memories[#memories + 1] = {frames[i], slots - i} end
  if q.use_obj_ptrs then
    local sign = q.reverse and -1 or 1
    for _, c in ipairs(q.cond) do
      if (q.reverse and c >= q.frame) or (not q.reverse and c <= q.frame) then
        pointers[#pointers + 1] = {c, (q.frame - c) * sign}
      end
    end
    local window = math.min(q.num_frames, max_ptrs)
    for _, f in ipairs(frames) do
      if math.abs(q.frame - f) < window then pointers[#pointers + 1] = {f, math.abs(q.frame - f)} end
    end
  end
  return {memories = memories, pointers = pointers}
end

-- After tracking q.frame: the frames the next frame's selection can still use (the rest is dropped).
local function retained(q, keep, n)
  return recent({stored = q.stored, frame = q.reverse and q.frame - 1 or q.frame + 1, reverse = q.reverse}, n, keep)
end

sam2.register("memory", "lua_score_gated", {
  summary = "SAMURAI-like: only frames whose object score exceeds a threshold enter the memory",
  options = {num_maskmem = 7, threshold = 0.0, max_obj_ptrs = 16},
  select = function(q)
    local gate = function(s) return s.score > q.options.threshold end
    return selection(q, recent(q, math.max(q.options.num_maskmem, q.options.max_obj_ptrs), gate), q.options.max_obj_ptrs)
  end,
  retain = function(q)
    local gate = function(s) return s.score > q.options.threshold end
    return retained(q, gate, math.max(q.options.num_maskmem, q.options.max_obj_ptrs))
  end,
})

sam2.register("memory", "every_other", {
  summary = "recent memories only from even frames",
  options = {num_maskmem = 7, max_obj_ptrs = 16},
  select = function(q)
    local even = function(s) return s.frame % 2 == 0 end
    return selection(q, recent(q, math.max(q.options.num_maskmem, q.options.max_obj_ptrs), even), q.options.max_obj_ptrs)
  end,
  retain = function(q)
    return retained(q, function(s) return s.frame % 2 == 0 end, math.max(q.options.num_maskmem, q.options.max_obj_ptrs))
  end,
})

ablation.run(a, "memory policy", {memory = {"official", "score_gated", "lua_score_gated", "every_other"}}, function(v)
  return {memory = v.memory}
end)
