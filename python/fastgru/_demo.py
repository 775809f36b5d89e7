"""`python -m fastgru demo`: what fastgru does, each claim checked on this machine as it is shown."""

from __future__ import annotations

import time

import numpy as np

import fastgru


def _best_time(fn, repeats: int = 5, inner: int = 20) -> float:
    """Seconds per call: the best of `repeats` loops of `inner` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def demo() -> int:
    rng = np.random.default_rng(0)
    print(f"fastgru {fastgru.__version__}: {fastgru.get_isa()} kernels, {fastgru.get_num_threads()} threads\n")

    # 1. A batch of sequences of different lengths.
    gru = fastgru.GRU(input_size=16, hidden_size=32, num_layers=2, batch_first=True, seed=0)
    x = rng.standard_normal((3, 50, 16)).astype(np.float32)
    lengths = [50, 20, 5]
    y, h_n = gru(x, lengths=lengths)
    print(f"1. {gru}")
    print(f"   3 sequences of lengths {lengths}: y {y.shape}, h_n {h_n.shape}")
    print(f"   outputs past each length are zero: {all(not y[b, n:].any() for b, n in enumerate(lengths))}; "
          f"h_n is each sequence's state at its own last step: "
          f"{all(np.array_equal(h_n[-1, b], y[b, n - 1]) for b, n in enumerate(lengths))}\n")

    # 2. Streaming gives the same bits as the whole sequence.
    stream = fastgru.GRU(16, 32, seed=0)
    signal = np.sin(np.linspace(0, 8 * np.pi, 200, dtype=np.float32))[:, None] * np.ones(16, np.float32)
    whole, _ = stream(signal[:, None, :])
    state = stream.initial_state(1)
    steps = []
    for x_t in signal:
        y_t, state = stream.step(x_t[None], state)
        steps.append(y_t[0])
    per_step = _best_time(lambda: stream.step(signal[:1], state), inner=200)
    print("2. Streaming a 200-sample sine one step at a time with step(): the outputs are bit-identical to "
          f"one call on the whole sequence: {np.array_equal(np.stack(steps), whole[:, 0])}")
    print(f"   one step (H=32, from Python) takes {per_step * 1e6:.1f} µs\n")

    # 3. Gradients, checked against a central finite difference of the loss sum(y * w).
    train = fastgru.GRU(4, 8, dtype=np.float64, seed=1)
    xs = rng.standard_normal((10, 2, 4))
    w = rng.standard_normal((10, 2, 8))
    y, _, cache = train.forward(xs)
    grads = train.backward(cache, dy=w)
    params = train.state_dict()
    eps, (i, j) = 1e-6, (3, 2)
    loss = []
    for sign in (1, -1):
        bumped = {k: v.copy() for k, v in params.items()}
        bumped["weight_hh_l0"][i, j] += sign * eps
        train.load_state_dict(bumped)
        loss.append(float((train(xs)[0] * w).sum()))
    numeric = (loss[0] - loss[1]) / (2 * eps)
    analytic = float(grads["weight_hh_l0"][i, j])
    print("3. backward() gives the gradient of every parameter, x and h0. For one weight of a float64 model:")
    print(f"   analytic {analytic:.9f}, finite difference {numeric:.9f} "
          f"(relative difference {abs(analytic - numeric) / max(abs(numeric), 1e-12):.1e})\n")

    # 4. Speed of a batch call beside a plain NumPy implementation of the same cell.
    big = fastgru.GRU(128, 128, seed=0)
    xb = rng.standard_normal((100, 16, 128)).astype(np.float32)
    t_fast = _best_time(lambda: big(xb), inner=3)
    t_numpy = _best_time(lambda: _numpy_gru(big, xb), repeats=3, inner=1)
    same = np.allclose(_numpy_gru(big, xb), big(xb)[0], atol=1e-5)
    print(f"4. T=100, B=16, H=128: fastgru {t_fast * 1e3:.2f} ms, NumPy {t_numpy * 1e3:.2f} ms "
          f"({t_numpy / t_fast:.1f}x; same outputs to 1e-5: {same})")
    print("   python -m fastgru bench compares with PyTorch, ONNX Runtime and OpenVINO "
          "(pip install 'fastgru[bench]')")
    return 0


def _numpy_gru(gru: fastgru.GRU, x: np.ndarray) -> np.ndarray:
    """PyTorch's GRU cell in NumPy, one matmul per step: the baseline of item 4."""
    p = gru.state_dict()
    H = gru.hidden_size
    gi = x @ p["weight_ih_l0"].T + p["bias_ih_l0"]
    h = np.zeros((x.shape[1], H), np.float32)
    out = np.empty((x.shape[0], x.shape[1], H), np.float32)
    for t in range(x.shape[0]):
        gh = h @ p["weight_hh_l0"].T + p["bias_hh_l0"]
        r = 1 / (1 + np.exp(-(gi[t, :, :H] + gh[:, :H])))
        z = 1 / (1 + np.exp(-(gi[t, :, H:2 * H] + gh[:, H:2 * H])))
        n = np.tanh(gi[t, :, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        out[t] = h
    return out
