#!/usr/bin/env python
"""Run the standard workloads S1-S5 at the standard sizes and write bench/results.json and
bench/RESULTS.md next to this file. Extra arguments go to the same CLI as
`python -m fastgru bench`, e.g. `python bench/run_all.py --threads 2 --isa all`.

Then, when the oneDNN wheels are installed (bench/onednn/README.md), the oneDNN comparison on the
same workloads and thread count: bench/RESULTS-onednn.md, bench/results-onednn.json. Without
them it prints why it was skipped and the exit status is the harness's alone.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    try:
        from fastgru.bench.cli import main as bench_main
    except ImportError as e:
        print(f"error: cannot import fastgru.bench ({e}); install fastgru first: "
              "pip install '.[bench]'", file=sys.stderr)
        return 1
    here = os.path.relpath(os.path.dirname(os.path.abspath(__file__)))
    status = bench_main(["--full",
                         "--json", os.path.join(here, "results.json"),
                         "--markdown", os.path.join(here, "RESULTS.md"),
                         *sys.argv[1:]])
    return max(status, _onednn(here, sys.argv[1:]))


def _onednn(here: str, argv: list[str]) -> int:
    """The oneDNN comparison (bench/onednn/bench_onednn.py) with the run's --threads and
    --workloads; 0 when it is skipped for want of the wheels."""
    sys.path.insert(0, os.path.join(here, "onednn"))
    try:
        import bench_onednn
    finally:
        sys.path.pop(0)
    passed = []
    for flag in ("--threads", "--workloads"):
        for i, arg in enumerate(argv):
            if arg == flag and i + 1 < len(argv):
                passed += [flag, argv[i + 1]]
            elif arg.startswith(flag + "="):
                passed.append(arg)
    status = bench_onednn.main(["--full", "--markdown", os.path.join(here, "RESULTS-onednn.md"),
                                "--json", os.path.join(here, "results-onednn.json"), *passed])
    return 0 if status == bench_onednn.NO_ONEDNN else status


if __name__ == "__main__":
    sys.exit(main())
