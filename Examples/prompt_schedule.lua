-- A prompt schedule written in Lua, run by the interactive VOS protocol (metrics.interactive). The simulated
-- user clicks the centre of each object's ground-truth bounding box on its first annotated frame, then, after
-- the first propagation, gives one corrective click on the worst-IoU frame of the video (placed by the default
-- error-centre rule). Compared with the built-in "clicks" (k = 1) and "offline" schedules.
--
--   workbench run Examples/prompt_schedule.lua [OUT_DIR]
local out = arg[1] or "out/prompt_schedule"
local model = require("model_loader").load()   -- the reduced test model (Scripts/model_loader.lua)

sam2.register("prompts", "bbox_centre", {
  summary = "a click at the centre of the ground-truth box, then corrective clicks on the worst frames",
  options = {per_round = 1},
  rounds = 1,
  -- query = {object, ground_truth (sam2.mask), width, height, options}
  initial = function(q)
    local b = q.ground_truth.bbox
    if not b then return nil end                          -- empty ground truth: leave the object unprompted
    return {points = {{(b[1] + b[3]) // 2, (b[2] + b[4]) // 2, 1}}}
  end,
  -- query = {round, scores = {{object, frame, iou}, …}, clicks_used, options}
  corrections = function(q)
    local sorted = {}
    for _, s in ipairs(q.scores) do sorted[#sorted + 1] = s end
    table.sort(sorted, function(a, b) return a.iou < b.iou end)
    local picks = {}
    for i = 1, math.min(q.options.per_round, #sorted) do
      if sorted[i].iou < 1 then picks[#picks + 1] = {sorted[i].object, sorted[i].frame} end
    end
    return picks
  end,
})

local data = synth.generate{out = out .. "/data", videos = 1, frames = 5, size = {64, 48}, objects = 2, seed = 3}
for _, c in ipairs(sam2.components("prompts")) do
  if c.name == "bbox_centre" then print(c.name .. ": " .. c.summary) end
end
for _, run in ipairs({{"clicks", {k = 1}}, {"offline", {rounds = 1, budget = 1}}, {"bbox_centre", {}}}) do
  local r = metrics.interactive(model, data.root, {schedule = run[1], options = run[2]})
  local line = {}
  for _, round in ipairs(r.videos[1].rounds) do
    line[#line + 1] = string.format("round %d: %d clicks J&F %.3f", round.round, round.clicks, round.j_and_f)
  end
  print(string.format("%-12s %s", run[1], table.concat(line, ", ")))
end
