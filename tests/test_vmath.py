"""Error bounds of the vectorised sigmoid and tanh the gate kernels use (stated in
cpp/src/kernels/generic/vmath.h), per ISA and dtype, against NumPy in float64 / long double."""

import numpy as np
import pytest

from fastgru import _core

# Bounds in units in the last place of the true value, and in machine epsilons absolute.
SIGMOID_ULP, TANH_ULP, ABS_EPS = 3.0, 4.0, 2.0


def _grid(dtype):
    lim = 80.0 if dtype == np.float32 else 700.0
    tiny = np.geomspace(1e-30 if dtype == np.float32 else 1e-300, 1.0, 20001)
    return np.concatenate([np.linspace(-lim, lim, 400001), tiny, -tiny, [0.0]]).astype(dtype)


def _truth(name, x):
    xl = x.astype(np.longdouble)
    return (1 / (1 + np.exp(-xl))) if name == "sigmoid" else np.tanh(xl)


@pytest.mark.parametrize("name,ulps", [("sigmoid", SIGMOID_ULP), ("tanh", TANH_ULP)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_error_bound(isa, dtype, name, ulps):
    x = _grid(dtype)
    got = _core.activation_values(name, 0.0, 0.0, x).astype(np.longdouble)
    true = _truth(name, x)
    finfo = np.finfo(dtype)
    err = np.abs(got - true)
    assert float(err.max()) <= ABS_EPS * finfo.eps, f"absolute error {float(err.max()):.3g}"
    # Relative bound where the true value is a normal number of this dtype.
    normal = np.abs(true) >= finfo.smallest_normal
    spacing = np.spacing(np.abs(true[normal]).astype(dtype)).astype(np.longdouble)
    worst = float((err[normal] / spacing).max())
    assert worst <= ulps, f"{name} error {worst:.2f} ulp > {ulps}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_special_values(isa, dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e6, -1e6], dtype)
    s = _core.activation_values("sigmoid", 0.0, 0.0, x)
    t = _core.activation_values("tanh", 0.0, 0.0, x)
    assert np.isnan(s[0]) and np.isnan(t[0])
    np.testing.assert_array_equal(s[1:], np.array([1, 0, 0.5, 0.5, 1, 0], dtype))
    np.testing.assert_array_equal(t[1:], np.array([1, -1, 0, 0, 1, -1], dtype))
