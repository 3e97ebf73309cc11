-- Whether a model tracks each object or gives one mask to all (require "tracking_stats"): the measurements behind
-- Scripts/tracking_diagnostics.lua and the embedded model's regression test.
local M = {}

--- Synthetic videos of the embedded model's training distribution (TrainingDataSpec.syntheticConfig) in `out`.
function M.videos(out, videos, frames, seed)
  return synth.generate{out = out, videos = videos, frames = frames, size = {256, 256}, objects = 3,
                        object_size = {0.09, 0.18}, speed = 1.6, occlusion = "both", disappear = true,
                        event_period = 20, hidden_frames = 5, pan = 0.5, seed = seed}
end

--- Tracks every object of `data` (from M.videos) from its first-frame mask with `model`'s memories. For each
--- {first, last} frame range: mean IoU with the ground truth (visible objects), mean IoU between different objects'
--- predicted masks (near 1: one mask for all) and the share of visible objects given an empty mask. Then, on
--- frame `image_frame` of each video, single-image predictions from a box, one click and the ground-truth mask.
function M.measure(model, data, ranges, image_frame)
  local acc = {}
  for r = 1, #ranges do acc[r] = {first = ranges[r][1], last = ranges[r][2], iou = 0, n = 0, cross = 0, pairs = 0, empty = 0} end
  local prompted = {box = 0, click = 0, mask = 0, n = 0}
  for _, seq in ipairs(data.sequences) do
    local video = sam2.video(data.root .. "/JPEGImages/480p/" .. seq)
    local annotations = data.root .. "/Annotations/480p/" .. seq
    local function gt(frame, id) return sam2.mask(annotations .. "/" .. video:name(frame) .. ".png", id) end
    local tracker = model:track(video)
    for id = 1, 8 do
      local m = gt(0, id)
      if m.area > 0 then tracker:add_mask(0, id, m) end
    end
    for frame, masks in tracker:propagate() do
      for _, s in ipairs(acc) do
        if frame >= s.first and frame <= s.last then
          local ids = {}
          for id, m in pairs(masks) do
            local truth = gt(frame, id)
            if truth.area > 0 then
              s.iou = s.iou + m:iou(truth); s.n = s.n + 1
              if m.area == 0 then s.empty = s.empty + 1 end
            end
            ids[#ids + 1] = id
          end
          for p = 1, #ids do for q = p + 1, #ids do
            local x, y = masks[ids[p]], masks[ids[q]]
            if x.area > 0 or y.area > 0 then s.cross = s.cross + x:iou(y); s.pairs = s.pairs + 1 end
          end end
        end
      end
    end
    if image_frame then
      local image = video:frame(image_frame)
      for id = 1, 8 do
        local truth = gt(image_frame, id)
        if truth.area > 0 then
          prompted.box = prompted.box + model:segment(image, {box = truth.bbox, multimask = false})[1]:iou(truth)
          local click = metrics.clicks(truth, 1, function() return nil end)
          prompted.click = prompted.click + model:segment(image, {points = click})[1]:iou(truth)
          prompted.mask = prompted.mask + model:segment(image, {mask = truth, multimask = false})[1]:iou(truth)
          prompted.n = prompted.n + 1
        end
      end
    end
  end
  for _, s in ipairs(acc) do
    s.iou = s.iou / math.max(1, s.n); s.cross = s.cross / math.max(1, s.pairs); s.empty = s.empty / math.max(1, s.n)
  end
  local n = math.max(1, prompted.n)
  prompted.box = prompted.box / n; prompted.click = prompted.click / n; prompted.mask = prompted.mask / n
  return {ranges = acc, prompted = prompted}
end

return M
