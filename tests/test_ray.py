"""fastgru.ray (issue 13, item 5): GRUPredictor in Dataset.map_batches on a real local Ray cluster
(two actors, the model pickled to them or loaded from an .npz there) gives the single-process
model's bits, row by row: uniform and ragged sequences, lengths, h0 and h_n columns, both layouts,
float64. The predictor's conversions and errors are checked in-process (it is plain NumPy: these
run without Ray too); the cluster is started once for the module.

Without Ray, the import test runs too (fastgru.ray imports, and apply names the extra)."""

import subprocess
import sys
import threading

import numpy as np
import pytest

import fastgru
from fastgru.ray import GRUPredictor

TIMEOUT_S = 90  # for one pipeline on the cluster: actors start in a few seconds

# Ray Data's DataContext sets its own deprecated options when it is created (ray/data/context.py).
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning:ray.data.context")

MODELS = {
    "f32": dict(input_size=3, hidden_size=5),
    "bidir-2layer-batch-first": dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True),
    "bidir-f64-carry": dict(input_size=3, hidden_size=6, bidirectional=True, dtype=np.float64, padding="carry"),
}


def _model(kind, seed=0):
    return fastgru.GRU(**MODELS[kind], seed=seed)


def _reference(m, x, h0=None, lengths=None):
    """The single-process result for batch-first x (B, T, D): y (B, T, dirs*H), h_n (B, layers, H)."""
    y, h_n = m(x if m.batch_first else x.transpose(1, 0, 2),
               None if h0 is None else h0.transpose(1, 0, 2), lengths)
    return (y if m.batch_first else y.transpose(1, 0, 2)), h_n.transpose(1, 0, 2)


def _rows(m, rng, n, steps):
    layers = m.num_layers * m.num_directions
    return [{"id": i, "x": rng.standard_normal((steps(i), m.input_size)).astype(np.float32),
             "h0": rng.standard_normal((layers, m.hidden_size)).astype(m.dtype),
             "len": int(rng.integers(1, steps(i) + 1))} for i in range(n)]


def _assert_same(got, want):
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


def test_imports_and_names_the_extra_without_ray():
    code = ("import sys\n"
            "sys.modules['ray'] = sys.modules['ray.data'] = None  # not installed\n"
            "import numpy as np, fastgru, fastgru.ray\n"
            "out = fastgru.ray.GRUPredictor(fastgru.GRU(2, 3))({'x': np.zeros((1, 4, 2), np.float32)})\n"
            "assert out['y'].shape == (1, 4, 3)\n"
            "try:\n"
            "    fastgru.ray.apply(None, fastgru.GRU(2, 3))\n"
            "except ModuleNotFoundError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'fastgru[ray]'" in out.stdout


# In-process: the predictor alone.

def test_predictor_refuses_merged_outputs():
    with pytest.raises(ValueError, match="merge='concat' models"):
        GRUPredictor(fastgru.GRU(2, 3, bidirectional=True, merge=None))


@pytest.mark.parametrize("kind", MODELS)
def test_predictor_uniform_batch(kind):
    m = _model(kind)
    rows = _rows(m, np.random.default_rng(0), 7, lambda i: 5)
    batch = {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}
    x, h0, lengths = batch["x"], batch["h0"], batch["len"]
    out = GRUPredictor(m, lengths_column="len", h0_column="h0", h_n_column="h_n")(batch)
    want_y, want_h = _reference(m, x, h0, lengths)
    _assert_same(out["y"], want_y)
    _assert_same(out["h_n"], want_h)
    assert out["y"].flags.c_contiguous and out["x"] is x and out["id"] is batch["id"]
    out = GRUPredictor(m, output_column="pred", keep_input=False)(batch)
    assert "x" not in out and set(out) == {"id", "h0", "len", "pred"}
    _assert_same(out["pred"], _reference(m, x)[0])


@pytest.mark.parametrize("kind", MODELS)
def test_predictor_ragged_rows_equal_each_row_alone(kind):
    m = _model(kind)
    rows = _rows(m, np.random.default_rng(1), 6, lambda i: (4, 1, 7, 3, 7, 2)[i])
    column = np.empty(len(rows), object)
    column[:] = [r["x"] for r in rows]  # how Ray hands a variable-shaped tensor column over
    out = GRUPredictor(m, h_n_column="h_n")({"x": column})
    lists = GRUPredictor(m, h_n_column="h_n")({"x": [r["x"] for r in rows]})  # a plain list too
    for i, r in enumerate(rows):
        want_y, want_h = _reference(m, r["x"][None])
        _assert_same(out["y"][i], want_y[0])
        _assert_same(out["h_n"][i], want_h[0])
        _assert_same(lists["y"][i], want_y[0])
    # with lengths shorter than the rows
    lengths = np.array([r["len"] for r in rows])
    out = GRUPredictor(m, lengths_column="len")({"x": column, "len": lengths})
    for i, r in enumerate(rows):
        _assert_same(out["y"][i], _reference(m, r["x"][None], lengths=lengths[i:i + 1])[0][0])


def test_predictor_loads_a_saved_model(tmp_path):
    m = _model("bidir-2layer-batch-first")
    m.save(tmp_path / "m.npz")
    x = np.random.default_rng(2).standard_normal((3, 4, 3)).astype(np.float32)
    for source in (tmp_path / "m.npz", str(tmp_path / "m.npz"), (tmp_path / "m.npz").read_bytes()):
        _assert_same(GRUPredictor(source)({"x": x})["y"], _reference(m, x)[0])


def test_predictor_empty_batch():
    m = _model("bidir-2layer-batch-first")
    out = GRUPredictor(m, h_n_column="h")({"x": np.zeros((0, 4, 3), np.float32)})
    assert out["y"].shape == (0, 4, 8) and out["h"].shape == (0, 4, 4)


@pytest.mark.parametrize("threads", [3, None])
def test_predictor_threads(monkeypatch, restore_threads, threads):
    fastgru.set_num_threads(2)
    seen, call = [], fastgru.GRU.__call__
    monkeypatch.setattr(fastgru.GRU, "__call__",
                        lambda self, *a, **k: seen.append(fastgru.get_num_threads()) or call(self, *a, **k))
    GRUPredictor(_model("f32"), threads=threads)({"x": np.zeros((2, 3, 3), np.float32)})
    assert seen == [threads or 2] and fastgru.get_num_threads() == 2


def test_predictor_errors(tmp_path):
    m = _model("f32")
    x = np.zeros((4, 5, 3), np.float32)
    p = GRUPredictor(m)
    with pytest.raises(KeyError, match=r"no column 'x'; its columns are \['data'\]"):
        p({"data": x})
    with pytest.raises(TypeError, match="dict of NumPy arrays"):
        p(x)
    with pytest.raises(ValueError, match=r"each row must be one \(T, D\) sequence.*\(4, 3\)"):
        p({"x": x[:, 0]})
    with pytest.raises(ValueError, match="input_size|features|3"):
        p({"x": np.zeros((4, 5, 2), np.float32)})
    with pytest.raises(ValueError, match=r"one length per row: shape \(4,\), got \(3,\)"):
        GRUPredictor(m, lengths_column="n")({"x": x, "n": np.ones(3, int)})
    with pytest.raises(ValueError, match=r"one state .* shape \(4, 1, 5\), got \(4, 5\)"):
        GRUPredictor(m, h0_column="h")({"x": x, "h": np.zeros((4, 5), np.float32)})
    ragged = np.empty(2, object)
    ragged[:] = [np.zeros((2, 3), np.float32), np.zeros((3, 3), np.float32)]
    with pytest.raises(ValueError, match=r"row 0: length 3 is longer than its sequence \(2 steps\)"):
        GRUPredictor(m, lengths_column="n")({"x": ragged, "n": np.array([3, 3])})
    ragged[1] = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"different feature sizes \[3, 4\]"):
        p({"x": ragged})
    ragged[1] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"row 1: expected a \(T, D\) floating-point sequence"):
        p({"x": ragged})
    with pytest.raises(ValueError, match="output_column and h_n_column are both 'y'"):
        GRUPredictor(m, h_n_column="y")
    with pytest.raises(TypeError, match="input_column must be a column name"):
        GRUPredictor(m, input_column=3)
    with pytest.raises(ValueError, match="threads"):
        GRUPredictor(m, threads=0)
    with pytest.raises(FileNotFoundError):
        GRUPredictor(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(fastgru.FormatError, match="bad.npz"):
        GRUPredictor(tmp_path / "bad.npz")


# On a real local cluster: two actors, one CPU each.

def _within(seconds, fn):
    """fn() in a thread, failing the test (not hanging it) when it takes longer than `seconds`."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as e:  # re-raised in the test's thread
            result["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"the Ray pipeline did not finish within {seconds} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.fixture(scope="module")
def ray_data():
    ray = pytest.importorskip("ray")
    rd = pytest.importorskip("ray.data")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             object_store_memory=200 * 1024 * 1024)
    try:
        ctx = rd.DataContext.get_current()
        ctx.enable_progress_bars = False
        if hasattr(ctx, "wait_for_min_actors_s"):
            ctx.wait_for_min_actors_s = TIMEOUT_S
        yield rd
    finally:
        ray.shutdown()


def _by_id(rows):
    return sorted(rows, key=lambda r: r["id"])


def test_ray_actors_with_lengths_h0_and_h_n(ray_data):
    m = _model("f32")
    rows = _rows(m, np.random.default_rng(3), 10, lambda i: 6)
    ds = ray_data.from_items(rows)
    # fastgru.ray.apply: two actors, batches of 3 (the last one has 1 row)
    out = fastgru.ray.apply(ds, m, actors=2, batch_size=3, lengths_column="len", h0_column="h0",
                            h_n_column="h_n", keep_input=False)
    got = _by_id(_within(TIMEOUT_S, out.take_all))
    assert [r["id"] for r in got] == list(range(10)) and "x" not in got[0]
    x, h0 = np.stack([r["x"] for r in rows]), np.stack([r["h0"] for r in rows])
    want_y, want_h = _reference(m, x, h0, np.array([r["len"] for r in rows]))
    _assert_same(np.stack([r["y"] for r in got]), want_y)
    _assert_same(np.stack([r["h_n"] for r in got]), want_h)


def test_ray_from_numpy_model_file_float64_batch_first(ray_data, tmp_path):
    m = fastgru.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64, seed=4)
    m.save(tmp_path / "m.npz")
    x = np.random.default_rng(4).standard_normal((9, 5, 3))
    ds = ray_data.from_numpy([x[:4], x[4:5], x[5:]])  # three blocks (one array each), one column: "data"
    # The plain Ray API, the model read from its file by each actor.
    out = ds.map_batches(GRUPredictor, fn_constructor_args=(str(tmp_path / "m.npz"),),
                         fn_constructor_kwargs=dict(input_column="data"), batch_format="numpy", batch_size=4,
                         compute=ray_data.ActorPoolStrategy(size=2), num_cpus=1)
    got = _within(TIMEOUT_S, out.take_all)
    # Rows may come back in another order: match each by its input.
    order = [int(np.flatnonzero([np.array_equal(r["data"], xi) for xi in x])[0]) for r in got]
    assert sorted(order) == list(range(9))
    want_y = _reference(m, x)[0]
    _assert_same(np.stack([r["y"] for r in got]), want_y[order])


def test_ray_ragged_rows(ray_data):
    m = _model("bidir-f64-carry")
    rows = _rows(m, np.random.default_rng(5), 8, lambda i: i % 4 + 1)
    ds = ray_data.from_items([{"id": r["id"], "x": r["x"]} for r in rows])
    got = _by_id(_within(TIMEOUT_S, fastgru.ray.apply(ds, m, actors=2, batch_size=3, h_n_column="h_n").take_all))
    for r, g in zip(rows, got):
        want_y, want_h = _reference(m, r["x"][None])
        _assert_same(g["y"], want_y[0])
        _assert_same(g["h_n"], want_h[0])
