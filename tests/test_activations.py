"""The general cell of the compiled core: ONNX's activation set and the elementwise ones beyond it
(Keras 3's definitions, SpeechBrain's sin) for the gates (f) and the candidate (g), and ONNX's
clip of the pre-activations, forward and backward, per ISA.

Oracles: the ONNX equations in float64 NumPy (forward) and central finite differences of the
core's own float64 forward (backward)."""

import math

import numpy as np
import pytest

from fastgru import _core
from tolerances import FD, FD_STEP, FORWARD, assert_close

H, D, T, B = 5, 4, 4, 3
CLIP = 1.5

SELU_SCALE, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
_erf = np.vectorize(math.erf, otypes=[np.float64])

# name -> (alpha, beta, numpy function of (x, alpha, beta))
ACTIVATIONS = {
    "Sigmoid": (0.0, 0.0, lambda x, a, b: 1 / (1 + np.exp(-x))),
    "Tanh": (0.0, 0.0, lambda x, a, b: np.tanh(x)),
    "Relu": (0.0, 0.0, lambda x, a, b: np.maximum(x, 0)),
    "Affine": (0.7, -0.2, lambda x, a, b: a * x + b),
    "LeakyRelu": (0.05, 0.0, lambda x, a, b: np.where(x >= 0, x, a * x)),
    "ThresholdedRelu": (0.3, 0.0, lambda x, a, b: np.where(x > a, x, 0.0)),
    "ScaledTanh": (1.3, 0.6, lambda x, a, b: a * np.tanh(b * x)),
    "HardSigmoid": (0.2, 0.5, lambda x, a, b: np.clip(a * x + b, 0, 1)),
    "Elu": (0.8, 0.0, lambda x, a, b: np.where(x >= 0, x, a * np.expm1(x))),
    "Softsign": (0.0, 0.0, lambda x, a, b: x / (1 + np.abs(x))),
    "Softplus": (0.0, 0.0, lambda x, a, b: np.logaddexp(0, x)),
    # Beyond ONNX (Keras 3's definitions; alpha is squareplus's b, the shrinks' threshold).
    "selu": (0.0, 0.0, lambda x, a, b: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))),
    "relu6": (0.0, 0.0, lambda x, a, b: np.clip(x, 0, 6)),
    "gelu": (0.0, 0.0, lambda x, a, b: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (0.0, 0.0, lambda x, a, b: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    "silu": (0.0, 0.0, lambda x, a, b: x / (1 + np.exp(-x))),
    "hard_tanh": (0.0, 0.0, lambda x, a, b: np.clip(x, -1, 1)),
    "log_sigmoid": (0.0, 0.0, lambda x, a, b: -np.logaddexp(0, -x)),
    "mish": (0.0, 0.0, lambda x, a, b: x * np.tanh(np.logaddexp(0, x))),
    "hard_silu": (0.0, 0.0, lambda x, a, b: x * np.clip(x + 3, 0, 6) / 6),
    "sparse_plus": (0.0, 0.0, lambda x, a, b: np.where(x <= -1, 0.0, np.where(x < 1, (x + 1) ** 2 / 4, x))),
    "squareplus": (2.5, 0.0, lambda x, a, b: (x + np.sqrt(x * x + a)) / 2),
    "sin": (0.0, 0.0, lambda x, a, b: np.sin(x)),
    "tanh_shrink": (0.0, 0.0, lambda x, a, b: x - np.tanh(x)),
    "soft_shrink": (0.3, 0.0, lambda x, a, b: np.where(x > a, x - a, np.where(x < -a, x + a, 0.0))),
    "hard_shrink": (0.3, 0.0, lambda x, a, b: np.where(np.abs(x) > a, x, 0.0)),
    "exponential": (0.0, 0.0, lambda x, a, b: np.exp(x)),
}

# Each activation once as the gate function (candidate tanh) and once as the candidate (gates
# sigmoid), with and without clip, in both formulations.
CASES = [(f, "Tanh") for f in ACTIVATIONS] + [("Sigmoid", g) for g in ACTIVATIONS if g != "Tanh"]


def _skip_unbounded(f, clip):
    # z = e^a > 1 makes h grow doubly exponentially: it overflows in both computations, at
    # different steps. The clipped case bounds a and tests the exponential gate.
    if f == "exponential" and clip is None:
        pytest.skip("an exponential gate needs a clip to keep h finite")


def _act(name, x):
    a, b, fn = ACTIVATIONS[name]
    return fn(x, a, b)


def reference_forward(x, h0, p, f, g, clip, reset_after):
    """The ONNX GRU equations (PyTorch gate order r, z, n), float64."""
    cl = (lambda a: np.clip(a, -clip, clip)) if clip else (lambda a: a)
    W, R, bw, br = p
    h = h0.copy()
    ys = []
    for t in range(x.shape[0]):
        gx = x[t] @ W.T + bw
        gh = h @ R[: 2 * H].T + br[: 2 * H]
        r = _act(f, cl(gx[:, :H] + gh[:, :H]))
        z = _act(f, cl(gx[:, H:2 * H] + gh[:, H:]))
        if reset_after:
            a_n = gx[:, 2 * H:] + r * (h @ R[2 * H:].T + br[2 * H:])
        else:
            a_n = gx[:, 2 * H:] + (r * h) @ R[2 * H:].T + br[2 * H:]
        n = _act(g, cl(a_n))
        h = (1 - z) * n + z * h
        ys.append(h)
    return np.stack(ys), h


def _core_model(dtype, f, g, clip, reset_after, params):
    cls = _core.GruF64 if dtype == np.float64 else _core.GruF32
    fa, fb, _ = ACTIVATIONS[f]
    ga, gb, _ = ACTIVATIONS[g]
    m = cls(D, H, 1, True, False, reset_after, gate_activation=f, gate_alpha=fa, gate_beta=fb,
            candidate_activation=g, candidate_alpha=ga, candidate_beta=gb, clip=clip)
    m.set_params(0, 0, *[np.ascontiguousarray(a, dtype) for a in params])
    return m


def _problem(seed):
    rng = np.random.default_rng(seed)
    params = [rng.uniform(-0.8, 0.8, s) for s in ((3 * H, D), (3 * H, H), (3 * H,), (3 * H,))]
    return rng.standard_normal((T, B, D)), rng.standard_normal((B, H)) * 0.5, params


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("clip", [None, CLIP], ids=["noclip", "clip"])
@pytest.mark.parametrize("f,g", CASES, ids=[f"{f}-{g}" for f, g in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_forward_matches_the_onnx_equations(isa, dtype, f, g, clip, reset_after):
    _skip_unbounded(f, clip)
    x, h0, params = _problem(1)
    y_ref, h_ref = reference_forward(x, h0, params, f, g, clip, reset_after)
    m = _core_model(dtype, f, g, clip, reset_after, params)
    y, h_n, _ = m.forward(x.astype(dtype), h0[None].astype(dtype), None, False, 0.0, 0)
    assert_close(y, y_ref, FORWARD[np.dtype(dtype)], f"y {f}/{g}")
    assert_close(h_n[0], h_ref, FORWARD[np.dtype(dtype)], f"h_n {f}/{g}")


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("clip", [None, CLIP], ids=["noclip", "clip"])
@pytest.mark.parametrize("f,g", CASES, ids=[f"{f}-{g}" for f, g in CASES])
def test_backward_matches_finite_differences(isa, f, g, clip, reset_after):
    _skip_unbounded(f, clip)
    x, h0, params = _problem(2)
    rng = np.random.default_rng(3)
    dy, dh = rng.standard_normal((T, B, H)), rng.standard_normal((1, B, H))
    m = _core_model(np.float64, f, g, clip, reset_after, params)

    def loss(xx, hh):
        y, h_n, _ = m.forward(xx, hh, None, False, 0.0, 0)
        return float((y * dy).sum() + (h_n * dh).sum())

    _, _, cache = m.forward(x, h0[None], None, True, 0.0, 0)
    dx, dh0, _ = m.backward(cache, T, B, None, dy, dh, 0.0, 0)
    for name, value, grad in (("x", x, dx), ("h0", h0[None].copy(), dh0)):
        fd = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus, minus = value.copy(), value.copy()
            plus[idx] += FD_STEP
            minus[idx] -= FD_STEP
            args = (plus, h0[None]) if name == "x" else (x, plus)
            args_m = (minus, h0[None]) if name == "x" else (x, minus)
            fd[idx] = (loss(*args) - loss(*args_m)) / (2 * FD_STEP)
        assert_close(grad, fd, FD, f"d{name} {f}/{g}")


def test_unknown_activation_and_bad_clip_are_refused():
    with pytest.raises(ValueError, match="unknown activation 'Softmax'"):
        _core.GruF32(2, 3, 1, True, False, True, gate_activation="Softmax")
    with pytest.raises(ValueError, match="clip must be > 0"):
        _core.GruF32(2, 3, 1, True, False, True, clip=-1.0)
