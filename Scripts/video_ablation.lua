-- Shared parts of the video ablation scripts (require "video_ablation"): loading the model, generating the
-- synthetic videos, tracking one video with a set of model:track options, and running the grid with
-- workbench.experiment. Each script only says what varies.
local M = {}

--- Command line: [OUT_DIR] [CHECKPOINT [IMAGE_SIZE]] [--videos N] [--frames N]. Returns a table of settings;
--- `defaults` may set videos and frames (2 and 12 otherwise).
function M.parse_args(default_out, defaults)
  defaults = defaults or {}
  local a = {videos = defaults.videos or 2, frames = defaults.frames or 12, positional = {}}
  local i = 1
  while arg and arg[i] do
    local flag = arg[i]:match("^%-%-(.+)$")
    if flag == "videos" or flag == "frames" then
      local n = math.tointeger(tonumber(arg[i + 1]))
      if not n or n < 1 then
        error(string.format("--%s: a positive whole number expected, got %s", flag, tostring(arg[i + 1])), 0)
      end
      a[flag] = n; i = i + 2
    elseif flag then
      error(string.format("%s: unknown option (accepted: [OUT_DIR] [CHECKPOINT [IMAGE_SIZE]] --videos N --frames N)",
                          arg[i]), 0)
    else a.positional[#a.positional + 1] = arg[i]; i = i + 1 end
  end
  a.out = a.positional[1] or default_out
  a.checkpoint = a.positional[2]
  a.image_size = tonumber(a.positional[3])
  return a
end

--- The model: the reduced random-weights test model without a checkpoint argument (the numbers then only show
--- that the pipeline works), else the given checkpoint (e.g. sam2.1_hiera_tiny.pt).
function M.load_model(a)
  return require("model_loader").load(a.checkpoint, a.image_size)
end

--- Synthetic videos with occlusions (objects pass behind a bar and each other), exact masks.
function M.make_data(a, objects)
  return synth.generate{out = a.out .. "/data", videos = a.videos, frames = a.frames, size = {256, 192},
                        objects = objects or 2, occlusion = "both", hidden_frames = 3, seed = 2024}
end

--- Tracks every object of a DAVIS-layout sequence {name, frames, annotations} from its ground-truth mask on
--- frame 0 with `options` (model:track options); returns {j, f, jf, per_frame = {j = mean J per frame}}.
function M.track_sequence(model, seq, options)
  local video = sam2.video(seq.frames)
  local tracker = model:track(video, options)
  local first = seq.annotations .. "/" .. video:name(0) .. ".png"
  local ids = {}
  for id = 1, 8 do   -- synth.generate numbers objects 1, 2, …
    local gt = sam2.mask(first, id)
    if gt.area > 0 then tracker:add_mask(0, id, gt); ids[#ids + 1] = id end
  end
  if #ids == 0 then error("no object in " .. first) end
  local sum_j, sum_f, n, curve = 0, 0, 0, {}
  for frame, masks in tracker:propagate{} do
    local gt_path = seq.annotations .. "/" .. video:name(frame) .. ".png"
    local frame_j = 0
    for _, id in ipairs(ids) do
      local s = metrics.jf(masks[id], sam2.mask(gt_path, id))
      if frame > 0 then sum_j, sum_f, n = sum_j + s.j, sum_f + s.f, n + 1 end
      frame_j = frame_j + s.j
    end
    curve[#curve + 1] = frame_j / #ids
  end
  -- The prompted frame is excluded from the means (as the DAVIS protocol skips the first frame).
  local j, f = sum_j / math.max(n, 1), sum_f / math.max(n, 1)
  return {j = j, f = f, jf = (j + f) / 2, per_frame = {j = curve}}
end

--- Runs the grid: `vary` as in workbench.experiment, `options(variant)` → model:track options.
function M.run(a, name, vary, options)
  local model = M.load_model(a)
  local data = M.make_data(a)
  local result = workbench.experiment{
    name = name, out = a.out, model = model, data = data.root, vary = vary,
    metrics = {"jf", "j", "f"}, seed = 0,
    run = function(cell) return M.track_sequence(cell.model, cell.data, options(cell.variant)) end,
  }
  print(string.format("%d cells: %d done, %d failed, %d resumed", result.cells, result.done, result.failed, result.skipped))
  for _, row in ipairs(result.summary) do
    local jf = row.metrics.jf
    if jf then print(string.format("%-40s J&F %.3f ± %.3f  (n=%d)", row.condition, jf.mean, jf.std, jf.n))
    else print(string.format("%-40s failed", row.condition)) end
  end
  print("see " .. a.out .. "/results.md")
  return result
end

return M
