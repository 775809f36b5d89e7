"""The S4 training step through torch: torch.nn.GRU vs fastgru.torch.GRU (and raw fastgru.GRU).

One call = forward (training mode) + backward with a given dy (``y.backward(dy)``), x and h0
requiring grad, so dx, dh0 and every parameter's gradient are computed (DESIGN S4: B=32, T=100,
D=H=256, 1 layer, float32). Runners:

- ``nn.GRU``: torch's own CPU GRU.
- ``fastgru.torch``: fastgru.torch.GRU with unchanged weights (its packed core is reused; each
  call compares the weights with the packed copy).
- ``fastgru.torch+repack``: the same, with one weight changed in place before every call, so each
  call repacks its core, as in training where the optimizer changes the weights every step.
- ``fastgru (raw)``: fastgru.GRU.forward(training=True) + backward(cache, dy) on NumPy arrays,
  no torch: the difference to ``fastgru.torch`` is the wrapper's overhead.

Rounds are interleaved (every runner in each round, in a shuffled order) so that load from other
processes hits all runners alike. In a round a runner makes one untimed call, then --calls timed
ones (their mean is the round's figure): the first call after another runner is slower (measured
~10 ms at S4 after nn.GRU: its OpenMP threads still spinning and its data in the caches), which a
training loop, calling one runner only, never pays. The table shows medians and minima of rounds. Both libraries
get the same thread count (torch.set_num_threads, fastgru.set_num_threads).

    python bench/torch_module.py                 # 2 threads, 21 rounds
    python bench/torch_module.py --threads 1 --rounds 31 --json out.json
"""
# requires: torch

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

import fastgru
import fastgru.torch as ft


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=256, help="input_size = hidden_size")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--calls", type=int, default=2, help="timed calls per runner and round (after one untimed)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", metavar="FILE", help="write every timing and the machine description")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    fastgru.set_num_threads(args.threads)
    B, T, H, L = args.batch, args.steps, args.hidden, args.layers

    torch.manual_seed(0)
    ref = torch.nn.GRU(H, H, num_layers=L)
    fast = ft.GRU(H, H, num_layers=L)
    fast.load_state_dict(ref.state_dict())
    fast_repack = ft.GRU(H, H, num_layers=L)
    fast_repack.load_state_dict(ref.state_dict())
    raw = fastgru.GRU(H, H, num_layers=L, seed=0)
    raw.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})

    gen = torch.Generator().manual_seed(1)
    x = torch.rand(T, B, H, generator=gen) * 2 - 1
    h0 = torch.rand(L, B, H, generator=gen) - 0.5
    dy = torch.randn(T, B, H, generator=gen)
    x_np, h0_np, dy_np = x.numpy(), h0.numpy(), dy.numpy()

    def torch_step(module):
        def run():
            xx, hh = x.detach().requires_grad_(), h0.detach().requires_grad_()
            module.zero_grad(set_to_none=True)
            y, _ = module(xx, hh)
            y.backward(dy)
            return y, xx.grad, hh.grad
        return run

    flip = [1e-3]

    def repack_step():
        with torch.no_grad():  # a new value every call: the core is repacked, as after an optimizer step
            fast_repack.weight_hh_l0[0, 0] += flip[0]
        flip[0] = -flip[0]
        return torch_step(fast_repack)()

    def raw_step():
        _, _, cache = raw.forward(x_np, h0_np, training=True)
        return raw.backward(cache, dy_np)

    runners = {"nn.GRU": torch_step(ref), "fastgru.torch": torch_step(fast),
               "fastgru.torch+repack": repack_step, "fastgru (raw)": raw_step}

    # Check first: the two modules agree (outputs and gradients, TORCH-contract tolerance).
    (y_r, gx_r, gh_r), (y_f, gx_f, gh_f) = runners["nn.GRU"](), runners["fastgru.torch"]()
    diffs = {"y": (y_r - y_f).abs().max().item(), "dx": (gx_r - gx_f).abs().max().item(),
             "dh0": (gh_r - gh_f).abs().max().item(),
             **{f"d{n}": (p.grad - q.grad).abs().max().item()
                for (n, p), q in zip(ref.named_parameters(), fast.parameters())}}
    worst = max(diffs.values())
    scale = max(p.grad.abs().max().item() for p in ref.parameters())

    for run in runners.values():
        for _ in range(args.warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    order_rng = np.random.default_rng(0)
    load_before = _load()
    for _ in range(args.rounds):
        for name in order_rng.permutation(names):
            # The first call after another runner is slower (the other's threads still spinning, its
            # data in the caches): it settles untimed, then the mean of --calls calls counts.
            runners[name]()
            t0 = time.perf_counter()
            for _ in range(args.calls):
                runners[name]()
            times[name].append((time.perf_counter() - t0) / args.calls)
    load_after = _load()

    machine = dict(python=sys.version.split()[0], platform=platform.platform(), cpu=_cpu_model(),
                   cpus=os.cpu_count(), affinity=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else None, torch=torch.__version__, torch_threads=torch.get_num_threads(),
                   fastgru=fastgru.__version__, fastgru_isa=fastgru.get_isa(),
                   fastgru_threads=fastgru.get_num_threads(), fastgru_wait_policy=fastgru.get_wait_policy(),
                   load_before=load_before, load_after=load_after)
    print(f"S4 training step: B={B} T={T} D=H={H} layers={L} float32, forward + y.backward(dy), "
          f"x and h0 requiring grad; {args.rounds} interleaved rounds of 1 + {args.calls} calls per runner after "
          f"{args.warmup} warm-up calls")
    for k, v in machine.items():
        print(f"  {k}: {v}")
    print(f"  check: max |nn.GRU - fastgru.torch| over y and every gradient = {worst:.2e} "
          f"(largest parameter gradient {scale:.1f})")
    med = {n: statistics.median(t) * 1e3 for n, t in times.items()}
    print(f"\n{'runner':<22}{'median ms':>11}{'min ms':>9}{'nn.GRU / this':>15}")
    for n, t in times.items():
        print(f"{n:<22}{med[n]:>11.2f}{min(t) * 1e3:>9.2f}{med['nn.GRU'] / med[n]:>14.2f}x")
    overhead = med["fastgru.torch"] - med["fastgru (raw)"]
    repack = med["fastgru.torch+repack"] - med["fastgru.torch"]
    print(f"\nwrapper overhead (fastgru.torch - raw): {overhead:+.2f} ms ({100 * overhead / med['fastgru (raw)']:+.1f}%)")
    print(f"repack per call (+repack - fastgru.torch): {repack:+.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=machine, sizes=dict(B=B, T=T, H=H, layers=L), check=diffs,
                           times_s=times, median_ms=med), f, indent=1)
    return 0 if worst <= 1e-5 * max(1.0, scale) else 1


if __name__ == "__main__":
    sys.exit(main())
