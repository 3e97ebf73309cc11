-- Prompt-type ablation for image segmentation: 1, 3 and 5 simulated clicks vs a box, on synthetic frames with
-- exact masks. Clicks follow the SAM 2 protocol (first click at the object's centre, each next one at the
-- centre of the largest error of the prediction so far); the box is the mask's tight bounding box.
--
--   workbench run Scripts/prompt_ablation_image.lua [OUT_DIR] [CHECKPOINT [IMAGE_SIZE]] [--videos N]
--
-- Without a checkpoint it runs the reduced random-weights model committed with the tests (the numbers then only
-- show that the pipeline works); with e.g. sam2.1_hiera_tiny.pt the table is a real ablation. Re-running with the
-- same OUT_DIR resumes; Ctrl-C stops after the current cell and keeps everything finished.
-- Results: OUT_DIR/results.md (mean ± std over objects), results.csv, results.json, bar_*.png and
-- per_frame_j.png (J after each click).
local args, videos = {}, 3
local i = 1
while arg[i] do
  if arg[i] == "--videos" then videos = tonumber(arg[i + 1]); i = i + 2
  else args[#args + 1] = arg[i]; i = i + 1 end
end
local out = args[1] or "out/prompt_ablation_image"
local model = require("model_loader").load(args[2], tonumber(args[3]))

-- Data: the first frame of each synthetic video, one item per object.
local objects = 2
local data = synth.generate{out = out .. "/data", videos = videos, frames = 1, size = {320, 240}, objects = objects,
                            seed = 2024}
local items = {}
for _, seq in ipairs(data.sequences) do
  for id = 1, objects do
    items[#items + 1] = {
      name = string.format("%s/obj%d", seq, id),
      image = string.format("%s/JPEGImages/480p/%s/00000.jpg", data.root, seq),
      gt = string.format("%s/Annotations/480p/%s/00000.png", data.root, seq),
      id = id,
    }
  end
end

local result = workbench.experiment{
  name = "prompt ablation",
  out = out,
  model = model,
  data = items,
  prompts = {
    {name = "1 click", clicks = 1}, {name = "3 clicks", clicks = 3}, {name = "5 clicks", clicks = 5},
    {name = "box", box = true},
  },
  metrics = {"j", "f", "jf"},
  frame_label = "clicks", frame_start = 1,   -- per_frame.j holds J after each click
  seed = 0,
  run = function(cell)
    local image = sam2.image(cell.data.image)
    local gt = sam2.mask(cell.data.gt, cell.data.id)
    if gt.area == 0 then error("object " .. cell.data.id .. " is not visible in " .. cell.data.gt) end
    local final, curve
    if cell.prompt.box then
      final = cell.model:segment(image, {box = metrics.box(gt), multimask = false})[1]
      curve = {final:iou(gt)}
    else
      -- Each click is answered by the model given all clicks so far and its previous mask (as in interactive
      -- evaluation); the next click goes to the largest error of that answer.
      local previous
      curve = {}
      local function predict(points)
        local masks = cell.model:segment(image, {points = points, multimask = #points == 1, mask = previous})
        previous = masks[1]
        curve[#curve + 1] = previous:iou(gt)
        return previous
      end
      local points = metrics.clicks(gt, cell.prompt.clicks, predict)
      final = predict(points)
    end
    local s = metrics.jf(final, gt)
    return {j = s.j, f = s.f, jf = s.jf, area = gt.area, per_frame = {j = curve}}
  end,
}
print(string.format("%d cells: %d done, %d failed, %d resumed", result.cells, result.done, result.failed, result.skipped))
for _, row in ipairs(result.summary) do
  local j = row.metrics.j
  print(string.format("%-10s J %.3f ± %.3f  (n=%d)", row.prompt, j.mean, j.std, j.n))
end
print("see " .. out .. "/results.md")
