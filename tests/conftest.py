"""Shared fixtures and problem builders for fastgru's tests.

fastgru is imported lazily (inside fixtures and helpers) so that tests/test_reference.py,
which checks the NumPy reference alone, runs even where fastgru is not built.
"""

import os
import sys
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)  # `import reference`, `import tolerances`
# The repository root too: spawn/forkserver workers import test modules as `tests.<name>` (their
# sys.path is the parent's), whatever directory pytest was started from.
if os.path.dirname(TESTS_DIR) not in sys.path:
    sys.path.append(os.path.dirname(TESTS_DIR))

import reference  # noqa: E402

# "ci" (the default): reproducible runs, bounded time. The isa fixture is deliberately shared
# by all examples of a test, hence the function_scoped_fixture suppression.
settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=30, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile(
    "dev", deadline=None, max_examples=300, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ALL_ISAS = ["scalar", "avx2", "avx512"]
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    """Runs the test with one kernel ISA active; ISAs this machine cannot run are skipped."""
    import fastgru

    name = request.param
    if name not in fastgru.available_isas():
        pytest.skip(f"ISA {name} is not available here ({fastgru.available_isas()})")
    with fastgru.use_isa(name):
        assert fastgru.get_isa() == name
        yield name


@pytest.fixture
def rng(request):
    # Seeded from the test id: reproducible, yet different problems in different tests.
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def restore_threads():
    """Restores fastgru's thread count after a test that changes it."""
    import fastgru

    before = fastgru.get_num_threads()
    yield before
    fastgru.set_num_threads(before)


def make_lengths(rng, B, T):
    """Unsorted lengths containing 1 and T (as far as B allows)."""
    lens = [1, T] + list(rng.integers(1, T + 1, size=max(B - 2, 0)))
    lens = np.array(lens[:B], dtype=np.int64)
    if B >= 3:
        lens[[0, 1, 2]] = lens[[2, 0, 1]]  # a middle length first: not sorted either way
    return lens


def build_case(rng, *, D, H, T=5, B=3, L=1, bidir=False, bias=True, reset_after=True,
               batch_first=False, dtype=np.float32, lengths=False, h0=True,
               unbatched=False, x_scale=1.0):
    """A fastgru.GRU with reference-drawn weights plus inputs, all rounded to ``dtype``.

    ``ref`` holds the same values in float64 for reference.gru_forward / gru_backward.
    """
    import fastgru

    dtype = np.dtype(dtype)
    dirs = 2 if bidir else 1
    params64 = reference.init_params(rng, D, H, L, bidir, bias)
    params = {k: v.astype(dtype) for k, v in params64.items()}
    gru = fastgru.GRU(D, H, num_layers=L, bias=bias, batch_first=batch_first,
                      bidirectional=bidir, reset_after=reset_after, dtype=dtype, seed=0)
    gru.load_state_dict(params)

    if unbatched:
        x = rng.standard_normal((T, D))
        h0_shape = (L * dirs, H)
    else:
        x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
        h0_shape = (L * dirs, B, H)
    x = (x_scale * x).astype(dtype)
    h0_arr = rng.uniform(-1, 1, size=h0_shape).astype(dtype) if h0 else None
    lens = make_lengths(rng, B, T) if lengths else None
    y_shape = ((T, dirs * H) if unbatched else
               (B, T, dirs * H) if batch_first else (T, B, dirs * H))
    return SimpleNamespace(
        gru=gru, params=params, x=x, h0=h0_arr, lengths=lens, dtype=dtype,
        D=D, H=H, T=T, B=B, L=L, dirs=dirs, bidir=bidir, bias=bias, reset_after=reset_after,
        batch_first=batch_first, unbatched=unbatched, y_shape=y_shape, h_shape=h0_shape,
        kw=dict(num_layers=L, bidirectional=bidir, reset_after=reset_after,
                batch_first=batch_first))


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def reference_forward(case):
    params = {k: _f64(v) for k, v in case.params.items()}
    return reference.gru_forward(_f64(case.x), params, _f64(case.h0), case.lengths, **case.kw)


def reference_backward(case, dy=None, dh_n=None):
    params = {k: _f64(v) for k, v in case.params.items()}
    return reference.gru_backward(_f64(case.x), params, _f64(case.h0), case.lengths,
                                  _f64(dy), _f64(dh_n), **case.kw)


def cotangents(rng, case):
    """Random dy, dh_n with the shapes of y, h_n, in the case's dtype."""
    dy = rng.standard_normal(case.y_shape).astype(case.dtype)
    dh_n = rng.standard_normal(case.h_shape).astype(case.dtype)
    return dy, dh_n
