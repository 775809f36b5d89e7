#!/usr/bin/env python
"""A long fuzzing run of fastgru's public API and loaders, outside pytest.

It runs the strategies of tests/fuzz_strategies.py (which tests/test_fuzz.py runs briefly):
malformed constructor arguments and calls, junk state_dicts and functional params, mutated .npz
and ONNX files. Every case must succeed or raise an exception the API documents; anything else is
counted and the first few are printed. A crash ends the process (the exit status says so).

    python tools/fuzz_api.py                 # 100000 cases, seed 0
    python tools/fuzz_api.py --cases 5000 --seed 7

Prints one line: "N cases, K unexpected exceptions, T s"; exits 1 when K > 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

from hypothesis import HealthCheck, Phase, given, seed, settings

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")


def _strategies():
    """tests/fuzz_strategies.py, imported by path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fuzz_strategies", os.path.join(TESTS, "fuzz_strategies.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--cases", type=int, default=100000, help="how many cases to run (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument("--no-onnx", action="store_true", help="leave out the ONNX loader cases")
    parser.add_argument("--show", type=int, default=5, help="unexpected exceptions to print in full (default 5)")
    parser.add_argument("--progress", type=int, default=10000, metavar="N",
                        help="print a progress line to stderr every N cases (default 10000; 0: never)")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")

    fs = _strategies()
    with_onnx = not args.no_onnx and importlib.util.find_spec("onnx") is not None
    count, unexpected = 0, []

    # Generation only: a failure is recorded, not raised, so Hypothesis neither shrinks nor stops.
    @seed(args.seed)
    @settings(max_examples=args.cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(fs.all_cases(with_onnx))
    def run(case):
        nonlocal count
        count += 1
        error = fs.run_case(case)
        if error is not None:
            unexpected.append((case.label, error))
            if len(unexpected) <= args.show:
                print(f"UNEXPECTED {type(error).__name__}: {error}\n    in {case.label}", file=sys.stderr)
        if args.progress and count % args.progress == 0:
            print(f"... {count} cases, {len(unexpected)} unexpected, {time.perf_counter() - start:.0f} s",
                  file=sys.stderr, flush=True)

    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(f"{count} cases, {len(unexpected)} unexpected exceptions, {seconds:.0f} s"
          + ("" if with_onnx else " (no ONNX cases: onnx is not installed or --no-onnx)"))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
