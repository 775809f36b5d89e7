"""``python -m fastgru bench``: time fastgru beside NumPy, PyTorch, ONNX Runtime and OpenVINO on
the standard workloads S1-S5 (defined in bench/README.md and fastgru/bench/workloads.py)."""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from typing import Callable

import numpy as np

from . import report
from .runners import FRAMEWORKS, Bench, discover
from .workloads import WORKLOADS, make_cases, make_data, parse_workloads

# The correctness gate: every runner must match fastgru to this (float32 rounding only).
ATOL = 1e-3


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fastgru bench",
        description="Time fastgru beside NumPy, PyTorch, ONNX Runtime and OpenVINO (those installed: "
                    "pip install 'fastgru[bench]') on the standard workloads S1-S5. Every framework's "
                    "output is checked against fastgru's before it is timed. Default: the standard B, H "
                    "and D with a shorter T (about a minute); --full: the standard sizes.")
    p.add_argument("--full", action="store_true", help="run the standard sizes (several minutes)")
    p.add_argument("--workloads", default="all", metavar="S1,S3",
                   help="comma-separated workload ids (default: all = S1,S2,S3,S4,S5)")
    p.add_argument("--repeats", type=int, default=None, metavar="N",
                   help="timed repeats per runner, interleaved (default: 5, or 11 with --full)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for fastgru, torch and onnxruntime (default: fastgru's "
                        "default, the cores available to this process)")
    p.add_argument("--isa", default=None, metavar="all|NAME",
                   help="time fastgru once per available ISA ('all') or with one ISA "
                        "(default: the active one)")
    p.add_argument("--runners", default=",".join(FRAMEWORKS), metavar="LIST",
                   help=f"frameworks to time besides fastgru (default: {','.join(FRAMEWORKS[1:])})")
    p.add_argument("--min-time", type=float, default=None, metavar="SECONDS",
                   help="target duration of one timed repeat; fast calls are looped to reach "
                        "it (default: 0.02, or 0.1 with --full)")
    p.add_argument("--json", metavar="FILE", help="write all raw timings as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write a markdown report")
    p.add_argument("--plot", metavar="FILE.png", help="write a speed-up bar chart (matplotlib)")
    p.add_argument("--list", action="store_true", help="list the workloads and sizes, then exit")
    p.add_argument("--contention", default=None, metavar="K[,K...]",
                   help="instead of the workloads: K worker processes calling fastgru at once, each on "
                        "the default thread count vs one thread (fastgru.bench.contention)")
    p.add_argument("--contention-seconds", type=float, default=1.0, metavar="S",
                   help="with --contention: how long each worker times each model (default 1)")
    return p


def _max_abs_diff(ref: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> tuple[float, str]:
    """Largest |out - ref| over the arrays both give; gradients (keys 'd...') are compared
    relative to max(1, max|ref|) since they sum over T*B terms."""
    worst, where = 0.0, ""
    for k, a in ref.items():
        if k not in out:
            raise ValueError(f"output {k!r} missing")
        b = np.asarray(out[k])
        a = np.asarray(a)
        if a.shape != b.shape:
            raise ValueError(f"output {k!r} has shape {b.shape}, fastgru's is {a.shape}")
        if a.size == 0:
            continue
        d = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
        if k.startswith("d"):
            d /= max(1.0, float(np.max(np.abs(a))))
        if not d <= worst:  # also catches NaN
            worst, where = d, k
    return worst, where


def _calibrate(b: Bench, min_time_s: float) -> int:
    """Calls per timed repeat so that one repeat lasts about ``min_time_s``."""
    n = 1
    while True:
        with b.context():
            t0 = time.perf_counter_ns()
            for _ in range(n):
                b.fn()
            dt = time.perf_counter_ns() - t0
        if dt >= min_time_s * 1e9 / 4 or n >= 1 << 16:
            return max(1, min(1 << 18, math.ceil(n * min_time_s * 1e9 / max(dt, 1))))
        n *= 4


# Seconds to wait after a runner before timing the next one (see measure()).
PAUSE_AFTER = {"numpy": 0.15}


def measure(benches: dict[str, Bench], repeats: int, min_time_s: float,
            on_repeat: Callable[[int], None] | None = None) -> dict[str, tuple[int, list[float]]]:
    """Warm-up and calibration per runner, then ``repeats`` rounds that each time every
    runner once, in a rotated order (round-robin: noise hits all runners alike)."""
    inner = {n: _calibrate(b, min_time_s) for n, b in benches.items()}
    times: dict[str, list[float]] = {n: [] for n in benches}
    names = list(benches)
    gc_was = gc.isenabled()
    gc.disable()  # as timeit does: no collector pauses inside a timed region
    try:
        for rep in range(repeats):
            k = rep % len(names)
            for n in names[k:] + names[:k]:
                b, m = benches[n], inner[n]
                fn = b.fn
                with b.context():
                    # One untimed call: after the pause, cores (and the thread pools on them) are cold
                    # again; every runner gets the same warm-up.
                    fn()
                    t0 = time.perf_counter_ns()
                    for _ in range(m):
                        fn()
                    t1 = time.perf_counter_ns()
                times[n].append((t1 - t0) / m)
                # Let the previous framework's spinning worker threads park before the next.
                # OpenBLAS (NumPy) busy-waits for about 2^28 cycles (~0.06 s) after a call.
                time.sleep(PAUSE_AFTER.get(n, 0.05))
            if on_repeat:
                on_repeat(rep)
    finally:
        if gc_was:
            gc.enable()
    return {n: (inner[n], times[n]) for n in benches}


def _numpy_threads(threads: int):
    """Limit NumPy's BLAS threads when threadpoolctl is installed; returns (ctx, text)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None, "not controlled (install threadpoolctl to pin it)"
    return threadpool_limits(limits=threads, user_api="blas"), f"{threads} (threadpoolctl)"


def _blame(cr, outs, runners, tag: str) -> None:
    """When the other frameworks disagree with fastgru but agree with each other, fastgru is
    the likely culprit: flag its result (its time is still shown, marked)."""
    fastgru_names = {r.name for r in runners if r.is_fastgru}
    wrong = [n for n, r in cr.runners.items() if r.status == "wrong" and n not in fastgru_names]
    ok_other = [n for n, r in cr.runners.items() if r.status == "ok" and n not in fastgru_names]
    if not wrong or ok_other:
        return
    for i, a in enumerate(wrong):
        for b in wrong[i + 1:]:
            try:
                d, _ = _max_abs_diff(outs[a], outs[b])
            except ValueError:
                continue
            if d < ATOL:
                rr = cr.runners[cr.primary]
                rr.status = "suspect"
                rr.note = (f"{a} and {b} agree with each other (max abs diff {d:.2e}) but not "
                           f"with {cr.primary}: {cr.primary}'s output is likely wrong")
                _progress(f"{tag} ERROR: {rr.note}")
                return


def run_case(case, runners, primary: str, repeats: int, min_time_s: float):
    """Check then time one case; returns a CaseResult."""
    cr = report.CaseResult(case=case, primary=primary)
    tag = f"[{case.workload} {case.size}]"
    data = make_data(case)
    benches: dict[str, Bench] = {}
    for r in runners:
        rr = report.RunnerResult(name=r.name)
        cr.runners[r.name] = rr
        why = r.unsupported(case)
        if why:
            rr.status, rr.note = "n/a", why
            continue
        try:
            benches[r.name] = r.prepare(case, data)
            rr.impl = benches[r.name].impl
        except Exception as e:  # noqa: BLE001 - one broken framework must not stop the run
            rr.status, rr.note = "error", f"setup failed: {e.__class__.__name__}: {e}"
            _progress(f"{tag} {r.name}: {rr.note}")

    if primary not in benches:
        _progress(f"{tag} ERROR: {primary} could not be set up; case skipped")
        for rr in cr.runners.values():
            if rr.status == "ok":
                rr.status, rr.note = "error", f"no reference ({primary} failed)"
        return cr

    # Correctness gate (the output calls double as the first warm-up).
    _progress(f"{tag} checking outputs against {primary} ...")
    try:
        ref = benches[primary].output()
    except Exception as e:  # noqa: BLE001
        rr = cr.runners[primary]
        rr.status, rr.note = "error", f"{e.__class__.__name__}: {e}"
        _progress(f"{tag} ERROR: {primary} failed: {rr.note}; case skipped")
        for n in benches:
            if n != primary:
                cr.runners[n].status, cr.runners[n].note = "error", "no reference"
        return cr
    outs: dict[str, dict[str, np.ndarray]] = {}
    atols = {r.name: r.atol for r in runners}
    for n in list(benches):
        if n == primary:
            continue
        rr = cr.runners[n]
        try:
            outs[n] = benches[n].output()
            d, where = _max_abs_diff(ref, outs[n])
        except Exception as e:  # noqa: BLE001
            rr.status, rr.note = "error", f"{e.__class__.__name__}: {e}"
            _progress(f"{tag} {n}: ERROR: {rr.note}; not timed")
            del benches[n]
            continue
        rr.max_abs_diff = d
        limit = atols.get(n) or ATOL
        if not d < limit:
            rr.status = "wrong"
            rr.note = (f"max abs diff vs {primary} = {d:.3g} in {where!r} "
                       f"(limit {limit:g}); not timed")
            _progress(f"{tag} ERROR: {n} and {primary} DISAGREE: {rr.note}")
            del benches[n]
        else:
            _progress(f"{tag} {n}: max abs diff {d:.2e} ok")

    _blame(cr, outs, runners, tag)

    _progress(f"{tag} timing {', '.join(benches)} ({repeats} interleaved repeats) ...")
    t0 = time.perf_counter()
    for n, (inner, times) in measure(benches, repeats, min_time_s).items():
        cr.runners[n].inner = inner
        cr.runners[n].times_ns = times
    summary = ", ".join(f"{n} {report.fmt_time(cr.runners[n].median_ns, case.unit)}"
                        for n in benches)
    _progress(f"{tag} done in {time.perf_counter() - t0:.1f} s: {summary}")
    return cr


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    argv = list(argv)
    # Tolerate being handed the sub-command name too ("bench --full").
    if argv[:1] == ["bench"]:
        argv = argv[1:]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error argparse already reported
        return int(e.code or 0)

    if args.contention is not None:
        from . import contention

        try:
            counts = [int(k) for k in args.contention.split(",")]
            if any(k < 1 or k > 64 for k in counts) or not args.contention_seconds > 0:
                raise ValueError
        except ValueError:
            print("error: --contention takes worker counts in [1, 64] such as 1,2,4, and "
                  "--contention-seconds a positive number", file=sys.stderr)
            return 2
        return contention.main(counts, args.contention_seconds)

    try:
        ids = parse_workloads(args.workloads)
    except ValueError as e:
        parser.print_usage(sys.stderr)
        print(f"error: --workloads: {e}", file=sys.stderr)
        return 2
    cases = make_cases(ids, args.full)
    if args.list:
        for w in WORKLOADS.values():
            print(f"{w.id}: {w.title}")
            for c in w.cases(args.full):
                print(f"    {c.label:10s} {c.size:32s} {c.what}")
        return 0

    selected = [s.strip().lower() for s in args.runners.split(",") if s.strip()]
    bad = [s for s in selected if s not in FRAMEWORKS]
    if bad:
        print(f"error: --runners: unknown {', '.join(bad)}; choose from {', '.join(FRAMEWORKS)}",
              file=sys.stderr)
        return 2
    repeats = args.repeats if args.repeats is not None else (11 if args.full else 5)
    if repeats < 1:
        print("error: --repeats must be >= 1", file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print("error: --threads must be >= 1", file=sys.stderr)
        return 2
    min_time = args.min_time if args.min_time is not None else (0.1 if args.full else 0.02)
    if args.plot:
        try:
            import matplotlib  # noqa: F401 - only checked here, used at the end
        except ImportError:
            print("error: --plot needs matplotlib, which is not installed "
                  "(pip install 'fastgru[bench]'), or leave out --plot", file=sys.stderr)
            return 2

    try:
        import fastgru as fg
    except Exception as e:  # noqa: BLE001
        print(f"error: cannot import fastgru ({e.__class__.__name__}: {e}); build/install "
              "it first (pip install .)", file=sys.stderr)
        return 1

    isa_mode = args.isa
    if isa_mode is not None:
        avail = list(fg.available_isas())
        if isa_mode.lower() == "all":
            isa_mode = "all"
        elif isa_mode not in avail:
            print(f"error: --isa {isa_mode!r} is not available on this machine; "
                  f"available: {', '.join(avail)} (or 'all')", file=sys.stderr)
            return 2

    if args.threads is not None:
        fg.set_num_threads(args.threads)
    threads = int(fg.get_num_threads())
    runners, primary, notes = discover(fg, selected, isa_mode, threads)
    for n in notes:
        _progress(n)
    np_ctx, np_threads = _numpy_threads(threads)
    meta = report.machine_info(fg, runners, threads, np_threads, isa_mode)
    settings = {"command": " ".join(["python -m fastgru bench", *argv]), "full": args.full, "workloads": ids, "repeats": repeats, "min_time_s": min_time,
                "threads": threads, "isa": isa_mode or "active", "atol": ATOL,
                "runners": [r.name for r in runners], "reference": primary,
                "argv": argv}
    for line in report.header_lines(meta):
        _progress(line)

    results: list[report.CaseResult] = []
    t_start = time.perf_counter()
    try:
        if np_ctx is not None:
            np_ctx.__enter__()
        for case in cases:
            results.append(run_case(case, runners, primary, repeats, min_time))
    except KeyboardInterrupt:
        _progress("interrupted; reporting what finished")
    finally:
        if np_ctx is not None:
            np_ctx.__exit__(None, None, None)
    _progress(f"total {time.perf_counter() - t_start:.1f} s")

    out = [*report.header_lines(meta), "", report.render_table(results) if results else
           "(no results)", "", *report.legend_lines(results, args.full)]
    extra = notes + report.notes_lines(results)
    if extra:
        out += ["", "notes:", *(f"  {n}" for n in extra)]
    print("\n".join(out), flush=True)

    if args.json:
        report.write_json(args.json, report.to_json(meta, settings, results, notes))
        _progress(f"wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report.to_markdown(meta, settings, results, notes))
        _progress(f"wrote {args.markdown}")
    if args.plot and results:
        report.plot(args.plot, results)
        _progress(f"wrote {args.plot}")

    failed = [f"{cr.case.label} {r.name} ({r.status})" for cr in results
              for r in cr.runners.values() if r.status in ("wrong", "error", "suspect")]
    if failed:
        print(f"error: {len(failed)} result(s) failed the check or errored: "
              f"{'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
