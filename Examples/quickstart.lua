-- Quickstart, the README's main job: make ten synthetic videos with exact masks (objects that pass behind
-- each other and behind bars, leave the frame and come back), track every object from
-- its first-frame mask with two memory settings (SAM 2's 7 memories vs 1), print a J&F table and write
-- overlays of the result.
--
--   workbench run Examples/quickstart.lua [OUT_DIR] [CHECKPOINT [IMAGE_SIZE]] [--videos N] [--frames N]
--
-- Without a checkpoint it runs the embedded model (Models/embedded, trained by `workbench train` on synthetic
-- videos; see its MODEL_CARD.md), so the J&F values are real. Pass an official checkpoint (e.g.
-- sam2.1_hiera_tiny.pt) to run that instead.
local ablation = require "video_ablation"     -- Scripts/video_ablation.lua: model and argument helpers
-- Ten videos of 60 frames: with fewer, one object's exit decides the gap between the memory settings.
local a = ablation.parse_args("out/quickstart", {videos = 10, frames = 60})

local model = ablation.load_model(a)
local info = model:info()
print(string.format("model: %s (%s), input %d²", info.name, info.family, info.image_size))

-- The synthetic distribution the embedded model was trained on (TrainingDataSpec.syntheticConfig), other seeds.
local data = require("tracking_stats").videos(a.out .. "/data", a.videos, a.frames, 2024)
print(string.format("data: %d synthetic videos × %d frames in %s", #data.sequences, a.frames, data.root))

-- Track every sequence with each memory setting; masks go to OUT/<setting>/<sequence>/NNNNN.png.
local settings = {{name = "7 memories", options = {num_maskmem = 7}},
                  {name = "1 memory", options = {num_maskmem = 1}}}
local rows = {}
local bar = workbench.progress{total = #settings * #data.sequences * a.frames, label = "track", unit = "frames"}
for _, s in ipairs(settings) do
  local pred = a.out .. "/" .. s.name:gsub(" ", "_")
  for _, seq in ipairs(data.sequences) do
    local frames = data.root .. "/JPEGImages/480p/" .. seq
    local annotations = data.root .. "/Annotations/480p/" .. seq
    local video = sam2.video(frames)
    local tracker = model:track(video, s.options)
    for id = 1, 8 do
      local gt = sam2.mask(annotations .. "/" .. video:name(0) .. ".png", id)
      if gt.area > 0 then tracker:add_mask(0, id, gt) end
    end
    local last
    for frame, masks in tracker:propagate{save = pred .. "/" .. seq} do
      last = {frame = frame, masks = masks}
      bar:advance()
    end
    -- Overlay of the last frame: the first object's mask on the frame.
    for _, m in pairs(last.masks) do
      m:overlay(video:frame(last.frame), string.format("%s/%s_overlay.png", pred, seq))
      break
    end
  end
  local r = metrics.evaluate(data.root .. "/Annotations/480p", pred)
  rows[#rows + 1] = {s.name, r.j_and_f, r.j_mean, r.f_mean}
end
bar:finish()

print(string.format("\n%-12s %8s %8s %8s", "memory", "J&F", "J", "F"))
for _, row in ipairs(rows) do print(string.format("%-12s %8.3f %8.3f %8.3f", row[1], row[2], row[3], row[4])) end
print("\nmasks and overlays in " .. a.out)
