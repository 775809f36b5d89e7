"""Batch norm on the z and n blocks of the input projection (the Light GRU's), in the compiled
core: statistics over the valid steps only, running statistics in inference, and backward
through the normalisation, per ISA. Oracles: float64 NumPy equations and central finite
differences of the core's own float64 forward."""

import numpy as np
import pytest

from fastgru import _core
from tolerances import FD, FORWARD, assert_close, central_differences

H, D, T, B = 4, 3, 5, 3
EPS = 1e-5
LENGTHS = np.array([5, 2, 4], np.int64)


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    p = [rng.uniform(-0.7, 0.7, s) for s in ((3 * H, D), (3 * H, H), (3 * H,), (3 * H,))]
    bn = [rng.uniform(0.5, 1.5, 2 * H), rng.uniform(-0.3, 0.3, 2 * H), rng.uniform(-0.2, 0.2, 2 * H),
          rng.uniform(0.5, 2.0, 2 * H)]
    return rng.standard_normal((T, B, D)), rng.standard_normal((B, H)) * 0.5, p, bn


def _model(dtype, p, bn, reset_after=True):
    cls = _core.GruF64 if dtype == np.float64 else _core.GruF32
    m = cls(D, H, 1, True, False, reset_after, batch_norm=True, batch_norm_eps=EPS)
    m.set_params(0, 0, *[np.ascontiguousarray(a, dtype) for a in p])
    m.set_batch_norm(0, 0, *[np.ascontiguousarray(a, dtype) for a in bn])
    return m


def reference(x, h0, p, bn, lengths, batch_stats, reset_after=True):
    """Returns (y, h_n, mean, unbiased var) of the batch-normed GRU, float64."""
    W, R, bw, br = p
    gamma, beta, rmean, rvar = bn
    valid = np.arange(T)[:, None] < lengths[None, :]           # (T, B)
    gx = x @ W.T + bw                                           # (T, B, 3H)
    cols = gx[valid][:, H:]                                     # valid rows of the z, n blocks
    mean, var = cols.mean(0), cols.var(0)
    unbiased = cols.var(0, ddof=1)
    m, v = (mean, var) if batch_stats else (rmean, rvar)
    gx[..., H:] = gamma * (gx[..., H:] - m) / np.sqrt(v + EPS) + beta
    h = h0.copy()
    y = np.zeros((T, B, H))
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    for t in range(T):
        gh = h @ R.T + br
        r = sig(gx[t, :, :H] + gh[:, :H])
        z = sig(gx[t, :, H:2 * H] + gh[:, H:2 * H])
        if reset_after:
            n = np.tanh(gx[t, :, 2 * H:] + r * gh[:, 2 * H:])
        else:
            n = np.tanh(gx[t, :, 2 * H:] + (r * h) @ R[2 * H:].T + br[2 * H:])
        new = (1 - z) * n + z * h
        live = valid[t][:, None]
        h = np.where(live, new, h)
        y[t] = np.where(live, new, 0.0)
    return y, h, mean, unbiased


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("batch_stats", [True, False], ids=["batch", "running"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_forward_and_statistics_match_the_equations(isa, dtype, batch_stats, reset_after):
    x, h0, p, bn = _problem()
    y_ref, h_ref, mean, var = reference(x, h0, p, bn, LENGTHS, batch_stats, reset_after)
    m = _model(dtype, p, bn, reset_after)
    stats = np.zeros((1, 2, 2 * H), dtype)
    y, h_n, _ = m.forward(x.astype(dtype), h0[None].astype(dtype), LENGTHS, False, 0.0, 0, batch_stats, stats)
    tol = FORWARD[np.dtype(dtype)]
    assert_close(y, y_ref, tol, "y")
    assert_close(h_n[0], h_ref, tol, "h_n")
    if batch_stats:
        assert_close(stats[0, 0], mean, tol, "batch mean")
        assert_close(stats[0, 1], var, tol, "batch variance (unbiased)")
    else:
        assert not stats.any(), "running statistics leave bn_stats untouched"


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("batch_stats", [True, False], ids=["batch", "running"])
def test_backward_matches_finite_differences(isa, batch_stats, reset_after):
    x, h0, p, bn = _problem(1)
    rng = np.random.default_rng(2)
    dy, dh = rng.standard_normal((T, B, H)), rng.standard_normal((1, B, H))

    def loss(xx=x, params=p, bnp=bn):
        m = _model(np.float64, params, bnp, reset_after)
        y, h_n, _ = m.forward(xx, h0[None], LENGTHS, False, 0.0, 0, batch_stats, None)
        return float((y * dy).sum() + (h_n * dh).sum())

    m = _model(np.float64, p, bn, reset_after)
    _, _, cache = m.forward(x, h0[None], LENGTHS, True, 0.0, 0, batch_stats, None)
    dx, _, per_layer = m.backward(cache, T, B, LENGTHS, dy, dh, 0.0, 0, batch_stats)
    d_w_ih, _, _, _, d_gamma, d_beta = per_layer[0]

    assert_close(dx, central_differences(lambda v: loss(xx=v), x), FD, "dx")
    assert_close(d_w_ih, central_differences(lambda v: loss(params=[v, *p[1:]]), p[0]), FD, "dW_ih")
    assert_close(d_gamma, central_differences(lambda v: loss(bnp=[v, *bn[1:]]), bn[0]), FD, "d bn_weight")
    assert_close(d_beta, central_differences(lambda v: loss(bnp=[bn[0], v, *bn[2:]]), bn[1]), FD, "d bn_bias")


def test_batch_norm_arguments_are_checked():
    plain = _core.GruF32(D, H, 1, True, False, True)
    with pytest.raises(ValueError, match="no batch norm"):
        plain.set_batch_norm(0, 0, *[np.ones(2 * H, np.float32)] * 4)
    m = _core.GruF32(D, H, 1, True, False, True, batch_norm=True)
    with pytest.raises(ValueError, match=r"bn_weight has shape \(3,\), expected \(8,\)"):
        m.set_batch_norm(0, 0, np.ones(3, np.float32), *[np.ones(2 * H, np.float32)] * 3)
    with pytest.raises(ValueError, match="batch_norm_eps"):
        _core.GruF32(D, H, 1, True, False, True, batch_norm=True, batch_norm_eps=0.0)
