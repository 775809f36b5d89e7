"""Property-based tests (Hypothesis) and invariants: random problems vs the reference,
streaming vs whole sequence, batch splitting, thread-count independence, dropout rules."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastgru
import fastgru.functional as F
from conftest import build_case, cotangents, reference_backward, reference_forward
from tolerances import EXACT, FORWARD, GRAD, REORDER, assert_close, assert_differ


@st.composite
def problems(draw, max_L=3, allow_bidir=True, allow_lengths=True, min_B=1):
    """Keyword arguments of conftest.build_case plus a seed for the values."""
    B = draw(st.integers(min_B, 5))
    return dict(
        D=draw(st.integers(1, 40)), H=draw(st.integers(1, 40)), T=draw(st.integers(1, 8)),
        B=B, L=draw(st.integers(1, max_L)),
        bidir=draw(st.booleans()) if allow_bidir else False,
        bias=draw(st.booleans()), reset_after=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        lengths=draw(st.booleans()) if allow_lengths else False,
        h0=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)))


def _case(p, **over):
    p = dict(p, **over)
    rng = np.random.default_rng(p.pop("seed"))
    return rng, build_case(rng, **p)


def _slice_batch(a, sl, axis):
    return None if a is None else np.take(a, np.arange(*sl.indices(a.shape[axis])), axis=axis)


@given(p=problems(), x_scale=st.sampled_from([0.1, 1.0, 3.0]))
def test_random_problems_match_reference(isa, p, x_scale):
    rng, case = _case(p, x_scale=x_scale)
    y_ref, h_ref = reference_forward(case)
    y, h_n, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    assert_close(y, y_ref, FORWARD[case.dtype], "y")
    assert_close(h_n, h_ref, FORWARD[case.dtype], "h_n")

    dy, dh_n = cotangents(rng, case)
    ref = reference_backward(case, dy, dh_n)
    grads = case.gru.backward(cache, dy, dh_n)
    assert set(grads) == set(ref)
    for key in ref:
        assert_close(grads[key], ref[key], GRAD[case.dtype], f"d{key}")


@given(p=problems(allow_bidir=False, allow_lengths=False))
def test_step_by_step_equals_sequence(isa, p):
    rng, case = _case(p, batch_first=False)
    gru = case.gru
    y_seq, h_seq = gru(case.x, case.h0)

    state = gru.initial_state(batch=case.B)
    assert state.shape == (case.L, case.B, case.H) and state.dtype == case.dtype
    assert_close(state, np.zeros_like(state), EXACT[case.dtype], "initial_state")
    if case.h0 is not None:
        state = case.h0.copy()
    ys = []
    for t in range(case.T):
        before = state.copy()
        y_t, new_state = gru.step(case.x[t], state)
        assert_close(state, before, EXACT[case.dtype], "step mutated its state argument")
        assert y_t.shape == (case.B, case.H)
        ys.append(y_t)
        state = new_state
    tol = REORDER[case.dtype]
    assert_close(np.stack(ys), y_seq, tol, "stacked step outputs vs sequence y")
    assert_close(state, h_seq, tol, "final step state vs h_n")


@given(p=problems(min_B=2), data=st.data())
def test_batch_split_gives_same_rows(isa, p, data):
    rng, case = _case(p)
    k = data.draw(st.integers(1, case.B - 1), label="split")
    bax = 0 if case.batch_first else 1  # batch axis of x and y
    tol = REORDER[case.dtype]
    dy, dh_n = cotangents(rng, case)

    y, h_n, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    g = case.gru.backward(cache, dy, dh_n)
    parts = []
    for sl in (slice(0, k), slice(k, None)):
        x = _slice_batch(case.x, sl, bax)
        h0 = _slice_batch(case.h0, sl, 1)
        lens = None if case.lengths is None else case.lengths[sl]
        yp, hp, cp = case.gru.forward(x, h0, lengths=lens)
        assert_close(yp, _slice_batch(y, sl, bax), tol, f"y rows {sl}")
        assert_close(hp, _slice_batch(h_n, sl, 1), tol, f"h_n rows {sl}")
        gp = case.gru.backward(cp, _slice_batch(dy, sl, bax), _slice_batch(dh_n, sl, 1))
        assert_close(gp["x"], _slice_batch(g["x"], sl, bax), tol, f"dx rows {sl}")
        assert_close(gp["h0"], _slice_batch(g["h0"], sl, 1), tol, f"dh0 rows {sl}")
        parts.append(gp)
    # Parameter gradients are sums over the batch: the halves add up to the whole.
    for name in case.params:
        assert_close(parts[0][name] + parts[1][name], g[name], GRAD[case.dtype],
                     f"d{name} of the halves summed")


@given(p=problems())
def test_thread_count_does_not_change_results(isa, restore_threads, p):
    rng, case = _case(p)
    dy, dh_n = cotangents(rng, case)
    results = []
    for n in (1, 2):
        fastgru.set_num_threads(n)
        assert fastgru.get_num_threads() == n
        y, h_n, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
        results.append((y, h_n, case.gru.backward(cache, dy, dh_n)))
    (y1, h1, g1), (y2, h2, g2) = results
    tol = REORDER[case.dtype]
    assert_close(y2, y1, tol, "y, 2 threads vs 1")
    assert_close(h2, h1, tol, "h_n, 2 threads vs 1")
    for key in g1:
        assert_close(g2[key], g1[key], GRAD[case.dtype], f"d{key}, 2 threads vs 1")


def test_thread_count_with_large_batch(isa, rng, restore_threads):
    # Big enough that a second thread really gets work.
    case = build_case(rng, D=64, H=100, T=12, B=64, L=2, bidir=True, lengths=True)
    dy, dh_n = cotangents(rng, case)
    out = {}
    for n in (1, 2):
        fastgru.set_num_threads(n)
        y, h_n, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
        out[n] = (y, h_n, case.gru.backward(cache, dy, dh_n))
    assert_close(out[2][0], out[1][0], REORDER[case.dtype], "y")
    assert_close(out[2][1], out[1][1], REORDER[case.dtype], "h_n")
    for key in out[1][2]:
        assert_close(out[2][2][key], out[1][2][key], GRAD[case.dtype], f"d{key}")


def test_padding_is_never_read(isa, rng):
    # Packed semantics: x past a length is not part of the sequence; NaN there changes nothing.
    case = build_case(rng, D=9, H=17, T=6, B=3, L=2, bidir=True, lengths=True)
    y, h_n = case.gru(case.x, case.h0, lengths=case.lengths)
    x = case.x.copy()
    for b, n in enumerate(case.lengths):
        x[n:, b] = np.nan
    y2, h2 = case.gru(x, case.h0, lengths=case.lengths)
    assert_close(y2, y, EXACT[case.dtype], "y with NaN padding")
    assert_close(h2, h_n, EXACT[case.dtype], "h_n with NaN padding")


def test_nan_input_does_not_poison_later_calls(isa, rng):
    case = build_case(rng, D=16, H=16, T=4, B=3, L=2)
    y, h_n = case.gru(case.x, case.h0)
    bad = case.x.copy()
    bad[1, 1, 3] = np.nan
    y_bad, _ = case.gru(bad, case.h0)
    assert np.isnan(y_bad[1:, 1]).all(), "NaN must propagate along its own sequence"
    assert not np.isnan(y_bad[:, [0, 2]]).any(), "NaN leaked into other sequences"
    y2, h2 = case.gru(case.x, case.h0)
    assert_close(y2, y, EXACT[case.dtype], "y after a NaN call")
    assert_close(h2, h_n, EXACT[case.dtype], "h_n after a NaN call")


def test_concurrent_calls_from_python_threads(isa, rng):
    # The GIL is released around compute: calls on one model from several Python threads must
    # give exactly what sequential calls give (no shared scratch space between calls).
    case = build_case(rng, D=33, H=64, T=20, B=8, L=2, bidir=True, lengths=True)
    xs = [rng.standard_normal(case.x.shape).astype(case.dtype) for _ in range(8)]
    dy, dh_n = cotangents(rng, case)

    def work(x):
        y, h_n, cache = case.gru.forward(x, case.h0, lengths=case.lengths)
        return y, h_n, case.gru.backward(cache, dy, dh_n)

    expected = [work(x) for x in xs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            got = list(pool.map(work, xs))
            for (y, h_n, g), (ye, he, ge) in zip(got, expected):
                assert_close(y, ye, EXACT[case.dtype], "y, concurrent")
                assert_close(h_n, he, EXACT[case.dtype], "h_n, concurrent")
                for k in ge:
                    assert_close(g[k], ge[k], EXACT[case.dtype], f"d{k}, concurrent")


def test_caches_are_independent(isa, rng):
    # A cache stays valid while the model runs other forward passes.
    case = build_case(rng, D=9, H=17, T=5, B=3, L=2, bidir=True, lengths=True)
    dy, dh_n = cotangents(rng, case)
    x2 = rng.standard_normal(case.x.shape).astype(case.dtype)
    _, _, c1 = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    g1 = case.gru.backward(c1, dy, dh_n)
    _, _, c1 = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    _, _, c2 = case.gru.forward(x2, None)
    case.gru(x2)
    g1_late = case.gru.backward(c1, dy, dh_n)
    for k in g1:
        assert_close(g1_late[k], g1[k], EXACT[case.dtype], f"d{k} from an older cache")
    g2 = case.gru.backward(c2, dy, dh_n)
    assert_differ(g2["x"], g1["x"], "gradients of two different inputs")


# ---------------------------------------------------------------------------------------------
# Dropout (between layers, training only, never after the last layer).


def _dropout_model(p, L, seed=5, **kw):
    return fastgru.GRU(6, 8, num_layers=L, dropout=p, seed=seed, **kw)


def test_dropout_same_seed_same_result(isa, rng):
    x = rng.standard_normal((5, 3, 6)).astype(np.float32)
    a, b = _dropout_model(0.5, 3, seed=11), _dropout_model(0.5, 3, seed=11)
    ya, ha, _ = a.forward(x, training=True)
    yb, hb, _ = b.forward(x, training=True)
    assert_close(ya, yb, EXACT[a.dtype], "y, same model seed")
    assert_close(ha, hb, EXACT[a.dtype], "h_n, same model seed")
    # Each training call draws a fresh mask.
    ya2, _, _ = a.forward(x, training=True)
    assert_differ(ya, ya2, "two training calls of one model")


def test_dropout_seed_functional(isa, rng):
    gru = _dropout_model(0.0, 2)
    params = gru.state_dict()
    x = rng.standard_normal((5, 3, 6)).astype(np.float32)
    kw = dict(dropout=0.5, training=True)
    y1, h1, _ = F.gru_forward(x, params, dropout_seed=3, **kw)
    y2, h2, _ = F.gru_forward(x, params, dropout_seed=3, **kw)
    y3, _, _ = F.gru_forward(x, params, dropout_seed=4, **kw)
    assert_close(y1, y2, EXACT[gru.dtype], "same dropout_seed")
    assert_close(h1, h2, EXACT[gru.dtype], "same dropout_seed h_n")
    assert_differ(y1, y3, "different dropout_seed")
    # training=False ignores dropout entirely.
    y4, _, _ = F.gru_forward(x, params, dropout=0.5, training=False, dropout_seed=3)
    y5, _, _ = F.gru_forward(x, params)
    assert_close(y4, y5, EXACT[gru.dtype], "dropout with training=False")


@pytest.mark.parametrize("L", [2, 3])
def test_dropout_only_in_training(isa, rng, L):
    gru = _dropout_model(0.5, L)
    x = rng.standard_normal((5, 3, 6)).astype(np.float32)
    y_inf, h_inf = gru(x)
    y_eval, h_eval, _ = gru.forward(x, training=False)
    assert_close(y_eval, y_inf, EXACT[gru.dtype], "forward(training=False) vs __call__")
    assert_close(h_eval, h_inf, EXACT[gru.dtype], "h_n, training=False vs __call__")
    y_tr, _, _ = gru.forward(x, training=True)
    assert_differ(y_tr, y_inf, "training with dropout vs inference")
    # Inference is deterministic and dropout-free: it matches a dropout-free copy.
    plain = _dropout_model(0.0, L)
    plain.load_state_dict(gru.state_dict())
    assert_close(plain(x)[0], y_inf, EXACT[gru.dtype], "inference vs dropout-free model")


def test_no_dropout_after_last_layer(isa, rng):
    x = rng.standard_normal((7, 4, 6)).astype(np.float32)
    with warnings.catch_warnings():
        # PyTorch warns for dropout with one layer; fastgru may do the same. Not under test.
        warnings.simplefilter("ignore", UserWarning)
        one = _dropout_model(0.9, 1)
    y_inf, h_inf = one(x)
    y_tr, h_tr, _ = one.forward(x, training=True)
    assert_close(y_tr, y_inf, REORDER[one.dtype], "1 layer, dropout 0.9, training")
    assert_close(h_tr, h_inf, REORDER[one.dtype], "1 layer h_n, dropout 0.9, training")

    # Deeper: the top layer's output y is not dropped (no exact zeros, which p=0.9 would make).
    deep = _dropout_model(0.9, 3)
    y, _, _ = deep.forward(x, training=True)
    assert np.count_nonzero(y == 0) == 0


def test_dropout_is_inverted_dropout(isa, rng):
    # Make layer 2 reveal its input: W_ih_l1 = [0; 0; I], everything else 0, T = 1, h0 = 0, so
    # r = z = 1/2, n = tanh(x2) and y = tanh(x2) / 2. Then x2 = artanh(2 y) must be, element by
    # element, either 0 or layer 1's output / (1 - p), zeros at rate ~p (PyTorch's dropout).
    p, H, B = 0.3, 8, 4000
    gru = fastgru.GRU(5, H, num_layers=2, dropout=p, dtype=np.float64, seed=9)
    sd = gru.state_dict()
    sd["weight_ih_l1"] = np.vstack([np.zeros((2 * H, H)), np.eye(H)])
    for k in ("weight_hh_l1", "bias_ih_l1", "bias_hh_l1"):
        sd[k] = np.zeros_like(sd[k])
    gru.load_state_dict(sd)
    x = rng.standard_normal((1, B, 5))

    one = fastgru.GRU(5, H, dtype=np.float64)
    one.load_state_dict({k: v for k, v in sd.items() if k.endswith("l0")})
    y1 = one(x)[0]

    assert_close(np.arctanh(2 * gru(x)[0]), y1, REORDER[gru.dtype], "no dropout at inference")
    x2 = np.arctanh(2 * gru.forward(x, training=True)[0])
    dropped = np.abs(x2) < 1e-12
    kept = ~dropped
    assert abs(dropped.mean() - p) < 5 * np.sqrt(p * (1 - p) / dropped.size)
    assert_close(x2[kept], y1[kept] / (1 - p), REORDER[gru.dtype], "survivors scaled 1/(1-p)")
