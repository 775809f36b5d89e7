"""Cell forms (gates= / update= / cell=): fastgru against an independent float64 NumPy
implementation of each form's own equations, central finite differences, the public
state_dict layout, files, exports, and torch.nn.GRUCell conversion.

The reference below is written from the equations (docs/API.md "Cell forms"), not from
fastgru.cells' mapping onto the standard cell: each gate's pre-activation is the sum of
whichever of W_i x, W_h h, b_i, b_h the form has, and the update is the form's own.
"""

import math
import re

import numpy as np
import pytest

import fastgru
from conftest import DTYPES, make_lengths
from tolerances import EXACT, FD, FD_STEP, FORWARD, GRAD, REORDER, TORCH, Tol, assert_close

GATES = ["full", "type1", "type2", "type3"]
UPDATES = ["old", "candidate"]
FORMS = [(g, u, "gru") for g in GATES for u in UPDATES] + [("full", "old", "mgu")]
# (form, reset_after): an MGU is reset-before only.
CASES = [(f, ra) for f in FORMS for ra in ((False,) if f[2] == "mgu" else (True, False))]
KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _form_id(form, ra=None):
    g, u, c = form
    s = "mgu" if c == "mgu" else f"{g}-{u}"
    return s if ra is None else f"{s}-{'after' if ra else 'before'}"


def _kw(form):
    return dict(gates=form[0], update=form[1], cell=form[2])


# The public layout, restated from docs/API.md: each public array's row blocks, in order.
LAYOUT = {
    "full": dict(weight_ih="rzn", weight_hh="rzn", bias_ih="rzn", bias_hh="rzn"),
    "type1": dict(weight_ih="n", weight_hh="rzn", bias_ih="rzn", bias_hh="rzn"),
    "type2": dict(weight_ih="n", weight_hh="rzn", bias_ih="n", bias_hh="n"),
    "type3": dict(weight_ih="n", weight_hh="n", bias_ih="rzn", bias_hh="n"),
    "mgu": dict(weight_ih="fn", weight_hh="fn", bias_ih="fn", bias_hh="fn"),
}
KEY = {"weight_ih": "Wi", "weight_hh": "Wh", "bias_ih": "bi", "bias_hh": "bh"}


def _layout(form):
    return LAYOUT["mgu" if form[2] == "mgu" else form[0]]


def ref_shapes(form, D, H, L, bidir, bias):
    dirs = 2 if bidir else 1
    shapes = {}
    for layer in range(L):
        for sfx in ("", "_reverse") if bidir else ("",):
            for kind in KINDS if bias else KINDS[:2]:
                rows = len(_layout(form)[kind]) * H
                cols = {"weight_ih": D if layer == 0 else dirs * H, "weight_hh": H}.get(kind)
                shapes[f"{kind}_l{layer}{sfx}"] = (rows,) if cols is None else (rows, cols)
    return shapes


# ----------------------------------------------------------------------------------------------
# Independent float64 reference: the forms' own equations, hand-written backprop through time.

def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


# Activations as (function, derivative) of the pre-activation, with ONNX's definitions.
def _hard_sigmoid(alpha, beta):
    return (lambda a: np.clip(alpha * a + beta, 0, 1),
            lambda a: np.where((alpha * a + beta > 0) & (alpha * a + beta < 1), alpha, 0.0))


ACTS = {
    "sigmoid": (_sig, lambda a: _sig(a) * (1 - _sig(a))),
    "tanh": (np.tanh, lambda a: 1 - np.tanh(a) ** 2),
    "softsign": (lambda a: a / (1 + np.abs(a)), lambda a: 1 / (1 + np.abs(a)) ** 2),
    "leaky_relu(0.1)": (lambda a: np.where(a >= 0, a, 0.1 * a), lambda a: np.where(a >= 0, 1.0, 0.1)),
    "hard_sigmoid(0.25,0.5)": _hard_sigmoid(0.25, 0.5),
}
STANDARD_MATH = dict(f=ACTS["sigmoid"], g=ACTS["tanh"], clip=None)

# The elementwise activations beyond ONNX's set, with Keras 3's definitions (docs/API.md), and
# their derivatives: name -> (model kwargs, (function, derivative)).
_SELU_L, _SELU_A = 1.0507009873554805, 1.6732632423543772
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _phi(a):
    return np.exp(-a * a / 2) / math.sqrt(2 * math.pi)


def _gelu_tanh():
    c = math.sqrt(2 / math.pi)

    def u(a):
        return c * (a + 0.044715 * a**3)
    return (lambda a: 0.5 * a * (1 + np.tanh(u(a))),
            lambda a: 0.5 * (1 + np.tanh(u(a))) + 0.5 * a * (1 - np.tanh(u(a)) ** 2) * c * (1 + 3 * 0.044715 * a * a))


def _mish():
    sp = lambda a: np.logaddexp(0, a)  # noqa: E731
    return (lambda a: a * np.tanh(sp(a)), lambda a: np.tanh(sp(a)) + a * (1 - np.tanh(sp(a)) ** 2) * _sig(a))


BEYOND_ONNX = {
    "selu": ({}, (lambda a: _SELU_L * np.where(a > 0, a, _SELU_A * np.expm1(np.minimum(a, 0))),
                  lambda a: _SELU_L * np.where(a > 0, 1.0, _SELU_A * np.exp(np.minimum(a, 0))))),
    "relu6": ({}, (lambda a: np.clip(a, 0, 6), lambda a: ((a > 0) & (a < 6)).astype(np.float64))),
    "gelu": ({}, (lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2))),
                  lambda a: 0.5 * (1 + _erf(a / math.sqrt(2))) + a * _phi(a))),
    "gelu_tanh": ({}, _gelu_tanh()),
    "silu": ({}, (lambda a: a * _sig(a), lambda a: _sig(a) * (1 + a * (1 - _sig(a))))),
    "hard_tanh": ({}, (lambda a: np.clip(a, -1, 1), lambda a: (np.abs(a) < 1).astype(np.float64))),
    "log_sigmoid": ({}, (lambda a: -np.logaddexp(0, -a), lambda a: _sig(-a))),
    "mish": ({}, _mish()),
    "hard_silu": ({}, (lambda a: a * np.clip(a + 3, 0, 6) / 6,
                       lambda a: np.where(a < -3, 0.0, np.where(a > 3, 1.0, (2 * a + 3) / 6)))),
    "sparse_plus": ({}, (lambda a: np.where(a <= -1, 0.0, np.where(a < 1, (a + 1) ** 2 / 4, a)),
                         lambda a: np.where(a <= -1, 0.0, np.where(a < 1, (a + 1) / 2, 1.0)))),
    "squareplus": (dict(alpha=2.0), (lambda a: (a + np.sqrt(a * a + 2)) / 2,
                                     lambda a: (1 + a / np.sqrt(a * a + 2)) / 2)),
    "sin": ({}, (np.sin, np.cos)),
    "tanh_shrink": ({}, (lambda a: a - np.tanh(a), lambda a: np.tanh(a) ** 2)),
    "soft_shrink": (dict(alpha=0.4), (lambda a: np.where(a > 0.4, a - 0.4, np.where(a < -0.4, a + 0.4, 0.0)),
                                      lambda a: (np.abs(a) > 0.4).astype(np.float64))),
    "hard_shrink": (dict(alpha=0.4), (lambda a: np.where(np.abs(a) > 0.4, a, 0.0),
                                      lambda a: (np.abs(a) > 0.4).astype(np.float64))),
    "exponential": ({}, (np.exp, np.exp)),
}


def _clip(a, clip):
    """ONNX's clip of a pre-activation, and its derivative."""
    if clip is None:
        return a, np.ones_like(a)
    return np.clip(a, -clip, clip), (np.abs(a) < clip).astype(np.float64)


def _unpack(form, p, H):
    """{kind: array} of one layer/direction -> {("Wi", "r"): block, ...}; absent blocks absent."""
    out = {}
    for kind, gates in _layout(form).items():
        if kind in p:
            for j, g in enumerate(gates):
                out[KEY[kind], g] = p[kind][j * H:(j + 1) * H]
    return out


def _pack(form, blocks, kinds):
    return {kind: np.concatenate([blocks[KEY[kind], g] for g in _layout(form)[kind]]) for kind in kinds}


def _gate_pre(P, g, x, h):
    """Pre-activation of gate g: the sum of the terms the form has (type 3: biases only)."""
    a = np.zeros_like(h)
    if ("Wi", g) in P:
        a = a + x @ P["Wi", g].T
    if ("Wh", g) in P:
        a = a + h @ P["Wh", g].T
    for b in ("bi", "bh"):
        if (b, g) in P:
            a = a + P[b, g]
    return a


def _cell_forward(form, ra, P, x, h, m):
    mgu = form[2] == "mgu"
    (f_act, _), (g_act, _) = m["f"], m["g"]
    if mgu:
        a_r = a_u = _clip(_gate_pre(P, "f", x, h), m["clip"])[0]
        r = u = f_act(a_r)  # the forget gate resets h in the candidate and weights the candidate
    else:
        a_r = _clip(_gate_pre(P, "r", x, h), m["clip"])[0]
        a_u = _clip(_gate_pre(P, "z", x, h), m["clip"])[0]
        r, u = f_act(a_r), f_act(a_u)
    xn = x @ P["Wi", "n"].T + P.get(("bi", "n"), 0.0)
    if ra:
        hn = h @ P["Wh", "n"].T + P.get(("bh", "n"), 0.0)
        a_n = xn + r * hn
    else:
        hn = (r * h) @ P["Wh", "n"].T + P.get(("bh", "n"), 0.0)
        a_n = xn + hn
    n = g_act(_clip(a_n, m["clip"])[0])
    if mgu:
        h_new = (1 - u) * h + u * n  # Zhou et al. 2016
    elif form[1] == "old":
        h_new = (1 - u) * n + u * h  # PyTorch / Keras / ONNX
    else:
        h_new = u * n + (1 - u) * h  # Chung et al. 2014 / Wikipedia
    return h_new, dict(x=x, h=h, r=r, u=u, n=n, hn=hn, a_r=a_r, a_u=a_u, a_n=a_n)


def _acc(G, key, value):
    if key in G:
        G[key] += value


def _gate_backward(P, G, g, da, x, h):
    dx, dh = np.zeros_like(x), np.zeros_like(h)
    if ("Wi", g) in P:
        G["Wi", g] += da.T @ x
        dx += da @ P["Wi", g]
    if ("Wh", g) in P:
        G["Wh", g] += da.T @ h
        dh += da @ P["Wh", g]
    for b in ("bi", "bh"):
        _acc(G, (b, g), da.sum(0))
    return dx, dh


def _cell_backward(form, ra, P, s, dh_new, G, m):
    x, h, r, u, n, hn = s["x"], s["h"], s["r"], s["u"], s["n"], s["hn"]
    mgu = form[2] == "mgu"
    df, dg = m["f"][1], m["g"][1]

    if mgu or form[1] == "candidate":  # h' = u n + (1 - u) h
        dn, du, dh = dh_new * u, dh_new * (n - h), dh_new * (1 - u)
    else:  # h' = (1 - u) n + u h
        dn, du, dh = dh_new * (1 - u), dh_new * (h - n), dh_new * u
    c_n, dc_n = _clip(s["a_n"], m["clip"])
    da_n = dn * dg(c_n) * dc_n
    dx = da_n @ P["Wi", "n"]
    G["Wi", "n"] += da_n.T @ x
    _acc(G, ("bi", "n"), da_n.sum(0))
    if ra:
        dhn = da_n * r
        dr = da_n * hn
        G["Wh", "n"] += dhn.T @ h
        _acc(G, ("bh", "n"), dhn.sum(0))
        dh = dh + dhn @ P["Wh", "n"]
    else:
        G["Wh", "n"] += da_n.T @ (r * h)
        _acc(G, ("bh", "n"), da_n.sum(0))
        drh = da_n @ P["Wh", "n"]
        dr = drh * h
        dh = dh + drh * r
    # s["a_r"], s["a_u"] are already clipped; the clip's derivative needs the raw pre-activation,
    # which is outside [-clip, clip] exactly when the clipped one sits on the bound.
    def gate_grad(a):
        inside = 1.0 if m["clip"] is None else (np.abs(a) < m["clip"]).astype(np.float64)
        return df(a) * inside

    if mgu:  # f is both the reset and the update gate
        parts = [_gate_backward(P, G, "f", (du + dr) * gate_grad(s["a_u"]), x, h)]
    else:
        parts = [_gate_backward(P, G, "r", dr * gate_grad(s["a_r"]), x, h),
                 _gate_backward(P, G, "z", du * gate_grad(s["a_u"]), x, h)]
    for gx, gh in parts:
        dx, dh = dx + gx, dh + gh
    return dx, dh


def _layer_params(params, sfx):
    return {k: params[k + sfx] for k in KINDS if k + sfx in params}


def ref_run(form, ra, params, x, h0, lengths, L, bidir, dy=None, dh_n=None, math=None):
    """Time-major float64 forward (and backward when dy is given) with packed-sequence
    semantics: step t of sequence b exists only for t < lengths[b]. `math`: dict(f=, g=, clip=)."""
    math = STANDARD_MATH if math is None else math
    T, B, _ = x.shape
    H = params["weight_hh_l0"].shape[1]
    dirs = 2 if bidir else 1
    lens = np.full(B, T) if lengths is None else np.asarray(lengths)
    inputs, tapes, h_n = [], [], []
    inp = x
    for layer in range(L):
        inputs.append(inp)
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}{'_reverse' if d else ''}"
            P = _unpack(form, _layer_params(params, sfx), H)
            h = h0[layer * dirs + d]
            y = np.zeros((T, B, H))
            steps = []
            for t in range(T - 1, -1, -1) if d else range(T):
                m = (t < lens)[:, None].astype(np.float64)
                h_new, s = _cell_forward(form, ra, P, inp[t], h, math)
                h = m * h_new + (1 - m) * h
                y[t] = m * h
                steps.append((t, m, s))
            h_n.append(h)
            outs.append(y)
            tapes.append((P, steps, sfx))
        inp = np.concatenate(outs, axis=-1)
    y, h_n = inp, np.stack(h_n)
    if dy is None:
        return y, h_n, None
    grads, dh0 = {}, np.zeros_like(h0)
    d_out = dy
    for layer in reversed(range(L)):
        d_in = np.zeros_like(inputs[layer])
        for d in range(dirs):
            P, steps, sfx = tapes[layer * dirs + d]
            G = {k: np.zeros_like(v) for k, v in P.items()}
            dh = dh_n[layer * dirs + d].copy()
            for t, m, s in reversed(steps):
                dh = dh + m * d_out[t, :, d * H:(d + 1) * H]  # y[t] = m * h_t
                dx_t, dh_prev = _cell_backward(form, ra, P, s, m * dh, G, math)
                dh = (1 - m) * dh + dh_prev
                d_in[t] += dx_t
            dh0[layer * dirs + d] = dh
            kinds = [k for k in KINDS if k + sfx in params]
            grads.update({k + sfx: v for k, v in _pack(form, G, kinds).items()})
        d_out = d_in
    grads["x"], grads["h0"] = d_out, dh0
    return y, h_n, grads


# ----------------------------------------------------------------------------------------------

D, H, T, B = 3, 5, 6, 3


def _model(rng, form, ra, L, bidir, dtype, bias=True, scale=0.8, **kw):
    """A model of the form with random public parameters (wider than the default init, so that
    gates are far from 1/2), set through load_state_dict in the documented shapes."""
    gru = fastgru.GRU(D, H, num_layers=L, bias=bias, bidirectional=bidir, reset_after=ra, dtype=dtype,
                      seed=0, **_kw(form), **kw)
    params = {k: rng.uniform(-scale, scale, s).astype(dtype)
              for k, s in ref_shapes(form, D, H, L, bidir, bias).items()}
    gru.load_state_dict(params)
    return gru, params


def _inputs(rng, L, bidir, dtype, lengths):
    dirs = 2 if bidir else 1
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.uniform(-1, 1, (L * dirs, B, H)).astype(dtype)
    lens = make_lengths(rng, B, T) if lengths else None
    dy = rng.standard_normal((T, B, dirs * H)).astype(dtype)
    dh_n = rng.standard_normal((L * dirs, B, H)).astype(dtype)
    return x, h0, lens, dy, dh_n


def _f64(d):
    return {k: np.asarray(v, np.float64) for k, v in d.items()}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("lengths", [False, True], ids=["full", "lens"])
@pytest.mark.parametrize("bidir", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("L", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("form,ra", CASES, ids=[_form_id(f, ra) for f, ra in CASES])
def test_forward_and_gradients_match_equations(isa, rng, form, ra, L, bidir, lengths, dtype):
    dtype = np.dtype(dtype)
    gru, params = _model(rng, form, ra, L, bidir, dtype)
    x, h0, lens, dy, dh_n = _inputs(rng, L, bidir, dtype, lengths)
    y, h_n, cache = gru.forward(x, h0, lens)
    grads = gru.backward(cache, dy, dh_n)

    want_y, want_h, want = ref_run(form, ra, _f64(params), x.astype(np.float64), h0.astype(np.float64),
                                   lens, L, bidir, dy.astype(np.float64), dh_n.astype(np.float64))
    assert_close(y, want_y, FORWARD[dtype], "y")
    assert_close(h_n, want_h, FORWARD[dtype], "h_n")
    assert set(grads) == set(want) == {"x", "h0"} | set(params)
    for name, g in want.items():
        assert grads[name].dtype == dtype, name
        assert_close(grads[name], g, GRAD[dtype], f"d{name}")
    # Inference agrees with the training forward.
    y2, h2 = gru(x, h0, lens)
    assert_close(y2, y, REORDER[dtype], "inference y")
    assert_close(h2, h_n, REORDER[dtype], "inference h_n")


@pytest.mark.parametrize("form,ra", CASES, ids=[_form_id(f, ra) for f, ra in CASES])
def test_float64_gradients_match_finite_differences(isa, rng, form, ra):
    L, bidir = 2, True
    gru, params = _model(rng, form, ra, L, bidir, np.float64)
    x, h0, lens, dy, dh_n = _inputs(rng, L, bidir, np.float64, True)
    _, _, cache = gru.forward(x, h0, lens)
    grads = gru.backward(cache, dy, dh_n)

    def loss(p=params, x=x, h0=h0):
        gru.load_state_dict(p)
        y, h = gru(x, h0, lens)
        return float(np.sum(y * dy) + np.sum(h * dh_n))

    for name, value in list(params.items()) + [("x", x), ("h0", h0)]:
        fd, got = [], []
        for flat in rng.choice(value.size, size=min(4, value.size), replace=False):
            idx = np.unravel_index(flat, value.shape)
            vals = []
            for sign in (1, -1):
                v = value.copy()
                v[idx] += sign * FD_STEP
                if name in params:
                    vals.append(loss(p=dict(params, **{name: v})))
                else:
                    vals.append(loss(**{name: v}))
            fd.append((vals[0] - vals[1]) / (2 * FD_STEP))
            got.append(grads[name][idx])
        assert_close(np.array(got), np.array(fd), FD, f"d{name} vs finite differences")


# Activations and clip (the core's ONNX set) combined with every form: (model kwargs, reference).
MATHS = {
    "hardsig-softsign-clip": (dict(recurrent_activation="hard_sigmoid", recurrent_activation_alpha=0.25,
                                   activation="Softsign", clip=1.5),
                              dict(f=ACTS["hard_sigmoid(0.25,0.5)"], g=ACTS["softsign"], clip=1.5)),
    "sigmoid-leakyrelu": (dict(activation="leaky_relu", activation_alpha=0.1),
                          dict(f=ACTS["sigmoid"], g=ACTS["leaky_relu(0.1)"], clip=None)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("math", list(MATHS))
@pytest.mark.parametrize("form,ra", CASES, ids=[_form_id(f, ra) for f, ra in CASES])
def test_activations_and_clip_with_every_form(isa, rng, form, ra, math, dtype):
    dtype = np.dtype(dtype)
    kwargs, ref_math = MATHS[math]
    gru, params = _model(rng, form, ra, 2, True, dtype, **kwargs)
    x, h0, lens, dy, dh_n = _inputs(rng, 2, True, dtype, True)
    x = 2 * x  # pre-activations well past the clip and the hard sigmoid's corners
    y, h_n, cache = gru.forward(x, h0, lens)
    grads = gru.backward(cache, dy, dh_n)
    want_y, want_h, want = ref_run(form, ra, _f64(params), x.astype(np.float64), h0.astype(np.float64), lens,
                                   2, True, dy.astype(np.float64), dh_n.astype(np.float64), math=ref_math)
    assert_close(y, want_y, FORWARD[dtype], "y")
    assert_close(h_n, want_h, FORWARD[dtype], "h_n")
    for name, g in want.items():
        assert_close(grads[name], g, GRAD[dtype], f"d{name}")
    # Stepping uses the same core.
    if form == FORMS[0] and dtype == np.float32:
        uni, _ = _model(rng, form, ra, 2, False, dtype, **kwargs)
        yu, hu = uni(x, h0[::2])
        state, ys = h0[::2].copy(), []
        for t in range(T):
            y_t, state = uni.step(x[t], state)
            ys.append(y_t)
        assert_close(np.stack(ys), yu, REORDER[dtype], "stepped y")


@pytest.mark.parametrize("name", list(BEYOND_ONNX))
def test_reference_activation_derivatives_match_finite_differences(name):
    """The reference's derivatives of the activations beyond ONNX's set, away from their kinks."""
    f, df = BEYOND_ONNX[name][1]
    a = np.linspace(-7.3, 7.3, 1461)
    kinks = np.array([0.0, 6.0, -1.0, 1.0, -3.0, 3.0, -0.4, 0.4])
    a = a[np.min(np.abs(a[:, None] - kinks[None]), axis=1) > 1e-3]
    step = 1e-6
    fd = (f(a + step) - f(a - step)) / (2 * step)
    assert_close(df(a), fd, Tol(atol=1e-7, rtol=1e-7), f"{name}' vs finite differences")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("ra", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("role", ["activation", "recurrent_activation"])
@pytest.mark.parametrize("name", list(BEYOND_ONNX))
def test_activations_beyond_onnx_match_the_reference(isa, rng, name, role, ra, dtype):
    """Each one as the candidate's g (gates sigmoid) and as the gates' f (candidate tanh): two
    layers, both directions, lengths; forward and every gradient. Most of these are unbounded: as
    gates (z outside [0, 1]) or an exponential candidate they make h grow geometrically, so those
    runs get small inputs and weights (a blow-up would only test overflow)."""
    dtype = np.dtype(dtype)
    extra, fn = BEYOND_ONNX[name]
    kwargs = {role: name, **{f"{role}_{k}": v for k, v in extra.items()}}
    clip = None
    if role == "recurrent_activation" and name == "exponential":
        clip = kwargs["clip"] = 1.5  # and a clip: z = e^a
    grows = role == "recurrent_activation" or name == "exponential"
    x_scale, w_scale = (0.5, 0.3) if grows else (2.0, 0.5)  # 2x: well past the kinks
    ref_math = dict(f=fn, g=ACTS["tanh"], clip=clip) if role == "recurrent_activation" else dict(
        f=ACTS["sigmoid"], g=fn, clip=clip)
    form = FORMS[0]
    gru, params = _model(rng, form, ra, 2, True, dtype, scale=w_scale, **kwargs)
    x, h0, lens, dy, dh_n = _inputs(rng, 2, True, dtype, True)
    x = (x_scale * x).astype(dtype)
    y, h_n, cache = gru.forward(x, h0, lens)
    grads = gru.backward(cache, dy, dh_n)
    want_y, want_h, want = ref_run(form, ra, _f64(params), x.astype(np.float64), h0.astype(np.float64), lens,
                                   2, True, dy.astype(np.float64), dh_n.astype(np.float64), math=ref_math)
    assert_close(y, want_y, FORWARD[dtype], "y")
    assert_close(h_n, want_h, FORWARD[dtype], "h_n")
    for gname, g in want.items():
        assert_close(grads[gname], g, GRAD[dtype], f"d{gname}")
    assert getattr(gru, role) == name and f"{role}={name!r}" in repr(gru)


def test_activations_beyond_onnx_config_and_exports(rng, tmp_path):
    gru = fastgru.GRU(D, H, activation="Swish", recurrent_activation="hard_swish", seed=0)
    assert (gru.activation, gru.recurrent_activation) == ("silu", "hard_silu")  # Keras's aliases, stored canonical
    sq = fastgru.GRU(D, H, activation="squareplus", seed=0)
    assert sq.activation_alpha == 4.0  # Keras's default b
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    back = fastgru.load(_saved(sq, tmp_path))
    assert back.config() == sq.config()
    assert_close(back(x)[0], sq(x)[0], EXACT[np.dtype(np.float32)], "y after save/load")
    with pytest.raises(ValueError, match="activation_alpha must be > 0 for activation='squareplus', got 0.0"):
        fastgru.GRU(D, H, activation="squareplus", activation_alpha=0.0)
    with pytest.raises(ValueError,
                       match="recurrent_activation_alpha must be >= 0 for recurrent_activation='hard_shrink'"):
        fastgru.GRU(D, H, recurrent_activation="hard_shrink", recurrent_activation_alpha=-0.5)
    with pytest.raises(ValueError, match="activation_alpha=1.0 is not used by activation='gelu'"):
        fastgru.GRU(D, H, activation="gelu", activation_alpha=1.0)
    with pytest.raises(ValueError, match="default activations"):
        gru.to_torch()
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match="recurrent_activation='hard_silu' and activation='silu': not among ONNX's"):
        gru.to_onnx(tmp_path / "m.onnx")


def _saved(gru, tmp_path):
    gru.save(tmp_path / "m.npz")
    return tmp_path / "m.npz"


def test_activation_config_save_load_and_exports(rng, tmp_path):
    kw = dict(activation="elu", recurrent_activation="HardSigmoid", clip=3.0)
    gru = fastgru.GRU(D, H, gates="type1", seed=0, **kw)
    assert (gru.activation, gru.activation_alpha, gru.activation_beta) == ("elu", 1.0, None)  # ONNX's defaults
    assert (gru.recurrent_activation, gru.recurrent_activation_alpha, gru.recurrent_activation_beta,
            gru.clip) == ("hard_sigmoid", 0.2, 0.5, 3.0)
    assert "activation='elu'" in repr(gru) and "clip=3.0" in repr(gru)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    y, _ = gru(x)
    gru.save(tmp_path / "m.npz")
    back = fastgru.load(tmp_path / "m.npz")
    assert back.config() == gru.config()
    assert_close(back(x)[0], y, EXACT[np.dtype(np.float32)], "y after save/load")
    std = gru.to_standard()
    assert std.config() == dict(gru.config(), gates="full")
    assert_close(std(x)[0], y, EXACT[np.dtype(np.float32)], "y of to_standard()")
    # torch.nn.GRU has only the default activations: refused rather than silently different.
    with pytest.raises(ValueError, match="default activations"):
        gru.to_torch()
    # ONNX carries activations and clip: the exported model loads back as the same function
    # (alpha/beta/clip are stored as float32 by ONNX, hence a tolerance, not equality).
    pytest.importorskip("onnx")
    gru.to_onnx(tmp_path / "m.onnx")
    back_onnx = fastgru.onnx.stack(fastgru.load_onnx(tmp_path / "m.onnx").values())
    assert_close(back_onnx(x)[0], y, FORWARD[np.dtype(np.float32)], "y after ONNX round trip")
    with pytest.raises(ValueError, match="no clip"):
        gru.to_keras_weights()
    ws = fastgru.GRU(D, H, activation="relu", seed=0).to_keras_weights()  # same weights; Keras sets relu
    assert len(ws) == 3
    # The functional API takes the same arguments.
    fy, _, _ = fastgru.functional.gru_forward(x, gru.state_dict(), gates="type1", **kw)
    assert_close(fy, y, EXACT[np.dtype(np.float32)], "functional y")


def test_candidate_update_and_mgu_one_step_by_hand(rng):
    """One step written out inline: update="candidate" is h' = z n + (1 - z) h; an MGU is
    f = σ(W_f x + b_if + U_f h + b_hf), n = tanh(W_n x + b_in + U_n (f h) + b_hn), h' = (1 - f) h + f n."""
    x = rng.standard_normal((1, 2, D))
    h = rng.uniform(-1, 1, (1, 2, H))
    gru = fastgru.GRU(D, H, update="candidate", dtype=np.float64, seed=1)
    Wi, Wh, bi, bh = (gru.state_dict()[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
    a_i, a_h = x[0] @ Wi.T + bi, h[0] @ Wh.T + bh
    r = _sig(a_i[:, :H] + a_h[:, :H])
    z = _sig(a_i[:, H:2 * H] + a_h[:, H:2 * H])
    n = np.tanh(a_i[:, 2 * H:] + r * a_h[:, 2 * H:])
    _, h1 = gru(x, h)
    assert_close(h1[0], z * n + (1 - z) * h[0], FORWARD[np.dtype(np.float64)], "candidate update")

    mgu = fastgru.GRU(D, H, cell="mgu", dtype=np.float64, seed=2)
    assert mgu.reset_after is False
    Wi, Wh, bi, bh = (mgu.state_dict()[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
    f = _sig(x[0] @ Wi[:H].T + bi[:H] + h[0] @ Wh[:H].T + bh[:H])
    n = np.tanh(x[0] @ Wi[H:].T + bi[H:] + (f * h[0]) @ Wh[H:].T + bh[H:])
    _, h1 = mgu(x, h)
    assert_close(h1[0], (1 - f) * h[0] + f * n, FORWARD[np.dtype(np.float64)], "MGU step")


# Type 3 without a bias is refused (test_bad_arguments).
LAYOUT_CASES = [(f, bias) for f in FORMS for bias in (True, False) if bias or f[0] != "type3"]


@pytest.mark.parametrize("form,bias", LAYOUT_CASES, ids=[f"{_form_id(f)}-{'bias' if b else 'nobias'}"
                                                          for f, b in LAYOUT_CASES])
def test_state_dict_holds_only_the_used_parameters(form, bias):
    L, bidir, seed = 2, True, 5
    gru = fastgru.GRU(D, H, num_layers=L, bias=bias, bidirectional=bidir, seed=seed, **_kw(form))
    want = ref_shapes(form, D, H, L, bidir, bias)
    sd = gru.state_dict()
    assert list(sd) == list(want)  # PyTorch's names and order, whatever the form
    assert {k: v.shape for k, v in sd.items()} == want
    assert [p.shape for p in gru.parameters()] == list(want.values())
    assert gru.weight_ih_l1_reverse.shape == want["weight_ih_l1_reverse"]
    # PyTorch's init, U(-1/sqrt(H), 1/sqrt(H)), drawn for the public parameters in state_dict order.
    draws = np.random.default_rng(seed)
    bound = 1 / np.sqrt(H)
    for name, shape in want.items():
        assert np.array_equal(sd[name], draws.uniform(-bound, bound, shape).astype(np.float32)), name
    # The standard GRU's shapes are refused where the form has fewer rows.
    full = ref_shapes(FORMS[0], D, H, L, bidir, bias)
    for name in want:
        if want[name] != full[name]:
            with pytest.raises(ValueError, match=name):
                gru.load_state_dict(dict(sd, **{name: np.zeros(full[name], np.float32)}))
    # Gradients have the public shapes too.
    _, _, cache = gru.forward(np.ones((2, 1, D), np.float32))
    grads = gru.backward(cache, dh_n=np.ones((L * 2, 1, H), np.float32))
    assert {k: grads[k].shape for k in want} == want


@pytest.mark.parametrize("form,ra", CASES, ids=[_form_id(f, ra) for f, ra in CASES])
def test_save_load_config_repr_and_to_standard(rng, tmp_path, form, ra):
    gru, _ = _model(rng, form, ra, 2, True, np.float32, batch_first=True)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    lens = make_lengths(rng, B, T)
    y, h_n = gru(x, lengths=lens)

    cfg = gru.config()
    assert (cfg["gates"], cfg["update"], cfg["cell"], cfg["reset_after"]) == (*form, ra)
    for attr, value in zip(("gates", "update", "cell"), form):
        assert getattr(gru, attr) == value
    r = repr(gru)
    for attr, value, default in zip(("gates", "update", "cell"), form, ("full", "old", "gru")):
        assert (f"{attr}={value!r}" in r) == (value != default), r
    assert ("reset_after" in r) == (ra != (form[2] != "mgu")), r

    gru.save(tmp_path / "m.npz")
    back = fastgru.load(tmp_path / "m.npz")
    assert back.config() == cfg and repr(back) == r
    for name, v in gru.state_dict().items():
        assert np.array_equal(back.state_dict()[name], v), name
    y2, h2 = back(x, lengths=lens)
    assert_close(y2, y, EXACT[np.dtype(np.float32)], "y after save/load")
    assert_close(h2, h_n, EXACT[np.dtype(np.float32)], "h_n after save/load")

    # The equivalent standard GRU runs the very same core computation.
    std = gru.to_standard()
    assert (std.gates, std.update, std.cell, std.reset_after) == ("full", "old", "gru", ra)
    assert {k: v.shape for k, v in std.state_dict().items()} == ref_shapes(FORMS[0], D, H, 2, True, True)
    y3, h3 = std(x, lengths=lens)
    assert_close(y3, y, EXACT[np.dtype(np.float32)], "y of to_standard()")
    assert_close(h3, h_n, EXACT[np.dtype(np.float32)], "h_n of to_standard()")


@pytest.mark.parametrize("form,ra", CASES, ids=[_form_id(f, ra) for f, ra in CASES])
def test_step_equals_sequence(isa, rng, form, ra):
    gru, _ = _model(rng, form, ra, 2, False, np.float32)
    x, h0, *_ = _inputs(rng, 2, False, np.float32, False)
    y, h_n = gru(x, h0)
    state, ys = h0, []
    for t in range(T):
        y_t, state = gru.step(x[t], state)  # the fast path: float32 arrays, 2-D x_t
        ys.append(y_t)
    tol = REORDER[np.dtype(np.float32)]
    assert_close(np.stack(ys), y, tol, "stepped y")
    assert_close(state, h_n, tol, "stepped state")


@pytest.mark.parametrize("form,ra", CASES, ids=[_form_id(f, ra) for f, ra in CASES])
def test_functional_matches_the_class(rng, form, ra):
    gru, params = _model(rng, form, ra, 2, True, np.float64)
    x, h0, lens, dy, dh_n = _inputs(rng, 2, True, np.float64, True)
    y, h_n, cache = gru.forward(x, h0, lens)
    grads = gru.backward(cache, dy, dh_n)
    # Sizes and layer/direction counts are inferred from the public shapes; reset_after=None
    # resolves to the cell's own form.
    fy, fh, fcache = fastgru.functional.gru_forward(x, params, h0, lens, reset_after=None if form[2] == "mgu"
                                                    else ra, **_kw(form))
    fgrads = fastgru.functional.gru_backward(fcache, dy, dh_n)
    tol = EXACT[np.dtype(np.float64)]
    assert_close(fy, y, tol, "functional y")
    assert_close(fh, h_n, tol, "functional h_n")
    assert set(fgrads) == set(grads)
    for k in grads:
        assert_close(fgrads[k], grads[k], tol, f"functional d{k}")


def test_functional_errors(rng):
    full = fastgru.GRU(D, H, seed=0).state_dict()
    x = np.zeros((2, 1, D))
    with pytest.raises(ValueError, match=r"weight_ih_l0 must have shape \(2\*hidden_size"):
        fastgru.functional.gru_forward(x, dict(full, weight_ih_l0=np.zeros((7, D))), cell="mgu")
    with pytest.raises(ValueError, match="weight_hh_l0"):  # (3H, D) read as type 1's (H, D): H = 3H
        fastgru.functional.gru_forward(x, full, gates="type1")
    with pytest.raises(ValueError, match="gates"):
        fastgru.functional.gru_forward(x, full, gates="type9")
    with pytest.raises(ValueError, match="reset_after"):
        fastgru.functional.gru_forward(x, fastgru.GRU(D, H, cell="mgu").state_dict(), cell="mgu", reset_after=True)
    with pytest.raises(ValueError, match="weight_ih_l0 must have shape"):  # standard params are no Light GRU's
        fastgru.functional.gru_forward(x, full, cell="ligru")


BAD = [
    (dict(gates="type4"), ValueError, "gates must be one of"),
    (dict(gates=None), ValueError, "gates must be one of"),
    (dict(gates="Type1"), ValueError, "gates"),
    (dict(update="new"), ValueError, "update must be one of"),
    (dict(update=1), ValueError, "update"),
    (dict(cell="lstm"), ValueError, "cell must be one of"),
    (dict(cell=None), ValueError, "cell"),
    (dict(cell="ligru", activation="softsign"), ValueError, "cell='ligru' takes activation"),
    (dict(cell="libru", activation="tanh"), ValueError, "softplus candidate by definition"),
    (dict(cell="mgu", gates="type1"), ValueError, "gates='type1' is not defined for cell='mgu'"),
    (dict(cell="mgu", update="candidate"), ValueError, "update='candidate' is not defined for cell='mgu'"),
    (dict(cell="mgu", reset_after=True), ValueError, "reset_after must be False"),
    (dict(gates="type3", bias=False), ValueError, "type3' needs bias=True"),
    (dict(reset_after="yes"), TypeError, "reset_after must be a bool"),
    (dict(activation="softmax"), ValueError, "activation must be one of"),
    (dict(recurrent_activation=None), ValueError, "recurrent_activation must be one of"),
    (dict(activation_alpha=0.5), ValueError, "activation_alpha=0.5 is not used by activation='tanh'"),
    (dict(recurrent_activation_beta=0.5), ValueError, "recurrent_activation_beta=0.5 is not used"),
    (dict(activation="scaled_tanh", activation_alpha=1.0), ValueError, "no default activation_beta"),
    (dict(activation="leaky_relu", activation_alpha="x"), ValueError, "activation_alpha must be a finite number"),
    (dict(activation="elu", activation_alpha=float("nan")), ValueError, "activation_alpha must be a finite"),
    (dict(clip=0.0), ValueError, "clip must be > 0"),
    (dict(clip=-1), ValueError, "clip must be > 0"),
    (dict(clip=float("inf")), ValueError, "clip must be a finite number"),
    (dict(clip=True), ValueError, "clip must be a finite number"),
    (dict(update="candidate", recurrent_activation="relu"), ValueError, "update='candidate' needs a recurrent_"),
    (dict(cell="mgu", recurrent_activation="softsign"), ValueError, "cell='mgu' needs a recurrent_activation"),
    (dict(update="candidate", recurrent_activation="hard_sigmoid", recurrent_activation_beta=0.4), ValueError,
     "with beta 0.4"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=re.escape(match)):
        fastgru.GRU(D, H, **kwargs)


# ----------------------------------------------------------------------------------------------
# PyTorch: GRUCell both ways; other forms export their equivalent standard GRU.

@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_grucell_from_and_to_torch(isa, rng, dtype, bias):
    torch = pytest.importorskip("torch")
    dtype = np.dtype(dtype)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    cell = torch.nn.GRUCell(D, H, bias=bias, dtype=tdtype)
    gru = fastgru.GRU.from_torch(cell)
    assert (gru.num_layers, gru.bidirectional, gru.bias, gru.reset_after, gru.dtype) == (1, False, bias, True, dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.uniform(-1, 1, (1, B, H)).astype(dtype)
    h = torch.from_numpy(h0[0])
    with torch.no_grad():
        want = []
        for t in range(T):
            h = cell(torch.from_numpy(x[t]), h)
            want.append(h.numpy())
    y, h_n = gru(x, h0)
    assert_close(y, np.stack(want), TORCH[dtype], "y vs a GRUCell loop")
    assert_close(h_n[0], want[-1], TORCH[dtype], "h_n vs a GRUCell loop")

    csd = cell.state_dict()
    back = gru.to_torch(cell=True)
    assert isinstance(back, torch.nn.GRUCell) and back.bias == bias
    assert list(back.state_dict()) == list(csd)
    for k, v in back.state_dict().items():
        assert v.dtype == tdtype and torch.equal(v, csd[k]), k
    seq = gru.to_torch()  # a model from a GRUCell is still a 1-layer GRU: nn.GRU by default
    assert isinstance(seq, torch.nn.GRU)
    for k, v in seq.state_dict().items():
        assert torch.equal(v, csd[k[:-3]]), k


def test_to_torch_cell_errors():
    pytest.importorskip("torch")
    for kw in (dict(num_layers=2), dict(bidirectional=True)):
        with pytest.raises(ValueError, match="1-layer unidirectional"):
            fastgru.GRU(D, H, **kw).to_torch(cell=True)
    with pytest.raises(TypeError, match="cell must be a bool"):
        fastgru.GRU(D, H).to_torch(cell="yes")
    with pytest.raises(ValueError, match="reset-after"):
        fastgru.GRU(D, H, cell="mgu").to_torch()
    with pytest.raises(ValueError, match="reset_after=False"):
        fastgru.GRU(D, H, gates="type2", reset_after=False).to_torch()


@pytest.mark.parametrize("form", FORMS[1:-1], ids=[_form_id(f) for f in FORMS[1:-1]])
def test_forms_export_to_torch_as_the_equivalent_gru(rng, form):
    torch = pytest.importorskip("torch")
    gru, _ = _model(rng, form, True, 2, True, np.float32)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    y, h_n = gru(x)
    m = gru.to_torch()
    assert isinstance(m, torch.nn.GRU)
    for k, v in gru.to_standard().state_dict().items():
        assert np.array_equal(m.state_dict()[k].numpy(), v), k
    with torch.no_grad():
        ty, th = m(torch.from_numpy(x))
    tol = TORCH[np.dtype(np.float32)]
    assert_close(ty.numpy(), y, tol, "torch y")
    assert_close(th.numpy(), h_n, tol, "torch h_n")
    cell = fastgru.GRU(D, H, **_kw(form), seed=3).to_torch(cell=True)
    assert isinstance(cell, torch.nn.GRUCell)


# Keras folds a reset-before model's two biases into one (one float add): the same cell, not the
# same bits; REORDER-sized differences are all that may appear.
KERAS_FOLD = REORDER


EXPORT_CASES = [(("type1", "candidate", "gru"), True), (("type2", "old", "gru"), False),
                (("full", "old", "mgu"), False)]


@pytest.mark.parametrize("form,ra", EXPORT_CASES, ids=[_form_id(f, ra) for f, ra in EXPORT_CASES])
def test_forms_export_to_keras_weights_and_onnx(rng, tmp_path, form, ra):
    gru, _ = _model(rng, form, ra, 1, True, np.float32, batch_first=True)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    y, h_n = gru(x)
    ws = gru.to_keras_weights()
    std = gru.to_standard().to_keras_weights()
    assert len(ws) == len(std) and all(np.array_equal(a, b) for a, b in zip(ws, std))
    back = fastgru.GRU.from_keras(ws, padding="zeros")
    y2, h2 = back(x)
    f32 = np.dtype(np.float32)
    assert_close(y2, y, KERAS_FOLD[f32] if not ra else EXACT[f32], "y via Keras weights")
    assert_close(h2, h_n, KERAS_FOLD[f32] if not ra else EXACT[f32], "h_n via Keras weights")

    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "m.onnx"
    gru.to_onnx(path, initial_h=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    h0 = np.zeros((2, B, H), np.float32)
    oy, oh = sess.run(["y", "h_n"], {"x": x, "h0": h0})
    ort_tol = Tol(atol=1e-5)  # as tests/test_onnx.py: ONNX Runtime's own sigmoid/tanh
    assert_close(oy, y, ort_tol, "y from ONNX Runtime")
    assert_close(oh, h_n, ort_tol, "h_n from ONNX Runtime")
