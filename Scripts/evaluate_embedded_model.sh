#!/usr/bin/env bash
# Held-out evaluation of a model trained on the synthetic distribution (the embedded model's card numbers):
# writes N synthetic videos of the training distribution with seeds no training video uses, tracks every object
# from its first visible mask (semi-supervised VOS, as tools/vos_inference.py) with the model's 7 memories and with
# 1 memory, and scores both with the DAVIS 2017 J&F.
#
#   bash Scripts/evaluate_embedded_model.sh [MODEL] [OUT_DIR] [VIDEOS] [FRAMES] [SEED]
#
# The card's numbers use the defaults (30 videos × 60 frames, seed 4242; about 2.5 minutes); choose training settings
# on another seed (a development set, e.g. 9001) so the held-out set stays held out. MEMORY=name picks another
# registered memory policy (default: official). Each J&F comes with a 95% bootstrap interval over videos (on 30 videos
# about ±0.055), and the 7-vs-1-memory difference with a paired one; compare two models with
# `workbench eval --gt OUT/data/Annotations/480p --pred OUT_A/pred_7 --baseline OUT_B/pred_7` on the same set.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:-$root/Models/embedded/model.safetensors}"
out="${2:-$root/out/embedded_eval}"
videos="${3:-30}"
frames="${4:-60}"
seed="${5:-4242}"
wb="${WORKBENCH:-$root/.build/release/workbench}"
memory="${MEMORY:-official}"
[ -x "$wb" ] || { echo "build first: swift build -c release" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
echo "writing $videos videos × $frames frames (seed $seed) to $out/data …" >&2
# The training distribution (TrainingDataSpec.syntheticConfig at 256²); base seed 4242, training used 0.
"$wb" synth --out "$out/data" --videos "$videos" --frames "$frames" --size 256x256 --objects 3 --object-size 0.09-0.18 \
  --speed 1.6 --occlusion both --disappear --event-period 20 --hidden-frames 5 --pan 0.5 --seed "$seed" >/dev/null 2>"$out/synth.log"
for k in 7 1; do
  echo "tracking with $k memor$([ "$k" = 1 ] && echo y || echo ies) (progress: $out/vos_$k.log) …" >&2
  "$wb" vos --checkpoint "$model" --base-video-dir "$out/data/JPEGImages/480p" --input-mask-dir "$out/data/Annotations/480p" \
    --output-mask-dir "$out/pred_$k" --track-object-appearing-later --memory "$memory" --memory-option "num_maskmem=$k" >/dev/null 2>"$out/vos_$k.log"
  "$wb" eval --gt "$out/data/Annotations/480p" --pred "$out/pred_$k" --json "$out/jf_$k.json" --csv "$out/jf_$k.csv" \
    2>/dev/null > "$out/eval_$k.txt"
  # The line under the "J&F-Mean J-Mean …" header holds the global numbers; the bootstrap line follows the table.
  awk -v k="$k" '/^J&F-Mean +J-Mean/ {getline; printf "%s memor%s: J&F %s  J %s  F %s\n", k, (k == 1 ? "y" : "ies"), $1, $2, $5}
    /^J&F-Mean [0-9]/ {sub(/^J&F-Mean [^,]*, /, ""); print "  J&F " $0}' "$out/eval_$k.txt"
done
# Does memory matter on this set? 7 memories against 1, paired by object.
"$wb" eval --gt "$out/data/Annotations/480p" --pred "$out/pred_7" --baseline "$out/pred_1" 2>/dev/null > "$out/eval_7_vs_1.txt"
awk '/^J&F-Mean difference/ {sub(/^J&F-Mean difference \(predictions − baseline, paired\) /, ""); print "7 − 1 memories: J&F " $0}' "$out/eval_7_vs_1.txt"
echo "per-object tables: $out/jf_7.csv, $out/jf_1.csv"
