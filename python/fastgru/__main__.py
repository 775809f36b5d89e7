"""Command line: python -m fastgru {info,bench,demo}."""

from __future__ import annotations

import argparse
import sys


def _info() -> int:
    import fastgru

    for key, value in fastgru.info().items():
        print(f"{key:15s} {', '.join(value) if isinstance(value, list) else value}")
    return 0


def _demo() -> int:
    import time

    import numpy as np

    import fastgru

    gru = fastgru.GRU(input_size=32, hidden_size=64, num_layers=2, bidirectional=True, batch_first=True, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 50, 32)).astype(np.float32)
    start = time.perf_counter()
    y, h_n = gru(x)
    print(f"{gru}\n  x {x.shape} -> y {y.shape}, h_n {h_n.shape} in {1e3 * (time.perf_counter() - start):.2f} ms")
    y, h_n, cache = gru.forward(x)
    grads = gru.backward(cache, dy=np.ones_like(y))
    print(f"  backward: {len(grads)} gradients, |dx| = {float(np.abs(grads['x']).sum()):.3f}")
    print(f"  ISA {fastgru.get_isa()}, {fastgru.get_num_threads()} threads")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m fastgru", description="fastgru command line")
    parser.add_argument("command", choices=["info", "bench", "demo"], help="what to run")
    args, rest = parser.parse_known_args(argv[:1])
    if args.command == "bench":
        from .bench.cli import main as bench_main

        return bench_main(argv[1:])
    if argv[1:]:
        parser.error(f"{args.command} takes no arguments")
    return _info() if args.command == "info" else _demo()


if __name__ == "__main__":
    sys.exit(main())
