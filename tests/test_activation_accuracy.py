"""Accuracy of the general activations beyond ONNX's set (Keras 3's definitions, SpeechBrain's sin)
and of their derivatives, elementwise, per ISA and dtype: against mpmath at 256 bits, at ordinary
and extreme inputs, NaN and ±inf, and in vector tails.

The bound (stated in cpp/src/kernels/activation_scalar.h) is the one tests/test_vmath.py checks for
the vectorised tanh, 4 ulp of the true value plus 2 machine epsilons absolute, for the values and
for the derivatives the backward kernels use: relu6, hard_tanh, hard_silu and silu are vectorised
(a clamp, a multiply-add, the vectorised sigmoid), the rest run lane by lane in double."""

import functools

import numpy as np
import pytest

from fastgru import _core

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp

ULPS, ABS_EPS = 4.0, 2.0
# Keras's squareplus b and the shrinks' threshold: the default and one other value.
PARAMS = {"squareplus": [4.0, 0.3], "soft_shrink": [0.5, 1.25], "hard_shrink": [0.5, 1.25]}
SELU_L = mpmath.mpf("1.0507009873554804934193349852946")
SELU_A = mpmath.mpf("1.6732632423543772848170429916717")


def _clip(x, lo, hi):
    return lo if x < lo else (hi if x > hi else x)


def _squareplus(x, b):
    r = mpmath.sqrt(x * x + b)
    return (x + r) / 2 if x >= 0 else b / (2 * (r - x))  # the same number, without cancellation


def _gelu(x):
    if abs(x) > 1e4:  # x Phi(x) is x or 0 to within e^(-5e7); mpmath's erfc cannot take 1e308
        return x if x > 0 else mpmath.mpf(0)
    return x / 2 * mpmath.erfc(-x / mpmath.sqrt(2))


# name -> (mpmath function of (x, alpha), the points where it is not differentiable)
TRUTH = {
    "selu": (lambda x, a: SELU_L * (x if x > 0 else SELU_A * mpmath.expm1(x)), [0.0]),
    "relu6": (lambda x, a: _clip(x, 0, 6), [0.0, 6.0]),
    "gelu": (lambda x, a: _gelu(x), []),
    "gelu_tanh": (lambda x, a: x / 2 * (1 + mpmath.tanh(mpmath.sqrt(2 / mpmath.pi)
                                                       * (x + mpmath.mpf("0.044715") * x**3))), []),
    "silu": (lambda x, a: x / (1 + mpmath.exp(-x)), []),
    "hard_tanh": (lambda x, a: _clip(x, -1, 1), [-1.0, 1.0]),
    "log_sigmoid": (lambda x, a: -mpmath.log1p(mpmath.exp(-x)), []),
    "mish": (lambda x, a: x * mpmath.tanh(mpmath.log1p(mpmath.exp(x))), []),
    "hard_silu": (lambda x, a: x * _clip(x + 3, 0, 6) / 6, [-3.0, 3.0]),
    "sparse_plus": (lambda x, a: 0 if x <= -1 else ((x + 1) ** 2 / 4 if x < 1 else x), [-1.0, 1.0]),
    "squareplus": (lambda x, a: _squareplus(x, a), []),
    "sin": (lambda x, a: mpmath.sin(x), []),
    "tanh_shrink": (lambda x, a: x - mpmath.tanh(x), []),
    "soft_shrink": (lambda x, a: x - a if x > a else (x + a if x < -a else 0), "alpha"),
    "hard_shrink": (lambda x, a: x if abs(x) > a else 0, "alpha"),
    "exponential": (lambda x, a: mpmath.exp(x), []),
}
CASES = [(n, a) for n in TRUTH for a in PARAMS.get(n, [0.0])]


def _grid(dtype):
    big = 88.0 if dtype == np.float32 else 709.0
    fin = np.finfo(dtype)
    tiny = np.geomspace(1e-30 if dtype == np.float32 else 1e-300, 1.0, 60)
    extreme = [big / 2, big - 1, big, big + 1, 1e5, 1e18, 1e30, fin.max]
    core = np.linspace(-12, 12, 961)
    pts = np.concatenate([core, tiny, -tiny, extreme, -np.array(extreme), [0.0, 0.3, 1.25, 0.5]])
    return np.unique(pts.astype(dtype))


def _float(v):
    try:
        return float(v)
    except OverflowError:
        return np.inf if v > 0 else -np.inf


@functools.lru_cache(maxsize=None)
def _truth(name, alpha, dtype_name):
    """(x, f(x), f'(x)) at 256 bits, rounded to float64; f' is NaN at (and next to) a kink."""
    dtype = np.dtype(dtype_name)
    x = _grid(dtype)
    fn, kinks = TRUTH[name]
    kinks = [alpha, -alpha] if kinks == "alpha" else kinks
    with mp.workprec(256):
        a = mpmath.mpf(alpha)
        vals, ders = [], []
        for v in x.astype(np.float64):
            xv = mpmath.mpf(float(v))
            vals.append(_float(fn(xv, a)))
            near_kink = any(abs(float(v) - k) < 1e-6 for k in kinks)
            if near_kink or (name == "sin" and abs(v) > 1e17):  # sin: a relative step spans periods
                ders.append(np.nan)
            else:
                h = mpmath.ldexp(max(1, abs(xv)), -100)  # central difference: error ~h^2, far below eps
                ders.append(_float((fn(xv + h, a) - fn(xv - h, a)) / (2 * h)))
    return x, np.array(vals), np.array(ders)


def _check(got, true, dtype, what):
    fin = np.finfo(dtype)
    known = ~np.isnan(true)
    got, true = got[known].astype(np.float64), true[known]
    with np.errstate(over="ignore"):
        rounded = true.astype(dtype)  # where the true value overflows the dtype, the result is ±inf
    inf = np.isinf(rounded)
    np.testing.assert_array_equal(got[inf], rounded[inf].astype(np.float64), err_msg=f"{what}: overflow to ±inf")
    got, true = got[~inf], true[~inf]
    with np.errstate(over="ignore"):
        bound = ULPS * np.spacing(np.abs(true).astype(dtype)).astype(np.float64) + ABS_EPS * fin.eps
    err = np.abs(got - true)
    worst = int(np.argmax(err - bound))
    assert np.all(err <= bound), (f"{what}: error {err[worst]:.3g} > bound {bound[worst]:.3g} "
                                  f"at true value {true[worst]!r}")


@pytest.mark.parametrize("name,alpha", CASES, ids=[f"{n}-{a}" for n, a in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_values_and_derivatives_within_bound(isa, dtype, name, alpha):
    x, f, df = _truth(name, alpha, np.dtype(dtype).name)
    _check(_core.activation_values(name, alpha, 0.0, x), f, dtype, f"{name}({alpha})")
    _check(_core.activation_gradients(name, alpha, 0.0, x), df, dtype, f"{name}'({alpha})")


# f(+inf), f(-inf), f'(+inf), f'(-inf): the limits (sin has none).
INF = {
    "selu": (np.inf, -1.0507009873554805 * 1.6732632423543772, 1.0507009873554805, 0.0),
    "relu6": (6.0, 0.0, 0.0, 0.0), "gelu": (np.inf, 0.0, 1.0, 0.0), "gelu_tanh": (np.inf, 0.0, 1.0, 0.0),
    "silu": (np.inf, 0.0, 1.0, 0.0), "hard_tanh": (1.0, -1.0, 0.0, 0.0), "log_sigmoid": (0.0, -np.inf, 0.0, 1.0),
    "mish": (np.inf, 0.0, 1.0, 0.0), "hard_silu": (np.inf, 0.0, 1.0, 0.0), "sparse_plus": (np.inf, 0.0, 1.0, 0.0),
    "squareplus": (np.inf, 0.0, 1.0, 0.0), "sin": (np.nan, np.nan, np.nan, np.nan),
    "tanh_shrink": (np.inf, -np.inf, 1.0, 1.0), "soft_shrink": (np.inf, -np.inf, 1.0, 1.0),
    "hard_shrink": (np.inf, -np.inf, 1.0, 1.0), "exponential": (np.inf, 0.0, np.inf, 0.0),
}


@pytest.mark.parametrize("name", list(TRUTH))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_nan_and_infinities(isa, dtype, name):
    alpha = PARAMS.get(name, [0.0])[0]
    x = np.array([np.nan, np.inf, -np.inf, np.nan], dtype)
    f = _core.activation_values(name, alpha, 0.0, x)
    df = _core.activation_gradients(name, alpha, 0.0, x)
    assert np.isnan(f[0]) and np.isnan(f[3]) and np.isnan(df[0]) and np.isnan(df[3]), "NaN must propagate"
    want = np.array(INF[name], dtype)
    np.testing.assert_allclose(np.array([f[1], f[2], df[1], df[2]]), want, rtol=4 * np.finfo(dtype).eps,
                               err_msg=f"{name} at ±inf")


@pytest.mark.parametrize("name", list(TRUTH))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_vector_tails_match_full_registers(isa, dtype, name, rng):
    """A partial register computes exactly what a full one does on the same values (every lane
    count the ISAs have), so a length-n call equals the head of a longer one."""
    alpha = PARAMS.get(name, [0.0])[0]
    long = (rng.standard_normal(64) * 4).astype(dtype)
    f_long = _core.activation_values(name, alpha, 0.0, long)
    df_long = _core.activation_gradients(name, alpha, 0.0, long)
    for n in (1, 7, 8, 9, 15, 16, 17, 31, 33):
        np.testing.assert_array_equal(_core.activation_values(name, alpha, 0.0, long[:n].copy()), f_long[:n])
        np.testing.assert_array_equal(_core.activation_gradients(name, alpha, 0.0, long[:n].copy()), df_long[:n])


def test_aliases_and_domain_errors():
    x = np.linspace(-4, 4, 33)
    np.testing.assert_array_equal(_core.activation_values("swish", 0, 0, x), _core.activation_values("silu", 0, 0, x))
    np.testing.assert_array_equal(_core.activation_values("HardSwish", 0, 0, x),
                                  _core.activation_values("hard_silu", 0, 0, x))
    with pytest.raises(ValueError, match=r"squareplus needs alpha \(Keras's b\) > 0"):
        _core.GruF32(2, 3, 1, True, False, True, candidate_activation="squareplus", candidate_alpha=0.0)
    with pytest.raises(ValueError, match="threshold"):
        _core.GruF32(2, 3, 1, True, False, True, gate_activation="soft_shrink", gate_alpha=-1.0)
