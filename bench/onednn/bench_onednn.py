#!/usr/bin/env python
"""fastgru beside oneDNN's RNN primitives (lbr_gru = reset-after, gru = reset-before) on the
standard workloads S1-S5 (bench/README.md), with the PyPI oneDNN wheels:

    python -m pip install onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0
    python bench/onednn/bench_onednn.py [--full] [--threads N] [--cells lbr,vanilla] [--markdown F]

Builds gru_onednn.cpp with one g++ line against the wheels' headers and libdnnl.so.3 (OpenMP
threaded: it runs with OMP_NUM_THREADS = --threads), converts the workload's weights to oneDNN's
layout and gate order, checks oneDNN's outputs (and S4's gradients) against fastgru's on the same
weights, and only then times both, reporting medians. Exit status 0 when every check passed, 1
when one failed or the program errored, 3 when the wheels (or a C++ compiler) are absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "gru_onednn.cpp")
NO_ONEDNN = 3

# The numerics gate, max abs diff against fastgru float32 on the same weights and inputs:
# outputs lie in (-1, 1), both sides are float32 with different summation orders (a few ulp per
# step over up to 512 steps); gradients sum T*B terms, so relative to max(1, max |gradient|), as
# the bench harness's gate does.
FORWARD_ATOL = 1e-4
GRAD_RTOL = 1e-3

CELLS = {"lbr": True, "vanilla": False}  # oneDNN cell -> fastgru reset_after


# ------------------------------------------------------------------------------------------
# Finding and building

def find_onednn() -> tuple[str, str] | str:
    """(include dir, lib dir) of the installed wheels, or the reason they cannot be used."""
    found = {}
    for dist, suffix in (("onednn-devel-cpu-gomp", "oneapi/dnnl/dnnl.hpp"), ("onednn-cpu-gomp", "libdnnl.so.3")):
        try:
            files = metadata.files(dist) or []
        except metadata.PackageNotFoundError:
            return (f"{dist} is not installed (python -m pip install onednn-cpu-gomp==2023.2.0 "
                    "onednn-devel-cpu-gomp==2023.2.0)")
        hits = [f for f in files if str(f).replace("\\", "/").endswith(suffix)]
        if not hits:
            return f"{dist} has no {suffix}"
        path = os.path.abspath(str(hits[0].locate()))
        found[suffix] = path[: -len(suffix)].rstrip("/") if suffix.startswith("oneapi") else os.path.dirname(path)
    return found["oneapi/dnnl/dnnl.hpp"], found["libdnnl.so.3"]


def build(out_dir: str, include: str, lib: str) -> str:
    """Compiles gru_onednn.cpp (again when the source is newer); returns the executable."""
    exe = os.path.join(out_dir, "gru_onednn")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(SOURCE):
        return exe
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise FileNotFoundError("no C++ compiler (set CXX)")
    os.makedirs(out_dir, exist_ok=True)
    cmd = [cxx, "-O2", "-std=c++17", f"-I{include}", SOURCE, "-o", exe, f"-L{lib}", "-l:libdnnl.so.3",
           f"-Wl,-rpath,{lib}"]
    subprocess.run(cmd, check=True)
    return exe


# ------------------------------------------------------------------------------------------
# Layout conversion: PyTorch (rows r; z; n of weight_ih (3H, D)) <-> oneDNN ldigo (D, 3, H), gates
# u (= z), r, o (= n); oneDNN's u_t is z: h' = u h + (1 - u) o, the same update as PyTorch's.

ONEDNN_GATE = {"r": 1, "z": 0, "n": 2}


def _block(w: np.ndarray, g: str, H: int) -> np.ndarray:
    i = "rzn".index(g)
    return w[i * H:(i + 1) * H]


def to_onednn(params: dict[str, np.ndarray], H: int, lbr: bool) -> dict[str, np.ndarray]:
    out = {}
    for name, key in (("wl", "weight_ih_l0"), ("wi", "weight_hh_l0")):
        w = params[key]
        arr = np.empty((w.shape[1], 3, H), np.float32)
        for g, j in ONEDNN_GATE.items():
            arr[:, j, :] = _block(w, g, H).T
        out[name] = arr
    bi, bh = params["bias_ih_l0"], params["bias_hh_l0"]
    u, r = _block(bi, "z", H) + _block(bh, "z", H), _block(bi, "r", H) + _block(bh, "r", H)
    if lbr:  # the recurrent candidate bias stays inside r * (U_o h + b): its own 4th row
        out["b"] = np.stack([u, r, _block(bi, "n", H), _block(bh, "n", H)]).astype(np.float32)
    else:  # reset-before: b_hn is added outside the product, so it sums with b_in
        out["b"] = np.stack([u, r, _block(bi, "n", H) + _block(bh, "n", H)]).astype(np.float32)
    return out


def grads_from_onednn(dwl: np.ndarray, dwi: np.ndarray, db: np.ndarray, lbr: bool) -> dict[str, np.ndarray]:
    """oneDNN's diff weights / bias -> PyTorch-layout gradients (a summed bias gets the same
    gradient on both of its parts)."""
    def rows(a):
        return np.concatenate([a[:, ONEDNN_GATE[g], :].T for g in "rzn"])
    n_hh = db[3] if lbr else db[2]
    return {"weight_ih_l0": rows(dwl), "weight_hh_l0": rows(dwi),
            "bias_ih_l0": np.concatenate([db[1], db[0], db[2]]),
            "bias_hh_l0": np.concatenate([db[1], db[0], n_hh])}


# ------------------------------------------------------------------------------------------
# Running

def _write(d: str, name: str, a: np.ndarray) -> None:
    np.ascontiguousarray(a, np.float32).tofile(os.path.join(d, name))


def _read(d: str, name: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.fromfile(os.path.join(d, name), np.float32).reshape(shape)


def run_onednn(exe: str, case: Any, data: Any, cell: str, threads: int, repeats: int, min_time: float,
               work: str) -> tuple[dict[str, np.ndarray], list[float]]:
    """oneDNN's outputs on the case's data and its per-call seconds of each repeat."""
    T, B, D, H = case.T, case.B, case.D, case.H
    lbr = cell == "lbr"
    for name, a in to_onednn(data.params, H, lbr).items():
        _write(work, name, a)
    mode = {"step": "step", "forward": "forward", "train": "train"}[case.kind]
    if mode == "step":
        _write(work, "xs", np.concatenate(data.xs))
    else:
        _write(work, "x", data.x)
        _write(work, "h0", data.h0[0])
        if mode == "train":
            _write(work, "dy", data.dy)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([exe, mode, cell, str(T), str(B), str(D), str(H), str(repeats), str(min_time), work],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"gru_onednn {mode} {cell} failed ({proc.returncode}): {proc.stderr.strip()}")
    timing = json.loads(proc.stdout.strip().splitlines()[-1])
    G = 4 if lbr else 3
    if mode == "step":
        out = {"y": _read(work, "ys", (8, 1, H))}
    elif mode == "forward":
        out = {"y": _read(work, "y", (T, B, H)), "h_n": _read(work, "hn", (1, B, H))}
    else:
        g = grads_from_onednn(_read(work, "dwl", (D, 3, H)), _read(work, "dwi", (H, 3, H)),
                              _read(work, "db", (G, H)), lbr)
        out = {"y": _read(work, "y", (T, B, H)), "dx": _read(work, "dx", (T, B, D)),
               "dh0": _read(work, "dh0", (1, B, H)), **{"d" + k: v for k, v in g.items()}}
    return out, timing["seconds"]


def fastgru_bench(fg: Any, case: Any, data: Any, reset_after: bool):
    """(outputs for the check, the timed call) for fastgru on the same data."""
    gru = fg.GRU(case.D, case.H, reset_after=reset_after, dtype=np.float32, seed=0)
    gru.load_state_dict({k: v.copy() for k, v in data.params.items()})
    if case.kind == "step":
        s = gru.initial_state(1)
        ys = []
        for t in range(8):
            y, s = gru.step(data.xs[t], s)
            ys.append(np.array(y))
        st = {"s": gru.initial_state(1), "k": 0}

        def step():
            _, st["s"] = gru.step(data.xs[st["k"] % len(data.xs)], st["s"])
            st["k"] += 1
        return {"y": np.stack(ys)}, step
    if case.kind == "forward":
        y, hn = gru(data.x, data.h0)
        return {"y": y, "h_n": hn}, lambda: gru(data.x, data.h0)
    y, _, cache = gru.forward(data.x, data.h0, training=True)
    g = gru.backward(cache, data.dy)
    out = {"y": y, "dx": g["x"], "dh0": g["h0"], **{"d" + k: g[k] for k in data.params}}

    def train():
        _, _, c = gru.forward(data.x, data.h0, training=True)
        gru.backward(c, data.dy)
    return out, train


def check(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> tuple[bool, float, str]:
    """(passed, worst error / limit, which array) under FORWARD_ATOL / GRAD_RTOL."""
    worst, where = 0.0, ""
    for k, a in ours.items():
        b = theirs[k]
        if a.shape != b.shape:
            return False, np.inf, f"{k} shape {b.shape} != {a.shape}"
        limit = GRAD_RTOL * max(1.0, float(np.max(np.abs(a)))) if k.startswith("d") else FORWARD_ATOL
        ratio = float(np.max(np.abs(a.astype(np.float64) - b))) / limit
        if not np.isfinite(ratio) or ratio > worst:
            worst, where = ratio, k
    return worst <= 1.0, worst, where


def time_python(fn, repeats: int, min_time: float) -> list[float]:
    fn()
    t0 = time.perf_counter()
    fn()
    calls = max(1, int(min_time / max(time.perf_counter() - t0, 1e-9)))
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        out.append((time.perf_counter() - t0) / calls)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the standard sizes (default: reduced T)")
    p.add_argument("--workloads", default="all", help="e.g. S1,S4 (default: all)")
    p.add_argument("--cells", default="lbr,vanilla", help="lbr (reset-after), vanilla (reset-before)")
    p.add_argument("--threads", type=int, default=None, help="threads for both (default: fastgru's default)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5; 11 with --full)")
    p.add_argument("--min-time", type=float, default=None, help="seconds per repeat (default 0.02; 0.1 --full)")
    p.add_argument("--build-dir", default=os.path.join(HERE, "build"), help="where gru_onednn is built")
    p.add_argument("--markdown", help="write the table here")
    p.add_argument("--json", help="write every timing and check here")
    args = p.parse_args(argv)

    found = find_onednn()
    if isinstance(found, str):
        print(f"oneDNN comparison skipped: {found}")
        return NO_ONEDNN
    try:
        exe = build(args.build_dir, *found)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"oneDNN comparison skipped: cannot build gru_onednn ({e})")
        return NO_ONEDNN

    import fastgru as fg
    from fastgru.bench.workloads import make_cases, make_data, parse_workloads

    threads = args.threads or fg.get_num_threads()
    fg.set_num_threads(threads)
    repeats = args.repeats or (11 if args.full else 5)
    min_time = args.min_time if args.min_time is not None else (0.1 if args.full else 0.02)
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    bad = [c for c in cells if c not in CELLS]
    if bad:
        p.error(f"unknown cell {bad[0]!r}; choose from {', '.join(CELLS)}")
    version = metadata.version("onednn-cpu-gomp")
    rows, records, ok = [], [], True
    with tempfile.TemporaryDirectory() as work:
        for case in make_cases(parse_workloads(args.workloads), args.full):
            data = make_data(case)
            for cell in cells:
                unit, scale = ("us", 1e6) if case.kind == "step" else ("ms", 1e3)
                ours, fn = fastgru_bench(fg, case, data, CELLS[cell])
                rec: dict[str, Any] = dict(case=case.label, size=case.size, cell=cell, unit=unit)
                try:
                    theirs, their_s = run_onednn(exe, case, data, cell, threads, repeats, min_time, work)
                except RuntimeError as e:
                    ok = False
                    rec["error"] = str(e)
                    rows.append(f"| {case.label} | {case.size} | {cell} | ERROR | | | {e} |")
                    records.append(rec)
                    continue
                passed, worst, where = check(ours, theirs)
                rec.update(check_passed=passed, worst_over_limit=worst, worst_array=where)
                if not passed:
                    ok = False
                    rows.append(f"| {case.label} | {case.size} | {cell} | WRONG | | | {where}: {worst:.3g} x limit |")
                    records.append(rec)
                    continue
                our_s = time_python(fn, repeats, min_time)
                m_ours, m_theirs = statistics.median(our_s), statistics.median(their_s)
                rec.update(fastgru_seconds=our_s, onednn_seconds=their_s)
                rows.append(f"| {case.label} | {case.size} | {cell} | {m_ours * scale:.3f} {unit} | "
                            f"{m_theirs * scale:.3f} {unit} | {m_theirs / m_ours:.2f}x | "
                            f"max err {worst:.2g} of the limit |")
                records.append(rec)
                print(rows[-1], flush=True)
    header = [f"fastgru {fg.__version__} ({fg.get_isa()}) vs oneDNN {version} (onednn-cpu-gomp wheel), "
              f"{threads} thread(s), medians of {repeats} repeats; ratio = oneDNN time / fastgru time "
              "(> 1: fastgru faster). S1: fastgru through its Python step API, oneDNN from C++.", "",
              "| workload | size | oneDNN cell | fastgru | oneDNN | ratio | numerics |",
              "|---|---|---|---|---|---|---|"]
    table = "\n".join(header + rows)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("# fastgru vs oneDNN\n\n" + table + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(threads=threads, onednn=version, fastgru=fg.__version__, isa=fg.get_isa(),
                           forward_atol=FORWARD_ATOL, grad_rtol=GRAD_RTOL, results=records), f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
