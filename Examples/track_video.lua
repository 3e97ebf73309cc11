-- Track two objects through a short video: a box on one, a click on the other, then propagate forwards and
-- print each frame's mask areas; the masks are written as DAVIS palette PNGs.
--
--   workbench run Examples/track_video.lua [OUT_DIR] [CHECKPOINT IMAGE_SIZE]
--
-- Without arguments it uses the reduced test model committed with the repository (random weights: the masks are
-- not meaningful, but every step runs exactly as with a real checkpoint such as sam2.1_hiera_tiny.pt) and the
-- 10-frame clip of the tracker tests.
local root = workbench.root ~= "" and workbench.root or "."
local out = arg[1] or "out/track_video"
-- The model: the checkpoint given, or the reduced test model (Scripts/model_loader.lua).
local model = require("model_loader").load(arg[2], tonumber(arg[3]))

-- A folder of numbered frames (00000.jpg, …); frames are numbered from 0 as in the file names.
local video = sam2.video(root .. "/Tests/SAM2Tests/Fixtures/video_model/frames")
print(string.format("video: %d frames, %d×%d", video.frames, video.width, video.height))

-- The tracker: SAM 2's official memory (model:track options switch memories, pointers, precision, …).
local tracker = model:track(video, {memory = "official"})
local masks = tracker:add_box(0, 1, {100, 40, 220, 150})           -- object 1: a box on frame 0
print(string.format("object 1 on frame 0: area %d", masks[1].area))
masks = tracker:add_points(0, 2, {{60, 120}, {20, 20, 0}})         -- object 2: a positive and a negative click
print(string.format("object 2 on frame 0: area %d", masks[2].area))

-- Propagation is a Lua iterator: frame index, {[object id] = mask}, {[object id] = object score}.
for frame, m, scores in tracker:propagate{save = out} do
  print(string.format("frame %d: object 1 area %6d (score %5.2f), object 2 area %6d (score %5.2f), IoU(1, 2) %.3f",
                      frame, m[1].area, scores[1], m[2].area, scores[2], m[1]:iou(m[2])))
end

-- Back from the last frame with a second click on object 2 (a new conditioning frame), 3 frames.
tracker:add_points(9, 2, {{60, 120}})
for frame, m in tracker:propagate{start = 9, reverse = true, max = 3} do
  print(string.format("reverse: frame %d, object 2 area %d", frame, m[2].area))
end
print("masks in " .. out)
