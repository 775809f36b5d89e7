"""Batch inference with Dask: a GRU over many sequences, split by sequence across worker processes.

A Dask array of 4000 sequences (time-major: T, B, D) is chunked along the batch axis only; each
chunk becomes one model call on a worker (the model is pickled to each worker once). The result is
checked against one call on the whole array in this process: the same bits.

    python examples/dask_batch.py
"""
# requires: dask[distributed]

import sys
import time

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster

import fastgru
import fastgru.dask

STEPS, SEQUENCES, FEATURES, HIDDEN = 50, 4000, 16, 64


def main() -> int:
    model = fastgru.GRU(FEATURES, HIDDEN, num_layers=2, bidirectional=True, seed=0)
    # The data, made by Dask chunk by chunk (as it would be loaded: da.from_zarr, da.from_npy_stack, ...):
    # 500 sequences per chunk; the time and feature axes stay whole (a sequence is never split).
    rng = da.random.default_rng(0)
    xd = rng.standard_normal((STEPS, SEQUENCES, FEATURES), chunks=(STEPS, 500, FEATURES), dtype=np.float32)
    lengths = rng.integers(1, STEPS + 1, size=SEQUENCES, chunks=500)  # a variable-length batch
    y, h_n = fastgru.dask.apply(model, xd, lengths, outputs="both")  # lazy, one fastgru thread per task
    print(f"x {xd.shape} in {xd.numblocks[1]} chunks -> y {y.shape}, h_n {h_n.shape}")

    # A local cluster of two single-threaded worker processes (on a real cluster: Client("scheduler:8786")).
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        start = time.perf_counter()
        y_dask, h_dask = dask.compute(y, h_n)
        print(f"on {len(client.scheduler_info()['workers'])} workers: {time.perf_counter() - start:.2f} s")
        x, lengths = dask.compute(xd, lengths)  # the same inputs, here, for the check below

    start = time.perf_counter()
    y_one, h_one = model(x, lengths=lengths)
    print(f"in this process: {time.perf_counter() - start:.2f} s")

    same = np.array_equal(y_dask, y_one) and np.array_equal(h_dask, h_one)
    print(f"distributed and single-process results identical, bit for bit: {same}")
    return 0 if same else 1


if __name__ == "__main__":  # worker processes import this file: start the cluster only here
    sys.exit(main())
