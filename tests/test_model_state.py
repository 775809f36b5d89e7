"""State that cannot disagree with itself (issue 10, item 6).

1. A model's public parameter arrays cannot be made writable, so what it shows (attributes,
   parameters(), state_dict(), save) is what it computes with.
2. A training cache is sealed by the forward that made it: backward refuses one whose fields were
   changed (ValueError), in Python (a keyed digest) and in the core's binding (a record of the
   batch at the cache's end).
3. A Light GRU's running-statistics update is atomic: an inference call in another thread uses
   the statistics from entirely before or entirely after it, and concurrent training forwards
   lose no update.
"""

import dataclasses
import sys
import threading

import numpy as np
import pytest

import fastgru
from fastgru import functional as F

MODELS = {
    "gru": dict(input_size=3, hidden_size=5),
    "gru-2layer-bidir-f64": dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True, dtype=np.float64),
    "mgu": dict(input_size=3, hidden_size=5, cell="mgu"),
    "ligru-2layer-bidir": dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True, cell="ligru"),
    "reverse-2layer": dict(input_size=3, hidden_size=5, num_layers=2, direction="reverse"),
    "bidir-merge-none": dict(input_size=3, hidden_size=5, bidirectional=True, merge=None),
}


def _x(rng, T=6, B=3, D=3, dtype=np.float32):
    return rng.standard_normal((T, B, D)).astype(dtype)


def _outputs(m, x):
    return m(x)


def _assert_same(a, b):
    for u, v in zip(a, b):
        assert np.array_equal(u, v)


def _assert_state_agrees(m, x, tmp_path):
    """The model's outputs are those of a model built from its state_dict() and of its saved file,
    and its attributes are its state_dict()."""
    sd = m.state_dict()
    for k, v in sd.items():
        assert np.array_equal(getattr(m, k), v), k
    other = fastgru.GRU(**m.config())
    other.load_state_dict(sd)
    _assert_same(_outputs(m, x), _outputs(other, x))
    path = tmp_path / "m.npz"
    m.save(path)
    loaded = fastgru.load(path)
    _assert_same(_outputs(m, x), _outputs(loaded, x))
    assert all(np.array_equal(v, loaded.state_dict()[k]) for k, v in sd.items())


# ----------------------------------------------------------------------------------------------
# 1. Parameters cannot be made writable.

def _public_arrays(m):
    arrays = [getattr(m, k) for k in m.state_dict()] + m.parameters()
    return arrays + [a.base for a in arrays if isinstance(a.base, np.ndarray)]


@pytest.mark.parametrize("name", list(MODELS))
def test_parameters_cannot_be_made_writable(name, rng, tmp_path):
    m = fastgru.GRU(**MODELS[name], seed=0)
    x = _x(rng, dtype=m.dtype)
    if m.cell == "ligru":
        m.forward(x)  # running statistics updated: those arrays too
    before = _outputs(m, x)
    for a in _public_arrays(m):
        assert not a.flags.writeable
        with pytest.raises(ValueError, match="WRITEABLE"):
            a.flags.writeable = True
        with pytest.raises(ValueError):
            a.setflags(write=True)
        with pytest.raises(ValueError, match="read-only"):
            a[...] = 0
    _assert_same(before, _outputs(m, x))
    _assert_state_agrees(m, x, tmp_path)


@pytest.mark.parametrize("how", ["init", "load_state_dict", "load", "training forward"])
def test_every_way_of_setting_parameters_gives_immutable_arrays(how, rng, tmp_path):
    m = fastgru.GRU(3, 4, num_layers=2, cell="ligru", seed=1)
    x = _x(rng)
    if how == "load_state_dict":
        m.load_state_dict({k: v + 1 for k, v in m.state_dict().items()})
    elif how == "load":
        m.save(tmp_path / "m.npz")
        m = fastgru.load(tmp_path / "m.npz")
    elif how == "training forward":
        m.forward(x)
    for a in _public_arrays(m):
        with pytest.raises(ValueError, match="WRITEABLE"):
            a.flags.writeable = True
    _assert_state_agrees(m, x, tmp_path)


def test_state_dict_copies_are_writable_and_separate(rng, tmp_path):
    m = fastgru.GRU(3, 4, seed=0)
    x = _x(rng)
    before = _outputs(m, x)
    sd = m.state_dict()
    assert all(v.flags.writeable for v in sd.values())
    for v in sd.values():
        v[...] = 0
    _assert_same(before, _outputs(m, x))
    assert not np.array_equal(m.state_dict()["weight_ih_l0"], sd["weight_ih_l0"])
    _assert_state_agrees(m, x, tmp_path)


def test_parameter_attributes_cannot_be_replaced(rng, tmp_path):
    m = fastgru.GRU(3, 4, seed=0)
    x = _x(rng)
    before = _outputs(m, x)
    with pytest.raises(AttributeError, match="load_state_dict"):
        m.weight_ih_l0 = np.zeros_like(m.weight_ih_l0)
    with pytest.raises(AttributeError, match="load_state_dict"):
        del m.bias_hh_l0
    m.note = "other attributes are the user's"
    _assert_same(before, _outputs(m, x))
    _assert_state_agrees(m, x, tmp_path)


def test_caller_arrays_are_not_frozen():
    """The model keeps its own copies: the arrays a caller loads stay the caller's (writable)."""
    m = fastgru.GRU(3, 4, seed=0)
    sd = m.state_dict()
    m.load_state_dict(sd)
    assert all(v.flags.writeable for v in sd.values())
    assert all(getattr(m, k) is not v for k, v in sd.items())


# ----------------------------------------------------------------------------------------------
# 2. Sealed training caches.

def _training(rng, *, lengths=True, **kwargs):
    m = fastgru.GRU(3, 4, num_layers=2, seed=2, **kwargs)
    T, B = 6, 4
    x = _x(rng, T, B)
    lens = np.array([6, 2, 5, 3]) if lengths else None
    y, h_n, cache = m.forward(x, lengths=lens)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    return m, x, lens, cache, dy


def _changes(cache, how):
    """The field values that tamper with `cache` as `how` says."""
    return {
        "swapped steps/batch": dict(steps=cache.batch, batch=cache.steps),
        "other lengths": dict(lengths=np.array([6, 6, 1, 1])),
        "no lengths": dict(lengths=None),
        "copied data": dict(data=cache.data.copy()),
        "no data": dict(data=None),
        "float steps": dict(steps=float(cache.steps)),
        "dropout": dict(dropout=0.5),
        "seed": dict(seed=cache.seed + 1),
        "unbatched": dict(unbatched=not cache.unbatched),
        "x dtype": dict(x_dtype=np.dtype(np.float64)),
        "batch statistics": dict(batch_statistics=not cache.batch_statistics),
    }[how]


TAMPERINGS = ["swapped steps/batch", "other lengths", "no lengths", "copied data", "no data", "float steps",
              "dropout", "seed", "unbatched", "x dtype", "batch statistics"]


@pytest.mark.parametrize("how", TAMPERINGS)
def test_replaced_cache_fields_are_refused(how, rng):
    m, x, lens, cache, dy = _training(rng)
    changes = _changes(cache, how)
    with pytest.raises(ValueError, match="cache was modified"):
        m.backward(dataclasses.replace(cache, **changes), dy)
    for field, value in changes.items():  # the same, in place
        object.__setattr__(cache, field, value)
    with pytest.raises(ValueError, match="cache was modified"):
        m.backward(cache, dy)


def test_lengths_are_checked_by_value(rng):
    """Lengths enter the seal by value: an equal array in their place is the same computation; an
    array changed after it was put there is not."""
    m, x, lens, cache, dy = _training(rng)
    expected = m.backward(cache, dy)
    swapped = cache.lengths.copy()
    object.__setattr__(cache, "lengths", swapped)
    assert np.array_equal(m.backward(cache, dy)["x"], expected["x"])
    swapped[0] = 1
    with pytest.raises(ValueError, match="cache was modified"):
        m.backward(cache, dy)


def test_cache_fields_are_frozen(rng):
    m, x, lens, cache, dy = _training(rng)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cache.steps = cache.batch
    with pytest.raises(dataclasses.FrozenInstanceError):
        cache.lengths = None


def test_cache_arrays_cannot_be_written(rng):
    m, x, lens, cache, dy = _training(rng)
    for a in (cache.data, cache.lengths):
        assert not a.flags.writeable
        with pytest.raises(ValueError, match="WRITEABLE"):
            a.flags.writeable = True
        with pytest.raises(ValueError, match="read-only"):
            a[...] = 1
    # The cache holds its own lengths: changing the caller's array changes nothing.
    lens[:] = 6
    assert cache.lengths.tolist() == [6, 2, 5, 3]


def test_unmodified_cache_gives_the_same_gradients_twice(rng):
    m, x, lens, cache, dy = _training(rng)
    first = m.backward(cache, dy)
    second = m.backward(cache, dy)
    assert first.keys() == second.keys()
    for k in first:
        assert np.array_equal(first[k], second[k]), k
    # ... and the functional layer's, from its own forward with the same weights.
    y, _, fcache = F.gru_forward(x, m.state_dict(), lengths=lens, num_layers=2)
    fg = F.gru_backward(fcache, dy)
    for k in first:
        assert np.array_equal(first[k], fg[k]), k


def test_functional_backward_checks_the_seal(rng):
    m, x, lens, _, dy = _training(rng)
    _, _, cache = F.gru_forward(x, m.state_dict(), lengths=lens, num_layers=2)
    with pytest.raises(ValueError, match="cache was modified"):
        F.gru_backward(dataclasses.replace(cache, steps=cache.batch, batch=cache.steps), dy)
    object.__setattr__(cache, "lengths", np.array([1, 2, 3, 4]))
    with pytest.raises(ValueError, match="cache was modified"):
        F.gru_backward(cache, dy)


def test_unsealed_cache_is_refused(rng):
    m, x, lens, cache, dy = _training(rng)
    fields = {f.name: getattr(cache, f.name) for f in dataclasses.fields(cache) if f.init}
    with pytest.raises(ValueError, match="cache was modified"):
        m.backward(F.GruCache(**fields), dy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_core_backward_checks_the_cache_against_its_arguments(dtype, rng):
    """The binding's own defence: a cache records the steps, batch and lengths it was made for."""
    m = fastgru.GRU(3, 4, seed=0, dtype=dtype)
    core, T, B = m._core, 6, 4
    x = _x(rng, T, B, dtype=dtype)
    lens = np.array([6, 2, 5, 3], np.int64)
    _, _, data = core.forward(x, None, lens, True, 0.0, 0)
    args = dict(dy=np.ones((T, B, 4), dtype), dh_n=None, dropout=0.0, seed=0)
    dx, _, _ = core.backward(data, T, B, lens, **args)  # as made: fine
    with pytest.raises(ValueError, match="made by a forward with steps=6, batch=4"):
        core.backward(data, B, T, np.array([4, 2, 3, 1, 1, 1], np.int64), **dict(args, dy=np.ones((B, T, 4), dtype)))
    with pytest.raises(ValueError, match="does not match"):
        core.backward(data, T, B, np.array([6, 6, 1, 1], np.int64), **args)
    with pytest.raises(ValueError, match="does not match"):
        core.backward(data, T, B, None, **args)
    with pytest.raises(ValueError, match="not a training cache"):
        core.backward(np.zeros_like(data), T, B, lens, **args)
    with pytest.raises(ValueError, match="cache has shape"):
        core.backward(data[:-1].copy(), T, B, lens, **args)
    dx2, _, _ = core.backward(data, T, B, lens, **args)
    assert np.array_equal(dx, dx2)


# ----------------------------------------------------------------------------------------------
# 3. Running-statistics updates against concurrent inference and training.

def _ligru(**kwargs):
    return fastgru.GRU(8, 16, num_layers=2, bidirectional=True, cell="ligru", seed=4, **kwargs)


def _run_threads(targets, seconds):
    """Runs the targets in threads until `seconds` pass (they loop while not stop.is_set()), and
    re-raises the first error any of them hit."""
    stop, errors = threading.Event(), []

    def wrap(fn):
        def run():
            try:
                fn(stop)
            except BaseException as e:  # noqa: BLE001 - reported in the main thread
                errors.append(e)
                stop.set()
        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_inference_sees_statistics_from_before_or_after_an_update(rng):
    """bn_momentum=1.0: every training forward sets the running statistics to its batch's, so they
    alternate between two known states; every concurrent inference (sequence and step) must give
    one of the two states' outputs bit for bit, never a mix."""
    m = _ligru(bn_momentum=1.0)
    batches = [rng.standard_normal((40, 8, 8)).astype(np.float32),
               (rng.standard_normal((40, 8, 8)) * 10 + 5).astype(np.float32)]
    x = rng.standard_normal((40, 4, 8)).astype(np.float32)
    step_model = fastgru.GRU(8, 16, num_layers=2, cell="ligru", seed=4, bn_momentum=1.0)  # step(): one direction
    x_t, s0 = x[0], step_model.initial_state(4)
    expected, expected_step = [], []
    for b in batches:
        m.forward(b)
        step_model.forward(b)
        expected.append(m(x))
        expected_step.append(step_model.step(x_t, s0))
    assert not np.array_equal(expected[0][0], expected[1][0])  # the two states really differ
    counts = dict(updates=0, inferences=0)

    def train(stop):
        i = 0
        while not stop.is_set() or counts["updates"] < 20:
            m.forward(batches[i % 2])
            step_model.forward(batches[i % 2])
            counts["updates"] += 1
            i += 1

    def infer(stop):
        while not stop.is_set() or counts["inferences"] < 20:
            y, h_n = m(x)
            assert any(np.array_equal(y, e[0]) and np.array_equal(h_n, e[1]) for e in expected), \
                "an inference saw a mix of two running-statistics states"
            y_t, s = step_model.step(x_t, s0)
            assert any(np.array_equal(s, e[1]) for e in expected_step), "a step saw a mix of two states"
            counts["inferences"] += 1

    _run_threads([train, infer], seconds=2.0)
    assert counts["updates"] >= 20 and counts["inferences"] >= 20


def test_concurrent_training_forwards_lose_no_update(rng):
    """Every training forward of the same batch applies the same update r -> (1 - m) r + m b, so
    after n of them, in whatever interleaving, the statistics are that map applied n times (float64:
    one more or one fewer application gives other bits)."""
    m = _ligru(bn_momentum=0.1, dtype=np.float64)
    serial = _ligru(bn_momentum=0.1, dtype=np.float64)
    batch = rng.standard_normal((20, 6, 8)) * 3 + 1
    per_thread, threads = 30, 4  # 0.9**120: the last update still changes the bits

    def train():
        for _ in range(per_thread):
            m.forward(batch)

    workers = [threading.Thread(target=train) for _ in range(threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: inside an unguarded read-modify-write too
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    for _ in range(per_thread * threads):
        serial.forward(batch)
    for k, v in serial.state_dict().items():
        assert np.array_equal(m.state_dict()[k], v), k
    x = rng.standard_normal((5, 2, 8))
    _assert_same(m(x), serial(x))  # the core holds what the model shows


def test_concurrent_inference_from_several_threads(rng):
    """Readers share the model: several threads' inference calls run at once and all agree."""
    m = _ligru()
    m.forward(rng.standard_normal((10, 4, 8)).astype(np.float32))
    x = rng.standard_normal((30, 4, 8)).astype(np.float32)
    expected = m(x)
    results = []

    def infer():
        for _ in range(10):
            results.append(m(x))

    workers = [threading.Thread(target=infer) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 40
    for r in results:
        _assert_same(r, expected)


def test_update_after_a_load_is_dropped(rng):
    """A training forward whose model was reloaded meanwhile does not fold its statistics into the
    loaded ones (as if the load came after it)."""
    m = _ligru(bn_momentum=1.0)
    b = rng.standard_normal((10, 4, 8)).astype(np.float32)
    _, _, cache = F.run_forward(m._core, m._spec, m._token, b, None, None, keep_cache=True, dropout=0.0, seed=0,
                                batch_statistics=True)
    sd = m.state_dict()
    m.load_state_dict(sd)  # a new core
    m._update_running_stats(cache.batch_stats, cache.core)
    for k, v in sd.items():
        assert np.array_equal(getattr(m, k), v), k
