-- Is a trained model tracking each object, or giving one mask to all? (docs/training.md, "Training the embedded
-- model"). On synthetic videos of the training distribution it tracks every object from its first-frame mask and
-- prints, per range of frames, the mean IoU with the ground truth, the mean IoU between different objects' predicted
-- masks (near 1: every object gets the same mask) and how often a visible object got an empty mask; then, on frame 5
-- of each video, the IoU of single-image predictions from a box, one click and the ground-truth mask.
--
--   workbench run Scripts/tracking_diagnostics.lua [CHECKPOINT] [--videos N] [--frames N] [--seed S] [--out DIR]
local a = {videos = 4, frames = 30, seed = 777, out = "out/tracking_diagnostics"}
local i = 1
while arg and arg[i] do
  local key = arg[i]:match("^%-%-(%a+)$")
  if key and a[key] ~= nil then
    a[key] = key == "out" and arg[i + 1] or tonumber(arg[i + 1])
    if a[key] == nil then error(string.format("%s: a number expected, got %s", arg[i], tostring(arg[i + 1]))) end
    i = i + 2
  else a.checkpoint = arg[i]; i = i + 1 end
end
if a.frames < 12 then error("--frames: at least 12 expected, got " .. a.frames) end

local stats = require "tracking_stats"
local model = require("model_loader").load(a.checkpoint)
local data = stats.videos(a.out .. "/data", a.videos, a.frames, a.seed)
local r = stats.measure(model, data, {{1, 3}, {4, 10}, {11, a.frames - 1}}, 5)

print(string.format("%d videos × %d frames, seed %d, tracked from first-frame masks with the model's memories\n",
                    a.videos, a.frames, a.seed))
print("| frames | IoU | IoU between objects' masks | visible but empty |")
print("|---|---|---|---|")
for _, s in ipairs(r.ranges) do
  print(string.format("| %d–%d | %.3f | %.3f | %.2f |", s.first, s.last, s.iou, s.cross, s.empty))
end
print(string.format("\nsingle image, frame 5 (%d objects): box IoU %.3f, 1 click IoU %.3f, mask prompt IoU %.3f",
                    r.prompted.n, r.prompted.box, r.prompted.click, r.prompted.mask))
