#!/usr/bin/env python
"""Run the standard workloads S1-S5 at the standard sizes and write bench/results.json and
bench/RESULTS.md next to this file. Extra arguments go to the same CLI as
`python -m fastgru bench`, e.g. `python bench/run_all.py --threads 2 --isa all`.
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
    return bench_main(["--full",
                       "--json", os.path.join(here, "results.json"),
                       "--markdown", os.path.join(here, "RESULTS.md"),
                       *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
