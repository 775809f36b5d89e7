"""fastgru's forward pass against the float64 NumPy reference, once per kernel ISA."""

import itertools
import os

import numpy as np
import pytest

import fastgru
import fastgru.functional as F
from conftest import DTYPES, build_case, reference_forward
from tolerances import EXACT, FORWARD, assert_close

# Sizes around the 8- and 16-lane vector widths (and 1 and 100). Every value appears as H and
# as D; D is H's list rotated, so H and D are never the same tail. B and T cycle through all
# six (B, T) pairs.
SIZES = [1, 7, 8, 9, 15, 16, 17, 33, 100]
SHAPES = [(H, D, (1, 3)[i % 2], (1, 2, 17)[i % 3])
          for i, (H, D) in enumerate(zip(SIZES, SIZES[4:] + SIZES[:4]))]

# Every combination of the structural switches (192): layers, bidirectional, lengths,
# batch_first, bias, reset_after, h0 given.
CONFIGS = list(itertools.product([1, 2, 3], [False, True], [False, True], [False, True],
                                 [True, False], [True, False], [True, False]))


def _config_id(c):
    L, bidir, lens, bf, bias, ra, h0 = c
    return (f"L{L}-{'bi' if bidir else 'uni'}-{'lens' if lens else 'full'}"
            f"-{'bf' if bf else 'tm'}-{'bias' if bias else 'nobias'}"
            f"-{'ra' if ra else 'rb'}-{'h0' if h0 else 'noh0'}")


def _check_forward(case):
    y_ref, h_ref = reference_forward(case)
    tol = FORWARD[case.dtype]

    y, h_n = case.gru(case.x, case.h0, lengths=case.lengths)
    assert y.dtype == case.dtype and h_n.dtype == case.dtype
    assert_close(y, y_ref, tol, "y")
    assert_close(h_n, h_ref, tol, "h_n")

    # The differentiable forward (no dropout configured) computes the same thing.
    y2, h2, _ = case.gru.forward(case.x, case.h0, lengths=case.lengths, training=True)
    assert_close(y2, y_ref, tol, "forward().y")
    assert_close(h2, h_ref, tol, "forward().h_n")

    # The functional layer, sizes/layers/directions inferred from the parameter dict.
    y3, h3, _ = F.gru_forward(case.x, case.params, case.h0, case.lengths,
                              reset_after=case.reset_after, batch_first=case.batch_first)
    assert_close(y3, y_ref, tol, "functional y")
    assert_close(h3, h_ref, tol, "functional h_n")
    return y, h_n


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reset_after", [True, False], ids=["ra", "rb"])
@pytest.mark.parametrize("H,D,B,T", SHAPES, ids=[f"H{h}-D{d}-B{b}-T{t}" for h, d, b, t in SHAPES])
def test_tail_shapes(isa, rng, H, D, B, T, reset_after, dtype):
    # Two bidirectional layers: layer 1 sees D inputs, layer 2 sees 2H; lengths when B > 1.
    case = build_case(rng, D=D, H=H, T=T, B=B, L=2, bidir=True, reset_after=reset_after,
                      dtype=dtype, lengths=B > 1, h0=True)
    _check_forward(case)


# Larger than any micro-kernel tile or cache block, with ragged remainders everywhere, and a
# batch big enough to be split across threads.
LARGE = [(257, 513, 35, 3), (128, 64, 67, 4), (300, 1, 130, 2)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("H,D,B,T", LARGE, ids=[f"H{h}-D{d}-B{b}-T{t}" for h, d, b, t in LARGE])
def test_large_shapes(isa, rng, H, D, B, T, dtype):
    case = build_case(rng, D=D, H=H, T=T, B=B, L=2, bidir=True, dtype=dtype, lengths=True)
    _check_forward(case)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("config", CONFIGS, ids=[_config_id(c) for c in CONFIGS])
def test_configurations(isa, rng, config, dtype):
    L, bidir, lens, bf, bias, ra, h0 = config
    case = build_case(rng, D=9, H=17, T=5, B=3, L=L, bidir=bidir, bias=bias, reset_after=ra,
                      batch_first=bf, dtype=dtype, lengths=lens, h0=h0)
    y, h_n = _check_forward(case)
    if lens:
        # Packed semantics: exact zeros past each length.
        for b, n in enumerate(case.lengths):
            pad = y[b, n:] if bf else y[n:, b]
            assert_close(pad, np.zeros_like(pad), EXACT[case.dtype], f"y past length {n}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("h0", [True, False], ids=["h0", "noh0"])
@pytest.mark.parametrize("bidir", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("L,bf", [(1, False), (2, False), (2, True)], ids=["L1", "L2", "L2-bf"])
def test_unbatched(isa, rng, L, bf, bidir, h0, dtype):
    # (T, D) input: y (T, dirs*H), h_n (L*dirs, H), like PyTorch; batch_first does not apply.
    case = build_case(rng, D=8, H=9, T=6, L=L, bidir=bidir, dtype=dtype, h0=h0,
                      unbatched=True, batch_first=bf)
    y, h_n = _check_forward(case)
    assert y.shape == (6, case.dirs * 9) and h_n.shape == (L * case.dirs, 9)

    # Same numbers as a batch of one.
    xb = case.x[None, :, :] if bf else case.x[:, None, :]
    yb, hb = case.gru(xb, None if case.h0 is None else case.h0[:, None, :])
    yb = yb[0] if bf else yb[:, 0]
    assert_close(y, yb, EXACT[case.dtype], "unbatched vs batch of one: y")
    assert_close(h_n, hb[:, 0], EXACT[case.dtype], "unbatched vs batch of one: h_n")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_long_sequence(isa, rng, dtype):
    # 1000 steps: errors must not accumulate along the recurrence.
    case = build_case(rng, D=5, H=16, T=1000, B=3, L=1, bidir=True, dtype=dtype, lengths=True)
    _check_forward(case)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_saturating_inputs(isa, rng, dtype):
    # |pre-activations| ~1e3: sigmoid/tanh must saturate to 0/±1, never overflow to NaN/inf.
    case = build_case(rng, D=17, H=33, T=4, B=3, L=2, bidir=True, dtype=dtype,
                      x_scale=1e4)
    y, h_n = _check_forward(case)
    assert np.all(np.isfinite(y)) and np.all(np.abs(y) <= 1)


def test_default_isa_is_best_available(rng):
    # Without use_isa the best ISA this machine can run is active (unless FASTGRU_ISA forces
    # one), and it matches the reference too.
    expected = os.environ.get("FASTGRU_ISA") or fastgru.available_isas()[-1]
    assert fastgru.get_isa() == expected
    case = build_case(rng, D=16, H=16, T=3, B=3, L=1)
    _check_forward(case)
