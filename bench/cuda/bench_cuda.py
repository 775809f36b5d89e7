#!/usr/bin/env python
"""fastgru's CUDA backend beside PyTorch's cuDNN nn.GRU on the standard workloads (bench/README.md).

Runs only on a machine with an NVIDIA GPU, a FASTGRU_CUDA=ON build of fastgru and a CUDA build
of PyTorch; anywhere else it says what is missing and exits 0 without timing anything.

    python bench/cuda/bench_cuda.py                      # S2 (H=256, 1024), S3, S4, S5
    python bench/cuda/bench_cuda.py --workloads S2 --repeats 50 --markdown out.md --json out.json

What is timed: float32, one layer, one direction, D = H, reset_after=True (cuDNN's cell), the same
weights in both. Inputs and outputs stay on the GPU for both libraries (fastgru reads the torch
tensors through __cuda_array_interface__ and returns CudaArray), so no host copy is timed. Each
repeat is one call between two CUDA events on the default stream, after warm-up calls; the table
gives medians (and minima) in milliseconds and cuDNN's time divided by fastgru's. S4 is a
training step: forward keeping what backward needs, then backward from a fixed dL/dy (fastgru:
forward + backward; PyTorch: forward with autograd + y.backward(dy), weight gradients included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str
    B: int
    T: int
    H: int
    training: bool = False

    @property
    def label(self) -> str:
        kind = "training step" if self.training else "forward"
        return f"{self.name} B={self.B} T={self.T} H={self.H} ({kind})"

    def gflop(self) -> float:  # forward: 6·T·B·H·(D+H), D = H
        f = 6.0 * self.T * self.B * self.H * (2 * self.H) / 1e9
        return 3 * f if self.training else f


WORKLOADS = {
    "S2": [Workload("S2", 1, 512, 256), Workload("S2", 1, 512, 1024)],
    "S3": [Workload("S3", 64, 128, 512)],
    "S4": [Workload("S4", 32, 100, 256, training=True)],
    "S5": [Workload("S5", 128, 64, 1024)],
}


def event_times(fn, repeats: int, warmup: int, torch) -> list[float]:
    """Milliseconds per call, each call between two CUDA events on the current stream."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        out.append(start.elapsed_time(end))
    return out


def run(w: Workload, repeats: int, warmup: int, torch, fastgru, fcuda) -> dict:
    torch.manual_seed(0)
    ref = torch.nn.GRU(w.H, w.H)
    gru = fastgru.GRU.from_torch(ref)
    ref = ref.cuda()  # cuDNN's GRU (torch.backends.cudnn.enabled)
    dev = fcuda.to_cuda(gru)
    gen = torch.Generator(device="cuda").manual_seed(1)
    x = torch.rand((w.T, w.B, w.H), device="cuda", generator=gen) * 2 - 1
    h0 = torch.rand((1, w.B, w.H), device="cuda", generator=gen) - 0.5
    dy = torch.rand((w.T, w.B, w.H), device="cuda", generator=gen) - 0.5

    # Same answers first (inference output).
    with torch.no_grad():
        y_ref, _ = ref(x, h0)
    y_fg, _ = dev(x, h0)
    err = float((torch.as_tensor(y_fg, device="cuda") - y_ref).abs().max())

    if w.training:
        def fg():
            _, _, cache = dev.forward(x, h0)
            dev.backward(cache, dy)

        xr = x.clone().requires_grad_(True)

        def cudnn():
            ref.zero_grad(set_to_none=True)
            y, _ = ref(xr, h0)
            y.backward(dy)
    else:
        def fg():
            dev(x, h0)

        def cudnn():
            with torch.no_grad():
                ref(x, h0)

    t_fg = event_times(fg, repeats, warmup, torch)
    t_ref = event_times(cudnn, repeats, warmup, torch)
    med_fg, med_ref = statistics.median(t_fg), statistics.median(t_ref)
    return dict(workload=w.label, B=w.B, T=w.T, H=w.H, training=w.training,
                persistent=bool(fcuda.uses_persistent(dev, w.B)),  # forward's recurrence; backward runs per step
                fastgru_ms=t_fg, cudnn_ms=t_ref, fastgru_median_ms=med_fg, cudnn_median_ms=med_ref,
                speedup=med_ref / med_fg, fastgru_gflops=w.gflop() / (med_fg / 1e3), max_abs_diff=err)


def markdown(results: list[dict], gpu: str, torch_version: str) -> str:
    import torch

    tf32 = "TF32 allowed" if torch.backends.cudnn.allow_tf32 else "full float32"
    lines = [f"GPU: {gpu}; PyTorch {torch_version} (cuDNN {torch_version_cudnn()}, {tf32}); medians of "
             "CUDA-event timings, ms (min in parentheses).", "",
             "| workload | fastgru CUDA | cuDNN nn.GRU | cuDNN / fastgru | fastgru GFLOP/s | recurrent kernel |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['workload']} | {r['fastgru_median_ms']:.3f} ({min(r['fastgru_ms']):.3f}) | "
                     f"{r['cudnn_median_ms']:.3f} ({min(r['cudnn_ms']):.3f}) | {r['speedup']:.2f}x | "
                     f"{r['fastgru_gflops']:.0f} | {'persistent' if r['persistent'] else 'per step'} |")
    return "\n".join(lines) + "\n"


def torch_version_cudnn() -> str:
    import torch

    v = torch.backends.cudnn.version()
    return str(v) if v else "none"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workloads", default="S2,S3,S4,S5")
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--markdown", help="write the table to this file")
    p.add_argument("--json", help="write every timing to this file")
    p.add_argument("--tf32", action="store_true",
                   help="let cuDNN use TF32 tensor cores (PyTorch's default); off by default so both libraries "
                        "compute in full float32")
    args = p.parse_args(argv)

    import fastgru
    import fastgru.cuda as fcuda

    if not fcuda.cuda_available():
        why = ("this fastgru was built without CUDA (FASTGRU_CUDA=OFF)" if not fcuda.cuda_compiled()
               else "no CUDA device is visible")
        print(f"bench_cuda: nothing timed: {why}", file=sys.stderr)
        return 0
    try:
        import torch
    except ImportError:
        print("bench_cuda: nothing timed: PyTorch is not installed (it is the cuDNN reference)", file=sys.stderr)
        return 0
    if not torch.cuda.is_available():
        print("bench_cuda: nothing timed: this PyTorch has no CUDA", file=sys.stderr)
        return 0

    torch.backends.cudnn.allow_tf32 = args.tf32
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        p.error(f"unknown workloads {unknown}; choose from {sorted(WORKLOADS)}")
    gpu = torch.cuda.get_device_name()
    print(f"GPU {gpu} (fastgru sees {fcuda.device_name()}); PyTorch {torch.__version__}", file=sys.stderr)
    results = []
    for n in names:
        for w in WORKLOADS[n]:
            r = run(w, args.repeats, args.warmup, torch, fastgru, fcuda)
            print(f"{w.label}: fastgru {r['fastgru_median_ms']:.3f} ms, cuDNN {r['cudnn_median_ms']:.3f} ms "
                  f"({r['speedup']:.2f}x), max |y diff| {r['max_abs_diff']:.2e}", file=sys.stderr)
            results.append(r)
    table = markdown(results, gpu, torch.__version__)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(gpu=gpu, torch=torch.__version__, cudnn=torch_version_cudnn(),
                           fastgru=fastgru.__version__, results=results), f, indent=1)
    limit = 1e-2 if args.tf32 else 1e-4  # TF32 keeps 10 mantissa bits
    bad = [r for r in results if not np.isfinite(r["max_abs_diff"]) or r["max_abs_diff"] > limit]
    if bad:
        print(f"bench_cuda: outputs differ from cuDNN's in {[r['workload'] for r in bad]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
