#!/usr/bin/env python3
"""Where the J&F of a tracked synthetic set is lost: per frame range, how many visible objects were declared absent
and the IoU where both masks exist; and per exit / long occlusion, whether the tracker found the object again.

Reads the folder `Scripts/evaluate_embedded_model.sh` writes (data/Annotations/480p, pred_7, pred_1):

    python3 Scripts/redetection_report.py out/embedded_eval

Needs numpy and Pillow (Scripts/fixtures/requirements.txt).
"""
import os
import sys

import numpy as np
from PIL import Image

RANGES = [(0, 10), (11, 29), (30, 10**9)]
MIN_VISIBLE = 30     # pixels: an object with fewer is "gone" for the re-entry count (slivers at the frame edge)
MIN_GAP = 3          # frames an object must be gone for its return to count as a re-entry
FOUND_IOU = 0.5      # a re-entry is found when some frame of the next 8 reaches this IoU


def load(folder):
    return [np.array(Image.open(os.path.join(folder, f))) for f in sorted(os.listdir(folder)) if f.endswith(".png")]


def report(root, pred):
    gt_root = os.path.join(root, "data", "Annotations", "480p")
    stats = {r: {"visible": 0, "missed": 0, "iou": []} for r in RANGES}
    reentries = found = 0
    for video in sorted(os.listdir(gt_root)):
        gts = load(os.path.join(gt_root, video))
        preds = load(os.path.join(root, pred, video))
        if len(gts) != len(preds):
            sys.exit(f"{root}/{pred}/{video}: {len(preds)} masks for {len(gts)} frames")
        ids = sorted(set(np.unique(np.concatenate([g.ravel() for g in gts]))) - {0, 255})
        for obj in ids:
            g_masks = [g == obj for g in gts]
            p_masks = [p == obj for p in preds]
            for i, (g, p) in enumerate(zip(g_masks, p_masks)):
                if not g.any():
                    continue
                s = next(stats[r] for r in RANGES if r[0] <= i <= r[1])
                s["visible"] += 1
                if p.any():
                    s["iou"].append((g & p).sum() / (g | p).sum())
                else:
                    s["missed"] += 1
            visible = [g.sum() >= MIN_VISIBLE for g in g_masks]
            i = visible.index(True) if True in visible else len(visible)
            while i < len(visible):
                if visible[i]:
                    i += 1
                    continue
                j = i
                while j < len(visible) and not visible[j]:
                    j += 1
                if j < len(visible) and j - i >= MIN_GAP:
                    reentries += 1
                    window = range(j, min(len(visible), j + 8))
                    best = max((g_masks[k] & p_masks[k]).sum() / max(1, (g_masks[k] | p_masks[k]).sum()) for k in window)
                    found += best >= FOUND_IOU
                i = j
    print(f"{pred}:")
    print("  frames    visible  declared absent  IoU where both  J (absent = 0)")
    for (a, b), s in stats.items():
        n, ious = s["visible"], np.array(s["iou"])
        label = f"{a}-{b}" if b < 10**9 else f"{a}-"
        if n:
            print(f"  {label:<8} {n:8d}  {s['missed'] / n:15.3f}  {ious.mean() if len(ious) else 0:14.3f}  {ious.sum() / n:14.3f}")
    print(f"  re-entries after ≥ {MIN_GAP} frames gone: {reentries}, found again (IoU ≥ {FOUND_IOU} within 8 frames): {found}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for pred in ("pred_7", "pred_1"):
        if os.path.isdir(os.path.join(sys.argv[1], pred)):
            report(sys.argv[1], pred)
