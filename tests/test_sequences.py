"""Lengths of 0, direction="reverse", Keras masks and Bidirectional merges (fastgru._sequences):
forward and gradients against the float64 reference per ISA, finite differences of fastgru's
own float64 backward, and the errors for bad arguments."""

import itertools

import numpy as np
import pytest

import fastgru
import fastgru.functional as F
import reference
from conftest import DTYPES
from tolerances import EXACT, FD, FD_STEP, FORWARD, GRAD, assert_close

SHAPES = [(1, 1, 1, 1), (7, 9, 3, 5), (8, 16, 4, 7), (17, 15, 5, 9), (33, 31, 2, 4)]  # H, D, B, T


def _mask(rng, B, T, kind):
    """(B, T) booleans: 'holes' anywhere, 'left' padding (pad_sequences' default), 'empty' rows."""
    if kind == "holes":
        m = rng.random((B, T)) < 0.6
        m[0] = True
    elif kind == "left":
        start = rng.integers(0, T + 1, size=B)
        m = np.arange(T)[None, :] >= start[:, None]
    else:
        m = rng.random((B, T)) < 0.5
        m[-1] = False  # a sequence with no step at all
    return m


def _setup(rng, H, D, B, T, L, bidir, dtype, batch_first=False, **options):
    dtype = np.dtype(dtype)
    params64 = reference.init_params(rng, D, H, L, bidir, True)
    params = {k: v.astype(dtype) for k, v in params64.items()}
    gru = fastgru.GRU(D, H, num_layers=L, bidirectional=bidir, batch_first=batch_first, dtype=dtype, seed=0,
                      **options)
    gru.load_state_dict(params)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D)).astype(dtype)
    h0 = rng.uniform(-1, 1, (L * (2 if bidir else 1), B, H)).astype(dtype)
    return gru, params, x, h0


def _ref(params, x, h0, lengths, mask, gru, dy=None, dh=None):
    kw = dict(num_layers=gru.num_layers, bidirectional=gru.bidirectional, batch_first=gru.batch_first,
              mask=mask, direction=gru.direction, padding=gru.padding, merge=gru.merge)
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    x64, h64 = x.astype(np.float64), h0.astype(np.float64)
    fwd = reference.gru_forward(x64, p64, h64, lengths, **kw)
    if dy is None and dh is None:
        return fwd
    return fwd, reference.gru_backward(x64, p64, h64, lengths, dy, dh, **kw)


def _cotangent(rng, y, dtype):
    if isinstance(y, tuple):
        return tuple(rng.standard_normal(a.shape).astype(dtype) for a in y)
    return rng.standard_normal(y.shape).astype(dtype)


def _check(gru, params, x, h0, lengths, mask, rng, what):
    dtype = gru.dtype
    y, h_n = gru(x, h0, lengths, mask=mask)
    y2, h2, cache = gru.forward(x, h0, lengths, mask=mask)
    dy, dh = _cotangent(rng, y, dtype), rng.standard_normal(h_n.shape).astype(dtype)
    (y_ref, h_ref), g_ref = _ref(params, x, h0, lengths, mask, gru, dy, dh)
    for a, b, e in zip(*(v if isinstance(v, tuple) else (v,) for v in (y, y2, y_ref))):
        assert_close(a, e, FORWARD[dtype], f"{what} y")
        assert_close(b, a, EXACT[np.dtype(dtype)], f"{what} forward y vs __call__")
    assert_close(h_n, h_ref, FORWARD[dtype], f"{what} h_n")
    grads = gru.backward(cache, dy, dh)
    assert set(grads) == set(g_ref)
    for k, e in g_ref.items():
        assert_close(grads[k], e, GRAD[dtype], f"{what} d{k}")
    return y, h_n, grads


# --------------------------------------------------------------------------------------------
# Lengths of 0.

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("L,bidir", [(1, False), (2, False), (1, True), (2, True)])
@pytest.mark.parametrize("H,D,B,T", SHAPES)
def test_zero_lengths(isa, rng, H, D, B, T, L, bidir, dtype):
    gru, params, x, h0 = _setup(rng, H, D, B, T, L, bidir, dtype)
    lens = rng.integers(0, T + 1, size=B)
    lens[0] = 0
    y, h_n, grads = _check(gru, params, x, h0, lens, None, rng, "zero lengths")
    empty = lens == 0
    assert np.all(y[:, empty] == 0) and np.array_equal(h_n[:, empty], h0[:, empty])  # h_n = h0 there
    assert np.all(grads["x"][:, empty] == 0)


@pytest.mark.parametrize("padding", ["zeros", "carry"])
def test_all_lengths_zero(rng, padding):
    gru, params, x, h0 = _setup(rng, 5, 3, 3, 4, 2, False, np.float64, padding=padding)
    y, h_n, cache = gru.forward(x, h0, [0, 0, 0], training=False)
    assert np.all(y == 0) and np.array_equal(h_n, h0)
    dh = rng.standard_normal(h_n.shape)
    grads = gru.backward(cache, rng.standard_normal(y.shape), dh)
    assert np.array_equal(grads["h0"], dh) and np.all(grads["x"] == 0)
    assert all(np.all(grads[k] == 0) for k in gru.state_dict())
    with pytest.raises(ValueError, match="more than one valid step"):
        fastgru.GRU(3, 5, cell="ligru").forward(x, lengths=[0, 0, 0])


def test_zero_lengths_functional_and_onnx_semantics(rng):
    """gru_forward takes them too; gru_op keeps ONNX Runtime's Y_h = 0 for an empty sequence."""
    gru, params, x, h0 = _setup(rng, 4, 3, 3, 5, 1, False, np.float64)
    y, h_n, cache = F.gru_forward(x, params, h0, [5, 0, 2])
    y_ref, h_ref = _ref(params, x, h0, [5, 0, 2], None, gru)
    assert_close(y, y_ref, FORWARD[np.dtype(np.float64)], "y")
    assert_close(h_n, h_ref, FORWARD[np.dtype(np.float64)], "h_n")
    assert np.array_equal(F.gru_backward(cache, None, np.ones_like(h_n))["h0"][:, 1], np.ones((1, 4)))


# --------------------------------------------------------------------------------------------
# direction="reverse".

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("inputs", ["full", "lengths", "mask"])
@pytest.mark.parametrize("padding", ["zeros", "carry"])
@pytest.mark.parametrize("H,D,B,T", SHAPES[1:4])
def test_reverse(isa, rng, H, D, B, T, padding, inputs, L, dtype):
    gru, params, x, h0 = _setup(rng, H, D, B, T, L, False, dtype, batch_first=True, direction="reverse",
                                padding=padding)
    lens = rng.integers(0, T + 1, size=B) if inputs == "lengths" else None
    mask = _mask(rng, B, T, "holes") if inputs == "mask" else None
    _check(gru, params, x, h0, lens, mask, rng, f"reverse {inputs}")


def test_reverse_is_the_forward_model_on_flipped_sequences(rng):
    """Without padding, a reverse model is the forward one on x[::-1] with y flipped back."""
    gru, params, x, h0 = _setup(rng, 6, 4, 3, 7, 2, False, np.float32, direction="reverse")
    fwd = fastgru.GRU(4, 6, num_layers=2, seed=0)
    fwd.load_state_dict(params)
    dtype = np.float32
    y, h_n = gru(x, h0)
    y_f, h_f = fwd(x[::-1].copy(), h0)
    assert_close(y, y_f[::-1], EXACT[np.dtype(dtype)], "y")
    assert_close(h_n, h_f, EXACT[np.dtype(dtype)], "h_n")


def test_reverse_step_and_bidirectional_refused(rng):
    gru = fastgru.GRU(3, 4, direction="reverse")
    x_t = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="step.*reverse"):
        gru.step(x_t, np.zeros((1, 2, 4), np.float32))  # the fast path
    with pytest.raises(ValueError, match="step.*reverse"):
        gru.step(x_t.tolist())
    with pytest.raises(ValueError, match="direction='reverse' is a one-direction"):
        fastgru.GRU(3, 4, bidirectional=True, direction="reverse")
    with pytest.raises(ValueError, match="direction must be"):
        fastgru.GRU(3, 4, direction="backward")
    with pytest.raises(ValueError, match="reverse-only"):
        gru.to_torch()


# --------------------------------------------------------------------------------------------
# mask.

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["holes", "left", "empty"])
@pytest.mark.parametrize("L,bidir", [(1, False), (2, False), (1, True), (2, True)])
@pytest.mark.parametrize("padding", ["zeros", "carry"])
@pytest.mark.parametrize("H,D,B,T", SHAPES)
def test_mask(isa, rng, H, D, B, T, padding, L, bidir, kind, dtype):
    gru, params, x, h0 = _setup(rng, H, D, B, T, L, bidir, dtype, batch_first=bool(L % 2), padding=padding)
    mask = _mask(rng, B, T, kind)
    y, h_n, grads = _check(gru, params, x, h0, None, mask, rng, f"mask {kind}")
    # Masked steps' inputs are never read.
    xt = np.where(mask[..., None] if gru.batch_first else mask.T[..., None], x, np.nan)
    y_nan, h_nan = gru(xt, h0, mask=mask)
    assert_close(y_nan, y, EXACT[np.dtype(dtype)], "y with NaN at masked steps")
    assert_close(h_nan, h_n, EXACT[np.dtype(dtype)], "h_n with NaN at masked steps")


@pytest.mark.parametrize("padding", ["zeros", "carry"])
@pytest.mark.parametrize("bidir", [False, True])
def test_mask_of_lengths_is_lengths(rng, padding, bidir):
    gru, params, x, h0 = _setup(rng, 5, 3, 4, 6, 2, bidir, np.float64, padding=padding)
    dtype = np.float64
    lens = np.array([6, 1, 3, 5])
    mask = np.arange(6)[None, :] < lens[:, None]
    y, h_n = gru(x, h0, lens)
    y_m, h_m = gru(x, h0, mask=mask)
    assert_close(y_m, y, EXACT[np.dtype(dtype)], "y")
    assert_close(h_m, h_n, EXACT[np.dtype(dtype)], "h_n")


def test_mask_functional(rng):
    gru, params, x, h0 = _setup(rng, 4, 3, 3, 5, 1, True, np.float64)
    mask = _mask(rng, 3, 5, "holes")
    y, h_n, cache = F.gru_forward(x, params, h0, mask=mask)
    y_ref, h_ref = _ref(params, x, h0, None, mask, gru)
    assert_close(y, y_ref, FORWARD[np.dtype(np.float64)], "y")
    assert_close(h_n, h_ref, FORWARD[np.dtype(np.float64)], "h_n")


def test_mask_errors(rng):
    gru = fastgru.GRU(3, 4, batch_first=True)
    x = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(TypeError, match="mask must be a boolean array"):
        gru(x, mask=np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, steps\) = \(2, 5\)"):
        gru(x, mask=np.ones((5, 2), bool))
    with pytest.raises(ValueError, match="lengths or mask, not both"):
        gru(x, lengths=[5, 5], mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="mask needs a batched"):
        gru(x[0], mask=np.ones((1, 5), bool))
    with pytest.raises(ValueError, match=r"outside \[0, 5\]"):
        gru(x, lengths=[6, 1])


# --------------------------------------------------------------------------------------------
# merge.

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("inputs", ["full", "mask"])
@pytest.mark.parametrize("H,D,B,T", SHAPES[1:4])
def test_merge(isa, rng, H, D, B, T, inputs, merge, dtype):
    gru, params, x, h0 = _setup(rng, H, D, B, T, 2, True, dtype, batch_first=True, merge=merge)
    mask = _mask(rng, B, T, "holes") if inputs == "mask" else None
    y, _, _ = _check(gru, params, x, h0, None, mask, rng, f"merge={merge}")
    if merge is None:
        assert isinstance(y, tuple) and len(y) == 2 and y[0].shape == (B, T, H)


def test_merge_errors():
    with pytest.raises(ValueError, match="merge must be one of"):
        fastgru.GRU(3, 4, bidirectional=True, merge="max")
    with pytest.raises(ValueError, match="one direction"):
        fastgru.GRU(3, 4, merge="sum")
    gru = fastgru.GRU(3, 4, bidirectional=True, merge=None)
    x = np.zeros((5, 2, 3), np.float32)
    _, _, cache = gru.forward(x)
    with pytest.raises(TypeError, match="pair"):
        gru.backward(cache, np.zeros((5, 2, 8), np.float32))
    with pytest.raises(ValueError, match=r"dy\[1\] has shape"):
        gru.backward(cache, (np.zeros((5, 2, 4), np.float32), np.zeros((5, 2, 8), np.float32)))
    with pytest.raises(ValueError, match="concatenates"):
        gru.to_torch()


# --------------------------------------------------------------------------------------------
# Finite differences of fastgru's own float64 backward, every reordering at once.

FD_CASES = [dict(direction="reverse", padding="carry", inputs="mask"),
            dict(direction="forward", padding="carry", inputs="lengths"),
            dict(bidir=True, merge="mul", inputs="mask"),
            dict(bidir=True, merge="ave", inputs="lengths"),
            dict(bidir=True, merge=None, inputs="mask")]


@pytest.mark.parametrize("c", FD_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_finite_differences(rng, c):
    c = dict(c)
    inputs, bidir = c.pop("inputs"), c.pop("bidir", False)
    gru, params, x, h0 = _setup(rng, 3, 2, 3, 5, 2, bidir, np.float64, **c)
    lens = np.array([5, 0, 2]) if inputs == "lengths" else None
    mask = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [0, 1, 1, 0, 1]], bool) if inputs == "mask" else None
    y, h_n, cache = gru.forward(x, h0, lens, mask=mask)
    dy, dh = _cotangent(rng, y, np.float64), rng.standard_normal(h_n.shape)
    grads = gru.backward(cache, dy, dh)

    def loss(p, xx, hh):
        g = fastgru.GRU(**gru.config())
        g.load_state_dict(p)
        yy, hn = g(xx, hh, lens, mask=mask)
        parts = zip(yy, dy) if isinstance(yy, tuple) else [(yy, dy)]
        return sum(float(np.sum(a * b)) for a, b in parts) + float(np.sum(hn * dh))

    def numeric(which):
        base = {"x": x, "h0": h0, **params}[which]
        out = np.zeros(base.shape)
        for idx in itertools.islice(np.ndindex(base.shape), 0, None, max(1, base.size // 12)):
            vals = []
            for sign in (1, -1):
                arr = base.copy()
                arr[idx] += sign * FD_STEP
                p = {**params, which: arr} if which in params else params
                vals.append(loss(p, arr if which == "x" else x, arr if which == "h0" else h0))
            out[idx] = (vals[0] - vals[1]) / (2 * FD_STEP)
            assert abs(out[idx] - grads[which][idx]) <= FD.bound(grads[which]), (which, idx, out[idx],
                                                                                 grads[which][idx])
        return out

    for which in ("x", "h0", "weight_ih_l0", "weight_hh_l1", "bias_hh_l0"):
        numeric(which)


def test_saved_direction_and_merge_are_checked(tmp_path):
    import json

    for bad in (dict(direction="sideways"), dict(merge="max", bidirectional=True), dict(merge="sum"),
                dict(direction="reverse", bidirectional=True)):
        cfg = {**fastgru.GRU(3, 4).config(), **bad}
        m = fastgru.GRU(3, 4, bidirectional=cfg["bidirectional"], seed=0)
        np.savez(tmp_path / "m.npz", __fastgru_config__=np.array(json.dumps(cfg)), **m.state_dict())
        with pytest.raises(fastgru.FormatError, match="not a valid GRU's"):
            fastgru.load(tmp_path / "m.npz")


def test_light_gru_batch_statistics_skip_empty_sequences(rng):
    """A sequence of length 0 adds nothing to a Light GRU's batch statistics: training with it is
    training without it (outputs, running statistics, gradients)."""
    a = fastgru.GRU(3, 4, num_layers=2, bidirectional=True, cell="ligru", seed=1, dtype=np.float64)
    b = fastgru.GRU(**a.config(), seed=1)
    b.load_state_dict(a.state_dict())
    x = rng.standard_normal((5, 3, 3))
    ya, ha, ca = a.forward(x, lengths=[5, 0, 3])
    yb, hb, cb = b.forward(x[:, [0, 2]], lengths=[5, 3])
    assert_close(ya[:, [0, 2]], yb, FORWARD[np.dtype(np.float64)], "y")
    assert np.all(ya[:, 1] == 0) and np.all(ha[:, 1] == 0)
    for k, v in b.state_dict().items():
        assert_close(a.state_dict()[k], v, FORWARD[np.dtype(np.float64)], k)
    dy = rng.standard_normal(ya.shape)
    ga, gb = a.backward(ca, dy), b.backward(cb, dy[:, [0, 2]])
    assert_close(ga["x"][:, [0, 2]], gb["x"], GRAD[np.dtype(np.float64)], "dx")
    assert_close(ga["weight_hh_l1_reverse"], gb["weight_hh_l1_reverse"], GRAD[np.dtype(np.float64)], "dW")
