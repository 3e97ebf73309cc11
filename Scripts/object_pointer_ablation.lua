-- Object-pointer ablation: memory attention without object pointers, and with 1, 4 or 16 (SAM 2's default)
-- pointers, on synthetic videos with occlusions; J&F per setting.
--
--   workbench run Scripts/object_pointer_ablation.lua [OUT_DIR] [CHECKPOINT [IMAGE_SIZE]] [--videos N] [--frames N]
--
-- Without a checkpoint it runs the reduced random-weights test model; re-running with the same OUT_DIR resumes.
local ablation = require "video_ablation"
local a = ablation.parse_args("out/object_pointer_ablation")
ablation.run(a, "object pointers", {pointers = {0, 1, 4, 16}}, function(v)
  if v.pointers == 0 then return {obj_ptrs = false} end
  return {obj_ptrs = true, max_obj_ptrs = v.pointers}
end)
