"""Checks of the float64 NumPy reference GRU (tests/reference.py) itself.

The reference is the oracle for everything else, so it is checked against independent
evidence: central finite differences for the backward pass, the written cell equations for a
single step, packed-sequence invariants, and torch.nn.GRU when torch is installed. Nothing
here needs fastgru; only the torch tests need torch.
"""

import itertools
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reference import gru_backward, gru_forward, init_params, param_names  # noqa: E402

# Central differences in float64 with step 1e-6: truncation error ~1e-12, cancellation error
# ~1e-16 * |loss| / 1e-6 ~ 1e-9 for these small problems; the tolerances sit well above both
# and far below any real gradient mistake (those show up at 1e-2 and larger).
FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-7

# Same computation, different batch composition: only matmul summation order may differ.
SAME_RTOL = 1e-12
SAME_ATOL = 1e-13

# The brief's contract with PyTorch in float64.
TORCH_ATOL = 1e-10

T, B, D, H = 4, 3, 4, 3
# Unsorted, containing both T and 1, so the packing edge cases are always exercised.
LENGTHS = np.array([2, T, 1])


def _problem(seed, *, num_layers, bidirectional, bias, batch_first, T=T, B=B, D=D, H=H):
    """Random params, x, h0 and cotangents dy, dh_n for one configuration."""
    rng = np.random.default_rng(seed)
    dirs = 2 if bidirectional else 1
    # Scale 0.8 keeps gates away from saturation, so every gradient term is exercised.
    params = init_params(rng, D, H, num_layers, bidirectional, bias, scale=0.8)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    h0 = 0.5 * rng.standard_normal((num_layers * dirs, B, H))
    dy = rng.standard_normal((B, T, dirs * H) if batch_first else (T, B, dirs * H))
    dh_n = rng.standard_normal((num_layers * dirs, B, H))
    return params, x, h0, dy, dh_n


def _time_major(a, batch_first):
    return a.transpose(1, 0, 2) if batch_first else a


# ---------------------------------------------------------------------------------------------
# Finite differences: every gradient key, every element.

# All 64 combinations of the six options; small enough to run in a few seconds, so no option
# pair (or triple) is left out.
FD_CONFIGS = list(itertools.product(
    [True, False],  # reset_after
    [True, False],  # bias
    [1, 2],         # num_layers
    [False, True],  # bidirectional
    [False, True],  # with lengths
    [False, True],  # batch_first
))


def _fd_id(cfg):
    reset_after, bias, layers, bidir, with_len, batch_first = cfg
    return (f"{'after' if reset_after else 'before'}-{'bias' if bias else 'nobias'}-L{layers}-"
            f"{'bi' if bidir else 'uni'}-{'len' if with_len else 'full'}-"
            f"{'bf' if batch_first else 'tm'}")


def _numeric_grad(loss, a):
    """Central differences of loss() w.r.t. every element of a (perturbed in place)."""
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + FD_STEP
        plus = loss()
        a[i] = old - FD_STEP
        minus = loss()
        a[i] = old
        g[i] = (plus - minus) / (2 * FD_STEP)
    return g


@pytest.mark.parametrize("cfg", FD_CONFIGS, ids=_fd_id)
def test_backward_matches_finite_differences(cfg):
    reset_after, bias, num_layers, bidirectional, with_len, batch_first = cfg
    lengths = LENGTHS if with_len else None
    params, x, h0, dy, dh_n = _problem(
        FD_CONFIGS.index(cfg), num_layers=num_layers, bidirectional=bidirectional, bias=bias,
        batch_first=batch_first)
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, reset_after=reset_after,
              batch_first=batch_first)

    def loss():
        y, h_n = gru_forward(x, params, h0, lengths, **kw)
        return np.sum(y * dy) + np.sum(h_n * dh_n)

    grads = gru_backward(x, params, h0, lengths, dy, dh_n, **kw)
    assert set(grads) == {"x", "h0", *param_names(num_layers, bidirectional, bias)}

    arrays = {"x": x, "h0": h0, **params}
    for key, a in arrays.items():
        assert grads[key].shape == a.shape, key
        np.testing.assert_allclose(grads[key], _numeric_grad(loss, a),
                                   rtol=FD_RTOL, atol=FD_ATOL, err_msg=key)


# ---------------------------------------------------------------------------------------------
# The cell equations, written out independently, for one step.

def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


@pytest.mark.parametrize("reset_after", [True, False])
def test_single_step_matches_written_equations(reset_after):
    rng = np.random.default_rng(1)
    p = init_params(rng, D, H)
    x = rng.standard_normal((1, B, D))
    h = rng.standard_normal((1, B, H))
    Wi = np.split(p["weight_ih_l0"], 3)  # r, z, n
    Wh = np.split(p["weight_hh_l0"], 3)
    bi = np.split(p["bias_ih_l0"], 3)
    bh = np.split(p["bias_hh_l0"], 3)
    xt, ht = x[0], h[0]
    r = _sig(xt @ Wi[0].T + bi[0] + ht @ Wh[0].T + bh[0])
    z = _sig(xt @ Wi[1].T + bi[1] + ht @ Wh[1].T + bh[1])
    if reset_after:
        n = np.tanh(xt @ Wi[2].T + bi[2] + r * (ht @ Wh[2].T + bh[2]))
    else:
        n = np.tanh(xt @ Wi[2].T + bi[2] + (r * ht) @ Wh[2].T + bh[2])
    expected = (1 - z) * n + z * ht

    y, h_n = gru_forward(x, p, h, num_layers=1, reset_after=reset_after)
    np.testing.assert_allclose(y[0], expected, rtol=SAME_RTOL, atol=SAME_ATOL)
    np.testing.assert_allclose(h_n[0], expected, rtol=SAME_RTOL, atol=SAME_ATOL)


def test_reset_after_flag_changes_the_result():
    # Guards against the flag being silently ignored (both forms pass finite differences).
    params, x, h0, _, _ = _problem(2, num_layers=1, bidirectional=False, bias=True,
                                   batch_first=False)
    y1, _ = gru_forward(x, params, h0, num_layers=1, reset_after=True)
    y2, _ = gru_forward(x, params, h0, num_layers=1, reset_after=False)
    assert np.max(np.abs(y1 - y2)) > 1e-3


# ---------------------------------------------------------------------------------------------
# Packed-sequence semantics.

PACK_CONFIGS = [
    # (reset_after, num_layers, bidirectional, batch_first)
    (True, 1, False, False),
    (True, 2, True, True),
    (False, 2, True, False),
    (False, 1, True, True),
]


@pytest.mark.parametrize("reset_after,num_layers,bidirectional,batch_first", PACK_CONFIGS)
def test_outputs_and_input_grads_zero_past_length(reset_after, num_layers, bidirectional,
                                                   batch_first):
    params, x, h0, dy, dh_n = _problem(3, num_layers=num_layers, bidirectional=bidirectional,
                                       bias=True, batch_first=batch_first)
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, reset_after=reset_after,
              batch_first=batch_first)
    y, _ = gru_forward(x, params, h0, LENGTHS, **kw)
    dx = gru_backward(x, params, h0, LENGTHS, dy, dh_n, **kw)["x"]
    y, dx = _time_major(y, batch_first), _time_major(dx, batch_first)
    for b, n in enumerate(LENGTHS):
        assert np.all(y[n:, b] == 0.0), f"y past length {n} of sequence {b}"
        assert np.all(dx[n:, b] == 0.0), f"dx past length {n} of sequence {b}"
        assert np.all(y[:n, b] != 0.0), f"y within length {n} of sequence {b}"


@pytest.mark.parametrize("reset_after,num_layers,bidirectional,batch_first", PACK_CONFIGS)
def test_each_sequence_matches_running_alone(reset_after, num_layers, bidirectional,
                                             batch_first):
    """A padded batch is the same as each sequence run by itself, forward and backward."""
    params, x, h0, dy, dh_n = _problem(4, num_layers=num_layers, bidirectional=bidirectional,
                                       bias=True, batch_first=batch_first)
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, reset_after=reset_after)
    y, h_n = gru_forward(x, params, h0, LENGTHS, batch_first=batch_first, **kw)
    g = gru_backward(x, params, h0, LENGTHS, dy, dh_n, batch_first=batch_first, **kw)
    x_tm, y_tm, dy_tm = (_time_major(a, batch_first) for a in (x, y, dy))
    dx_tm = _time_major(g["x"], batch_first)

    param_sum = {k: np.zeros_like(v) for k, v in params.items()}
    for b, n in enumerate(LENGTHS):
        # Unpadded, time-major, batch of one.
        sl = slice(b, b + 1)
        y_b, h_b = gru_forward(x_tm[:n, sl], params, h0[:, sl], **kw)
        g_b = gru_backward(x_tm[:n, sl], params, h0[:, sl], None, dy_tm[:n, sl], dh_n[:, sl],
                           **kw)
        tol = dict(rtol=SAME_RTOL, atol=SAME_ATOL)
        np.testing.assert_allclose(y_tm[:n, sl], y_b, **tol, err_msg=f"y[{b}]")
        np.testing.assert_allclose(h_n[:, sl], h_b, **tol, err_msg=f"h_n[{b}]")
        np.testing.assert_allclose(dx_tm[:n, sl], g_b["x"], **tol, err_msg=f"dx[{b}]")
        np.testing.assert_allclose(g["h0"][:, sl], g_b["h0"], **tol, err_msg=f"dh0[{b}]")
        for k in params:
            param_sum[k] += g_b[k]
    # Parameter gradients of a batch are the sum over its sequences.
    for k in params:
        np.testing.assert_allclose(g[k], param_sum[k], rtol=SAME_RTOL, atol=SAME_ATOL,
                                   err_msg=k)


def test_padding_values_are_never_read():
    """NaN past the lengths, in x and in dy, changes nothing."""
    kw = dict(num_layers=2, bidirectional=True)
    params, x, h0, dy, dh_n = _problem(5, bias=True, batch_first=False, **kw)
    pad = np.arange(T)[:, None] >= LENGTHS[None, :]  # (T, B)
    x_clean, dy_clean = x.copy(), dy.copy()
    x_clean[pad], dy_clean[pad] = 0.0, 0.0
    x_nan, dy_nan = x.copy(), dy.copy()
    x_nan[pad], dy_nan[pad] = np.nan, np.nan

    for reset_after in (True, False):
        clean = gru_forward(x_clean, params, h0, LENGTHS, reset_after=reset_after, **kw)
        dirty = gru_forward(x_nan, params, h0, LENGTHS, reset_after=reset_after, **kw)
        for a, b in zip(clean, dirty):
            np.testing.assert_array_equal(a, b)
        g_clean = gru_backward(x_clean, params, h0, LENGTHS, dy_clean, dh_n,
                               reset_after=reset_after, **kw)
        g_dirty = gru_backward(x_nan, params, h0, LENGTHS, dy_nan, dh_n,
                               reset_after=reset_after, **kw)
        for k in g_clean:
            np.testing.assert_array_equal(g_clean[k], g_dirty[k], err_msg=k)


def test_full_lengths_equal_no_lengths():
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    params, x, h0, dy, dh_n = _problem(6, bias=True, **kw)
    kw["reset_after"] = False
    full = np.full(B, T)
    for a, b in zip(gru_forward(x, params, h0, None, **kw),
                    gru_forward(x, params, h0, full, **kw)):
        np.testing.assert_array_equal(a, b)
    g1 = gru_backward(x, params, h0, None, dy, dh_n, **kw)
    g2 = gru_backward(x, params, h0, full, dy, dh_n, **kw)
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k], err_msg=k)


# ---------------------------------------------------------------------------------------------
# API conventions.

def test_param_names_order():
    assert param_names(2, True, True) == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse",
        "bias_hh_l1_reverse",
    ]
    assert param_names(1, False, False) == ["weight_ih_l0", "weight_hh_l0"]


def test_init_params_shapes_range_and_determinism():
    p = init_params(np.random.default_rng(7), 5, 4, num_layers=2, bidirectional=True)
    assert list(p) == param_names(2, True, True)
    assert p["weight_ih_l0"].shape == (12, 5)
    assert p["weight_ih_l1_reverse"].shape == (12, 8)  # layer 1 sees both directions
    assert p["weight_hh_l1"].shape == (12, 4)
    assert p["bias_hh_l0_reverse"].shape == (12,)
    for v in p.values():
        assert v.dtype == np.float64
        assert np.all(np.abs(v) <= 0.5)  # 1/sqrt(4)
    q = init_params(np.random.default_rng(7), 5, 4, num_layers=2, bidirectional=True)
    for k in p:
        np.testing.assert_array_equal(p[k], q[k])
    s = init_params(np.random.default_rng(7), 5, 4, scale=0.01)
    assert all(np.all(np.abs(v) <= 0.01) for v in s.values())


def test_missing_bias_means_zero_bias():
    params, x, h0, dy, dh_n = _problem(8, num_layers=2, bidirectional=True, bias=True,
                                       batch_first=False)
    no_bias = {k: v for k, v in params.items() if k.startswith("weight")}
    zero_bias = {k: (v if k.startswith("weight") else np.zeros_like(v))
                 for k, v in params.items()}
    kw = dict(num_layers=2, bidirectional=True)
    for a, b in zip(gru_forward(x, no_bias, h0, LENGTHS, **kw),
                    gru_forward(x, zero_bias, h0, LENGTHS, **kw)):
        np.testing.assert_array_equal(a, b)
    g = gru_backward(x, no_bias, h0, LENGTHS, dy, dh_n, **kw)
    assert set(g) == {"x", "h0", *no_bias}


def test_no_cotangents_give_zero_gradients():
    params, x, h0, dy, dh_n = _problem(9, num_layers=2, bidirectional=True, bias=True,
                                       batch_first=True)
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    g = gru_backward(x, params, None, None, None, None, **kw)
    assert g["h0"].shape == h0.shape  # present even without h0
    for k, v in g.items():
        assert np.all(v == 0.0), k
    # Each cotangent alone adds up to both together (the backward pass is linear in them).
    g_y = gru_backward(x, params, h0, None, dy, None, **kw)
    g_h = gru_backward(x, params, h0, None, None, dh_n, **kw)
    g_both = gru_backward(x, params, h0, None, dy, dh_n, **kw)
    for k in g_both:
        np.testing.assert_allclose(g_y[k] + g_h[k], g_both[k], rtol=SAME_RTOL,
                                   atol=SAME_ATOL, err_msg=k)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_unbatched_equals_batch_of_one(bidirectional):
    dirs = 2 if bidirectional else 1
    params, x, h0, dy, dh_n = _problem(10, num_layers=2, bidirectional=bidirectional,
                                       bias=True, batch_first=False, B=1)
    kw = dict(num_layers=2, bidirectional=bidirectional)
    y, h_n = gru_forward(x[:, 0], params, h0[:, 0], **kw)
    y1, h_n1 = gru_forward(x, params, h0, **kw)
    assert y.shape == (T, dirs * H) and h_n.shape == (2 * dirs, H)
    np.testing.assert_array_equal(y, y1[:, 0])
    np.testing.assert_array_equal(h_n, h_n1[:, 0])
    g = gru_backward(x[:, 0], params, h0[:, 0], None, dy[:, 0], dh_n[:, 0], **kw)
    g1 = gru_backward(x, params, h0, None, dy, dh_n, **kw)
    assert g["x"].shape == (T, D) and g["h0"].shape == (2 * dirs, H)
    np.testing.assert_array_equal(g["x"], g1["x"][:, 0])
    np.testing.assert_array_equal(g["h0"], g1["h0"][:, 0])
    for k in params:
        np.testing.assert_array_equal(g[k], g1[k], err_msg=k)


# Lengths of 0, masks, direction="reverse", padding="carry" and merges (fastgru._sequences).
SEQ_CONFIGS = [
    dict(lengths=[0, 2, 1]),
    dict(mask=[[1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 0]], bidirectional=True, num_layers=2),
    dict(mask=[[0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1]], direction="reverse", padding="carry", num_layers=2),
    dict(lengths=[4, 0, 2], direction="reverse", padding="carry"),
    dict(mask=[[1, 0, 1, 1], [0, 1, 0, 0], [1, 1, 1, 0]], padding="carry"),
    dict(bidirectional=True, merge="mul", mask=[[1, 0, 1, 1], [1, 1, 1, 1], [0, 1, 1, 0]]),
    dict(bidirectional=True, merge="ave"),
    dict(bidirectional=True, merge="sum", lengths=[4, 0, 1]),
    dict(bidirectional=True, merge=None),
]


@pytest.mark.parametrize("cfg", SEQ_CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()
                                                                     if k not in ("mask", "lengths")))
def test_sequence_options_match_finite_differences(cfg):
    cfg = dict(cfg)
    lengths = None if "lengths" not in cfg else np.array(cfg.pop("lengths"))
    mask = None if "mask" not in cfg else np.array(cfg.pop("mask"), bool)
    kw = dict(num_layers=cfg.pop("num_layers", 1), bidirectional=cfg.pop("bidirectional", False), **cfg,
              mask=mask)
    params, x, h0, _, dh_n = _problem(7, num_layers=kw["num_layers"], bidirectional=kw["bidirectional"], bias=True,
                                      batch_first=False, T=4, B=3)
    y, _ = gru_forward(x, params, h0, lengths, **kw)
    rng = np.random.default_rng(3)
    dy = tuple(rng.standard_normal(a.shape) for a in y) if isinstance(y, tuple) else rng.standard_normal(y.shape)

    def loss():
        yy, h_n = gru_forward(x, params, h0, lengths, **kw)
        parts = zip(yy, dy) if isinstance(yy, tuple) else [(yy, dy)]
        return sum(np.sum(a * b) for a, b in parts) + np.sum(h_n * dh_n)

    grads = gru_backward(x, params, h0, lengths, dy, dh_n, **kw)
    for key, a in {"x": x, "h0": h0, **params}.items():
        np.testing.assert_allclose(grads[key], _numeric_grad(loss, a), rtol=FD_RTOL, atol=FD_ATOL, err_msg=key)


@pytest.mark.parametrize("lengths", [[-1, 2, 1], [1, 5, 1], [1, 2], [1.0, 2.0, 3.0]],
                         ids=["negative", "over-T", "count", "float"])
def test_bad_lengths_raise(lengths):
    params, x, _, _, _ = _problem(11, num_layers=1, bidirectional=False, bias=True,
                                  batch_first=False)
    with pytest.raises(ValueError, match="lengths"):
        gru_forward(x, params, None, np.array(lengths), num_layers=1)


def test_inputs_are_not_modified():
    params, x, h0, dy, dh_n = _problem(12, num_layers=2, bidirectional=True, bias=True,
                                       batch_first=True)
    before = [a.copy() for a in (x, h0, dy, dh_n, *params.values())]
    gru_backward(x, params, h0, LENGTHS, dy, dh_n, num_layers=2, bidirectional=True,
                 batch_first=True)
    for a, b in zip(before, (x, h0, dy, dh_n, *params.values())):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# torch.nn.GRU in float64 (skipped when torch is not installed).

TORCH_CONFIGS = [
    # (num_layers, bidirectional, bias, batch_first, lengths or None, unbatched)
    (1, False, True, False, None, False),
    (2, False, True, False, None, False),
    (1, True, True, True, None, False),
    (2, True, True, False, [3, 5, 1, 4], False),
    (2, True, False, True, [5, 1, 2, 2], False),
    (1, False, False, False, [1, 4, 5, 2], False),
    (2, False, True, True, [2, 5, 5, 3], False),
    (2, True, True, False, None, True),
    (1, False, True, True, None, True),  # torch ignores batch_first for 2-D input
]


def _torch_id(cfg):
    L, bi, bias, bf, lengths, unbatched = cfg
    return (f"L{L}-{'bi' if bi else 'uni'}-{'bias' if bias else 'nobias'}-"
            f"{'bf' if bf else 'tm'}-{'len' if lengths else 'full'}"
            f"{'-unbatched' if unbatched else ''}")


@pytest.mark.parametrize("cfg", TORCH_CONFIGS, ids=_torch_id)
def test_matches_torch_forward_and_backward(cfg):
    torch = pytest.importorskip("torch")
    num_layers, bidirectional, bias, batch_first, lengths, unbatched = cfg
    Tt, Bt, Dt, Ht = 5, 4, 3, 4
    params, x, h0, dy, dh_n = _problem(
        20 + TORCH_CONFIGS.index(cfg), num_layers=num_layers, bidirectional=bidirectional,
        bias=bias, batch_first=batch_first, T=Tt, B=Bt, D=Dt, H=Ht)
    if unbatched:
        # Unbatched input is time-major whatever batch_first says, in torch and here.
        x, h0, dh_n = _time_major(x, batch_first)[:, 0], h0[:, 0], dh_n[:, 0]
        dy = _time_major(dy, batch_first)[:, 0]
    lengths = None if lengths is None else np.array(lengths)

    module = torch.nn.GRU(Dt, Ht, num_layers, bias=bias, batch_first=batch_first,
                          bidirectional=bidirectional, dtype=torch.float64)
    assert list(module.state_dict()) == param_names(num_layers, bidirectional, bias)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})

    xt = torch.from_numpy(x).requires_grad_()
    h0t = torch.from_numpy(h0).requires_grad_()
    if lengths is None:
        yt, hnt = module(xt, h0t)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.from_numpy(lengths), batch_first=batch_first, enforce_sorted=False)
        out, hnt = module(packed, h0t)
        yt, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first,
                                                       total_length=Tt)
    (torch.sum(yt * torch.from_numpy(dy)) + torch.sum(hnt * torch.from_numpy(dh_n))).backward()

    kw = dict(num_layers=num_layers, bidirectional=bidirectional, reset_after=True,
              batch_first=batch_first)
    y, h_n = gru_forward(x, params, h0, lengths, **kw)
    g = gru_backward(x, params, h0, lengths, dy, dh_n, **kw)

    expected = {"y": yt.detach().numpy(), "h_n": hnt.detach().numpy(),
                "x": xt.grad.numpy(), "h0": h0t.grad.numpy(),
                **{k: p.grad.numpy() for k, p in module.named_parameters()}}
    got = {"y": y, "h_n": h_n, **g}
    assert set(got) == set(expected)
    for k in expected:
        assert got[k].shape == expected[k].shape, k
        np.testing.assert_allclose(got[k], expected[k], rtol=0, atol=TORCH_ATOL, err_msg=k)
