"""K worker processes calling fastgru at once, as gunicorn / Dask workers on one machine do.

Each worker runs one model in a loop for a fixed time while the others do the same; the figure is
the median time per call. Every model is timed twice, each time with all K workers running it at
once: with fastgru's default thread count in every worker, and with one thread per worker. The
ratio default / 1-thread says what oversubscription costs (1.0: nothing; above 1: the default is
slower). Workers start with the "spawn" method so each has a fresh fastgru.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

# (name, GRU kwargs, x shape (T, B, D)): small layers, where a per-step hand-off between threads
# costs the most, and one batch big enough to be worth threads.
MODELS: list[tuple[str, dict[str, Any], tuple[int, int, int]]] = [
    ("2 layers, T=100 B=4 H=128", dict(input_size=128, hidden_size=128, num_layers=2), (100, 4, 128)),
    ("bidirectional T=200 B=1 H=64", dict(input_size=64, hidden_size=64, bidirectional=True), (200, 1, 64)),
    ("B=1 T=256 H=256", dict(input_size=256, hidden_size=256), (256, 1, 256)),
    ("B=64 T=32 H=256", dict(input_size=256, hidden_size=256), (32, 64, 256)),
]


@dataclass
class Result:
    model: str
    workers: int
    threads_default: int
    default_ms: float  # median per call, all workers on the default thread count
    one_thread_ms: float  # median per call, all workers on one thread

    @property
    def ratio(self) -> float:
        return self.default_ms / self.one_thread_ms


def _worker(index: int, threads: int | None, wait_policy: str | None, duration: float, barrier: Any,
            queue: Any) -> None:  # pragma: no cover - runs in the spawned workers
    import numpy as np

    import fastgru

    if threads is not None:
        fastgru.set_num_threads(threads)
    if wait_policy is not None:
        fastgru.set_wait_policy(wait_policy)
    rng = np.random.default_rng(index)
    medians = []
    for _, kwargs, shape in MODELS:
        gru = fastgru.GRU(**kwargs, seed=0)
        x = rng.standard_normal(shape).astype(np.float32)
        gru(x)  # warm: pool started, workspace kept
        barrier.wait()  # every worker times the same model at the same time
        times = []
        end = time.perf_counter() + duration
        while time.perf_counter() < end or len(times) < 5:
            t0 = time.perf_counter()
            gru(x)
            times.append(time.perf_counter() - t0)
        medians.append(statistics.median(times))
        barrier.wait()  # nobody starts the next model while another still runs this one
    queue.put((index, fastgru.get_num_threads(), medians))


def _run(workers: int, threads: int | None, wait_policy: str | None, duration: float) -> tuple[int, list[float]]:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(i, threads, wait_policy, duration, barrier, queue))
             for i in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    per_model = [statistics.median(r[2][m] for r in results) for m in range(len(MODELS))]
    return results[0][1], per_model


def measure(workers: int, duration: float = 1.0, wait_policy: str | None = None) -> list[Result]:
    """Default threads vs one thread per worker, `workers` processes competing."""
    threads_default, default = _run(workers, None, wait_policy, duration)
    _, one = _run(workers, 1, wait_policy, duration)
    return [Result(name, workers, threads_default, d * 1e3, o * 1e3)
            for (name, _, _), d, o in zip(MODELS, default, one)]


def table(results: list[Result]) -> str:
    lines = ["| workers | model | 1 thread each | default threads each | default / 1 thread |",
             "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.workers} | {r.model} | {r.one_thread_ms:.3f} ms | {r.default_ms:.3f} ms "
                     f"({r.threads_default} threads) | {r.ratio:.2f}x |")
    return "\n".join(lines)


def main(worker_counts: list[int], duration: float, wait_policy: str | None = None) -> int:
    print(f"contention: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
          f"{duration:g} s per model and setting, medians per call", flush=True)
    results = []
    for k in worker_counts:
        print(f"  {k} worker process(es) ...", flush=True)
        results += measure(k, duration, wait_policy)
    print(table(results))
    return 0
