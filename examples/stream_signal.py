"""Streaming: a GRU that sees one sample of a signal at a time, as a real-time filter would.

Each incoming frame goes through `step`, which carries the state from call to call; at the end,
the streamed outputs are compared with one call on the whole recording (they are the same bits),
and the per-frame latency is printed.

    python examples/stream_signal.py
"""

import time

import numpy as np

import fastgru

FRAMES, FEATURES, HIDDEN = 2000, 40, 128

rng = np.random.default_rng(0)
# A "recording": 40 feature channels (think of filterbank energies) of a noisy chirp.
t = np.linspace(0.0, 1.0, FRAMES, dtype=np.float32)
chirp = np.sin(2 * np.pi * (5 + 20 * t) * t)[:, None]
recording = (chirp * np.linspace(0.5, 1.5, FEATURES, dtype=np.float32)
             + 0.1 * rng.standard_normal((FRAMES, FEATURES)).astype(np.float32))

model = fastgru.GRU(FEATURES, HIDDEN, num_layers=2, seed=0)
state = model.initial_state(batch=1)  # (num_layers, 1, HIDDEN)
streamed = np.empty((FRAMES, HIDDEN), np.float32)
latencies = np.empty(FRAMES)
for i, frame in enumerate(recording):
    start = time.perf_counter()
    y_t, state = model.step(frame[None], state)  # frame (1, FEATURES) -> y_t (1, HIDDEN)
    latencies[i] = time.perf_counter() - start
    streamed[i] = y_t[0]

whole, _ = model(recording[:, None, :])  # the same recording in one call: (FRAMES, 1, HIDDEN)
assert np.array_equal(streamed, whole[:, 0]), "streaming must give the whole-sequence result"
print(f"{FRAMES} frames streamed through {model}")
print("streamed outputs == whole-sequence outputs, bit for bit")
print(f"latency per frame: median {np.median(latencies) * 1e6:.1f} µs, "
      f"99th percentile {np.percentile(latencies, 99) * 1e6:.1f} µs")
