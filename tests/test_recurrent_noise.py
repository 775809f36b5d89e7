"""Recurrent dropout (candidate and state forms) and zoneout.

- forward with the masks a training forward drew (functional.recurrent_masks) against an
  independent float64 NumPy reference, every ISA, both reset forms, layers, both directions,
  lengths; inference against the reference's expectation (zoneout) or plain cell (dropout);
- gradients against central finite differences of fastgru's float64 forward with the masks fixed
  (same seed), for the standard cell and every light cell;
- masks: rates, scales, held over steps, reproducible per seed, independent of the thread count;
- configuration: save/load, pickle, repr, refusals.
"""

import pickle

import numpy as np
import pytest

import fastgru
from fastgru import functional as F
from tolerances import EXACT, FD, FORWARD, GRAD, REORDER, assert_close, assert_differ, central_differences

F64 = np.dtype(np.float64)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _suffix(layer, d):
    return f"l{layer}{'_reverse' if d else ''}"


def make_params(rng, D, H, L, bidir, scale=0.6):
    p = {}
    for layer in range(L):
        din = D if layer == 0 else (2 if bidir else 1) * H
        for d in range(2 if bidir else 1):
            s = _suffix(layer, d)
            p[f"weight_ih_{s}"] = rng.uniform(-scale, scale, (3 * H, din))
            p[f"weight_hh_{s}"] = rng.uniform(-scale, scale, (3 * H, H))
            p[f"bias_ih_{s}"] = rng.uniform(-scale, scale, 3 * H)
            p[f"bias_hh_{s}"] = rng.uniform(-scale, scale, 3 * H)
    return p


def reference(x, params, h0, lengths, *, L, bidir, reset_after, form, rate, zoneout, masks):
    """float64 GRU with recurrent dropout / zoneout written out step by step. masks: the training
    forward's (functional.recurrent_masks), or None for inference (no dropout, zoneout's expectation)."""
    T, B, _ = x.shape
    dirs = 2 if bidir else 1
    H = params["weight_hh_l0"].shape[1]
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    inp, h_n = x, []
    for layer in range(L):
        outs = []
        for d in range(dirs):
            s = _suffix(layer, d)
            Wi, Wh, bi, bh = (params[f"{k}_{s}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            m = masks[s] if masks is not None else {}
            h = h0[layer * dirs + d].copy()
            y = np.zeros((T, B, H))
            for t in (range(T) if d == 0 else reversed(range(T))):
                drop = m.get("recurrent_dropout")
                h_r, h_z, h_n_in = (h * drop[g] for g in range(3)) if drop is not None and form == "state" else (h,) * 3
                gx = inp[t] @ Wi.T + bi
                r = _sigmoid(gx[:, :H] + h_r @ Wh[:H].T + bh[:H])
                z = _sigmoid(gx[:, H:2 * H] + h_z @ Wh[H:2 * H].T + bh[H:2 * H])
                if reset_after:
                    n = np.tanh(gx[:, 2 * H:] + r * (h_n_in @ Wh[2 * H:].T + bh[2 * H:]))
                else:
                    n = np.tanh(gx[:, 2 * H:] + (r * h_n_in) @ Wh[2 * H:].T + bh[2 * H:])
                if drop is not None and form == "candidate":
                    n = n * drop[0]
                new = z * h + (1 - z) * n
                if zoneout:
                    keep = m["zoneout"][t] if masks is not None else zoneout
                    new = keep * h + (1 - keep) * new
                live = (t < lengths)[:, None]
                h = np.where(live, new, h)
                y[t] = np.where(live, h, 0.0)
            outs.append(y)
            h_n.append(h)
        inp = np.concatenate(outs, axis=-1)
    return inp, np.stack(h_n)


CASES = {
    "1layer": dict(L=1, bidir=False, lengths=None),
    "2layer-bidir-lengths": dict(L=2, bidir=True, lengths=[4, 1, 3]),
}
NOISE = {
    "state": dict(recurrent_dropout=0.4, recurrent_dropout_form="state"),
    "candidate": dict(recurrent_dropout=0.4, recurrent_dropout_form="candidate"),
    "zoneout": dict(zoneout=0.35),
    "state+zoneout": dict(recurrent_dropout=0.3, recurrent_dropout_form="state", zoneout=0.25),
    "candidate+zoneout": dict(recurrent_dropout=0.3, recurrent_dropout_form="candidate", zoneout=0.25),
}


def _problem(rng, case, D=2, H=3, T=4, B=3):
    c = CASES[case]
    params = make_params(rng, D, H, c["L"], c["bidir"])
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((c["L"] * (2 if c["bidir"] else 1), B, H)) * 0.5
    return c, params, x, h0


def _ref_kwargs(c, reset_after, noise):
    return dict(L=c["L"], bidir=c["bidir"], reset_after=reset_after,
                form=noise.get("recurrent_dropout_form", "state"), rate=noise.get("recurrent_dropout", 0.0),
                zoneout=noise.get("zoneout", 0.0))


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("noise", list(NOISE))
def test_training_forward_matches_the_reference_with_its_masks(isa, rng, noise, case, reset_after):
    c, params, x, h0 = _problem(rng, case)
    kw = NOISE[noise]
    y, h_n, cache = F.gru_forward(x, params, h0, c["lengths"], reset_after=reset_after, training=True,
                                  dropout_seed=12345, **kw)
    masks = F.recurrent_masks(cache)
    assert set(masks) == {_suffix(layer, d) for layer in range(c["L"]) for d in range(2 if c["bidir"] else 1)}
    y_ref, h_ref = reference(x, params, h0, c["lengths"], masks=masks, **_ref_kwargs(c, reset_after, kw))
    assert_close(y, y_ref, FORWARD[F64], f"y ({noise})")
    assert_close(h_n, h_ref, FORWARD[F64], f"h_n ({noise})")
    # The masks took effect: the same model without them computes something else.
    y_plain, _, _ = F.gru_forward(x, params, h0, c["lengths"], reset_after=reset_after, training=True)
    assert_differ(y, y_plain, "training with masks vs without")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("noise", list(NOISE))
def test_inference_is_the_plain_cell_or_zoneouts_expectation(isa, rng, noise, reset_after, dtype):
    c, params, x, h0 = _problem(rng, "2layer-bidir-lengths")
    kw = NOISE[noise]
    m = fastgru.GRU(2, 3, 2, bidirectional=True, reset_after=reset_after, dtype=dtype, **kw)
    m.load_state_dict({k: v.astype(dtype) for k, v in params.items()})
    p32 = {k: v.astype(dtype).astype(np.float64) for k, v in params.items()}
    xd, hd = x.astype(dtype), h0.astype(dtype)
    y_ref, h_ref = reference(xd.astype(np.float64), p32, hd.astype(np.float64), c["lengths"], masks=None,
                             **_ref_kwargs(c, reset_after, kw))
    y, h_n = m(xd, hd, c["lengths"])
    assert_close(y, y_ref, FORWARD[np.dtype(dtype)], "inference y")
    assert_close(h_n, h_ref, FORWARD[np.dtype(dtype)], "inference h_n")
    y_eval, h_eval, _ = m.forward(xd, hd, c["lengths"], training=False)
    assert_close(y_eval, y, EXACT[np.dtype(dtype)], "forward(training=False) vs inference")


@pytest.mark.parametrize("noise", ["zoneout", "state+zoneout"])
def test_streaming_step_takes_zoneouts_expectation_too(isa, rng, noise):
    m = fastgru.GRU(3, 5, 2, seed=1, **NOISE[noise])
    x = rng.standard_normal((6, 2, 3)).astype(np.float32)
    y, h_n = m(x)
    state = np.zeros((2, 2, 5), np.float32)
    for t in range(6):
        y_t, state = m.step(x[t], state)
        assert_close(y_t, y[t], REORDER[np.dtype(np.float32)], f"step {t}")
    assert_close(state, h_n, REORDER[np.dtype(np.float32)], "final state")


def _check_gradients(rng, forward, params, x, h0):
    """fastgru's backward of a training forward vs central differences of the same forward (same
    seed: the masks are fixed)."""
    y, h_n, cache = forward(x, params, h0)
    dy, dh = rng.standard_normal(y.shape), rng.standard_normal(h_n.shape)
    grads = F.gru_backward(cache, dy, dh)

    def loss(x=x, h=h0, p=params):
        yy, hh, _ = forward(x, p, h)
        return float(np.sum(yy * dy) + np.sum(hh * dh))

    assert_close(grads["x"], central_differences(lambda v: loss(x=v), x), FD, "dx")
    assert_close(grads["h0"], central_differences(lambda v: loss(h=v), h0), FD, "dh0")
    for k in params:
        if "running" in k:
            continue
        assert_close(grads[k], central_differences(lambda v: loss(p=dict(params, **{k: v})), params[k]), FD, f"d{k}")


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("noise", list(NOISE))
def test_gradients_match_finite_differences_with_the_masks_fixed(isa, rng, noise, reset_after):
    c, params, x, h0 = _problem(rng, "2layer-bidir-lengths")

    def forward(x, p, h):
        return F.gru_forward(x, p, h, c["lengths"], reset_after=reset_after, training=True, dropout_seed=7,
                             **NOISE[noise])

    _check_gradients(rng, forward, params, x, h0)


# The general gate path (activations other than sigmoid / tanh, and clip) of the candidate form's
# gradient correction; hard_sigmoid stays in its linear part for these small pre-activations.
@pytest.mark.parametrize("form", ["candidate", "state"])
def test_gradients_with_general_activations(isa, rng, form):
    c, params, x, h0 = _problem(rng, "1layer")

    def forward(x, p, h):
        return F.gru_forward(x, p, h, training=True, dropout_seed=3, recurrent_dropout=0.4,
                             recurrent_dropout_form=form, zoneout=0.2, activation="elu",
                             recurrent_activation="hard_sigmoid", clip=50.0)

    _check_gradients(rng, forward, {k: v * 0.5 for k, v in params.items()}, x * 0.5, h0)


LIGHT = {
    "ligru-candidate": dict(cell="ligru"),
    "ligru-state-layernorm": dict(cell="ligru", recurrent_dropout_form="state", normalization="layernorm"),
    "sligru-candidate": dict(cell="sligru"),
    "libru-state": dict(cell="libru", recurrent_dropout_form="state"),
}


@pytest.mark.parametrize("light", list(LIGHT))
def test_light_cells_gradients_match_finite_differences(isa, rng, light):
    kw = dict(LIGHT[light], recurrent_dropout=0.4, zoneout=0.3, dtype=np.float64, seed=2)
    m = fastgru.GRU(2, 3, 2, bidirectional=True, **kw)
    params = {k: np.array(v) for k, v in m.state_dict().items()}
    x = rng.standard_normal((4, 3, 2))
    h0 = rng.standard_normal((4, 3, 3)) * 0.5
    fixed = {k: v for k, v in kw.items() if k not in ("dtype", "seed")}

    def forward(x, p, h):
        return F.gru_forward(x, p, h, [4, 2, 3], training=True, dropout_seed=11, **fixed)

    y, _, cache = forward(x, params, h0)
    assert {"recurrent_dropout", "zoneout"} <= set(F.recurrent_masks(cache)["l0"])
    _check_gradients(rng, forward, params, x, h0)


def test_model_forward_draws_fresh_masks_and_backward_follows_them(rng):
    m = fastgru.GRU(3, 4, recurrent_dropout=0.5, zoneout=0.3, seed=5, dtype=np.float64)
    x = rng.standard_normal((5, 2, 3))
    y1, _, c1 = m.forward(x)
    y2, _, c2 = m.forward(x)
    assert c1.seed != c2.seed
    assert_differ(y1, y2, "two training forwards draw different masks")
    # The same seed through the functional API reproduces the model's training forward exactly.
    y1f, _, _ = F.gru_forward(x, m.state_dict(), training=True, dropout_seed=c1.seed, recurrent_dropout=0.5,
                              recurrent_dropout_form="state", zoneout=0.3)
    assert_close(y1f, y1, EXACT[F64], "functional with the model's seed")
    g_model = m.backward(c1, np.ones_like(y1))
    _, _, cf = F.gru_forward(x, m.state_dict(), training=True, dropout_seed=c1.seed, recurrent_dropout=0.5,
                             recurrent_dropout_form="state", zoneout=0.3)
    g_func = F.gru_backward(cf, np.ones_like(y1))
    for k in g_model:
        assert_close(g_model[k], g_func[k], EXACT[F64], f"d{k}")


def test_masks_have_the_documented_rates_scales_and_shapes(rng):
    p_drop, p_zone = 0.3, 0.2
    x = rng.standard_normal((40, 64, 2))
    for form, gates in (("state", 3), ("candidate", 1)):
        _, _, cache = F.gru_forward(x, make_params(rng, 2, 48, 1, False), training=True, dropout_seed=99,
                                    recurrent_dropout=p_drop, recurrent_dropout_form=form, zoneout=p_zone)
        masks = F.recurrent_masks(cache)["l0"]
        drop, keep = masks["recurrent_dropout"], masks["zoneout"]
        assert drop.shape == (gates, 64, 48) and keep.shape == (40, 64, 48) and keep.dtype == bool
        assert set(np.unique(drop)) == {0.0, 1.0 / (1.0 - p_drop)}
        # Binomial rates, 5 standard deviations (n = 3072 and 122880 draws).
        for rate, values in ((p_drop, drop == 0), (p_zone, keep)):
            n = values.size
            assert abs(values.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / n), (form, rate, values.mean())
        if gates == 3:  # one mask per gate, not one shared
            assert not np.array_equal(drop[0], drop[1])
    assert F.recurrent_masks(F.gru_forward(x, make_params(rng, 2, 4, 1, False), training=False,
                                           zoneout=0.2)[2]) == {}


def test_thread_count_does_not_change_a_training_forward_or_backward(rng, restore_threads):
    m = fastgru.GRU(32, 96, 2, bidirectional=True, recurrent_dropout=0.3, zoneout=0.2, seed=3)
    x = rng.standard_normal((12, 40, 32)).astype(np.float32)
    results = []
    for threads in (1, 2):
        fastgru.set_num_threads(threads)
        y, h_n, cache = F.gru_forward(x, m.state_dict(), training=True, dropout_seed=21, recurrent_dropout=0.3,
                                      recurrent_dropout_form="state", zoneout=0.2)
        results.append((y, h_n, F.gru_backward(cache, np.ones_like(y))))
    (y1, h1, g1), (y2, h2, g2) = results
    tol = REORDER[np.dtype(np.float32)]
    assert_close(y2, y1, tol, "y")
    assert_close(h2, h1, tol, "h_n")
    for k in g1:
        assert_close(g2[k], g1[k], GRAD[np.dtype(np.float32)], f"d{k}")


def test_settings_survive_save_load_pickle_and_copies(tmp_path, rng):
    m = fastgru.GRU(3, 4, 2, cell="ligru", recurrent_dropout=0.25, zoneout=0.1, seed=0)
    assert (m.recurrent_dropout, m.recurrent_dropout_form, m.zoneout) == (0.25, "candidate", 0.1)
    assert "recurrent_dropout=0.25" in repr(m) and "zoneout=0.1" in repr(m)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    m.save(tmp_path / "m.npz")
    for other in (fastgru.load(tmp_path / "m.npz"), pickle.loads(pickle.dumps(m))):
        assert other.config() == m.config()
        assert_close(other(x)[0], m(x)[0], EXACT[np.dtype(np.float32)], "reloaded inference")
    assert fastgru.GRU(3, 4).recurrent_dropout_form == "state"  # Keras's form for the other cells
    q = fastgru.GRU(3, 4, zoneout=0.3, seed=0)
    assert q.quantized("bf16").zoneout == 0.3


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(recurrent_dropout=1.0), ValueError, "recurrent_dropout must be in"),
    (dict(zoneout=-0.1), ValueError, "zoneout must be in"),
    (dict(zoneout="0.1"), TypeError, "zoneout must be a float"),
    (dict(recurrent_dropout=True), TypeError, "recurrent_dropout must be a float"),
    (dict(recurrent_dropout=0.1, recurrent_dropout_form="gates"), ValueError, "recurrent_dropout_form"),
    (dict(cell="libru", recurrent_dropout=0.1, recurrent_dropout_form="candidate"), ValueError, "libru"),
    (dict(recurrent_dropout=0.1, device="cuda"), ValueError, "no CUDA kernels"),
])
def test_bad_settings_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastgru.GRU(3, 4, **kwargs)


def test_exports_refuse_zoneout_and_keep_recurrent_dropouts_inference(rng):
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="zoneout"):
        fastgru.GRU(3, 4, zoneout=0.2).to_torch()
    m = fastgru.GRU(3, 4, recurrent_dropout=0.4, seed=0)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    import torch

    with torch.no_grad():
        y_t, _ = m.to_torch()(torch.from_numpy(x))
    assert_close(y_t.numpy(), m(x)[0], FORWARD[np.dtype(np.float32)], "exported inference")
