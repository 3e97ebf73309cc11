-- An ablation in a few lines: workbench.experiment runs every variant × data item ("cells"), records each cell
-- the moment it finishes (results.jsonl, results.csv), and writes a summary (results.md, results.json) and plots.
--
--   workbench run Examples/experiment_basics.lua [OUT_DIR]
--
-- The workload needs no model: it "predicts" frame t of a synthetic video with the ground truth of frame
-- t − lag (a tracker whose memory is `lag` frames stale) and scores it with J&F. Put a real tracker in `run`
-- and nothing else changes. Run it twice: the second run finds every cell done and only rewrites the summary.
local out = arg[1] or "out/experiment_basics"
local frames = 8

-- Three small synthetic videos with exact masks, in the DAVIS layout.
synth.generate{out = out .. "/data", videos = 3, frames = frames, size = {64, 48}, objects = 1, speed = 4, seed = 1}

local result = workbench.experiment{
  name = "stale masks",
  out = out .. "/results",
  data = out .. "/data",           -- a dataset folder: one item per sequence, {name, frames, annotations}
  vary = {lag = {0, 1, 3}},        -- the ablation: one variant per value (several keys give the cross product)
  metrics = {"j", "jf"},           -- which returned numbers to summarise, in this order
  seed = 42,                       -- each cell gets cell.seed, derived from this and the cell's key
  progress = false,                -- no progress bar in this example's output (it goes to stderr)
  run = function(cell)
    local function mask(t) return sam2.mask(string.format("%s/%05d.png", cell.data.annotations, t), 1) end
    local j, jf = {}, 0
    for t = 0, frames - 1 do
      local s = metrics.jf(mask(math.max(0, t - cell.variant.lag)), mask(t))
      j[#j + 1] = s.j
      jf = jf + s.jf
    end
    local mean = 0
    for _, v in ipairs(j) do mean = mean + v / #j end
    -- Numbers are metrics; per_frame series become the per-frame plot (mean over data items per variant).
    return {j = mean, jf = jf / frames, per_frame = {j = j}}
  end,
}

print(string.format("%d cells: %d done, %d failed, %d skipped (already done)", result.cells, result.done,
                    result.failed, result.skipped))
for _, row in ipairs(result.summary) do
  print(string.format("%-6s J %.3f ± %.3f", row.condition, row.metrics.j.mean, row.metrics.j.std))
end
print("wrote " .. result.out .. "/results.md and " .. table.concat(result.plots, ", "))
