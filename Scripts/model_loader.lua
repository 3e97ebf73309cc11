-- The model the examples and scripts run (require "model_loader"): a checkpoint named on the command line, or by
-- default the embedded model trained by this code (Models/embedded/model.safetensors, see its MODEL_CARD.md): a
-- small SAM 2.1-layout model (256² input) that segments and tracks for real on synthetic videos. Its architecture
-- is recorded in the file, so it loads like any checkpoint. The reduced random-weights test model stays available
-- as M.load_reduced() for pipeline checks.
local M = {}

--- Hiera arguments of Tests/SAM2Tests/Fixtures/image_model/sam2.1-mini.pt (input 256²).
M.reduced_trunk = {embed_dim = 8, num_heads = 1, stages = {1, 2, 3, 2}, window_spec = {8, 4, 14, 7},
                   global_att_blocks = {4}, window_pos_embed_bkg_spatial_size = {7, 7}}

local function root() return workbench.root ~= "" and workbench.root or "." end

--- Path of the embedded model.
M.embedded = root() .. "/Models/embedded/model.safetensors"

--- The reduced random-weights test model (its masks are not meaningful).
function M.load_reduced()
  return sam2.load(root() .. "/Tests/SAM2Tests/Fixtures/image_model/sam2.1-mini.pt",
                   {image_size = 256, trunk = M.reduced_trunk})
end

--- sam2.load(checkpoint, {image_size = image_size}); without a checkpoint, the embedded model.
function M.load(checkpoint, image_size)
  if checkpoint then return sam2.load(checkpoint, {image_size = image_size}) end
  local f = io.open(M.embedded, "rb")
  if f then f:close(); return sam2.load(M.embedded) end
  return M.load_reduced()
end

return M
