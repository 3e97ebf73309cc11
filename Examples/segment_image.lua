-- Segment an object in a photo with one click, then refine the best mask with a second call.
--
--   workbench run Examples/segment_image.lua [OUT_DIR] [CHECKPOINT IMAGE_SIZE]
--
-- Without arguments it uses the embedded model (Models/embedded), trained on synthetic shapes only: on this photo its
-- masks are not meaningful (some may be empty), but every step runs exactly as with a real checkpoint such as
-- sam2.1_hiera_tiny.pt.
local root = workbench.root ~= "" and workbench.root or "."
local out = arg[1] or "out/segment_image"
local fixtures = root .. "/Tests/SAM2Tests/Fixtures/image_model/"
-- The model: the checkpoint given, or the embedded model (Scripts/model_loader.lua).
local model = require("model_loader").load(arg[2], tonumber(arg[3]))
local info = model:info()
print(string.format("model %s (%s), hidden %d, input %d²", info.name, info.family, info.hidden_dim, info.image_size))

local image = sam2.image(fixtures .. "truck_320.png")
print(string.format("image %d×%d", image.width, image.height))

-- One positive click: three candidate masks, best predicted IoU first.
local masks, scores = model:segment(image, {points = {{200, 120}}})
for i, m in ipairs(masks) do
  local b = m.bbox   -- nil for an empty mask
  local where = b and string.format("bbox {%d, %d, %d, %d}", b[1], b[2], b[3], b[4]) or "empty"
  print(string.format("mask %d: score %.4f, area %d, %s", i, scores[i], m.area, where))
end

-- Refine: the best mask's low-res logits as a mask prompt, plus a negative click, one output.
local refined = model:segment(image, {points = {{200, 120, 1}, {40, 40, 0}}, mask = masks[1], multimask = false})
print(string.format("refined: score %.4f, IoU with the first mask %.3f", refined[1].score, refined[1]:iou(masks[1])))

workbench.mkdir(out)
masks[1]:save(out .. "/mask.png")
masks[1]:overlay(image, out .. "/overlay.png")
print("wrote " .. out .. "/mask.png and " .. out .. "/overlay.png")
