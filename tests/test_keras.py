"""fastgru against Keras 3 GRU layers: weight conversion both ways, Bidirectional, go_backwards,
masking (padding="carry") and its gradients, activations other than tanh/sigmoid. Keras runs on
the torch backend here."""

import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")  # before the first keras import

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fastgru  # noqa: E402
from conftest import make_lengths  # noqa: E402
from fastgru._keras import keras_activation_names  # noqa: E402
from tolerances import EXACT, F32, F64, FD, FD_STEP, Tol, assert_close  # noqa: E402

keras = pytest.importorskip("keras")

# Keras's get_weights() and convert_to_numpy call np.array on torch tensors, whose __array__
# lacks NumPy 2's copy keyword: a third-party DeprecationWarning (fastgru's own path avoids it,
# see test_from_keras_layer_is_warning_free).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

# Against Keras (same dtype on both sides), max abs: the project's float32 contract, as for torch.
# float64 leaves ~1000x margin over a few hundred float64 roundings.
KERAS = {F32: Tol(atol=1e-5), F64: Tol(atol=1e-10)}
# Keras 3.15 on the torch backend, float64 reset_after=False: the candidate's recurrent product
# gets a plain torch slice of the kernel, which keras.ops.matmul converts to float32, so Keras
# itself is off by ~1e-7 from a float64 evaluation of its equations (fastgru matches that
# evaluation to 1e-15). 1e-6 is ~10x Keras's error and still catches any conversion mistake.
KERAS_F64_RESET_BEFORE = Tol(atol=1e-6)
# Other activations: unbounded gate functions (relu, linear, elu, ... as recurrent_activation) let
# z leave [0, 1] and h grow several-fold per step, so float32 rounding grows with |h|: relative
# to the largest output (~100 ulp of it) on top of the float32 floor.
KERAS_ACT = Tol(atol=1e-5, rtol=1e-5)
# Gradients against Keras's autograd (torch backend), float32: sums over T*B terms, as GRAD.
KERAS_GRAD = {F32: Tol(atol=2e-5, rtol=1e-4)}

# Every Keras 3 activation fastgru maps exactly (the elementwise ones); and some it cannot (they
# mix the units of a row).
MAPPED = ["tanh", "sigmoid", "relu", "linear", "elu", "celu", "leaky_relu", "softsign", "softplus", "hard_sigmoid",
          "sparse_sigmoid", "selu", "relu6", "gelu", "silu", "swish", "hard_tanh", "log_sigmoid", "mish", "hard_silu",
          "hard_swish", "sparse_plus", "squareplus", "tanh_shrink", "soft_shrink", "hard_shrink", "exponential"]
# The Keras name keras_activation_names gives back for a function with several names.
CANONICAL = {"celu": "elu", "swish": "silu", "hard_swish": "hard_silu"}
UNMAPPED = ["softmax", "log_softmax", "sparsemax"]


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _randomize(layer, rng, scale=0.6):
    """Random weights (Keras initialises biases to zero, which would hide bias mistakes)."""
    layer.set_weights([rng.uniform(-scale, scale, w.shape).astype(w.dtype) for w in layer.get_weights()])


def _keras_gru(D, H, rng, dtype=np.float32, **kw):
    layer = keras.layers.GRU(H, return_sequences=True, return_state=True, dtype=np.dtype(dtype).name, **kw)
    layer.build((None, None, D))
    _randomize(layer, rng)
    return layer


def _keras_run(layer, x, h0=None, mask=None):
    """(y (B, T, dirs*H), [final state per direction]) from a GRU or Bidirectional layer."""
    out = layer(x, initial_state=h0, mask=mask)
    return _np(out[0]), [_np(s) for s in out[1:]]


CONFIGS = [  # D, H, B, T, reset_after, use_bias, h0, dtype
    (1, 1, 1, 1, True, True, False, np.float32),
    (5, 7, 3, 6, True, True, True, np.float32),
    (5, 7, 3, 6, False, True, True, np.float32),
    (8, 16, 2, 9, True, False, False, np.float32),
    (8, 16, 2, 9, False, False, True, np.float32),
    (17, 33, 4, 5, False, True, False, np.float32),
    (9, 31, 2, 12, True, True, True, np.float32),
    (6, 9, 3, 7, True, True, True, np.float64),
    (6, 9, 3, 7, False, False, False, np.float64),
]


def _cfg_id(c):
    D, H, B, T, ra, bias, h0, dtype = c
    return (f"D{D}-H{H}-B{B}-T{T}-{'after' if ra else 'before'}{'' if bias else '-nobias'}"
            f"{'-h0' if h0 else ''}-{np.dtype(dtype).name}")


@pytest.mark.parametrize("c", CONFIGS, ids=[_cfg_id(c) for c in CONFIGS])
def test_from_keras_layer_and_weights_match_keras(c, rng):
    D, H, B, T, ra, bias, with_h0, dtype = c
    tol = KERAS_F64_RESET_BEFORE if (dtype == np.float64 and not ra) else KERAS[np.dtype(dtype)]
    layer = _keras_gru(D, H, rng, dtype, reset_after=ra, use_bias=bias)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    h0 = rng.uniform(-1, 1, (B, H)).astype(dtype) if with_h0 else None
    y_k, (h_k,) = _keras_run(layer, x, None if h0 is None else [h0])

    gru = fastgru.GRU.from_keras(layer)
    assert (gru.input_size, gru.hidden_size, gru.num_layers, gru.bias, gru.reset_after) == (D, H, 1, bias, ra)
    assert gru.batch_first and not gru.bidirectional and gru.dtype == np.dtype(dtype)
    y, h_n = gru(x, None if h0 is None else h0[None])
    assert_close(y, y_k, tol, "y")
    assert_close(h_n[0], h_k, tol, "h_n")

    # The get_weights() list gives the very same parameters (reset_after inferred from the bias).
    same = fastgru.GRU.from_keras(layer.get_weights(), reset_after=None if bias else ra)
    for name, value in gru.state_dict().items():
        assert_close(same.state_dict()[name], value, EXACT[np.dtype(dtype)], name)


@pytest.mark.parametrize("bidir", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("ra,bias", [(True, True), (False, True), (True, False), (False, False)],
                         ids=["after", "before", "after-nobias", "before-nobias"])
def test_to_keras_weights_round_trip(ra, bias, bidir, rng):
    D, H, B, T = 5, 6, 3, 4
    gru = fastgru.GRU(D, H, bias=bias, reset_after=ra, bidirectional=bidir, batch_first=True, seed=1)
    weights = gru.to_keras_weights()
    assert len(weights) == (2 if bidir else 1) * (3 if bias else 2)
    cell = keras.layers.GRU(H, return_sequences=True, return_state=True, reset_after=ra, use_bias=bias)
    layer = keras.layers.Bidirectional(cell) if bidir else cell
    layer.build((None, None, D))
    layer.set_weights(weights)  # Keras checks every shape
    for got, want in zip(layer.get_weights(), weights):
        assert_close(got, want, EXACT[F32], "get_weights after set_weights")

    x = rng.standard_normal((B, T, D)).astype(np.float32)
    y_k, states = _keras_run(layer, x)
    y, h_n = gru(x)
    assert_close(y, y_k, KERAS[F32], "y")
    for d, s in enumerate(states):
        assert_close(h_n[d], s, KERAS[F32], f"h_n[{d}]")

    back = fastgru.GRU.from_keras(weights, reset_after=ra)
    if ra or not bias:  # pure permutations: every parameter comes back bit for bit
        for name, value in gru.state_dict().items():
            assert_close(back.state_dict()[name], value, EXACT[F32], name)
    else:  # reset_after=False folds bias_hh into Keras's one bias: same cell, one float add
        assert_close(back(x)[0], y, Tol(atol=1e-6), "y after the bias fold")


@pytest.mark.parametrize("ra", [True, False], ids=["after", "before"])
def test_bidirectional_matches_keras(ra, rng):
    D, H, B, T = 4, 7, 3, 5
    layer = keras.layers.Bidirectional(
        keras.layers.GRU(H, return_sequences=True, return_state=True, reset_after=ra))
    layer.build((None, None, D))
    _randomize(layer, rng)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (2, B, H)).astype(np.float32)
    y_k, (hf, hb) = _keras_run(layer, x, [h0[0], h0[1]])  # Keras: forward states, then backward

    gru = fastgru.GRU.from_keras(layer)
    assert gru.bidirectional and gru.reset_after == ra
    y, h_n = gru(x, h0)
    assert_close(y, y_k, KERAS[F32], "y")
    assert_close(h_n[0], hf, KERAS[F32], "h_n forward")
    assert_close(h_n[1], hb, KERAS[F32], "h_n backward")

    flat = layer.get_weights()  # forward layer's 3 arrays, then the backward layer's
    for weights in (flat, [flat[:3], flat[3:]]):
        same = fastgru.GRU.from_keras(weights)
        for name, value in gru.state_dict().items():
            assert_close(same.state_dict()[name], value, EXACT[F32], name)


def _step_mask(rng, B, T, kind):
    """(B, T) Keras mask: right padding, left padding (pad_sequences' default) or holes."""
    if kind == "right":
        return np.arange(T)[None, :] < make_lengths(rng, B, T)[:, None]
    if kind == "left":
        return np.arange(T)[None, :] >= rng.integers(0, T, size=B)[:, None]
    m = rng.random((B, T)) < 0.6
    m[:, 0] = False  # a masked first step: the output carried before any valid one
    return m


@pytest.mark.parametrize("kind", ["none", "right", "left", "holes"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_mask_and_go_backwards_match_keras(go_backwards, kind, rng):
    """from_keras reproduces a (go_backwards) GRU on the same x and mask: h_n equal; y equal for
    a forward layer, and for a go_backwards layer Keras's y (processing order) is y[:, ::-1]."""
    D, H, B, T = 3, 5, 4, 7
    layer = _keras_gru(D, H, rng, go_backwards=go_backwards)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (B, H)).astype(np.float32)
    mask = None if kind == "none" else _step_mask(rng, B, T, kind)
    y_k, (h_k,) = _keras_run(layer, x, [h0], None if mask is None else mask)
    gru = fastgru.GRU.from_keras(layer)
    assert gru.direction == ("reverse" if go_backwards else "forward")
    y, h_n = gru(x, h0[None], mask=mask)
    assert_close(y[:, ::-1] if go_backwards else y, y_k, KERAS[F32], "y")
    assert_close(h_n[0], h_k, KERAS[F32], "h_n")
    # Gradients of Keras's own outputs, through its torch backend.
    import torch

    xt = torch.tensor(x, requires_grad=True)
    out = layer(xt, initial_state=[torch.tensor(h0)], mask=None if mask is None else torch.tensor(mask))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dh = rng.standard_normal((B, H)).astype(np.float32)
    ((out[0] * torch.tensor(dy)).sum() + (out[1] * torch.tensor(dh)).sum()).backward()
    _, _, cache = gru.forward(x, h0[None], mask=mask)
    grads = gru.backward(cache, dy[:, ::-1] if go_backwards else dy, dh[None])
    assert_close(grads["x"], xt.grad.numpy(), KERAS_GRAD[F32], "dx")


def test_masked_two_layer_stack_matches_keras(rng):
    """Stacked masked Keras GRUs (the mask propagates) are one two-layer fastgru model."""
    D, H, B, T = 4, 6, 3, 8
    mask = _step_mask(rng, B, T, "holes")
    inp, m_in = keras.Input((T, D)), keras.Input((T,), dtype="bool")
    l1 = keras.layers.GRU(H, return_sequences=True)
    l2 = keras.layers.GRU(H, return_sequences=True, return_state=True)
    model = keras.Model([inp, m_in], l2(l1(inp, mask=m_in), mask=m_in))
    _randomize(l1, rng)
    _randomize(l2, rng)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    y_k, h_k = (_np(t) for t in model([x, mask]))
    from fastgru.onnx import stack

    gru = stack([fastgru.GRU.from_keras(l1), fastgru.GRU.from_keras(l2)], batch_first=True)
    y, h_n = gru(x, mask=mask)
    assert_close(y, y_k, KERAS[F32], "y")
    assert_close(h_n[1], h_k, KERAS[F32], "h_n")


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("kind", ["none", "holes"])
def test_bidirectional_merge_modes_match_keras(merge, kind, rng):
    D, H, B, T = 3, 5, 4, 6
    bi = keras.layers.Bidirectional(keras.layers.GRU(H, return_sequences=True), merge_mode=merge)
    bi.build((None, None, D))
    _randomize(bi, rng)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    mask = None if kind == "none" else _step_mask(rng, B, T, kind)
    out = bi(x, mask=mask)
    gru = fastgru.GRU.from_keras(bi)
    assert gru.merge == merge
    y, _ = gru(x, mask=mask)
    if merge is None:
        for a, b, half in zip(y, out, ("forward", "backward")):
            assert_close(a, _np(b), KERAS[F32], f"y {half}")
    else:
        assert_close(y, _np(out), KERAS[F32], "y")
    back = fastgru.load(_saved(gru))
    assert back.merge == merge and back.config() == gru.config()


def _saved(gru):
    import io

    buf = io.BytesIO()
    gru.save(buf)
    return buf.getvalue()


def _padded_batch(rng, B, T, D, lens):
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    x[np.arange(T)[None, :] >= lens[:, None]] = 0.0
    return x


@pytest.mark.parametrize("B,T", [(1, 1), (4, 7), (5, 3)], ids=["B1-T1", "B4-T7", "B5-T3"])
def test_masking_layer_is_carry(B, T, rng):
    D, H = 4, 6
    lens = make_lengths(rng, B, T)
    inp = keras.Input((T, D))
    gru_layer = keras.layers.GRU(H, return_sequences=True, return_state=True)
    model = keras.Model(inp, gru_layer(keras.layers.Masking(0.0)(inp)))
    _randomize(gru_layer, rng)
    x = _padded_batch(rng, B, T, D, lens)
    y_k, h_k = (_np(t) for t in model(x))

    gru = fastgru.GRU.from_keras(gru_layer)
    assert gru.padding == "carry"
    y, h_n = gru(x, lengths=lens)
    assert_close(y, y_k, KERAS[F32], "y (carry)")
    assert_close(h_n[0], h_k, KERAS[F32], "h_n")
    for b, n in enumerate(lens):  # the carried tail really is a copy of the last valid output
        assert np.array_equal(y[b, n:], np.broadcast_to(y[b, n - 1], y[b, n:].shape))
    z, hz = fastgru.GRU.from_keras(gru_layer, padding="zeros")(x, lengths=lens)
    assert_close(hz, h_n, EXACT[F32], "h_n does not depend on padding")
    assert_close(z, np.where(np.arange(T)[None, :, None] < lens[:, None, None], y, 0), EXACT[F32], "zeros")


def test_embedding_mask_zero_is_carry(rng):
    V, D, H, B, T = 11, 5, 8, 4, 6
    lens = make_lengths(rng, B, T)
    tokens = rng.integers(1, V, (B, T))
    tokens[np.arange(T)[None, :] >= lens[:, None]] = 0
    inp = keras.Input((T,), dtype="int32")
    emb = keras.layers.Embedding(V, D, mask_zero=True)
    gru_layer = keras.layers.GRU(H, return_sequences=True, return_state=True)
    model = keras.Model(inp, gru_layer(emb(inp)))
    _randomize(gru_layer, rng)
    y_k, h_k = (_np(t) for t in model(tokens.astype(np.int32)))

    table = emb.get_weights()[0]
    y, h_n = fastgru.GRU.from_keras(gru_layer)(table[tokens], lengths=lens)
    assert_close(y, y_k, KERAS[F32], "y")
    assert_close(h_n[0], h_k, KERAS[F32], "h_n")


def test_bidirectional_masking(rng):
    """Bidirectional(return_sequences=True) forces zero_output_for_mask on both halves: past a
    length Keras gives zeros in both, so "carry" leaves a bidirectional y as "zeros" does."""
    D, H, B, T = 3, 5, 4, 6
    lens = make_lengths(rng, B, T)
    inp = keras.Input((T, D))
    bi = keras.layers.Bidirectional(keras.layers.GRU(H, return_sequences=True, return_state=True))
    model = keras.Model(inp, bi(keras.layers.Masking(0.0)(inp)))
    _randomize(bi, rng)
    x = _padded_batch(rng, B, T, D, lens)
    y_k, hf, hb = (_np(t) for t in model(x))

    y, h_n = fastgru.GRU.from_keras(bi)(x, lengths=lens)
    assert_close(y, y_k, KERAS[F32], "y")
    assert_close(h_n[0], hf, KERAS[F32], "h_n forward")
    assert_close(h_n[1], hb, KERAS[F32], "h_n backward")

    # return_sequences=False keeps zero_output_for_mask off: Keras's last output is the forward
    # half's last valid output and the backward half's output at t = 0 (documented in API.md).
    last = keras.layers.Bidirectional(keras.layers.GRU(H))
    last_model = keras.Model(inp, last(keras.layers.Masking(0.0)(inp)))
    last.set_weights(bi.get_weights())
    want = np.concatenate([y[np.arange(B), lens - 1, :H], y[:, 0, H:]], axis=-1)
    assert_close(_np(last_model(x)), want, KERAS[F32], "Bidirectional(return_sequences=False)")


def _fd_check(gru, x, h0, lens, dy, dh_n):
    """gru.backward against central differences of L = <dy, y> + <dh_n, h_n> (float64)."""
    _, _, cache = gru.forward(x, h0, lens)
    grads = gru.backward(cache, dy, dh_n)

    def loss(params=None, x_=x, h0_=h0):
        if params is not None:
            gru.load_state_dict(params)
        y, h_n = gru(x_, h0_, lens)
        return float(np.sum(dy * y) + np.sum(dh_n * h_n))

    base = gru.state_dict()
    wrt = {"x": x, "h0": h0, **base}
    for name, arr in wrt.items():
        fd = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            vals = []
            for sign in (1, -1):
                a = arr.copy()
                a[i] += sign * FD_STEP
                if name == "x":
                    vals.append(loss(x_=a))
                elif name == "h0":
                    vals.append(loss(h0_=a))
                else:
                    vals.append(loss({**base, name: a}))
            fd[i] = (vals[0] - vals[1]) / (2 * FD_STEP)
        gru.load_state_dict(base)
        assert_close(grads[name], fd, FD, f"d{name}")


@pytest.mark.parametrize("batch_first", [True, False], ids=["bf", "tm"])
@pytest.mark.parametrize("L,bidir", [(1, False), (2, False), (1, True)], ids=["L1", "L2", "L1-bi"])
def test_carry_gradients_finite_differences(L, bidir, batch_first, rng):
    D, H, B, T = 3, 4, 3, 5
    dirs = 2 if bidir else 1
    gru = fastgru.GRU(D, H, num_layers=L, bidirectional=bidir, batch_first=batch_first,
                      dtype=np.float64, padding="carry", seed=3)
    lens = np.array([2, T, 1])
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    h0 = rng.uniform(-1, 1, (L * dirs, B, H))
    dy = rng.standard_normal((B, T, dirs * H) if batch_first else (T, B, dirs * H))
    dh_n = rng.standard_normal((L * dirs, B, H))
    _fd_check(gru, x, h0, lens, dy, dh_n)


def test_carry_gradient_is_dy_folded_into_last_valid_step(rng):
    """Under "carry", dy past a length reaches the model only through y at len-1."""
    D, H, B, T = 3, 4, 3, 5
    lens = np.array([2, T, 1])
    carry = fastgru.GRU(D, H, batch_first=True, dtype=np.float64, padding="carry", seed=2)
    zeros = fastgru.GRU(D, H, batch_first=True, dtype=np.float64, seed=2)
    x = rng.standard_normal((B, T, D))
    dy = rng.standard_normal((B, T, H))
    folded = dy.copy()
    for b, n in enumerate(lens):
        folded[b, n - 1] += dy[b, n:].sum(axis=0)
        folded[b, n:] = 0
    dy_before = dy.copy()
    g_carry = carry.backward(carry.forward(x, lengths=lens)[2], dy)
    g_zeros = zeros.backward(zeros.forward(x, lengths=lens)[2], folded)
    for name, value in g_zeros.items():
        assert_close(g_carry[name], value, EXACT[F64], name)
    assert np.array_equal(dy, dy_before)  # the caller's dy is never modified


def test_padding_option(tmp_path, rng):
    with pytest.raises(ValueError, match="padding must be 'zeros'.*'carry'.*got 'same'"):
        fastgru.GRU(3, 4, padding="same")
    with pytest.raises(ValueError, match="padding must be"):
        fastgru.GRU(3, 4, padding=None)
    gru = fastgru.GRU(3, 4, padding="carry", seed=0)
    assert gru.padding == "carry" and "padding='carry'" in repr(gru)
    assert "padding" not in repr(fastgru.GRU(3, 4)) and fastgru.GRU(3, 4).padding == "zeros"
    assert gru.config()["padding"] == "carry"
    gru.save(tmp_path / "m.npz")
    back = fastgru.load(tmp_path / "m.npz")
    assert back.padding == "carry"
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    y, _ = gru(x, lengths=[5, 2])
    assert_close(back(x, lengths=[5, 2])[0], y, EXACT[F32], "reloaded")
    assert_close(y[2:, 1], np.broadcast_to(y[1, 1], (3, 4)), EXACT[F32], "carried")
    # Without lengths there is no padding: both modes agree exactly.
    plain = fastgru.GRU(3, 4, seed=0)
    assert_close(gru(x)[0], plain(x)[0], EXACT[F32], "no lengths")
    # forward() carries too, and the inference and training paths agree.
    assert_close(gru.forward(x, lengths=[5, 2])[0], y, EXACT[F32], "forward")


def test_to_keras_weights_per_layer_of_a_stack(rng):
    """A 2-layer bidirectional model = two stacked Keras Bidirectional(GRU) layers."""
    D, H, B, T = 4, 5, 2, 5
    gru = fastgru.GRU(D, H, num_layers=2, bidirectional=True, batch_first=True, seed=4)
    with pytest.raises(ValueError, match="2 layers.*to_keras_weights\\(layer=k\\)"):
        gru.to_keras_weights()
    with pytest.raises(ValueError, match=r"layer must be an integer in \[0, 2\), got 2"):
        gru.to_keras_weights(layer=2)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    out = x
    for k in range(2):
        layer = keras.layers.Bidirectional(keras.layers.GRU(H, return_sequences=True))
        layer.build((None, None, out.shape[-1]))
        layer.set_weights(gru.to_keras_weights(layer=k))
        out = _np(layer(out))
    assert_close(gru(x)[0], out, KERAS[F32], "stacked y")


def test_from_keras_layer_is_warning_free(rng):
    layer = _keras_gru(3, 4, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastgru.GRU.from_keras(layer)


def test_from_keras_options(rng):
    layer = _keras_gru(3, 4, rng)
    gru = fastgru.GRU.from_keras(layer, batch_first=False, padding="zeros", dtype=np.float64)
    assert not gru.batch_first and gru.padding == "zeros" and gru.dtype == np.float64
    assert fastgru.GRU.from_keras(layer, reset_after=True).reset_after
    with pytest.raises(TypeError, match="hidden_size"):
        fastgru.GRU.from_keras(layer, hidden_size=4)


def test_bad_weights_raise(rng):
    H, D = 4, 3
    k = rng.standard_normal((D, 3 * H)).astype(np.float32)
    rk = rng.standard_normal((H, 3 * H)).astype(np.float32)
    b2 = np.zeros((2, 3 * H), np.float32)
    b1 = np.zeros(3 * H, np.float32)
    cases = [
        ([k], ValueError, r"\[kernel, recurrent_kernel, bias\].*got 1 arrays"),
        ([k[:, :-1], rk, b2], ValueError, r"kernel must have shape \(input_size, 3\*units\), got \(3, 11\)"),
        ([k, rk[:, :6], b2], ValueError, r"recurrent_kernel must have shape .* \(4, 12\).*got \(4, 6\)"),
        ([k, rk, np.zeros((3, 12), np.float32)], ValueError, r"bias must have shape \(2, 3\*units\).*got \(3, 12\)"),
        ([k, rk, np.zeros(11, np.float32)], ValueError, r"got \(11,\)"),
        ([k, rk], ValueError, "without a bias the weights do not tell reset_after"),
        ([k.astype(np.int32), rk, b2], TypeError, "kernel must be a floating-point array"),
        ([k, rk, b2, k, rk[:2], b2], ValueError, "backward weights: recurrent_kernel"),
        ([k, rk, b2, np.zeros((5, 3 * H), np.float32), rk, b2], ValueError, "disagree"),
    ]
    for weights, exc, match in cases:
        with pytest.raises(exc, match=match):
            fastgru.GRU.from_keras(weights)
    with pytest.raises(ValueError, match=r"reset_after=True was given but the bias shape \(12,\)"):
        fastgru.GRU.from_keras([k, rk, b1], reset_after=True)
    with pytest.raises(ValueError, match=r"reset_after=False was given but the bias shape \(2, 12\)"):
        fastgru.GRU.from_keras([k, rk, b2], reset_after=False)
    with pytest.raises(TypeError, match="reset_after must be True, False or None"):
        fastgru.GRU.from_keras([k, rk, b2], reset_after="yes")
    with pytest.raises(TypeError, match="got dict"):
        fastgru.GRU.from_keras({"kernel": k})


def test_bad_layers_raise(rng):
    with pytest.raises(ValueError, match=r"activation='softmax': not among the Keras activations"):
        fastgru.GRU.from_keras(_keras_gru(3, 4, rng, activation="softmax"))
    with pytest.raises(ValueError, match=r"recurrent_activation='log_softmax'"):
        fastgru.GRU.from_keras(_keras_gru(3, 4, rng, recurrent_activation="log_softmax"))
    with pytest.raises(ValueError, match="no weights yet"):
        fastgru.GRU.from_keras(keras.layers.GRU(4))
    lstm = keras.layers.LSTM(4)
    lstm.build((None, None, 3))
    with pytest.raises(TypeError, match="expected a keras.layers.GRU, got LSTM"):
        fastgru.GRU.from_keras(lstm)
    with pytest.raises(TypeError, match="got Dense"):
        fastgru.GRU.from_keras(keras.layers.Dense(3))
    summed = keras.layers.Bidirectional(keras.layers.GRU(4), merge_mode="sum")
    summed.build((None, None, 3))
    with pytest.raises(TypeError, match="merge"):
        fastgru.GRU.from_keras(summed, merge="concat")
    # An RNN wrapping a GRUCell is the same layer.
    rnn = keras.layers.RNN(keras.layers.GRUCell(4), return_sequences=True)
    rnn.build((None, None, 3))
    _randomize(rnn, rng)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    assert_close(fastgru.GRU.from_keras(rnn)(x)[0], _np(rnn(x)), KERAS[F32], "RNN(GRUCell)")


# --------------------------------------------------------------------------------------------
# Activations other than tanh / sigmoid.

@pytest.mark.parametrize("ra", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("role", ["activation", "recurrent_activation"])
@pytest.mark.parametrize("name", MAPPED)
def test_from_keras_activations_match_keras(name, role, ra, rng):
    D, H, B, T = 4, 6, 3, 5
    if name == "exponential" and role == "recurrent_activation":
        T = 2  # z = e^a > 1 makes h grow doubly exponentially: overflow (in both) after a few steps
    layer = _keras_gru(D, H, rng, reset_after=ra, **{role: name})
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (B, H)).astype(np.float32)
    y_k, (h_k,) = _keras_run(layer, x, [h0])
    gru = fastgru.GRU.from_keras(layer)
    y, h_n = gru(x, h0[None])
    assert_close(y, y_k, KERAS_ACT, f"{role}={name} y")
    assert_close(h_n[0], h_k, KERAS_ACT, f"{role}={name} h_n")

    # Back: the same weights into a Keras layer built with the Keras names fastgru reports.
    names = keras_activation_names(gru)
    assert names[role] == CANONICAL.get(name, name)
    twin = keras.layers.GRU(H, return_sequences=True, return_state=True, reset_after=ra, **names)
    twin.build((None, None, D))
    twin.set_weights(gru.to_keras_weights())
    y_t, (h_t,) = _keras_run(twin, x, [h0])
    assert_close(y_t, y_k, KERAS_ACT, f"{role}={name} y after to_keras_weights")


@pytest.mark.parametrize("op,ours", [("gelu", "gelu_tanh"), ("sin", "sin"), ("exp", "exponential")])
def test_from_keras_ops_activations(op, ours, rng):
    """keras.ops functions that are no Keras activation name (or whose defaults differ from it:
    keras.ops.gelu is the tanh approximation, keras.activations.gelu the erf form) map to what
    they compute, as the candidate and as the gate function."""
    D, H, B, T = 4, 6, 3, 5
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    if op == "exp":
        x = x[:, :2]  # z = e^a > 1 makes h grow doubly exponentially: overflow (in both) after a few steps
    for role in ("activation", "recurrent_activation"):
        layer = _keras_gru(D, H, rng, **{role: getattr(keras.ops, op)})
        gru = fastgru.GRU.from_keras(layer)
        assert getattr(gru, role) == ours
        y_k, (h_k,) = _keras_run(layer, x)
        y, h_n = gru(x)
        assert_close(y, y_k, KERAS_ACT, f"{role}=keras.ops.{op} y")
        assert_close(h_n[0], h_k, KERAS_ACT, f"{role}=keras.ops.{op} h_n")


def test_keras_hard_sigmoid_is_onnx_hard_sigmoid_one_sixth():
    """Keras 3's hard_sigmoid is relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1) (Keras 2's was
    0.2 x + 0.5): ONNX's HardSigmoid with alpha = 1/6, beta = 1/2."""
    x = np.linspace(-8, 8, 1601)
    want = np.clip(x / 6 + 0.5, 0, 1)
    assert_close(_np(keras.activations.hard_sigmoid(x)), want, KERAS[F64], "keras.activations.hard_sigmoid")
    layer = keras.layers.GRU(2, recurrent_activation="hard_sigmoid")
    layer.build((None, None, 1))
    gru = fastgru.GRU.from_keras(layer)
    assert (gru.recurrent_activation, gru.recurrent_activation_alpha, gru.recurrent_activation_beta) == (
        "hard_sigmoid", 1 / 6, 0.5)


def test_from_keras_activation_objects_and_bidirectional(rng):
    """keras.ops functions with the same defaults are recognised; a Bidirectional layer with the
    same activations in both directions converts."""
    D, H, B, T = 3, 5, 2, 6
    layer = _keras_gru(D, H, rng, activation=keras.ops.softsign, recurrent_activation=keras.ops.hard_sigmoid)
    gru = fastgru.GRU.from_keras(layer)
    assert (gru.activation, gru.recurrent_activation) == ("softsign", "hard_sigmoid")
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    assert_close(gru(x)[0], _keras_run(layer, x)[0], KERAS_ACT, "keras.ops functions")

    bi = keras.layers.Bidirectional(keras.layers.GRU(H, return_sequences=True, return_state=True,
                                                     activation="elu", recurrent_activation="hard_sigmoid"))
    bi.build((None, None, D))
    _randomize(bi, rng)
    y_k, (hf, hb) = _keras_run(bi, x)
    gru = fastgru.GRU.from_keras(bi)
    y, h_n = gru(x)
    assert_close(y, y_k, KERAS_ACT, "Bidirectional y")
    assert_close(h_n[0], hf, KERAS_ACT, "Bidirectional h_n forward")
    assert_close(h_n[1], hb, KERAS_ACT, "Bidirectional h_n backward")
    back = keras.layers.Bidirectional(keras.layers.GRU(H, return_sequences=True, **keras_activation_names(gru)))
    back.build((None, None, D))
    back.set_weights(gru.to_keras_weights())
    assert_close(_np(back(x)), y_k, KERAS_ACT, "Bidirectional after to_keras_weights")


def test_from_keras_weight_list_with_activations(rng):
    """A weight list does not say which activations it was trained with: pass them."""
    D, H, B, T = 3, 4, 2, 5
    layer = _keras_gru(D, H, rng, activation="relu", recurrent_activation="hard_sigmoid")
    gru = fastgru.GRU.from_keras(layer.get_weights(), activation="relu", recurrent_activation="hard_sigmoid",
                                 recurrent_activation_alpha=1 / 6)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    assert_close(gru(x)[0], _keras_run(layer, x)[0], KERAS_ACT, "y")


@pytest.mark.parametrize("name", UNMAPPED)
def test_unmapped_activations_raise(name, rng):
    for role in ("activation", "recurrent_activation"):
        with pytest.raises(ValueError, match=f"{role}='{name}': not among the Keras activations"):
            fastgru.GRU.from_keras(_keras_gru(3, 4, rng, **{role: name}))


def test_activation_errors(rng):
    with pytest.raises(ValueError, match="activation='<lambda>'"):
        fastgru.GRU.from_keras(_keras_gru(3, 4, rng, activation=lambda v: 2 * keras.ops.tanh(v)))
    layer = _keras_gru(3, 4, rng, activation="relu")
    with pytest.raises(TypeError, match="activation from the Keras layer"):
        fastgru.GRU.from_keras(layer, activation="tanh")
    mixed = keras.layers.Bidirectional(
        keras.layers.GRU(4, return_sequences=True, activation="relu"),
        backward_layer=keras.layers.GRU(4, return_sequences=True, go_backwards=True))
    mixed.build((None, None, 3))
    with pytest.raises(ValueError, match="forward layer's activations .* differ from the backward layer's"):
        fastgru.GRU.from_keras(mixed)
    # Keras has no ScaledTanh or an Affine other than linear; clip has no Keras counterpart.
    with pytest.raises(ValueError, match="Keras has no activation 'scaled_tanh'"):
        keras_activation_names(fastgru.GRU(3, 4, activation="scaled_tanh", activation_alpha=1.0, activation_beta=1.0))
    with pytest.raises(ValueError, match="Keras has no activation 'hard_sigmoid' with alpha=0.2"):
        keras_activation_names(fastgru.GRU(3, 4, recurrent_activation="hard_sigmoid"))
    with pytest.raises(ValueError, match="clip"):
        fastgru.GRU(3, 4, clip=1.0).to_keras_weights()


@pytest.mark.parametrize("reset_after", [True, False])
def test_recurrent_dropout_in_training_matches_keras_with_the_same_masks(reset_after, rng):
    """Keras's recurrent_dropout is fastgru's state form: from_keras keeps the rate, inference is
    the plain cell's, and a training forward equals Keras's when Keras is handed fastgru's masks
    (Keras orders them z, r, h; fastgru r, z, n)."""
    D, H, B, T = 4, 6, 3, 5
    layer = _keras_gru(D, H, rng, reset_after=reset_after, recurrent_dropout=0.4)
    gru = fastgru.GRU.from_keras(layer)
    assert (gru.recurrent_dropout, gru.recurrent_dropout_form) == (pytest.approx(0.4), "state")
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    y_k, (h_k,) = _keras_run(layer, x)
    y, h_n = gru(x)
    assert_close(y, y_k, KERAS[F32], "inference y")
    y, h_n, cache = gru.forward(x)
    drop = fastgru.functional.recurrent_masks(cache)["l0"]["recurrent_dropout"]
    masks = [keras.ops.convert_to_tensor(drop[g]) for g in (1, 0, 2)]
    layer.cell.get_recurrent_dropout_mask = lambda step_input: masks
    out = layer(x, training=True)
    assert_close(y, _np(out[0]), KERAS[F32], "training y with Keras's recurrent dropout")
    assert_close(h_n[0], _np(out[1]), KERAS[F32], "training h_n with Keras's recurrent dropout")
