"""Results: the machine header, the text table, JSON, markdown and an optional plot."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field

from .workloads import Case

# ---------------------------------------------------------------------------------------
# Result records
# ---------------------------------------------------------------------------------------


@dataclass
class RunnerResult:
    name: str
    status: str = "ok"  # ok | wrong | error | n/a
    note: str = ""
    impl: str = ""
    max_abs_diff: float | None = None  # vs the reference fastgru (None for the reference)
    inner: int = 0  # calls per timed repeat
    times_ns: list[float] = field(default_factory=list)  # per-call time of each repeat

    @property
    def median_ns(self) -> float | None:
        return statistics.median(self.times_ns) if self.times_ns else None

    @property
    def min_ns(self) -> float | None:
        return min(self.times_ns) if self.times_ns else None


@dataclass
class CaseResult:
    case: Case
    primary: str  # name of the reference fastgru runner
    runners: dict[str, RunnerResult] = field(default_factory=dict)

    def speedup(self, name: str) -> float | None:
        """Speed-up of fastgru vs ``name`` = t_name / t_fastgru (>1: fastgru is faster)."""
        ref, other = self.runners.get(self.primary), self.runners.get(name)
        if not ref or not other or ref.median_ns is None or other.median_ns is None:
            return None
        return other.median_ns / ref.median_ns

    def gflops(self, name: str) -> float | None:
        r = self.runners.get(name)
        if not r or r.median_ns is None or self.case.kind == "step":
            return None
        return self.case.flops / r.median_ns  # FLOP per ns == GFLOP/s


# ---------------------------------------------------------------------------------------
# Machine / environment header
# ---------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cores_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_info(fg, runners, threads: int, numpy_threads: str, isa_mode: str | None) -> dict:
    info = {}
    try:
        info = dict(fg.info())
    except Exception as e:  # noqa: BLE001 - the header must not kill the run
        info = {"error": str(e)}
    versions = {"python": platform.python_version()}
    for r in runners:
        v = ""
        try:
            v = r.version()
        except Exception:  # noqa: BLE001
            pass
        key = "fastgru" if r.is_fastgru else r.name.removesuffix("-default")
        versions.setdefault(key, v)
    if "onnxruntime" in versions:
        try:
            import onnx
            versions["onnx"] = onnx.__version__
        except Exception:  # noqa: BLE001
            pass
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "cores_available": cores_available(),
        "cpu_count": os.cpu_count(),
        "isa": info.get("isa"),
        "isa_mode": isa_mode or "active",
        "isas_available": _safe(lambda: list(fg.available_isas())),
        "threads": threads,
        "numpy_threads": numpy_threads,
        "fastgru_info": info,
        "versions": versions,
        "load_average": _safe(lambda: [round(x, 2) for x in os.getloadavg()]),
        "argv": sys.argv,
    }


def _safe(f):
    try:
        return f()
    except Exception:  # noqa: BLE001
        return None


def header_lines(meta: dict) -> list[str]:
    v = meta["versions"]
    vs = ", ".join(f"{k} {val}" for k, val in v.items() if val)
    return [
        f"machine: {meta['cpu']} ({meta['machine']}), {meta['cores_available']} cores available",
        f"fastgru ISA in use: {meta['isa']} (available: {', '.join(meta['isas_available'] or [])})"
        + ("" if meta["isa_mode"] == "active" else f"; timed: {meta['isa_mode']}"),
        f"threads: {meta['threads']} for fastgru, torch and onnxruntime; numpy BLAS: "
        f"{meta['numpy_threads']}",
        f"versions: {vs}",
        *load_warning(meta),
    ]


def load_warning(meta: dict) -> list[str]:
    """Other processes on the CPU make every timing noisy, and frameworks whose worker
    threads busy-wait (OpenMP, OpenBLAS) can slow down by 10x or more; say so."""
    la = meta.get("load_average")
    if not la or la[0] < 0.5:
        return []
    return [f"WARNING: load average {la[0]:.2f} before the run: other processes are using the "
            "CPU, timings will be noisy (spinning thread pools suffer most)"]


# ---------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------


def fmt_time(ns: float | None, unit: str) -> str:
    if ns is None:
        return "-"
    v = ns / (1e3 if unit == "us" else 1e6)
    s = f"{v:.3g}" if v < 100 else f"{v:.0f}"
    return f"{s} {'µs' if unit == 'us' else 'ms'}"


def fmt_x(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def cell(cr: CaseResult, name: str, with_min: bool = False) -> str:
    r = cr.runners.get(name)
    if r is None:
        return "-"
    if r.status not in ("ok", "suspect"):
        return {"wrong": "WRONG", "error": "error", "n/a": "n/a"}.get(r.status, r.status)
    s = fmt_time(r.median_ns, cr.case.unit)
    if r.status == "suspect":
        s += " (WRONG?)"
    if with_min:
        s += f" (min {fmt_time(r.min_ns, cr.case.unit)})"
    return s


def columns(results: list[CaseResult]) -> tuple[list[str], str]:
    """Runner names in first-seen order, and the primary (reference) name."""
    names: list[str] = []
    for cr in results:
        for n in cr.runners:
            if n not in names:
                names.append(n)
    primary = results[0].primary if results else "fastgru"
    return names, primary


def _rows(results: list[CaseResult], with_min: bool):
    names, primary = columns(results)
    others = [n for n in names if n != primary]
    head = ["workload", "size", *names, *(f"vs {n}" for n in others), "GFLOP/s (fastgru)"]
    rows = []
    for cr in results:
        g = cr.gflops(primary)
        rows.append([cr.case.label, cr.case.size, *(cell(cr, n, with_min) for n in names),
                     *(fmt_x(cr.speedup(n)) for n in others),
                     "-" if g is None else f"{g:.1f}"])
    return head, rows


def render_table(results: list[CaseResult]) -> str:
    head, rows = _rows(results, with_min=False)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    right = set(range(2, len(head)))  # numbers right-aligned

    def line(r):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def legend_lines(results: list[CaseResult], full: bool) -> list[str]:
    _, primary = columns(results)
    lines = [
        "times: median per call over the repeats (S1: per streaming step, µs; others: per call, ms)",
        f"vs X: speed-up of {primary} vs X = t_X / t_{primary} (>1 means fastgru is faster)",
        "GFLOP/s: fastgru, forward FLOPs = 6*T*B*H*(D+H) (S4: 3x that for forward+backward)",
    ]
    if not full:
        lines.append("(reduced) = a shorter T than the standard size so the run is quick (B, H and D "
                     "are the standard ones); --full runs the standard sizes (bench/README.md)")
    return lines


def notes_lines(results: list[CaseResult]) -> list[str]:
    out = []
    for cr in results:
        for r in cr.runners.values():
            if r.status != "ok" and r.note:
                out.append(f"{cr.case.label} {r.name}: {r.status}: {r.note}")
    return out


# ---------------------------------------------------------------------------------------
# JSON / markdown / plot
# ---------------------------------------------------------------------------------------


def to_json(meta: dict, settings: dict, results: list[CaseResult], notes: list[str]) -> dict:
    cases = []
    for cr in results:
        c = cr.case
        cases.append({
            "workload": c.workload, "label": c.label, "kind": c.kind, "what": c.what,
            "T": c.T, "B": c.B, "H": c.H, "D": c.D, "full_size": c.full_size,
            "flops": c.flops, "reference": cr.primary,
            "runners": {
                n: {
                    "status": r.status, "note": r.note, "impl": r.impl,
                    # NaN is not JSON: a non-finite diff is written as a string.
                    "max_abs_diff": r.max_abs_diff if r.max_abs_diff is None
                    or math.isfinite(r.max_abs_diff) else str(r.max_abs_diff),
                    "calls_per_repeat": r.inner,
                    "times_ns": r.times_ns, "median_ns": r.median_ns, "min_ns": r.min_ns,
                    "gflops": cr.gflops(n), "speedup_of_fastgru": cr.speedup(n)
                    if n != cr.primary else None,
                } for n, r in cr.runners.items()
            },
        })
    return {"schema": "fastgru.bench/1", "meta": meta, "settings": settings,
            "notes": notes, "cases": cases}


def write_json(path: str, doc: dict) -> None:
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")


def to_markdown(meta: dict, settings: dict, results: list[CaseResult], notes: list[str]) -> str:
    head, rows = _rows(results, with_min=True)
    md = ["# fastgru benchmark results", ""]
    md += [f"- {line}" for line in header_lines(meta)]
    md.append(f"- settings: {'full (standard) sizes' if settings['full'] else 'reduced sizes (shorter T)'}, "
              f"{settings['repeats']} interleaved repeats, float32, 1 layer, 1 direction, D = H")
    if settings.get("command"):
        md.append(f"- command: `{settings['command']}`")
    md.append("")
    md.append("| " + " | ".join(head) + " |")
    md.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|")
    for r in rows:
        md.append("| " + " | ".join(str(c) for c in r) + " |")
    md.append("")
    md += [f"- {line}" for line in legend_lines(results, settings["full"])]
    md.append("- times are median (and min) per call")
    impls = {}
    for cr in results:
        for n, r in cr.runners.items():
            if r.impl:
                impls.setdefault(n, [])
                if r.impl not in impls[n]:
                    impls[n].append(r.impl)
    for n, v in impls.items():
        md.append(f"- {n}: {'; '.join(v)}")
    extra = notes + notes_lines(results)
    if extra:
        md.append("")
        md.append("Notes:")
        md.append("")
        md += [f"- {n}" for n in extra]
    return "\n".join(md) + "\n"


def plot(path: str, results: list[CaseResult]) -> None:
    """Grouped bars: speed-up of fastgru vs each other runner, per case (log scale)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    names, primary = columns(results)
    others = [n for n in names if n != primary]
    labels = [cr.case.label for cr in results]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(labels) + 2), 4.5))
    width = 0.8 / max(1, len(others))
    for j, n in enumerate(others):
        xs, ys = [], []
        for i, cr in enumerate(results):
            s = cr.speedup(n)
            if s is not None:
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(s)
        ax.bar(xs, ys, width, label=f"vs {n}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    def _minor(v, _pos):  # label only the 2s and 5s between decades, so labels never crowd
        m = v / 10 ** math.floor(math.log10(v)) if v > 0 else 0
        return f"{v:g}x" if round(m) in (2, 5) else ""

    # "0.5x", "2x" instead of 5x10^-1
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}x"))
    ax.yaxis.set_minor_formatter(FuncFormatter(_minor))
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels)
    ax.set_ylabel(f"speed-up of {primary} (t_X / t_{primary})")
    ax.set_title("fastgru speed-up (>1: fastgru faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
