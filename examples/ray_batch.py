"""Batch inference with Ray Data: a saved GRU over a dataset of variable-length sequences.

The model is saved to an .npz file, and every actor of the pool loads it once; each dataset row is
one sequence (T_i, D) with an id. GRUPredictor pads each batch, runs the model with the rows'
lengths, and gives every row its own y (T_i, H) and final state. Each row is checked against the
model run on that row alone in this process: the same bits.

    python examples/ray_batch.py
"""
# requires: ray[data]

import os
import sys
import tempfile
import time
import warnings

import numpy as np

# Ray Data's own DataContext sets options it has deprecated when it starts (nothing to do with us).
warnings.filterwarnings("ignore", ".*deprecated.*", DeprecationWarning, "ray.data.context")

import ray  # noqa: E402

import fastgru  # noqa: E402
import fastgru.ray  # noqa: E402

ROWS, FEATURES, HIDDEN = 300, 20, 32


def main() -> int:
    rng = np.random.default_rng(0)
    rows = [{"id": i, "x": rng.standard_normal((int(rng.integers(5, 80)), FEATURES)).astype(np.float32)}
            for i in range(ROWS)]
    model = fastgru.GRU(FEATURES, HIDDEN, num_layers=2, seed=0)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        model.save(path)  # the actors load the file (on a real cluster: a path every node can read)

        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        try:
            ray.data.DataContext.get_current().enable_progress_bars = False
            ds = ray.data.from_items(rows)
            # Two actors, one CPU and one fastgru thread each; batches of 64 rows.
            out = fastgru.ray.apply(ds, path, actors=2, batch_size=64, h_n_column="h_n", keep_input=False)
            start = time.perf_counter()
            results = sorted(out.take_all(), key=lambda r: r["id"])
            print(f"{len(results)} sequences on 2 Ray actors: {time.perf_counter() - start:.2f} s "
                  "(most of it starting the actors)")
        finally:
            ray.shutdown()

    same = len(results) == ROWS
    for row, result in zip(rows, results):
        y, h_n = model(row["x"][:, None, :])  # this row alone, time-major (T, 1, D)
        same = same and np.array_equal(result["y"], y[:, 0]) and np.array_equal(result["h_n"], h_n[:, 0])
    print(f"row 0: x {rows[0]['x'].shape} -> y {results[0]['y'].shape}, h_n {results[0]['h_n'].shape}")
    print(f"Ray and single-process results identical, bit for bit: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
