"""The Light GRU (cell="ligru", Ravanelli et al. 2018): z = sigma(BN(W_z x) + U_z h [+ b_hz]),
n = ReLU(BN(W_n x) + U_n h [+ b_hn]), h' = z h + (1 - z) n, batch norm over the valid steps.

Oracles: an independent float64 NumPy implementation of those equations (below, written from
the paper's equations, not from fastgru's mapping onto the core) for the forward pass in both
modes and for the running statistics; central finite differences of fastgru's own float64
forward for every gradient (in training mode the loss depends on the whole batch through the
batch statistics, so this checks the backward through batch norm too).
"""

import re
from types import SimpleNamespace

import numpy as np
import pytest

import fastgru
from fastgru import _core
from fastgru import functional as F
from conftest import DTYPES, make_lengths
from tolerances import EXACT, FD, FD_STEP, FORWARD, GRAD, assert_close

EPS = 1e-5
BN_KINDS = ("bn_weight", "bn_bias", "bn_running_mean", "bn_running_var")


def _suffixes(L, bidir):
    return [f"l{k}{'_reverse' if d else ''}" for k in range(L) for d in range(2 if bidir else 1)]


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference(x, params, h0, lengths, *, L, bidir, training, eps=EPS):
    """float64 Light GRU on time-major x (T, B, D): (y, h_n, {running-stat name: batch statistic}),
    the statistics being the batch mean and the unbiased variance over the valid steps."""
    T, B, _ = x.shape
    dirs = 2 if bidir else 1
    H = params["weight_hh_l0"].shape[1]
    lens = np.full(B, T) if lengths is None else np.asarray(lengths)
    valid = np.arange(T)[:, None] < lens[None, :]  # (T, B)
    h0 = np.zeros((L * dirs, B, H)) if h0 is None else h0
    inp, h_n, stats = x, [], {}
    for k in range(L):
        outs = []
        for d in range(dirs):
            s = f"l{k}{'_reverse' if d else ''}"
            a = inp @ params[f"weight_ih_{s}"].T  # (T, B, 2H): [W_z x; W_n x], no bias
            if training:
                rows = a[valid]
                mean, var = rows.mean(0), rows.var(0)
                stats[f"bn_running_mean_{s}"], stats[f"bn_running_var_{s}"] = mean, rows.var(0, ddof=1)
            else:
                mean, var = params[f"bn_running_mean_{s}"], params[f"bn_running_var_{s}"]
            a = params[f"bn_weight_{s}"] * (a - mean) / np.sqrt(var + eps) + params[f"bn_bias_{s}"]
            U, b = params[f"weight_hh_{s}"], params.get(f"bias_hh_{s}", 0.0)
            h, y = h0[k * dirs + d].copy(), np.zeros((T, B, H))
            for t in range(T) if d == 0 else reversed(range(T)):
                g = a[t] + h @ U.T + b
                z, n = _sigmoid(g[:, :H]), np.maximum(g[:, H:], 0.0)
                new = z * h + (1 - z) * n
                live = valid[t][:, None]
                h = np.where(live, new, h)
                y[t] = np.where(live, new, 0.0)
            outs.append(y)
            h_n.append(h)
        inp = np.concatenate(outs, axis=-1)
    return inp, np.stack(h_n), stats


def make_params(rng, D, H, L, bidir, bias, dtype):
    """Public Light GRU parameters by their documented names and shapes, rounded to dtype."""
    p = {}
    for s in _suffixes(L, bidir):
        din = D if s.startswith("l0") else (2 if bidir else 1) * H
        p[f"weight_ih_{s}"] = rng.uniform(-0.7, 0.7, (2 * H, din))
        p[f"weight_hh_{s}"] = rng.uniform(-0.7, 0.7, (2 * H, H))
        if bias:
            p[f"bias_hh_{s}"] = rng.uniform(-0.3, 0.3, 2 * H)
        p[f"bn_weight_{s}"] = rng.uniform(0.5, 1.5, 2 * H)
        p[f"bn_bias_{s}"] = rng.uniform(-0.3, 0.3, 2 * H)
        p[f"bn_running_mean_{s}"] = rng.uniform(-0.3, 0.3, 2 * H)
        p[f"bn_running_var_{s}"] = rng.uniform(0.5, 2.0, 2 * H)
    return {k: v.astype(dtype) for k, v in p.items()}


CASES = {
    "1layer-lengths": dict(L=1, bidir=False, lengths=True, batch_first=False, bias=True),
    "2layer-bidir-lengths-batchfirst": dict(L=2, bidir=True, lengths=True, batch_first=True, bias=True),
    "2layer-nobias-noh0": dict(L=2, bidir=False, lengths=False, batch_first=False, bias=False, h0=False),
    "1layer-bidir-unbatched": dict(L=1, bidir=True, lengths=False, batch_first=False, bias=True, unbatched=True),
}


def build(rng, dtype, *, L, bidir, lengths, batch_first, bias, h0=True, unbatched=False, D=3, H=3, T=5, B=4,
          **kw):
    dtype = np.dtype(dtype)
    params = make_params(rng, D, H, L, bidir, bias, dtype)
    gru = fastgru.GRU(D, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidir, dtype=dtype,
                      seed=0, cell="ligru", **kw)
    gru.load_state_dict(params)
    dirs = 2 if bidir else 1
    if unbatched:
        B = 1
    x = rng.standard_normal((T, B, D)).astype(dtype)  # time-major; `xin` is what the model takes
    xin = x[:, 0] if unbatched else x.transpose(1, 0, 2).copy() if batch_first else x
    h = rng.uniform(-1, 1, (L * dirs, B, H)).astype(dtype) if h0 else None
    hin = None if h is None else h[:, 0] if unbatched else h
    lens = make_lengths(rng, B, T) if lengths else None
    return SimpleNamespace(gru=gru, params=params, x=x, xin=xin, h0=h, hin=hin, lengths=lens, L=L, bidir=bidir,
                           dtype=dtype, batch_first=batch_first, unbatched=unbatched, dirs=dirs, H=H, B=B, T=T)


def to_time_major(c, y):
    return y[:, None] if c.unbatched else y.transpose(1, 0, 2) if c.batch_first else y


def f64(d):
    return {k: np.asarray(v, np.float64) for k, v in d.items()}


def ref(c, params, training):
    h0 = None if c.h0 is None else c.h0.astype(np.float64)
    return reference(c.x.astype(np.float64), f64(params), h0, c.lengths, L=c.L, bidir=c.bidir, training=training)


# ----------------------------------------------------------------------------------------------
# Forward, both modes, and the running statistics.

@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_forward_matches_the_equations(isa, rng, dtype, case):
    c = build(rng, dtype, **CASES[case], bn_momentum=0.25)
    tol = FORWARD[c.dtype]
    before = c.gru.state_dict()

    # Inference (running statistics): __call__ and forward(training=False); neither changes state.
    y_ref, h_ref, _ = ref(c, before, training=False)
    y, h_n = c.gru(c.xin, c.hin, c.lengths)
    assert_close(to_time_major(c, y), y_ref, tol, "inference y")
    assert_close(h_n.reshape(h_ref.shape), h_ref, tol, "inference h_n")
    y2, h2, cache = c.gru.forward(c.xin, c.hin, c.lengths, training=False)
    assert_close(y2, y, EXACT[c.dtype], "forward(training=False) y")
    assert_close(h2, h_n, EXACT[c.dtype], "forward(training=False) h_n")
    assert cache.batch_stats is None
    for k, v in c.gru.state_dict().items():
        assert np.array_equal(v, before[k]), f"inference changed {k}"

    # Training: batch statistics over the valid steps, then the running statistics move.
    y_ref, h_ref, stats = ref(c, before, training=True)
    y, h_n, cache = c.gru.forward(c.xin, c.hin, c.lengths, training=True)
    assert_close(to_time_major(c, y), y_ref, tol, "training y")
    assert_close(h_n.reshape(h_ref.shape), h_ref, tol, "training h_n")
    after = c.gru.state_dict()
    assert set(cache.batch_stats) == set(stats)
    for name, batch in stats.items():
        assert_close(cache.batch_stats[name], batch, tol, f"batch statistic {name}")
        expected = 0.75 * before[name].astype(np.float64) + 0.25 * batch
        assert_close(after[name], expected, tol, f"updated {name}")
    for k in after:
        if "running" not in k:
            assert np.array_equal(after[k], before[k]), f"training forward changed the parameter {k}"

    # Inference now uses the updated statistics.
    y_ref, h_ref, _ = ref(c, after, training=False)
    y, h_n = c.gru(c.xin, c.hin, c.lengths)
    assert_close(to_time_major(c, y), y_ref, tol, "inference y after the update")


def test_running_statistics_are_reproducible_and_match_functional(rng):
    a = fastgru.GRU(3, 4, num_layers=2, cell="ligru", seed=7, bn_momentum=0.3)
    b = fastgru.GRU(3, 4, num_layers=2, cell="ligru", seed=7, bn_momentum=0.3)
    params = a.state_dict()
    xs = [rng.standard_normal((6, 3, 3)).astype(np.float32) for _ in range(3)]
    for x in xs:
        a.forward(x, training=True)
        b.forward(x, training=True)
        _, _, cache = F.gru_forward(x, params, cell="ligru", training=True)
        params.update(F.update_running_stats(params, cache.batch_stats, momentum=0.3))
    for k, v in a.state_dict().items():
        assert np.array_equal(v, b.state_dict()[k]), k
        assert np.array_equal(v, params[k]), k
    assert not np.array_equal(a.bn_running_var_l1, np.ones(8, np.float32))
    # momentum 0 freezes them; 1 replaces them by the last batch's
    frozen = fastgru.GRU(3, 4, cell="ligru", seed=1, bn_momentum=0.0)
    frozen.forward(xs[0])
    assert np.array_equal(frozen.bn_running_mean_l0, np.zeros(8))
    assert np.array_equal(frozen.bn_running_var_l0, np.ones(8))
    last = fastgru.GRU(3, 4, cell="ligru", seed=1, bn_momentum=1.0)
    _, _, cache = last.forward(xs[1])
    assert np.array_equal(last.bn_running_var_l0, cache.batch_stats["bn_running_var_l0"])


def test_reset_gate_constant_is_exactly_one(isa):
    """sigma(LIGRU_R_BIAS) must round to 1.0 in the core, so that r * (U_n h + b_hn) is exact: with
    an identity candidate, x = 0, z = sigma(-1e4) ~ 0 and U_n = I, y = r * h reads r off."""
    for cls, dtype in ((_core.GruF32, np.float32), (_core.GruF64, np.float64)):
        for H in (1, 17):
            m = cls(1, H, 1, True, False, True, candidate_activation="affine", candidate_alpha=1.0)
            R = np.zeros((3 * H, H), dtype)
            R[2 * H:] = np.eye(H)
            b_ih = np.zeros(3 * H, dtype)
            b_ih[:H], b_ih[H:2 * H] = fastgru.cells.LIGRU_R_BIAS, -fastgru.cells.LIGRU_R_BIAS
            m.set_params(0, 0, np.zeros((3 * H, 1), dtype), R, b_ih, np.zeros(3 * H, dtype))
            y, _, _ = m.forward(np.zeros((3, 1, 1), dtype), np.ones((1, 1, H), dtype), None, False, 0.0, 0)
            assert np.all(y == 1.0), (dtype, H, y)


# ----------------------------------------------------------------------------------------------
# Gradients: finite differences of fastgru's float64 forward.

FD_CASES = dict(CASES, **{
    "2layer-dropout": dict(L=2, bidir=False, lengths=True, batch_first=False, bias=True, dropout=0.4)})


def _loss_and_grads(c, params, dy, dh, training, dropout=0.0):
    kw = dict(num_layers=c.L, bidirectional=c.bidir, batch_first=c.batch_first, cell="ligru", training=training,
              dropout=dropout, dropout_seed=11)

    def loss(x, h0, p):
        y, h_n, _ = F.gru_forward(x, p, h0, c.lengths, **kw)
        return float(np.sum(y * dy) + np.sum(h_n * dh))

    y, h_n, cache = F.gru_forward(c.xin, params, c.hin, c.lengths, **kw)
    return loss, F.gru_backward(cache, dy, dh), (y, h_n, cache)


@pytest.mark.parametrize("training", [True, False], ids=["batch-stats", "running-stats"])
@pytest.mark.parametrize("case", list(FD_CASES), ids=list(FD_CASES))
def test_gradients_match_finite_differences(isa, rng, case, training):
    cfg = dict(FD_CASES[case])
    dropout = cfg.pop("dropout", 0.0)
    c = build(rng, np.float64, **cfg, dropout=dropout)
    y0, h0_out = c.gru(c.xin, c.hin, c.lengths)
    dy, dh = rng.standard_normal(y0.shape), rng.standard_normal(h0_out.shape)
    loss, grads, _ = _loss_and_grads(c, c.params, dy, dh, training, dropout if training else 0.0)
    expected_keys = {"x", "h0"} | {k for k in c.params if "running" not in k}
    assert set(grads) == expected_keys

    inputs = {"x": c.xin, "h0": c.hin if c.hin is not None else np.zeros(grads["h0"].shape)}
    for name, value in [*inputs.items(), *((k, c.params[k]) for k in sorted(expected_keys - {"x", "h0"}))]:
        base = np.array(value, np.float64)
        fd = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            vals = []
            for sign in (1, -1):
                pert = base.copy()
                pert[i] += sign * FD_STEP
                args = dict(inputs, p=c.params)
                if name in inputs:
                    args[name] = pert
                else:
                    args["p"] = dict(c.params, **{name: pert})
                vals.append(loss(args["x"], args["h0"], args["p"]))
            fd[i] = (vals[0] - vals[1]) / (2 * FD_STEP)
        assert_close(grads[name], fd, FD, f"d{name} ({'training' if training else 'inference'})")
    if c.lengths is not None and not c.unbatched:  # padding never reaches y, h_n or the statistics
        xg = to_time_major(c, grads["x"])
        assert not np.any(xg[np.arange(c.T)[:, None] >= c.lengths[None, :]])


@pytest.mark.parametrize("training", [True, False], ids=["batch-stats", "running-stats"])
def test_model_backward_equals_functional_and_float32_agrees(isa, rng, training):
    c = build(rng, np.float64, **CASES["2layer-bidir-lengths-batchfirst"])
    y, h_n, cache = c.gru.forward(c.xin, c.hin, c.lengths, training=training)
    dy, dh = rng.standard_normal(y.shape), rng.standard_normal(h_n.shape)
    grads = c.gru.backward(cache, dy, dh)
    _, fgrads, (fy, fh, _) = _loss_and_grads(c, c.params, dy, dh, training)
    assert_close(y, fy, EXACT[c.dtype], "model y vs functional")
    assert set(grads) == set(fgrads)
    for k in grads:
        assert_close(grads[k], fgrads[k], EXACT[c.dtype], f"model d{k} vs functional")

    # float32 against float64 on the same (float32-rounded) values.
    p32 = {k: v.astype(np.float32) for k, v in c.params.items()}
    kw = dict(num_layers=c.L, bidirectional=c.bidir, batch_first=True, cell="ligru", training=training)
    x32, h32 = c.xin.astype(np.float32), c.hin.astype(np.float32)
    dy32, dh32 = dy.astype(np.float32), dh.astype(np.float32)
    _, _, cache32 = F.gru_forward(x32, p32, h32, c.lengths, **kw)
    _, _, cache64 = F.gru_forward(x32.astype(np.float64), f64(p32), h32.astype(np.float64), c.lengths, **kw)
    g32 = F.gru_backward(cache32, dy32, dh32)
    g64 = F.gru_backward(cache64, dy32.astype(np.float64), dh32.astype(np.float64))
    for k in g64:
        assert g32[k].dtype == np.float32
        assert_close(g32[k], g64[k], GRAD[np.dtype(np.float32)], f"float32 d{k}")


def test_cache_survives_a_running_statistics_update(rng):
    c = build(rng, np.float64, **CASES["1layer-lengths"])
    y, h_n, cache = c.gru.forward(c.xin, c.hin, c.lengths, training=False)
    dy, dh = rng.standard_normal(y.shape), rng.standard_normal(h_n.shape)
    before = c.gru.backward(cache, dy, dh)
    c.gru.forward(c.xin, c.hin, c.lengths, training=True)  # moves the running statistics
    after = c.gru.backward(cache, dy, dh)  # still the gradients of the forward that made the cache
    for k in before:
        assert np.array_equal(before[k], after[k]), k
    c.gru.load_state_dict(c.params)
    with pytest.raises(ValueError, match="weights changed"):
        c.gru.backward(cache, dy, dh)


# ----------------------------------------------------------------------------------------------
# Streaming, state, files.

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_step_equals_the_inference_forward(isa, rng, dtype):
    c = build(rng, dtype, L=2, bidir=False, lengths=False, batch_first=False, bias=True)
    c.gru.forward(c.x, training=True)  # running statistics away from their initial values
    y, h_n = c.gru(c.x, c.h0)
    state = c.h0
    for t in range(c.T):
        y_t, state = c.gru.step(c.x[t], state)
        assert_close(y_t, y[t], EXACT[c.dtype], f"step {t}")
    assert_close(state, h_n, EXACT[c.dtype], "state after the last step")
    # unbatched, other dtype and layout: the slow path
    y_t, s1 = c.gru.step(c.x[0, 1].astype(np.float64).tolist(), c.h0[:, 1])
    assert_close(y_t, y[0, 1], EXACT[c.dtype], "unbatched step")
    bidir = fastgru.GRU(3, 3, bidirectional=True, cell="ligru", dtype=dtype)
    with pytest.raises(ValueError, match="unidirectional"):
        bidir.step(c.x[0], np.zeros((2, c.B, 3), dtype))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_state_dict_names_shapes_and_parameters(bias):
    D, H = 5, 3
    gru = fastgru.GRU(D, H, num_layers=2, bidirectional=True, bias=bias, cell="ligru", seed=0)
    sd = gru.state_dict()
    expected = {}
    for s in _suffixes(2, True):
        din = D if s.startswith("l0") else 2 * H
        expected[f"weight_ih_{s}"] = (2 * H, din)
        expected[f"weight_hh_{s}"] = (2 * H, H)
        if bias:
            expected[f"bias_hh_{s}"] = (2 * H,)
        expected.update({f"{kind}_{s}": (2 * H,) for kind in BN_KINDS})
    assert list(sd) == list(expected)  # PyTorch's order: per layer/direction, parameters then buffers
    assert {k: v.shape for k, v in sd.items()} == expected
    assert not any(k.startswith("bias_ih") for k in sd)
    assert list(sd) == fastgru.functional.param_names(2, True, bias, cell="ligru")
    # PyTorch's BatchNorm initial state
    assert np.all(gru.bn_weight_l0 == 1) and np.all(gru.bn_bias_l1_reverse == 0)
    assert np.all(gru.bn_running_mean_l0 == 0) and np.all(gru.bn_running_var_l1 == 1)
    # parameters(): no running statistics
    params = gru.parameters()
    assert len(params) == len([k for k in sd if "running" not in k])
    assert all(not p.flags.writeable for p in params)
    # load_state_dict: strict names; strict=False keeps what is not given
    with pytest.raises(ValueError, match="missing"):
        gru.load_state_dict({k: v for k, v in sd.items() if k != "bn_running_var_l0"})
    sd2 = {k: v + 0.5 for k, v in sd.items()}
    gru.load_state_dict({"bn_running_var_l0": sd2["bn_running_var_l0"]}, strict=False)
    assert np.array_equal(gru.bn_running_var_l0, sd2["bn_running_var_l0"])
    assert np.array_equal(gru.bn_running_var_l1, sd["bn_running_var_l1"])
    with pytest.raises(ValueError, match=re.escape("bn_weight_l1 has shape (5,), expected (6,)")):
        gru.load_state_dict(dict(sd, bn_weight_l1=np.ones(5)))


def test_save_load_config_repr(tmp_path, rng):
    gru = fastgru.GRU(3, 4, num_layers=2, cell="ligru", bias=False, bn_momentum=0.05, bn_eps=1e-3, seed=3,
                      dtype=np.float64)
    x = rng.standard_normal((6, 2, 3))
    gru.forward(x)
    gru.save(tmp_path / "m.npz")
    back = fastgru.load(tmp_path / "m.npz")
    assert back.config() == gru.config()
    assert back.cell == "ligru" and back.bn_momentum == 0.05 and back.bn_eps == 1e-3 and back.activation == "relu"
    for k, v in gru.state_dict().items():
        assert np.array_equal(back.state_dict()[k], v), k
    assert_close(back(x)[0], gru(x)[0], EXACT[np.dtype(np.float64)], "reloaded model")
    assert repr(gru) == ("GRU(3, 4, num_layers=2, bias=False, cell='ligru', bn_momentum=0.05, bn_eps=0.001, "
                         "dtype=float64)")
    assert repr(fastgru.GRU(3, 4, cell="ligru")) == "GRU(3, 4, cell='ligru', dtype=float32)"
    assert fastgru.GRU(3, 4).bn_momentum is None and "bn_eps" not in fastgru.GRU(3, 4).config()
    # bn_eps is used: a different eps gives a different inference output
    other = fastgru.GRU(**dict(gru.config(), bn_eps=0.5))
    other.load_state_dict(gru.state_dict())
    assert not np.allclose(other(x)[0], gru(x)[0])


def test_functional_batch_stats_and_inputs_untouched(rng):
    c = build(rng, np.float32, **CASES["1layer-lengths"])
    params = {k: v.copy() for k, v in c.params.items()}
    y, h_n, cache = F.gru_forward(c.xin, params, c.hin, c.lengths, cell="ligru", training=True)
    for k, v in params.items():
        assert np.array_equal(v, c.params[k]), f"functional training forward modified {k}"
    assert set(cache.batch_stats) == {"bn_running_mean_l0", "bn_running_var_l0"}
    _, _, stats = ref(c, c.params, training=True)
    for k, v in stats.items():
        assert_close(cache.batch_stats[k], v, FORWARD[c.dtype], k)
    _, _, icache = F.gru_forward(c.xin, params, c.hin, c.lengths, cell="ligru")  # training=False default
    assert icache.batch_stats is None
    new = F.update_running_stats(params, cache.batch_stats, momentum=0.5)
    assert set(new) == set(cache.batch_stats) and new["bn_running_var_l0"].dtype == np.float32
    assert_close(new["bn_running_mean_l0"], 0.5 * (params["bn_running_mean_l0"] + stats["bn_running_mean_l0"]),
                 FORWARD[c.dtype], "updated mean")


# ----------------------------------------------------------------------------------------------
# Errors.

BAD = [
    (dict(activation="softsign"), "cell='ligru' takes activation 'relu', 'tanh', 'leaky_relu'"),
    (dict(activation="softsign"), "activation"),
    (dict(recurrent_activation="hard_sigmoid"), "sigmoid update gate"),
    (dict(clip=3.0), "clip is not supported for cell='ligru'"),
    (dict(gates="type1"), "gates='type1' is not defined for cell='ligru'"),
    (dict(update="candidate"), "update='candidate' is not defined for cell='ligru'"),
    (dict(reset_after=False), "no reset gate"),
    (dict(bn_momentum=1.5), "bn_momentum must be in [0, 1]"),
    (dict(bn_momentum=-0.1), "bn_momentum must be in [0, 1]"),
    (dict(bn_momentum="fast"), "bn_momentum must be a finite number"),
    (dict(bn_eps=0.0), "bn_eps must be > 0"),
    (dict(bn_eps=float("nan")), "bn_eps must be a finite number"),
    (dict(cell="gru", bn_eps=1e-3), "bn_eps=0.001 is only for batch norm (cell='ligru', 'sligru'"),
    (dict(cell="mgu", bn_momentum=0.1), "bn_momentum=0.1 is only for batch norm (cell='ligru', 'sligru'"),
]


@pytest.mark.parametrize("kwargs,match", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        fastgru.GRU(3, 4, **dict(dict(cell="ligru"), **kwargs))


def test_bad_calls(rng):
    gru = fastgru.GRU(3, 4, cell="ligru", seed=0)
    gru.forward(np.zeros((1, 2, 3)), training=True)  # two valid steps: fine
    # One valid step in all: its variance is undefined (PyTorch's BatchNorm refuses it too).
    with pytest.raises(ValueError, match="more than one valid step"):
        gru.forward(np.zeros((1, 1, 3)), training=True)
    with pytest.raises(ValueError, match="more than one valid step"):
        gru.forward(np.zeros((3, 1, 3)), lengths=[1], training=True)
    with pytest.raises(ValueError, match="more than one valid step"):
        F.gru_forward(np.zeros((1, 3)), gru.state_dict(), cell="ligru", training=True)
    gru(np.zeros((1, 1, 3)))  # inference of a single step is fine
    with pytest.raises(TypeError, match="training must be a bool"):
        gru.forward(np.zeros((2, 1, 3)), training="yes")
    for export in (gru.to_torch, gru.to_keras_weights, gru.to_standard, lambda: gru.to_onnx("x.onnx")):
        with pytest.raises(ValueError, match="batch norm"):
            export()
    sd = gru.state_dict()
    with pytest.raises(ValueError, match="missing"):  # the functional API needs the running statistics too
        F.gru_forward(np.zeros((2, 1, 3)), {k: v for k, v in sd.items() if "running" not in k}, cell="ligru")
    with pytest.raises(ValueError, match="cell='ligru' takes activation"):
        F.gru_forward(np.zeros((2, 1, 3)), sd, cell="ligru", activation="elu")
    with pytest.raises(ValueError, match="bn_eps"):
        F.gru_forward(np.zeros((2, 1, 3)), fastgru.GRU(3, 4).state_dict(), bn_eps=1e-3)
    with pytest.raises(ValueError, match="momentum must be a number in"):
        F.update_running_stats(sd, {}, momentum=2)
    with pytest.raises(ValueError, match="batch_stats is None"):
        F.update_running_stats(sd, None)
