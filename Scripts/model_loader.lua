-- The model the examples and scripts run (require "model_loader"): an official checkpoint named on the command
-- line, or by default the reduced random-weights model committed with the tests. Its trunk is not one of the four
-- released Hiera sizes, so its hyper-parameters are spelled out here (official argument names); real checkpoints
-- need only the path.
local M = {}

--- Hiera arguments of Tests/SAM2Tests/Fixtures/image_model/sam2.1-mini.pt (input 256²).
M.reduced_trunk = {embed_dim = 8, num_heads = 1, stages = {1, 2, 3, 2}, window_spec = {8, 4, 14, 7},
                   global_att_blocks = {4}, window_pos_embed_bkg_spatial_size = {7, 7}}

--- sam2.load(checkpoint, {image_size = image_size}); without a checkpoint, the reduced test model.
function M.load(checkpoint, image_size)
  if checkpoint then return sam2.load(checkpoint, {image_size = image_size}) end
  local root = workbench.root ~= "" and workbench.root or "."
  return sam2.load(root .. "/Tests/SAM2Tests/Fixtures/image_model/sam2.1-mini.pt",
                   {image_size = 256, trunk = M.reduced_trunk})
end

return M
