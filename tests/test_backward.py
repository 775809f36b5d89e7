"""fastgru's gradients (x, h0, every parameter) against the float64 reference, once per ISA,
plus central finite differences of fastgru's own float64 backward, dropout included."""

import itertools

import numpy as np
import pytest

import fastgru.functional as F
from conftest import DTYPES, build_case, cotangents, reference_backward
from tolerances import EXACT, FD, FD_STEP, GRAD, assert_close, assert_differ

SIZES = [1, 7, 8, 9, 15, 16, 17, 33, 100]
SHAPES = [(H, D, (1, 3)[i % 2], (1, 2, 17)[i % 3])
          for i, (H, D) in enumerate(zip(SIZES, SIZES[4:] + SIZES[:4]))]

# All 192 combinations of layers, bidirectional, lengths, batch_first, bias, reset_after, h0.
CONFIGS = list(itertools.product([1, 2, 3], [False, True], [False, True], [False, True],
                                 [True, False], [True, False], [True, False]))


def _config_id(c):
    L, bidir, lens, bf, bias, ra, h0 = c
    return (f"L{L}-{'bi' if bidir else 'uni'}-{'lens' if lens else 'full'}"
            f"-{'bf' if bf else 'tm'}-{'bias' if bias else 'nobias'}"
            f"-{'ra' if ra else 'rb'}-{'h0' if h0 else 'noh0'}")


def _check_grads(grads, ref, case, what=""):
    assert set(grads) == set(ref), f"{what} gradient keys {sorted(grads)} != {sorted(ref)}"
    tol = GRAD[case.dtype]
    for key, expected in ref.items():
        assert grads[key].dtype == case.dtype, f"{what} grad {key} dtype {grads[key].dtype}"
        assert_close(grads[key], expected, tol, f"{what} d{key}")


def _check_backward(case, dy, dh_n):
    ref = reference_backward(case, dy, dh_n)
    _, _, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths, training=True)
    grads = case.gru.backward(cache, dy, dh_n)
    # Keys: x, h0 (even when h0 was omitted) and every state_dict name.
    assert set(grads) == {"x", "h0"} | set(case.gru.state_dict())
    _check_grads(grads, ref, case, "GRU.backward")

    _, _, fcache = F.gru_forward(case.x, case.params, case.h0, case.lengths,
                                 reset_after=case.reset_after, batch_first=case.batch_first)
    _check_grads(F.gru_backward(fcache, dy, dh_n), ref, case, "functional")
    return grads


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reset_after", [True, False], ids=["ra", "rb"])
@pytest.mark.parametrize("H,D,B,T", SHAPES, ids=[f"H{h}-D{d}-B{b}-T{t}" for h, d, b, t in SHAPES])
def test_tail_shapes(isa, rng, H, D, B, T, reset_after, dtype):
    case = build_case(rng, D=D, H=H, T=T, B=B, L=2, bidir=True, reset_after=reset_after,
                      dtype=dtype, lengths=B > 1, h0=True)
    _check_backward(case, *cotangents(rng, case))


LARGE = [(257, 513, 35, 3), (128, 64, 67, 4), (300, 1, 130, 2)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("H,D,B,T", LARGE, ids=[f"H{h}-D{d}-B{b}-T{t}" for h, d, b, t in LARGE])
def test_large_shapes(isa, rng, H, D, B, T, dtype):
    # Beyond every tile / cache block, batch split across threads.
    case = build_case(rng, D=D, H=H, T=T, B=B, L=2, bidir=True, dtype=dtype, lengths=True)
    _check_backward(case, *cotangents(rng, case))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reset_after", [True, False], ids=["ra", "rb"])
def test_gradients_over_several_step_chunks(isa, rng, reset_after, dtype):
    # The backward sums the weight gradients (and makes dx) a chunk of steps at a time, ~4 MB of
    # gate gradients: at B=40, H=256 that is 17 float32 / 8 float64 steps, so T=40 runs several
    # chunks, the last one partial, in both directions, with sequences ending inside chunks and
    # the batch split across threads by sequence.
    case = build_case(rng, D=24, H=256, T=40, B=40, L=2, bidir=True, reset_after=reset_after,
                      dtype=dtype, lengths=True)
    _check_backward(case, *cotangents(rng, case))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("config", CONFIGS, ids=[_config_id(c) for c in CONFIGS])
def test_configurations(isa, rng, config, dtype):
    L, bidir, lens, bf, bias, ra, h0 = config
    case = build_case(rng, D=9, H=17, T=5, B=3, L=L, bidir=bidir, bias=bias, reset_after=ra,
                      batch_first=bf, dtype=dtype, lengths=lens, h0=h0)
    grads = _check_backward(case, *cotangents(rng, case))
    assert grads["h0"].shape == (L * case.dirs, 3, 17)
    if lens:
        # Padding is not part of the sequence: its gradient is exactly zero.
        for b, n in enumerate(case.lengths):
            pad = grads["x"][b, n:] if bf else grads["x"][n:, b]
            assert_close(pad, np.zeros_like(pad), EXACT[case.dtype], f"dx past length {n}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("mode", ["dy", "dh_n", "both", "none"])
@pytest.mark.parametrize("bidir", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("L", [1, 2])
def test_cotangent_subsets(isa, rng, L, bidir, mode, dtype):
    # dy or dh_n may be None (= zeros); both None gives all-zero gradients.
    case = build_case(rng, D=7, H=16, T=4, B=3, L=L, bidir=bidir, dtype=dtype, lengths=True)
    dy, dh_n = cotangents(rng, case)
    dy = dy if mode in ("dy", "both") else None
    dh_n = dh_n if mode in ("dh_n", "both") else None
    grads = _check_backward(case, dy, dh_n)
    if mode == "none":
        for key, g in grads.items():
            assert_close(g, np.zeros_like(g), EXACT[case.dtype], f"d{key} without cotangents")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("h0", [True, False], ids=["h0", "noh0"])
@pytest.mark.parametrize("bidir", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("L", [1, 2])
def test_unbatched(isa, rng, L, bidir, h0, dtype):
    case = build_case(rng, D=8, H=9, T=6, L=L, bidir=bidir, dtype=dtype, h0=h0,
                      unbatched=True)
    grads = _check_backward(case, *cotangents(rng, case))
    assert grads["x"].shape == (6, 8)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_long_sequence(isa, rng, dtype):
    # Backprop through 1000 steps.
    case = build_case(rng, D=5, H=16, T=1000, B=3, L=1, bidir=True, dtype=dtype, lengths=True)
    _check_backward(case, *cotangents(rng, case))


# ---------------------------------------------------------------------------------------------
# Finite differences of fastgru's own float64 backward (no reference involved), with
# inter-layer dropout active: a fixed dropout_seed fixes the mask across evaluations.

FD_CONFIGS = [  # (L, bidir, reset_after, bias, batch_first, lengths, dropout)
    (3, True, True, True, False, True, 0.5),
    (2, False, False, True, True, True, 0.3),
    (2, True, False, False, False, False, 0.6),
    (1, False, True, True, False, True, 0.0),
]


@pytest.mark.parametrize("config", FD_CONFIGS,
                         ids=[f"L{c[0]}-{'bi' if c[1] else 'uni'}-{'ra' if c[2] else 'rb'}"
                              f"-p{c[6]}" for c in FD_CONFIGS])
def test_finite_differences(isa, rng, config):
    L, bidir, ra, bias, bf, lens, p = config
    case = build_case(rng, D=5, H=7, T=6, B=3, L=L, bidir=bidir, bias=bias, reset_after=ra,
                      batch_first=bf, dtype=np.float64, lengths=lens, h0=True)
    dy, dh_n = cotangents(rng, case)
    kw = dict(reset_after=ra, batch_first=bf, dropout=p, training=True, dropout_seed=1234)

    def loss(x, h0, params):
        y, h_n, _ = F.gru_forward(x, params, h0, case.lengths, **kw)
        return float(np.sum(y * dy) + np.sum(h_n * dh_n))

    _, _, cache = F.gru_forward(case.x, case.params, case.h0, case.lengths, **kw)
    grads = F.gru_backward(cache, dy, dh_n)

    if p > 0 and L > 1:
        # The mask really is applied (else this would only re-test the dropout-free path).
        y_drop, _, _ = F.gru_forward(case.x, case.params, case.h0, case.lengths, **kw)
        y_plain, _, _ = F.gru_forward(case.x, case.params, case.h0, case.lengths,
                                      reset_after=ra, batch_first=bf)
        assert_differ(y_drop, y_plain, "dropout in training")

    inputs = {"x": case.x, "h0": case.h0, **case.params}
    for key, value in inputs.items():
        # One random direction per array: checks the whole gradient array at once.
        v = rng.standard_normal(value.shape)

        def at(sign, key=key, v=v):
            moved = dict(inputs)
            moved[key] = inputs[key] + sign * FD_STEP * v
            return loss(moved["x"], moved["h0"],
                        {k: moved[k] for k in case.params})

        fd = (at(+1) - at(-1)) / (2 * FD_STEP)
        analytic = float(np.sum(grads[key] * v))
        assert_close(analytic, fd, FD, f"directional derivative along d{key}")
