"""The light cells beyond the Light GRU's default: cell="libru" (the light Bayesian recurrent unit,
Bittar & Garner 2021, "logprobs": z = sigma(a_z), c = softplus(a_c), h' = log(z e^h + (1 - z) e^c)),
cell="ligru" with SpeechBrain's other candidates (tanh, leaky_relu), and both with
normalization="layernorm" (per row over its 2H input projections) or None.

Oracles: tests/reference.light_forward (float64 NumPy from the papers' equations) for the forward
pass in both batch-norm modes; central finite differences of that reference (not of fastgru) for
every gradient; the naive formula log(z e^h + (1 - z) e^c) for the reference's own update.
"""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

import fastgru
from fastgru import _core
from fastgru import functional as F
from conftest import DTYPES, make_lengths
from reference import libru_update, light_forward
from tolerances import EXACT, FD, FORWARD, GRAD, REORDER, assert_close, central_differences

# (cell, activation, normalization): every light form that is not the Light GRU's default.
FORMS = {"libru": ("libru", None, "batchnorm"), "ligru-tanh": ("ligru", "tanh", "batchnorm"),
         "ligru-leaky": ("ligru", "leaky_relu", "batchnorm"), "ligru-layernorm": ("ligru", None, "layernorm"),
         "libru-layernorm": ("libru", None, "layernorm"), "ligru-tanh-nonorm": ("ligru", "tanh", None),
         "sligru": ("sligru", None, "batchnorm"), "sligru-tanh-layernorm": ("sligru", "tanh", "layernorm"),
         "sligru-leaky-nonorm": ("sligru", "leaky_relu", None),
         "ligru-sin": ("ligru", "sin", "batchnorm"), "sligru-sin-layernorm": ("sligru", "sin", "layernorm")}

CASES = {
    "1layer-lengths": dict(L=1, bidir=False, lengths=True, batch_first=False, bias=True),
    "2layer-bidir-lengths-batchfirst": dict(L=2, bidir=True, lengths=True, batch_first=True, bias=True),
    "2layer-nobias-noh0": dict(L=2, bidir=False, lengths=False, batch_first=False, bias=False, h0=False),
    "1layer-bidir-unbatched": dict(L=1, bidir=True, lengths=False, batch_first=False, bias=True, unbatched=True),
}


def _suffixes(L, bidir):
    return [f"l{k}{'_reverse' if d else ''}" for k in range(L) for d in range(2 if bidir else 1)]


def make_params(rng, D, H, L, bidir, bias, dtype, scale=0.7, normalization="batchnorm"):
    p = {}
    for s in _suffixes(L, bidir):
        din = D if s.startswith("l0") else (2 if bidir else 1) * H
        p[f"weight_ih_{s}"] = rng.uniform(-scale, scale, (2 * H, din))
        p[f"weight_hh_{s}"] = rng.uniform(-scale, scale, (2 * H, H))
        if bias:
            p[f"bias_hh_{s}"] = rng.uniform(-0.3, 0.3, 2 * H)
        if normalization == "batchnorm":
            p[f"bn_weight_{s}"] = rng.uniform(0.5, 1.5, 2 * H)
            p[f"bn_bias_{s}"] = rng.uniform(-0.3, 0.3, 2 * H)
            p[f"bn_running_mean_{s}"] = rng.uniform(-0.3, 0.3, 2 * H)
            p[f"bn_running_var_{s}"] = rng.uniform(0.5, 2.0, 2 * H)
        elif normalization == "layernorm":
            p[f"ln_weight_{s}"] = rng.uniform(0.5, 1.5, 2 * H)
            p[f"ln_bias_{s}"] = rng.uniform(-0.3, 0.3, 2 * H)
    return {k: v.astype(dtype) for k, v in p.items()}


def build(rng, dtype, form, *, L, bidir, lengths, batch_first, bias, h0=True, unbatched=False, D=3, H=3, T=5,
          B=4, scale=0.7):
    cell, activation, normalization = FORMS[form]
    dtype = np.dtype(dtype)
    params = make_params(rng, D, H, L, bidir, bias, dtype, scale, normalization)
    gru = fastgru.GRU(D, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidir, dtype=dtype,
                      seed=0, cell=cell, activation=activation, normalization=normalization)
    assert set(gru.state_dict()) == set(params)
    gru.load_state_dict(params)
    dirs = 2 if bidir else 1
    B = 1 if unbatched else B
    x = rng.standard_normal((T, B, D)).astype(dtype)
    xin = x[:, 0] if unbatched else x.transpose(1, 0, 2).copy() if batch_first else x
    h = rng.uniform(-1, 1, (L * dirs, B, H)).astype(dtype) if h0 else None
    hin = None if h is None else h[:, 0] if unbatched else h
    lens = make_lengths(rng, B, T) if lengths else None
    return SimpleNamespace(gru=gru, params=params, x=x, xin=xin, h0=h, hin=hin, lengths=lens, L=L, bidir=bidir,
                           dtype=dtype, batch_first=batch_first, unbatched=unbatched, H=H, B=B, T=T, cell=cell,
                           activation=activation or ("softplus" if cell == "libru" else "relu"),
                           normalization=normalization)


def to_time_major(c, y):
    return y[:, None] if c.unbatched else y.transpose(1, 0, 2) if c.batch_first else y


def from_time_major(c, y):
    return y[:, 0] if c.unbatched else y.transpose(1, 0, 2) if c.batch_first else y


def ref(c, params, training, x=None, h0=None):
    """The reference on the model's own (user-layout) inputs; returns (y, h_n) in the model's layout."""
    x = c.xin if x is None else x
    h0 = c.hin if h0 is None else h0
    xt = to_time_major(c, np.asarray(x, np.float64))
    ht = None if h0 is None else np.asarray(h0, np.float64)
    if ht is not None and c.unbatched:
        ht = ht[:, None]
    y, h_n, stats = light_forward(xt, {k: np.asarray(v, np.float64) for k, v in params.items()}, ht, c.lengths,
                                  num_layers=c.L, bidirectional=c.bidir, training=training, cell=c.cell,
                                  activation=c.activation, normalization=c.normalization)
    return from_time_major(c, y), (h_n[:, 0] if c.unbatched else h_n), stats


# ----------------------------------------------------------------------------------------------
# The reference's own LiBRU update against the naive formula.

def test_reference_libru_update_is_the_papers_formula():
    rng = np.random.default_rng(0)
    h, a_z, a_c = rng.uniform(-3, 3, (3, 50))
    z, c = 1 / (1 + np.exp(-a_z)), np.log1p(np.exp(a_c))
    naive = np.log(z * np.exp(h) + (1 - z) * np.exp(c))
    assert_close(libru_update(h, a_z, a_c), naive, FORWARD[np.dtype(np.float64)], "libru_update")
    # Where the naive form overflows, the stable one stays finite and right: e^h dominates.
    big = libru_update(np.array([800.0]), np.array([50.0]), np.array([-800.0]))
    assert np.isfinite(big).all() and abs(big[0] - 800.0) < 1e-12


# ----------------------------------------------------------------------------------------------
# Forward, both batch-norm modes.

@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("form", FORMS)
def test_forward_matches_the_reference(isa, rng, form, dtype, case):
    c = build(rng, dtype, form, **CASES[case])
    tol = FORWARD[c.dtype]
    before = c.gru.state_dict()
    y_ref, h_ref, _ = ref(c, before, training=False)
    y, h_n = c.gru(c.xin, c.hin, c.lengths)
    assert_close(y, y_ref, tol, "inference y")
    assert_close(h_n, h_ref, tol, "inference h_n")

    y_ref, h_ref, stats = ref(c, before, training=True)
    y, h_n, cache = c.gru.forward(c.xin, c.hin, c.lengths, training=True)
    assert_close(y, y_ref, tol, "training y")
    assert_close(h_n, h_ref, tol, "training h_n")
    for name, batch in stats.items():
        assert_close(cache.batch_stats[name], batch, tol, f"batch statistic {name}")
    if c.normalization != "batchnorm":  # nothing depends on the batch, nothing to update
        assert cache.batch_stats is None and not stats
        assert_close(y, c.gru(c.xin, c.hin, c.lengths)[0], EXACT[c.dtype], "training y = inference y")


@pytest.mark.parametrize("H", [1, 7, 8, 9, 15, 16, 17, 31, 33])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("form", ["libru", "sligru"])
def test_vector_tails_forward_and_backward(isa, rng, form, dtype, H):
    """Every register width's tail: forward against the reference, float32 gradients against
    float64 ones (which the finite-difference test below checks), one layer, both modes."""
    c = build(rng, dtype, form, L=1, bidir=False, lengths=True, batch_first=False, bias=True, H=H, T=4, B=3)
    for training in (False, True):
        y_ref, h_ref, _ = ref(c, c.params, training)
        y, h_n, cache = c.gru.forward(c.xin, c.hin, c.lengths, training=training)
        assert_close(y, y_ref, FORWARD[c.dtype], f"y H={H}")
        assert_close(h_n, h_ref, FORWARD[c.dtype], f"h_n H={H}")
        dy = rng.standard_normal(y.shape)
        g = c.gru.backward(cache, dy)
        m64 = fastgru.GRU(3, H, cell=c.cell, dtype=np.float64)
        m64.load_state_dict(c.params)
        _, _, cache64 = m64.forward(c.xin.astype(np.float64), c.hin.astype(np.float64), c.lengths,
                                    training=training)
        g64 = m64.backward(cache64, dy)
        assert set(g) == set(g64)
        for k in g:
            assert_close(g[k], g64[k], GRAD[c.dtype], f"d{k} H={H}")


def test_libru_large_preactivations_stay_finite(isa, rng):
    """Saturated gates and candidates (|a| in the hundreds): the log-domain update is computed
    stably, so outputs are finite and match the reference in both dtypes."""
    for dtype in DTYPES:
        c = build(rng, dtype, "libru", L=2, bidir=True, lengths=False, batch_first=False, bias=True, scale=60.0)
        y, h_n = c.gru(c.xin * 5, c.hin)
        y_ref, h_ref, _ = ref(c, c.params, False, x=(c.xin * 5))
        assert np.isfinite(y).all() and np.isfinite(h_n).all()
        assert_close(y, y_ref, FORWARD[np.dtype(dtype)], "saturated y")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_step_matches_the_sequence(isa, rng, form, dtype):
    c = build(rng, dtype, form, L=2, bidir=False, lengths=False, batch_first=False, bias=True, H=9, B=2)
    y, h_n = c.gru(c.xin, c.hin)
    state = c.hin
    for t in range(c.T):
        y_t, state = c.gru.step(c.xin[t], state)
        assert_close(y_t, y[t], EXACT[c.dtype], f"step {t}")
    assert_close(state, h_n, EXACT[c.dtype], "final state")


@pytest.mark.parametrize("B, H", [(40, 40), (3, 128)], ids=["split-by-sequence", "split-by-column"])
@pytest.mark.parametrize("form", FORMS)
def test_thread_count_does_not_change_the_result(rng, form, B, H):
    c = build(rng, np.float64, form, L=1, bidir=True, lengths=True, batch_first=False, bias=True, H=H, B=B, T=6,
              scale=0.2)
    old = fastgru.get_num_threads()
    try:
        fastgru.set_num_threads(1)
        y1, h1, cache = c.gru.forward(c.xin, c.hin, c.lengths)
        g1 = c.gru.backward(cache, np.ones_like(y1))
        fastgru.set_num_threads(2)
        y2, h2, cache = c.gru.forward(c.xin, c.hin, c.lengths)
        g2 = c.gru.backward(cache, np.ones_like(y2))
    finally:
        fastgru.set_num_threads(old)
    assert_close(y2, y1, REORDER[c.dtype], "y")
    for k in g1:
        assert_close(g2[k], g1[k], REORDER[c.dtype], f"d{k}")


# ----------------------------------------------------------------------------------------------
# Gradients: central finite differences of the float64 reference.

@pytest.mark.parametrize("training", [True, False], ids=["batch-stats", "running-stats"])
@pytest.mark.parametrize("case", ["2layer-bidir-lengths-batchfirst", "2layer-nobias-noh0", "1layer-bidir-unbatched"])
@pytest.mark.parametrize("form", FORMS)
def test_gradients_match_finite_differences_of_the_reference(isa, rng, form, case, training):
    c = build(rng, np.float64, form, **CASES[case], H=2, T=4, B=3)
    y, h_n, cache = c.gru.forward(c.xin, c.hin, c.lengths, training=training)
    dy, dh = rng.standard_normal(y.shape), rng.standard_normal(h_n.shape)
    grads = c.gru.backward(cache, dy, dh)
    assert set(grads) == {"x", "h0"} | {k for k in c.params if "running" not in k}
    h0 = c.hin if c.hin is not None else np.zeros(grads["h0"].shape)

    def loss(x=c.xin, h=h0, p=c.params):
        yr, hr, _ = ref(c, p, training, x=x, h0=h)
        return float(np.sum(yr * dy) + np.sum(hr * dh))

    assert_close(grads["x"], central_differences(lambda v: loss(x=v), c.xin), FD, "dx")
    # At h0 = 0 the SLiGRU's LN(U h0) sits at its singular point (zero variance: curvature ~ eps^-1.5),
    # where central differences are dominated by truncation error; the cases with h0 check dh0.
    if not (c.cell == "sligru" and c.hin is None):
        assert_close(grads["h0"], central_differences(lambda v: loss(h=v), h0), FD, "dh0")
    for k in sorted(set(grads) - {"x", "h0"}):
        fd = central_differences(lambda v: loss(p=dict(c.params, **{k: v})), c.params[k])
        assert_close(grads[k], fd, FD, f"d{k} ({'training' if training else 'inference'})")


def test_functional_matches_the_model(rng):
    c = build(rng, np.float64, "libru", L=2, bidir=True, lengths=True, batch_first=False, bias=True)
    y, h_n, cache = F.gru_forward(c.xin, c.params, c.hin, c.lengths, cell="libru", training=True)
    y2, h2, cache2 = c.gru.forward(c.xin, c.hin, c.lengths, training=True)
    assert_close(y, y2, EXACT[c.dtype], "y")
    g, g2 = F.gru_backward(cache, np.ones_like(y)), c.gru.backward(cache2, np.ones_like(y))
    for k in g2:
        assert_close(g[k], g2[k], EXACT[c.dtype], f"d{k}")


# ----------------------------------------------------------------------------------------------
# The model as a value, and what is refused.

def test_libru_survives_save_load_pickle_and_state_dict(tmp_path, rng):
    c = build(rng, np.float32, "libru", L=2, bidir=True, lengths=True, batch_first=True, bias=False)
    c.gru.forward(c.xin, c.hin, c.lengths)  # running statistics that are not the initial ones
    y, _ = c.gru(c.xin, c.hin, c.lengths)
    path = tmp_path / "m.npz"
    c.gru.save(path)
    for m in (fastgru.load(path), pickle.loads(pickle.dumps(c.gru))):
        assert m.cell == "libru" and m.activation == "softplus" and "cell='libru'" in repr(m)
        assert_close(m(c.xin, c.hin, c.lengths)[0], y, EXACT[c.dtype], "reloaded y")
    fresh = fastgru.GRU(3, 3, num_layers=2, bidirectional=True, bias=False, batch_first=True, cell="libru")
    fresh.load_state_dict(c.gru.state_dict())
    assert_close(fresh(c.xin, c.hin, c.lengths)[0], y, EXACT[c.dtype], "state_dict y")
    assert set(c.gru.state_dict()) == set(fastgru.GRU(3, 3, num_layers=2, bidirectional=True, bias=False,
                                                      cell="ligru").state_dict())


@pytest.mark.parametrize("normalization", ["layernorm", None])
def test_normalization_survives_save_load_pickle_and_to(tmp_path, rng, normalization):
    m = fastgru.GRU(3, 4, num_layers=2, cell="ligru", normalization=normalization, seed=2)
    names = set(m.state_dict())
    assert any(k.startswith("ln_") for k in names) == (normalization == "layernorm")
    assert not any(k.startswith("bn_") for k in names)
    assert m.normalization == normalization and f"normalization={normalization!r}" in repr(m)
    assert m.bn_momentum is None and m.bn_eps is None
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    y = m(x)[0]
    m.save(tmp_path / "m.npz")
    for back in (fastgru.load(tmp_path / "m.npz"), pickle.loads(pickle.dumps(m)), m.to("cpu")):
        assert back.normalization == normalization
        assert np.array_equal(back(x)[0], y)
    # the default is batch norm, and a file written before the option existed reads as that
    assert fastgru.GRU(3, 4, cell="ligru").normalization == "batchnorm"
    assert fastgru.GRU(3, 4).normalization is None


def test_ligru_activation_survives_save_and_repr(tmp_path, rng):
    m = fastgru.GRU(3, 4, cell="ligru", activation="leaky_relu", activation_alpha=0.2, seed=1)
    assert "activation='leaky_relu'" in repr(m) and m.activation_alpha == 0.2
    m.save(tmp_path / "m.npz")
    back = fastgru.load(tmp_path / "m.npz")
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    assert back.activation == "leaky_relu" and back.activation_alpha == 0.2
    assert np.array_equal(back(x)[0], m(x)[0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(cell="libru", activation="relu"), "softplus candidate"),
    (dict(cell="libru", recurrent_activation="hard_sigmoid"), "sigmoid update gate"),
    (dict(cell="libru", clip=2.0), "clip"),
    (dict(cell="libru", reset_after=False), "no reset gate"),
    (dict(cell="libru", update="candidate"), "update"),
    (dict(cell="ligru", activation="elu"), "takes activation"),
    (dict(cell="libru", device="cuda"), "no CUDA kernels"),
    (dict(cell="sligru", device="cuda"), "no CUDA kernels"),
    (dict(cell="sligru", activation="tanh", clip=1.0), "clip"),
    (dict(cell="ligru", normalization="layernorm", device="cuda"), "no CUDA kernels"),
    (dict(cell="gru", normalization="layernorm"), "only for cell='ligru', 'sligru' or 'libru'"),
    (dict(cell="ligru", normalization="groupnorm"), "normalization must be"),
    (dict(cell="ligru", normalization=False), "normalization must be"),
    (dict(cell="ligru", normalization="layernorm", bn_momentum=0.1), "only for batch norm"),
    (dict(cell="libru", normalization=None, bn_eps=1e-3), "only for batch norm"),
])
def test_bad_configurations_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fastgru.GRU(3, 4, **kwargs)


def test_libru_cannot_move_to_cuda_or_be_exported():
    m = fastgru.GRU(3, 4, cell="libru")
    with pytest.raises(ValueError, match="no CUDA kernels"):
        m.to("cuda")
    for export in (m.to_standard, m.to_torch, lambda: m.to_keras_weights(0)):
        with pytest.raises(ValueError, match="libru"):
            export()


def test_core_refuses_a_libru_it_cannot_compute():
    with pytest.raises(ValueError, match="libru"):
        _core.GruF32(3, 4, 1, True, False, True, candidate_activation="tanh", cell="libru")
    with pytest.raises(ValueError, match="libru"):
        _core.GruF32(3, 4, 1, True, False, False, candidate_activation="softplus", cell="libru")
    with pytest.raises(ValueError, match="cell must be"):
        _core.GruF32(3, 4, 1, True, False, True, cell="lstm")
