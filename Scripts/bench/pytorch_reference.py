"""Times the official SAM 2 implementation (PyTorch, CPU) on the inputs `workbench bench` uses, and prints JSON.

Benchmarks (same shapes as Sources/SAM2/Benchmark/ModelBenchmark.swift):
  encoder    model.forward_image(x): image_encoder (Hiera trunk + FPN neck) + sam_mask_decoder.conv_s0/conv_s1,
             x = N(0, 1) noise [1, 3, S, S]
  attention  model.memory_attention at steady state: (S/16)² current tokens (d_model 256) attending to
             MEMORIES × (S/16)² memory tokens + POINTER_TOKENS object-pointer tokens (mem dim 64)
Each: one warm-up, then REPEATS timed runs under torch.inference_mode(); wall (perf_counter) and process CPU
time (process_time, all threads); peak RSS = VmHWM over the runs (reset through /proc/self/clear_refs first).
Weights: CHECKPOINT (torch.save({"model": state_dict}) or a bare state dict) if given, else seeded random ones
(official.build_random); the values do not change the work done, only the shapes do.

Optional dependency: torch (CPU) and the official `sam2` package (pip install sam2), imported through
Scripts/fixtures/official.py.

Usage: python3 Scripts/bench/pytorch_reference.py [--config sam2.1_hiera_t ...] [--threads 2] [--repeats 3]
           [--image-size 1024] [--memories 7] [--pointer-tokens 64] [--checkpoint CKPT]
           [--benchmarks encoder,attention] [--json OUT.json]
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

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
    ap.add_argument("--json", help="also write the JSON here")
    a = ap.parse_args()
    configs = a.config or ["sam2.1_hiera_t", "sam2.1_hiera_s"]
    if a.checkpoint and len(configs) != 1:
        ap.error("--checkpoint needs exactly one --config")
    kinds = [k for k in a.benchmarks.split(",") if k]
    runners = {"encoder": bench_encoder, "attention": bench_attention}
    for k in kinds:
        if k not in runners:
            ap.error(f"unknown benchmark {k!r} (expected some of {sorted(runners)}; 'track' is not implemented yet)")

    torch.set_num_threads(a.threads)
    report = dict(implementation="pytorch", torch=torch.__version__, threads=torch.get_num_threads(),
                  repeats=a.repeats, load_average=load_average(), measurements=[])
    for name in configs:
        model = build_random(name, a.seed)
        if a.checkpoint:
            sd = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(sd.get("model", sd), strict=True)
        model.eval()
        for k in kinds:
            m = runners[k](model, name, a)
            print(f"{k} {name}: best {m['best_seconds']:.3f} s, median {m['median_seconds']:.3f} s",
                  file=sys.stderr)
            report["measurements"].append(m)
        del model
    text = json.dumps(report, indent=1, ensure_ascii=False)
    if a.json:
        Path(a.json).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
