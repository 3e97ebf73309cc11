-- Memory-size ablation: num_maskmem 1…7 (1 = only the prompted frame, 7 = SAM 2's default of the prompted frame
-- plus the 6 most recent frames) on synthetic videos with occlusions; J&F per setting.
--
--   workbench run Scripts/memory_size_ablation.lua [OUT_DIR] [CHECKPOINT [IMAGE_SIZE]] [--videos N] [--frames N]
--
-- Without a checkpoint it runs the reduced random-weights test model (the table then only shows that the pipeline
-- works); with e.g. sam2.1_hiera_tiny.pt it is a real ablation. Re-running with the same OUT_DIR resumes.
-- Results: OUT_DIR/results.md (J&F mean ± std over videos), results.csv, results.json, bar_jf.png, per_frame_j.png.
local ablation = require "video_ablation"
local a = ablation.parse_args("out/memory_size_ablation")
ablation.run(a, "memory size", {num_maskmem = {1, 2, 3, 4, 5, 6, 7}}, function(v)
  return {num_maskmem = v.num_maskmem}
end)
