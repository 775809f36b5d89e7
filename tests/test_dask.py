"""fastgru.dask (issue 13, item 5): a GRU over a Dask array chunked along the batch axis gives the
single-process model(x, h0, lengths)'s bits, on a real distributed cluster of two worker processes
(the model pickled to them) and on the in-process schedulers; the model is one node of the graph;
fastgru's thread count is set per chunk and restored; bad chunking and inputs are clear errors.

Without dask, only the import test runs (fastgru.dask imports, and apply names the extra)."""

import subprocess
import sys
import threading

import numpy as np
import pytest

import fastgru
import fastgru.dask as fdask

TIMEOUT_S = 60  # for one computation on the cluster; it takes well under a second


MODELS = {
    "f32": dict(input_size=4, hidden_size=6),
    "bidir-2layer-batch-first": dict(input_size=4, hidden_size=5, num_layers=2, bidirectional=True, batch_first=True),
    "f64-reset-before-carry": dict(input_size=3, hidden_size=7, reset_after=False, dtype=np.float64, padding="carry"),
    "bidir-batch-first-f64": dict(input_size=3, hidden_size=4, bidirectional=True, batch_first=True, dtype=np.float64),
}
T, B = 6, 11
# Batch chunkings of B = 11: one chunk, even-ish, uneven, one sequence per chunk.
CHUNKS = {"whole": (11,), "by-3": (3, 3, 3, 2), "uneven": (1, 7, 3), "by-1": (1,) * 11}


def _case(kind, seed=0):
    m = fastgru.GRU(**MODELS[kind], seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, m.input_size) if m.batch_first else (T, B, m.input_size)).astype(np.float32)
    h0 = rng.standard_normal((m.num_layers * m.num_directions, B, m.hidden_size)).astype(m.dtype)
    lengths = rng.integers(1, T + 1, size=B)
    lengths[:2] = [T, 1]
    return m, x, h0, lengths


def _batch_axis(m):
    return 0 if m.batch_first else 1


def test_imports_and_names_the_extra_without_dask():
    code = ("import sys\n"
            "for name in ('dask', 'dask.array', 'distributed'): sys.modules[name] = None  # not installed\n"
            "import numpy as np, fastgru, fastgru.dask\n"
            "try:\n"
            "    fastgru.dask.apply(fastgru.GRU(2, 3), np.zeros((1, 1, 2), np.float32))\n"
            "except ModuleNotFoundError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'fastgru[dask]'" in out.stdout


@pytest.fixture(scope="module")
def da():
    return pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def client(da):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster, timeout=TIMEOUT_S, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=TIMEOUT_S)
        yield c


def _on_cluster(client, *arrays):
    return [f.result(timeout=TIMEOUT_S) for f in client.compute(list(arrays))]


def _assert_same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


def test_the_real_dask_package_is_imported(da):
    import dask

    assert da.__name__ == "dask.array" and dask.__file__ != fdask.__file__
    assert "fastgru" not in dask.__file__


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("kind", MODELS)
def test_distributed_equals_single_process(client, da, kind, chunks):
    m, x, h0, lengths = _case(kind)
    want_y, want_h = m(x, h0, lengths)
    xd = da.from_array(x, chunks={_batch_axis(m): CHUNKS[chunks]})
    # lengths as a Dask array chunked differently from x (rechunked to match), h0 as NumPy
    y, h_n = fdask.apply(m, xd, da.from_array(lengths, chunks=4), h0, outputs="both")
    assert y.chunks[_batch_axis(m)] == CHUNKS[chunks] and h_n.chunks[1] == CHUNKS[chunks]
    got_y, got_h = _on_cluster(client, y, h_n)
    _assert_same(got_y, want_y)
    _assert_same(got_h, want_h)


@pytest.mark.parametrize("kind", ["f32", "bidir-2layer-batch-first"])
def test_distributed_single_outputs_and_defaults(client, da, kind):
    m, x, h0, lengths = _case(kind, seed=1)
    xd = da.from_array(x, chunks={_batch_axis(m): 4})
    want_y, want_h = m(x)
    got_y, got_h = _on_cluster(client, fdask.apply(m, xd), fdask.apply(m, xd, outputs="h_n"))
    _assert_same(got_y, want_y)
    _assert_same(got_h, want_h)
    # h0 as a Dask array with its own chunking, NumPy lengths
    want_y, want_h = m(x, h0, lengths)
    h0d = da.from_array(h0, chunks=(1, 5, 2))
    got_y, got_h = _on_cluster(client, fdask.apply(m, xd, lengths, h0d),
                               fdask.apply(m, xd, lengths, h0d, outputs="h_n"))
    _assert_same(got_y, want_y)
    _assert_same(got_h, want_h)


def test_workers_thread_count_is_restored(client, da):
    before = client.run(fastgru.get_num_threads)
    m, x, _, _ = _case("f32")
    _on_cluster(client, fdask.apply(m, da.from_array(x, chunks=(T, 2, 4)), threads_per_worker=2))
    assert client.run(fastgru.get_num_threads) == before


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_in_process_schedulers(da, scheduler):
    import dask

    m, x, h0, lengths = _case("bidir-2layer-batch-first", seed=2)
    want_y, want_h = m(x, h0, lengths)
    y, h_n = fdask.apply(m, da.from_array(x, chunks=(3, T, 4)), lengths, h0, outputs="both")
    got_y, got_h = dask.compute(y, h_n, scheduler=scheduler)
    _assert_same(got_y, want_y)
    _assert_same(got_h, want_h)


@pytest.mark.parametrize("threads", [3, None])
def test_each_chunk_runs_with_its_threads_and_the_count_is_restored(da, monkeypatch, restore_threads, threads):
    import dask

    fastgru.set_num_threads(2)
    seen, call = [], fastgru.GRU.__call__
    lock = threading.Lock()

    def spy(self, *args, **kwargs):
        with lock:
            seen.append(fastgru.get_num_threads())
        return call(self, *args, **kwargs)

    monkeypatch.setattr(fastgru.GRU, "__call__", spy)
    m, x, _, _ = _case("f32")
    dask.compute(fdask.apply(m, da.from_array(x, chunks=(T, 1, 4)), threads_per_worker=threads),
                 scheduler="threads", num_workers=4)
    assert seen == [threads or 2] * B
    assert fastgru.get_num_threads() == 2  # the caller's setting, back


def test_concurrent_users_of_the_thread_setting_restore_it_once(restore_threads):
    fastgru.set_num_threads(2)
    inside = threading.Barrier(2)
    counts = []

    def user():
        with fastgru.use_num_threads(1):
            inside.wait(timeout=TIMEOUT_S)  # both inside at once
            counts.append(fastgru.get_num_threads())
            inside.wait(timeout=TIMEOUT_S)

    threads = [threading.Thread(target=user) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT_S)
    assert counts == [1, 1]
    assert fastgru.get_num_threads() == 2


def test_each_chunk_computes_both_outputs_once(da, monkeypatch):
    import dask

    calls, call = [], fastgru.GRU.__call__
    monkeypatch.setattr(fastgru.GRU, "__call__", lambda self, *a, **k: calls.append(1) or call(self, *a, **k))
    m, x, _, _ = _case("f32")
    y, h_n = fdask.apply(m, da.from_array(x, chunks=(T, 3, 4)), outputs="both")
    dask.compute(y, h_n, scheduler="sync")
    assert len(calls) == 4
    calls.clear()
    y.compute(scheduler="sync")
    assert len(calls) == 4


def test_the_model_is_one_node_of_the_graph(da):
    import cloudpickle

    m = fastgru.GRU(8, 64, seed=0)  # about 60 kB of weights
    x = da.zeros((5, 40, 8), chunks=(5, 1, 8), dtype=np.float32)  # 40 chunks
    y = fdask.apply(m, x)
    graph = dict(y.__dask_graph__())
    model_keys = [k for k in graph if isinstance(k, str) and k.startswith("fastgru-model-")]
    assert len(model_keys) == 1
    size = len(cloudpickle.dumps(graph))
    assert size < 2 * len(cloudpickle.dumps(m)), size  # one copy, not one per chunk
    # The same model (the same bytes) gives the same graph; other weights, another.
    assert fdask.apply(m, x).name == y.name
    m2 = fastgru.GRU(8, 64, seed=1)
    assert fdask.apply(m2, x).name != y.name


@pytest.mark.parametrize("kind", MODELS)
def test_shapes_chunks_dtype_and_meta(da, kind):
    m, x, _, _ = _case(kind)
    xd = da.from_array(x, chunks={_batch_axis(m): (5, 6)})
    y, h_n = fdask.apply(m, xd, outputs="both")
    dirs_h = m.num_directions * m.hidden_size
    if m.batch_first:
        assert y.shape == (B, T, dirs_h) and y.chunks == ((5, 6), (T,), (dirs_h,))
    else:
        assert y.shape == (T, B, dirs_h) and y.chunks == ((T,), (5, 6), (dirs_h,))
    layers = m.num_layers * m.num_directions
    assert h_n.shape == (layers, B, m.hidden_size) and h_n.chunks == ((layers,), (5, 6), (m.hidden_size,))
    for arr in (y, h_n):
        assert arr.dtype == m.dtype
        assert type(arr._meta) is np.ndarray and arr._meta.dtype == m.dtype and arr._meta.ndim == 3


def test_errors(da):
    m, x, h0, lengths = _case("f32")
    xd = da.from_array(x, chunks=(T, 4, 4))
    with pytest.raises(TypeError, match="dask.array.Array, got ndarray"):
        fdask.apply(m, x)
    with pytest.raises(TypeError, match="fastgru.GRU"):
        fdask.apply("model", xd)
    with pytest.raises(ValueError, match=r"time axis \(axis 0\) is split into 2 chunks .*rechunk"):
        fdask.apply(m, da.from_array(x, chunks=(3, 4, 4)))
    bf = fastgru.GRU(4, 6, batch_first=True)
    with pytest.raises(ValueError, match=r"time axis \(axis 1\)"):
        fdask.apply(bf, da.from_array(np.zeros((B, T, 4), np.float32), chunks=(4, 2, 4)))
    with pytest.raises(ValueError, match=r"feature axis \(axis 2\)"):
        fdask.apply(m, da.from_array(x, chunks=(T, 4, 2)))
    with pytest.raises(ValueError, match=r"lengths must have shape \(11,\).*got \(10,\)"):
        fdask.apply(m, xd, lengths[:10])
    with pytest.raises(ValueError, match=r"lengths must have shape \(11,\)"):
        fdask.apply(m, xd, da.from_array(lengths[:10]))
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 11, 6\)"):
        fdask.apply(m, xd, None, h0[:, :3])
    with pytest.raises(ValueError, match="3-D"):
        fdask.apply(m, da.zeros((T, 4), chunks=(T, 4)))
    with pytest.raises(ValueError, match="input_size is 4"):
        fdask.apply(m, da.zeros((T, B, 5), chunks=(T, 4, 5)))
    with pytest.raises(TypeError, match="floating-point"):
        fdask.apply(m, da.zeros((T, B, 4), chunks=(T, 4, 4), dtype=np.int32))
    with pytest.raises(ValueError, match="outputs must be one of"):
        fdask.apply(m, xd, outputs="all")
    with pytest.raises(ValueError, match="merge='concat' models"):
        fdask.apply(fastgru.GRU(4, 6, bidirectional=True, merge="sum"), xd)
    with pytest.raises(ValueError, match="threads_per_worker"):
        fdask.apply(m, xd, threads_per_worker=0)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fdask.apply(m, xd[:, xd[0, :, 0] > 0])
    # A bad value is found where the chunk runs, by the model's own check.
    bad = lengths.copy()
    bad[9] = T + 1
    with pytest.raises(ValueError, match=r"lengths\[1\] = 7 is outside \[0, 6\]"):
        fdask.apply(m, xd, bad).compute(scheduler="sync")
