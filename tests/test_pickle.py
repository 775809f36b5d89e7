"""Models are values (issue 13, item 4): pickle, copy.copy and copy.deepcopy give a model that
computes the same bits — inference, training forward (dropout draws continue from the same
generator state), backward, streaming step — and shares no mutable state with the original; a
model unpickled in another process works there (its thread pool starts in that process)."""

import copy
import multiprocessing
import pickle
import sys

import numpy as np
import pytest

import fastgru

# Every cell form, both reset forms, activations and clip, batch norm, layouts and dtypes.
MODELS = {
    "gru": dict(input_size=3, hidden_size=5),
    "gru-reset-before-f64": dict(input_size=3, hidden_size=5, reset_after=False, dtype=np.float64),
    "2layer-bidir-dropout": dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True, dropout=0.4),
    "batch-first-carry-nobias": dict(input_size=3, hidden_size=5, batch_first=True, padding="carry", bias=False),
    "type2-candidate": dict(input_size=3, hidden_size=5, gates="type2", update="candidate"),
    "type3": dict(input_size=3, hidden_size=5, gates="type3"),
    "mgu": dict(input_size=3, hidden_size=5, cell="mgu"),
    "ligru-2layer-bidir": dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True, cell="ligru"),
    "reverse-2layer-carry": dict(input_size=3, hidden_size=5, num_layers=2, direction="reverse", padding="carry"),
    "bidir-merge-mul": dict(input_size=3, hidden_size=5, bidirectional=True, merge="mul", batch_first=True),
    "ligru-tanh": dict(input_size=3, hidden_size=5, cell="ligru", activation="tanh"),
    "ligru-layernorm": dict(input_size=3, hidden_size=5, cell="ligru", normalization="layernorm"),
    "libru-no-normalization": dict(input_size=3, hidden_size=5, cell="libru", normalization=None),
    "sligru-2layer-bidir": dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True, cell="sligru"),
    "libru-2layer-bidir": dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True, cell="libru"),
    "onnx-activations-clip": dict(input_size=3, hidden_size=5, activation="leakyrelu", activation_alpha=0.1,
                                  recurrent_activation="hardsigmoid", clip=2.5),
    "keras-activations": dict(input_size=3, hidden_size=5, activation="squareplus", activation_alpha=2.0,
                              recurrent_activation="hard_silu"),
}
COPIES = {
    "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    "pickle-protocol-5": lambda m: pickle.loads(pickle.dumps(m, protocol=5)),
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
}


def _inputs(m, rng, T=6, B=3):
    shape = (B, T, m.input_size) if m.batch_first else (T, B, m.input_size)
    x = rng.standard_normal(shape).astype(m.dtype)
    h0 = rng.standard_normal((m.num_layers * m.num_directions, B, m.hidden_size)).astype(m.dtype)
    return x, h0, [T, 2, T - 1]


def _model(kind):
    m = fastgru.GRU(**MODELS[kind], seed=7)
    if m.cell in ("ligru", "sligru", "libru"):  # running statistics that are not the initial ones
        m.forward(_inputs(m, np.random.default_rng(1))[0])
    return m


def _assert_same_arrays(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("kind", MODELS)
def test_copy_computes_the_same_bits(kind, how):
    m = _model(kind)
    c = COPIES[how](m)
    assert type(c) is fastgru.GRU and c is not m and repr(c) == repr(m) and c.config() == m.config()
    _assert_same_arrays(c.state_dict(), m.state_dict())
    x, h0, lengths = _inputs(m, np.random.default_rng(0))
    for got, want in zip(c(x, h0, lengths), m(x, h0, lengths)):
        assert np.array_equal(got, want)
    # Training: the copy's generator continues where the original's was, so dropout masks (and a
    # Light GRU's running-statistics update) agree; then the gradients do.
    yc, hc, cache_c = c.forward(x, h0, lengths)
    ym, hm, cache_m = m.forward(x, h0, lengths)
    assert np.array_equal(yc, ym) and np.array_equal(hc, hm)
    dy = np.random.default_rng(2).standard_normal(ym.shape).astype(m.dtype)
    mask = np.random.default_rng(4).random((3, x.shape[1] if m.batch_first else x.shape[0])) < 0.7
    for got, want in zip(c(x, h0, mask=mask), m(x, h0, mask=mask)):
        assert np.array_equal(got, want)
    _assert_same_arrays(c.backward(cache_c, dy), m.backward(cache_m, dy))
    _assert_same_arrays(c.state_dict(), m.state_dict())
    if not m.bidirectional and m.direction == "forward":
        state = m.initial_state(3)
        x_t = x[:, 0] if m.batch_first else x[0]
        for got, want in zip(c.step(x_t, state), m.step(x_t, state)):
            assert np.array_equal(got, want)


@pytest.mark.parametrize("how", COPIES)
def test_copy_is_independent(how):
    m = _model("2layer-bidir-dropout")
    before = m.state_dict()
    c = COPIES[how](m)
    x, _, _ = _inputs(m, np.random.default_rng(0))
    c.forward(x)  # draws from the copy's generator only
    c.load_state_dict({k: v + 1 for k, v in before.items()})
    _assert_same_arrays(m.state_dict(), before)
    # The original's generator did not move: its next training forward is a fresh copy's.
    fresh = COPIES[how](m)
    assert np.array_equal(m.forward(x)[0], fresh.forward(x)[0])
    # A cache belongs to the model that made it.
    with pytest.raises(ValueError, match="another model"):
        c.backward(m.forward(x)[2])


def test_copy_of_a_light_gru_keeps_its_running_statistics_apart():
    m = _model("ligru-2layer-bidir")
    c = copy.deepcopy(m)
    x, _, _ = _inputs(m, np.random.default_rng(3))
    stats = {k: v for k, v in m.state_dict().items() if "running" in k}
    c.forward(x * 3)  # moves the copy's running statistics only
    _assert_same_arrays({k: v for k, v in m.state_dict().items() if "running" in k}, stats)
    assert not np.array_equal(c.state_dict()["bn_running_mean_l0"], stats["bn_running_mean_l0"])


def test_pickled_size_is_the_parameters():
    m = fastgru.GRU(64, 256, num_layers=2)
    nbytes = sum(v.nbytes for v in m.state_dict().values())
    blob = pickle.dumps(m, protocol=5)
    assert nbytes <= len(blob) <= nbytes + 4096  # no workspace, no packed copies


def _run_unpickled(blob, x):
    """In a worker process: unpickle and run a model big enough to use the thread pool."""
    fastgru.set_num_threads(2)
    return pickle.loads(blob)(x)[0]


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_unpickled_in_another_process(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method on {sys.platform}")
    m = fastgru.GRU(64, 256, num_layers=2, seed=0)
    x = np.random.default_rng(0).standard_normal((20, 64, 64)).astype(np.float32)
    want = m(x)[0]  # the parent's pool runs first: a fork child must start its own
    with multiprocessing.get_context(method).Pool(2) as pool:
        got = pool.starmap_async(_run_unpickled, [(pickle.dumps(m), x)] * 2).get(timeout=120)
    for y in got:
        assert np.array_equal(y, want)


def test_models_pass_through_a_process_pool_as_arguments():
    """What joblib and concurrent.futures do: the model itself is the pickled argument."""
    from concurrent.futures import ProcessPoolExecutor

    m = fastgru.GRU(8, 16, bidirectional=True, seed=0)
    x = np.random.default_rng(0).standard_normal((10, 4, 8)).astype(np.float32)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        y = ex.submit(_call, m, x).result(timeout=120)
    assert np.array_equal(y, m(x)[0])


def _call(m, x):
    return m(x)[0]
