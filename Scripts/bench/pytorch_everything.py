"""Times the official SAM2AutomaticMaskGenerator (PyTorch, CPU) on one image, to compare with `workbench everything`.

Same checkpoint, image and options as the Swift command; prints the wall and CPU seconds of `generate` (image encoding
included, as in `workbench everything`'s "generate" figure) and the number of masks.

Optional dependency: torch (CPU) and the official `sam2` package, imported through Scripts/fixtures/official.py.

Usage: python3 Scripts/bench/pytorch_everything.py --config sam2.1_hiera_t --checkpoint CKPT IMAGE
           [--threads 2] [--points-per-side 32] [--points-per-batch 64] [--pred-iou-thresh 0.8]
           [--stability-score-thresh 0.95]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from official import SAM2_CONFIGS, build_random, torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image")
    ap.add_argument("--config", default="sam2.1_hiera_t", choices=sorted(SAM2_CONFIGS))
    ap.add_argument("--checkpoint", help="weights (default: seeded random ones)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--points-per-side", type=int, default=32)
    ap.add_argument("--points-per-batch", type=int, default=64)
    ap.add_argument("--pred-iou-thresh", type=float, default=0.8)
    ap.add_argument("--stability-score-thresh", type=float, default=0.95)
    a = ap.parse_args()
    from PIL import Image
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    torch.set_num_threads(a.threads)
    model = build_random(a.config, 0)
    if a.checkpoint:
        sd = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(sd.get("model", sd), strict=True)
    model.eval()
    generator = SAM2AutomaticMaskGenerator(model, points_per_side=a.points_per_side,
                                           points_per_batch=a.points_per_batch, pred_iou_thresh=a.pred_iou_thresh,
                                           stability_score_thresh=a.stability_score_thresh)
    image = np.array(Image.open(a.image).convert("RGB"))
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        masks = generator.generate(image)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{len(masks)} masks; generate {wall:.2f} s wall, {cpu:.2f} s CPU, threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
