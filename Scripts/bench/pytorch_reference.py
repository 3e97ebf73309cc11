"""Times the official SAM 2 implementation (PyTorch, CPU) on the inputs `workbench bench` uses, and prints JSON.

Benchmarks (same shapes as Sources/SAM2/Benchmark/ModelBenchmark.swift):
  encoder    model.forward_image(x): image_encoder (Hiera trunk + FPN neck) + sam_mask_decoder.conv_s0/conv_s1,
             x = N(0, 1) noise [1, 3, S, S]
  attention  model.memory_attention at steady state: (S/16)² current tokens (d_model 256) attending to
             MEMORIES × (S/16)² memory tokens + POINTER_TOKENS object-pointer tokens (mem dim 64)
  track      the official SAM2VideoPredictor (build_sam2_video_predictor's construction: its hydra overrides, random
             weights) on the synthetic S×S video of Sources/SAM2/Benchmark/TrackBenchmark.swift (three moving discs,
             same bytes, fed to init_state directly instead of a JPEG folder), one click per object on frame 0 at its
             disc centre, propagate_in_video forwards over FRAMES frames; frames ≥ 8 (7 memories) are timed, with the
             time of forward_image / _prepare_memory_conditioned_features / _forward_sam_heads / _encode_new_memory per
             frame. Once per object count in OBJECTS (benchmark names "track 1", "track 3").
encoder/attention: one warm-up, then REPEATS timed runs under torch.inference_mode(); wall (perf_counter) and process
CPU time (process_time, all threads); peak RSS = VmHWM over the runs (reset through /proc/self/clear_refs first).
Weights: CHECKPOINT (torch.save({"model": state_dict}) or a bare state dict) if given, else seeded random ones
(official.build_random); the values do not change the work done, only the shapes do.

Optional dependency: torch (CPU) and the official `sam2` package (pip install sam2), imported through
Scripts/fixtures/official.py.

Usage: python3 Scripts/bench/pytorch_reference.py [--config sam2.1_hiera_t ...] [--threads 2] [--repeats 3]
           [--image-size 1024] [--memories 7] [--pointer-tokens 64] [--checkpoint CKPT]
           [--benchmarks encoder,attention,track] [--objects 1,3] [--frames 12] [--json OUT.json]
"""
import argparse
import json
import os
import numpy as np
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # propagate_in_video's progress bar
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures"))
from official import SAM2_CONFIGS, build_random, torch  # noqa: E402


def load_average():
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def reset_peak_rss():
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def timed(name, model_name, shape, repeats, body):
    can_reset = reset_peak_rss()
    with torch.inference_mode():
        body()
        times, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            body()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return dict(benchmark=name, model=model_name, shape=shape, seconds=times, best_seconds=min(times),
                median_seconds=sorted(times)[len(times) // 2], mean_seconds=statistics.mean(times),
                least_cpu_seconds=min(cpu), peak_rss_bytes=peak_rss_bytes() if can_reset else None,
                load_average_after=load_average())


def bench_encoder(model, name, a):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(1, 3, a.image_size, a.image_size, generator=g)
    s = a.image_size
    return timed("encoder", name, f"1×3×{s}×{s}", a.repeats, lambda: model.forward_image(x))


def bench_attention(model, name, a):
    ma = model.memory_attention
    d_model = ma.d_model
    kv = ma.layers[0].cross_attn_image.k_proj.in_features
    side = a.image_size // 16
    lq, lm = side * side, a.memories * side * side + a.pointer_tokens
    g = torch.Generator().manual_seed(21)
    # The official module is sequence-first: [L, B, C].
    curr = torch.randn(lq, 1, d_model, generator=g)
    curr_pos = torch.randn(lq, 1, d_model, generator=g)
    memory = torch.randn(lm, 1, kv, generator=g)
    memory_pos = torch.randn(lm, 1, kv, generator=g)
    return timed("attention", name, f"{lq} q × ({a.memories}×{lq} + {a.pointer_tokens}) k", a.repeats,
                 lambda: ma(curr=curr, memory=memory, curr_pos=curr_pos, memory_pos=memory_pos,
                            num_obj_ptr_tokens=a.pointer_tokens))


STEADY_STATE_FRAME = 8  # frame 7 is the first with 7 memories (as TrackBenchmark.steadyStateFrame)


def disc_centers(t, s):
    d = t * s // 128
    return [(s // 4 + d, 5 * s // 16), (5 * s // 8, 5 * s // 16 + d), (s // 2 - d, 11 * s // 16)]


def synthetic_frame(t, s):
    """TrackBenchmark.frame(t, size: s): gradient + integer texture + three discs, uint8 [s, s, 3]."""
    y, x = np.mgrid[0:s, 0:s].astype(np.int64)
    tex = (x * 7 + y * 13 + t * 29) % 23
    rgb = [(x * 255 // s + 3 * t) % 256, (y * 255 // s) % 256, ((x + y) * 127 // s + 5 * t) % 256]
    r = s // 8
    for (cx, cy), col in zip(disc_centers(t, s), [(220, 60, 50), (60, 190, 80), (50, 90, 220)]):
        inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
        rgb = [np.where(inside, col[c], rgb[c]) for c in range(3)]
    return np.minimum(255, np.stack(rgb, -1) + tex[..., None]).astype(np.uint8)


def video_tensor(frames, s):
    """load_video_frames' preprocessing of already S×S frames (PIL's resize to the same size is a copy):
    /255 in float64, stored as float32, then ImageNet normalisation in float32."""
    images = torch.from_numpy(np.stack(frames) / 255.0).permute(0, 3, 1, 2).float()
    mean = torch.tensor((0.485, 0.456, 0.406), dtype=torch.float32)[:, None, None]
    std = torch.tensor((0.229, 0.224, 0.225), dtype=torch.float32)[:, None, None]
    return (images - mean) / std


def build_video_predictor(name, seed):
    """build_sam2_video_predictor(config, ckpt_path=None): SAM2VideoPredictor with the builder's post-processing
    overrides, seeded random weights."""
    from sam2.build_sam import build_sam2_video_predictor
    torch.manual_seed(seed)
    return build_sam2_video_predictor(SAM2_CONFIGS[name], ckpt_path=None, device="cpu", mode="eval")


def bench_track(predictor, name, a, objects):
    import sam2.sam2_video_predictor as svp
    s = a.image_size
    frames = [synthetic_frame(t, s) for t in range(a.frames)]
    images = video_tensor(frames, s)
    original_loader = svp.load_video_frames
    svp.load_video_frames = lambda **kw: (images, s, s)  # the state gets our frames instead of a JPEG folder's
    parts = {"encoder": 0.0, "memory attention": 0.0, "decoder": 0.0, "memory encoder": 0.0}
    wrapped = {"forward_image": "encoder", "_prepare_memory_conditioned_features": "memory attention",
               "_forward_sam_heads": "decoder", "_encode_new_memory": "memory encoder"}

    def timer(fn, part):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                parts[part] += time.perf_counter() - t0
        return run

    for method, part in wrapped.items():
        setattr(predictor, method, timer(getattr(predictor, method), part))
    can_reset = reset_peak_rss()
    try:
        with torch.inference_mode():
            state = predictor.init_state("synthetic")
            for k, (cx, cy) in enumerate(disc_centers(0, s)[:objects]):
                predictor.add_new_points_or_box(state, frame_idx=0, obj_id=k + 1, points=np.array([[cx, cy]], np.float32),
                                                labels=np.array([1], np.int32))
            wall, cpu, per_frame = [], [], []
            gen = predictor.propagate_in_video(state, start_frame_idx=0)
            for t in range(a.frames):
                for part in parts:
                    parts[part] = 0.0
                t0, c0 = time.perf_counter(), time.process_time()
                frame_idx, _, _ = next(gen)
                seconds = time.perf_counter() - t0
                assert frame_idx == t, (frame_idx, t)
                if t >= STEADY_STATE_FRAME:
                    wall.append(seconds)
                    cpu.append(time.process_time() - c0)
                    per_frame.append(dict(parts, other=max(0.0, seconds - sum(parts.values()))))
            gen.close()
    finally:
        svp.load_video_frames = original_loader
        for method in wrapped:
            delattr(predictor, method)
    names = list(per_frame[0])
    return dict(benchmark=f"track {objects}", model=name,
                shape=f"{objects} obj, frames {STEADY_STATE_FRAME}..<{a.frames} of {s}²", seconds=wall,
                best_seconds=min(wall), median_seconds=sorted(wall)[len(wall) // 2], mean_seconds=statistics.mean(wall),
                least_cpu_seconds=min(cpu), peak_rss_bytes=peak_rss_bytes() if can_reset else None,
                load_average_after=load_average(),
                parts=[dict(name=n, mean_seconds=statistics.mean(f[n] for f in per_frame),
                            best_seconds=min(f[n] for f in per_frame)) for n in names])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", action="append", choices=sorted(SAM2_CONFIGS),
                    help="repeat for several (default: sam2.1_hiera_t and sam2.1_hiera_s)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--image-size", type=int, default=1024)
    ap.add_argument("--memories", type=int, default=7)
    ap.add_argument("--pointer-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", help="weights for the (single) --config instead of random ones")
    ap.add_argument("--benchmarks", default="encoder,attention")
    ap.add_argument("--objects", default="1,3", help="track: object counts (each 1-3)")
    ap.add_argument("--frames", type=int, default=12, help=f"track: video length (frames >= {STEADY_STATE_FRAME} are timed)")
    ap.add_argument("--json", help="also write the JSON here")
    a = ap.parse_args()
    configs = a.config or ["sam2.1_hiera_t", "sam2.1_hiera_s"]
    if a.checkpoint and len(configs) != 1:
        ap.error("--checkpoint needs exactly one --config")
    kinds = [k for k in a.benchmarks.split(",") if k]
    runners = {"encoder": bench_encoder, "attention": bench_attention}
    for k in kinds:
        if k not in runners and k != "track":
            ap.error(f"unknown benchmark {k!r} (expected some of {sorted(runners) + ['track']})")
    objects = [int(o) for o in a.objects.split(",") if o]
    if not objects or any(o not in (1, 2, 3) for o in objects):
        ap.error(f"--objects: counts must be 1, 2 or 3, got {a.objects!r}")
    if "track" in kinds and a.frames <= STEADY_STATE_FRAME:
        ap.error(f"--frames must be > {STEADY_STATE_FRAME}")

    torch.set_num_threads(a.threads)
    report = dict(implementation="pytorch", torch=torch.__version__, threads=torch.get_num_threads(),
                  repeats=a.repeats, load_average=load_average(), measurements=[])
    for name in configs:
        model = build_random(name, a.seed) if any(k != "track" for k in kinds) else None
        if model is not None and a.checkpoint:
            sd = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(sd.get("model", sd), strict=True)
        if model is not None:
            model.eval()
        for k in kinds:
            if k == "track":
                continue
            m = runners[k](model, name, a)
            print(f"{k} {name}: best {m['best_seconds']:.3f} s, median {m['median_seconds']:.3f} s",
                  file=sys.stderr)
            report["measurements"].append(m)
        del model
        if "track" in kinds:
            predictor = build_video_predictor(name, a.seed)
            if a.checkpoint:
                sd = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
                predictor.load_state_dict(sd.get("model", sd), strict=True)
            for o in objects:
                m = bench_track(predictor, name, a, o)
                print(f"track {o} {name}: best {m['best_seconds']:.3f} s/frame, median {m['median_seconds']:.3f} s/frame",
                      file=sys.stderr)
                report["measurements"].append(m)
            del predictor
    text = json.dumps(report, indent=1, ensure_ascii=False)
    if a.json:
        Path(a.json).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
