#!/usr/bin/env bash
# Runs `workbench bench` and the PyTorch reference (Scripts/bench/pytorch_reference.py) one after the other on
# this machine with the same thread count, shapes and repeats, and prints Swift / PyTorch time ratios per benchmark
# (< 1: Swift is faster). Both JSON reports are kept in OUT_DIR.
#
# Usage: Scripts/bench/compare.sh [--config sam2.1_hiera_t]... [--threads 2] [--repeats 3] [--image-size 1024]
#            [--checkpoint CKPT] [--benchmarks encoder,attention,track] [--objects 1,3] [--frames 12] [--out-dir DIR]
#            [--precision float32|bfloat16]
# --precision applies to the Swift side only (the reference is the official float32 model); with bfloat16 the Swift
# report also holds its fidelity against a float32 run of the same inputs.
# `track` (tracking seconds per frame at steady state, frames >= 8 of a synthetic video) runs `workbench bench track`.
# Needs a release build (`swift build -c release`), python3 with torch (CPU) and the official `sam2` package.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
configs=() threads=2 repeats=3 size=1024 checkpoint="" benchmarks="encoder,attention" objects="1,3" frames=12 precision=float32
out="${TMPDIR:-/tmp}/sam2-bench-$(date +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --config) configs+=("$2"); shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --image-size) size="$2"; shift 2 ;;
    --checkpoint) checkpoint="$2"; shift 2 ;;
    --benchmarks) benchmarks="$2"; shift 2 ;;
    --objects) objects="$2"; shift 2 ;;
    --frames) frames="$2"; shift 2 ;;
    --out-dir) out="$2"; shift 2 ;;
    --precision) precision="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#configs[@]} -gt 0 ] || configs=(sam2.1_hiera_t sam2.1_hiera_s)
bin="$root/.build/release/workbench"
[ -x "$bin" ] || { echo "compare.sh: $bin missing; run 'swift build -c release' first" >&2; exit 1; }
mkdir -p "$out"

common=(--threads "$threads" --repeats "$repeats" --image-size "$size")
swiftonly=(--precision "$precision")
cfg=(); for c in "${configs[@]}"; do cfg+=(--config "$c"); done
ck=(); [ -z "$checkpoint" ] || ck=(--checkpoint "$checkpoint")

# One process for the per-module kinds (one sgemm reference, each model built once); `all` = encoder + attention.
# `track` is its own subcommand.
kinds=() track=0
for k in ${benchmarks//,/ }; do if [ "$k" = track ]; then track=1; else kinds+=("$k"); fi; done
if [ ${#kinds[@]} -gt 0 ]; then
  sub="${kinds[0]}"; [ ${#kinds[@]} -eq 1 ] || sub=all
  echo "== swift: workbench bench $sub ${cfg[*]} ${common[*]} ${ck[*]}" >&2
  "$bin" bench "$sub" "${cfg[@]}" "${common[@]}" "${swiftonly[@]}" "${ck[@]}" --json "$out/swift.json" >&2
fi
if [ $track -eq 1 ]; then
  echo "== swift: workbench bench track ${cfg[*]} ${common[*]} ${ck[*]} --objects $objects --frames $frames" >&2
  "$bin" bench track "${cfg[@]}" "${common[@]}" "${swiftonly[@]}" "${ck[@]}" --objects "$objects" --frames "$frames" \
    --json "$out/swift-track.json" >&2
fi
echo "== pytorch: pytorch_reference.py --benchmarks $benchmarks ${cfg[*]} ${common[*]} ${ck[*]} --objects $objects --frames $frames" >&2
python3 "$root/Scripts/bench/pytorch_reference.py" --benchmarks "$benchmarks" "${cfg[@]}" "${common[@]}" "${ck[@]}" \
  --objects "$objects" --frames "$frames" --json "$out/pytorch.json" > /dev/null

python3 - "$out" "$precision" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
swift = {}
machine = None
for f in [out / "swift.json", out / "swift-track.json"]:
    if not f.exists():
        continue
    r = json.loads(f.read_text())
    machine = machine or r["machine"]
    for m in r["measurements"]:
        swift[(m["benchmark"], m["model"])] = m
torch_report = json.loads((out / "pytorch.json").read_text())
print(f"swift precision {sys.argv[2]}; threads {torch_report['threads']} (torch {torch_report['torch']}); sgemm {machine['sgemm_gflops']:.1f} GFLOP/s; "
      f"load average {machine['load_average']} (swift start) / {torch_report['load_average']} (pytorch start)")
print(f"{'benchmark':>10} {'model':>16} {'GFLOP':>7} {'swift best':>11} {'torch best':>11} {'ratio':>6} "
      f"{'swift med':>10} {'torch med':>10} {'ratio':>6} {'swift cpu':>10} {'torch cpu':>10} {'ratio':>6} "
      f"{'swift MiB':>10} {'torch MiB':>10}")
mib = lambda b: f"{b / 2**20:.0f}" if b else "n/a"
for t in torch_report["measurements"]:
    s = swift.get((t["benchmark"], t["model"]))
    if s is None:
        continue
    gflop = sum(p["flops"] for p in s["flops"]["parts"]) / 1e9
    row = [f"{t['benchmark']:>10}", f"{t['model']:>16}", f"{gflop:7.1f}"]
    for key, w in (("best_seconds", 11), ("median_seconds", 10), ("least_cpu_seconds", 10)):
        row += [f"{s[key]:{w}.3f}", f"{t[key]:{w}.3f}", f"{s[key] / t[key]:6.2f}"]
    row += [f"{mib(s.get('peak_rss_bytes')):>10}", f"{mib(t.get('peak_rss_bytes')):>10}"]
    print(" ".join(row))
    if s.get("parts") and t.get("parts"):
        tp = {p["name"]: p for p in t["parts"]}
        cells = [f"{p['name']} {p['mean_seconds']:.3f}/{tp[p['name']]['mean_seconds']:.3f}"
                 + (f" ({p['mean_seconds'] / tp[p['name']]['mean_seconds']:.2f})" if tp[p['name']]['mean_seconds'] > 0 else "")
                 for p in s["parts"] if p["name"] in tp]
        print(f"{'':>12}mean s/frame swift/torch (ratio): " + ", ".join(cells))
    fid = s.get("fidelity")
    if fid:
        errs = ", ".join(f"{o['name']} rel L2 {o['relative_l2']:.1e} max abs {o['max_abs_error']:.1e}" for o in fid["outputs"])
        ious = fid.get("mask_io_u") or fid.get("mask_iou")
        if ious:
            errs += f", mask IoU mean {sum(ious) / len(ious):.4f} min {min(ious):.4f}"
        print(f"{'':>12}swift {fid['precision']} vs float32: {errs}")
print(f"(ratio = swift / pytorch; JSON in {out})")
PY
