-- Temporal-stride ablation: the 5 older recent memories every 1 (SAM 2's default), 2, 3 or 4 frames (the nearest
-- frame always stays in memory), on synthetic videos with occlusions; J&F per setting.
--
--   workbench run Scripts/temporal_stride_ablation.lua [OUT_DIR] [CHECKPOINT [IMAGE_SIZE]] [--videos N] [--frames N]
--
-- Without a checkpoint it runs the reduced random-weights test model; re-running with the same OUT_DIR resumes.
local ablation = require "video_ablation"
local a = ablation.parse_args("out/temporal_stride_ablation")
ablation.run(a, "temporal stride", {stride = {1, 2, 3, 4}}, function(v)
  return {temporal_stride = v.stride}
end)
