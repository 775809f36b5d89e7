"""The Python API surface: attributes, repr, parameters and their init, state_dict, save/load,
module-level info / ISA / thread controls (also through environment variables), result
shapes and dtypes, dtype conversion of inputs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastgru
import fastgru.functional as F
import reference
from conftest import DTYPES, build_case, cotangents
from tolerances import EXACT, FORWARD, REORDER, assert_close, assert_differ


def _run_python(code, tmp_path, **env):
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env),
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


# ---------------------------------------------------------------------------------------------
# Construction, attributes, repr


def test_defaults_and_attributes():
    g = fastgru.GRU(3, 4)
    assert (g.input_size, g.hidden_size, g.num_layers, g.bias, g.batch_first, g.dropout,
            g.bidirectional, g.reset_after, g.num_directions) == (
        3, 4, 1, True, False, 0.0, False, True, 1)
    assert isinstance(g.dtype, np.dtype) and g.dtype == np.float32

    g = fastgru.GRU(input_size=5, hidden_size=6, num_layers=3, bias=False, batch_first=True,
                    dropout=0.25, bidirectional=True, reset_after=False, dtype=np.float64,
                    seed=1)
    assert (g.input_size, g.hidden_size, g.num_layers, g.bias, g.batch_first, g.dropout,
            g.bidirectional, g.reset_after, g.num_directions) == (
        5, 6, 3, False, True, 0.25, True, False, 2)
    assert g.dtype == np.dtype(np.float64)
    assert fastgru.GRU(2, 2, dtype="float64").dtype == np.float64


def test_repr():
    r = repr(fastgru.GRU(3, 4))
    assert r.startswith("GRU(") and "3" in r and "4" in r
    r = repr(fastgru.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True,
                         reset_after=False, dtype=np.float64))
    for part in ("num_layers=2", "bidirectional=True", "batch_first=True",
                 "reset_after=False"):
        assert part in r, (part, r)


# ---------------------------------------------------------------------------------------------
# Parameters


@pytest.mark.parametrize("L,bidir,bias", [(1, False, True), (2, True, True), (3, False, False),
                                          (2, True, False)])
def test_parameter_names_shapes_and_views(L, bidir, bias):
    D, H = 5, 7
    g = fastgru.GRU(D, H, num_layers=L, bidirectional=bidir, bias=bias, seed=3)
    sd = g.state_dict()
    assert list(sd) == reference.param_names(L, bidir, bias)
    dirs = 2 if bidir else 1
    for name, a in sd.items():
        layer = int(name.split("_l")[1].split("_")[0])
        want = ((3 * H, D if layer == 0 else dirs * H) if name.startswith("weight_ih") else
                (3 * H, H) if name.startswith("weight_hh") else (3 * H,))
        assert a.shape == want and a.dtype == np.float32, name
        attr = getattr(g, name)  # exposed under the same name, read-only
        assert_close(attr, a, EXACT[g.dtype], f"attribute {name}")
        with pytest.raises(ValueError):
            attr[...] = 0
    if not bias:
        assert "bias_ih_l0" not in sd and not hasattr(g, "bias_ih_l0")

    params = g.parameters()
    assert isinstance(params, list) and len(params) == len(sd)
    for p, (name, a) in zip(params, sd.items()):
        assert_close(p, a, EXACT[g.dtype], f"parameters() entry {name}")


def test_state_dict_returns_copies():
    g = fastgru.GRU(3, 4, seed=0)
    x = np.ones((2, 1, 3), np.float32)
    y, _ = g(x)
    sd = g.state_dict()
    for a in sd.values():
        a[...] = 0  # must not reach the model
    assert_close(g(x)[0], y, EXACT[g.dtype], "y after editing a state_dict copy")
    assert_close(g.state_dict()["weight_hh_l0"], g.weight_hh_l0, EXACT[g.dtype], "fresh copy")


def test_init_range_and_seed():
    H = 64
    g = fastgru.GRU(32, H, num_layers=2, bidirectional=True, seed=123)
    bound = 1 / np.sqrt(H)
    allv = np.concatenate([a.ravel() for a in g.parameters()])
    assert allv.min() >= -bound and allv.max() <= bound
    # Really uniform over the whole interval, not a narrower one.
    assert allv.min() < -0.99 * bound and allv.max() > 0.99 * bound
    assert abs(float(allv.mean())) < 0.02 * bound
    assert abs(float(allv.std()) - bound / np.sqrt(3)) < 0.02 * bound

    same = fastgru.GRU(32, H, num_layers=2, bidirectional=True, seed=123)
    other = fastgru.GRU(32, H, num_layers=2, bidirectional=True, seed=124)
    for (name, a), b, c in zip(g.state_dict().items(), same.parameters(), other.parameters()):
        assert_close(b, a, EXACT[g.dtype], f"same seed {name}")
        assert_differ(c, a, f"different seed {name}")

    g64 = fastgru.GRU(32, H, dtype=np.float64, seed=123)
    assert g64.weight_hh_l0.dtype == np.float64 and np.abs(g64.weight_hh_l0).max() <= bound


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_state_dict_round_trip(rng, dtype):
    case = build_case(rng, D=5, H=6, T=4, B=2, L=2, bidir=True, dtype=dtype, lengths=True)
    y, h_n = case.gru(case.x, case.h0, lengths=case.lengths)
    other = fastgru.GRU(5, 6, num_layers=2, bidirectional=True, dtype=dtype, seed=99)
    assert_differ(other(case.x, case.h0, lengths=case.lengths)[0], y, "before loading")
    other.load_state_dict(case.gru.state_dict())
    y2, h2 = other(case.x, case.h0, lengths=case.lengths)
    assert_close(y2, y, EXACT[case.dtype], "y after load_state_dict")
    assert_close(h2, h_n, EXACT[case.dtype], "h_n after load_state_dict")


def test_load_state_dict_converts_dtype_and_non_strict():
    g = fastgru.GRU(3, 4, seed=0)
    sd64 = {k: v.astype(np.float64) + 0.1 for k, v in g.state_dict().items()}
    g.load_state_dict(sd64)
    for k, v in g.state_dict().items():
        assert v.dtype == np.float32
        assert_close(v, sd64[k].astype(np.float32), EXACT[g.dtype], f"converted {k}")

    # strict=False: unknown keys ignored, missing keys keep their current values.
    before = g.state_dict()
    partial = {"weight_hh_l0": np.zeros((12, 4), np.float32), "not_a_param": np.zeros(3)}
    g.load_state_dict(partial, strict=False)
    after = g.state_dict()
    assert_close(after["weight_hh_l0"], np.zeros((12, 4)), EXACT[g.dtype], "loaded key")
    assert_close(after["weight_ih_l0"], before["weight_ih_l0"], EXACT[g.dtype], "kept key")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_save_load_round_trip(tmp_path, rng, dtype):
    g = fastgru.GRU(5, 6, num_layers=2, bias=False, batch_first=True, dropout=0.2,
                    bidirectional=True, reset_after=False, dtype=dtype, seed=4)
    path = tmp_path / "model.npz"
    g.save(path)
    assert path.exists()
    h = fastgru.load(path)
    for attr in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                 "bidirectional", "reset_after", "dtype", "num_directions"):
        assert getattr(h, attr) == getattr(g, attr), attr
    assert list(h.state_dict()) == list(g.state_dict())
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    lengths = np.array([2, 4, 1])
    for a, b in zip(g(x, lengths=lengths), h(x, lengths=lengths)):
        assert_close(b, a, EXACT[np.dtype(dtype)], "output of the reloaded model")
    # str paths work too.
    g.save(str(tmp_path / "again.npz"))
    assert fastgru.load(str(tmp_path / "again.npz")).hidden_size == 6


# ---------------------------------------------------------------------------------------------
# Result shapes / dtypes, input dtype conversion


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("L,bidir,bf", [(1, False, False), (2, True, True), (3, True, False)])
def test_result_shapes_and_dtypes(rng, L, bidir, bf, dtype):
    T, B, D, H = 4, 3, 5, 6
    case = build_case(rng, D=D, H=H, T=T, B=B, L=L, bidir=bidir, batch_first=bf, dtype=dtype,
                      h0=False)
    dirs = 2 if bidir else 1
    y, h_n = case.gru(case.x)
    want_y = (B, T, dirs * H) if bf else (T, B, dirs * H)
    assert y.shape == want_y and h_n.shape == (L * dirs, B, H)
    assert y.dtype == case.dtype and h_n.dtype == case.dtype
    assert isinstance(y, np.ndarray) and isinstance(h_n, np.ndarray)

    y, h_n, cache = case.gru.forward(case.x)
    dy, dh_n = cotangents(rng, case)
    grads = case.gru.backward(cache, dy, dh_n)
    assert grads["x"].shape == case.x.shape and grads["h0"].shape == (L * dirs, B, H)
    for name, p in case.gru.state_dict().items():
        assert grads[name].shape == p.shape and grads[name].dtype == case.dtype, name


@pytest.mark.parametrize("model_dtype,input_dtype", [(np.float32, np.float64),
                                                     (np.float64, np.float32)])
def test_other_float_inputs_are_converted(rng, model_dtype, input_dtype):
    case = build_case(rng, D=5, H=6, T=4, B=3, L=2, dtype=model_dtype, lengths=True)
    # Values exactly representable in both dtypes (float32 numbers), so the results must be
    # identical: a conversion, not a different computation.
    f32 = lambda a: a.astype(np.float32).astype(case.dtype)  # noqa: E731
    case.x, case.h0 = f32(case.x), f32(case.h0)
    dy, dh_n = map(f32, cotangents(rng, case))
    y, h_n, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    grads = case.gru.backward(cache, dy, dh_n)

    conv = lambda a: a.astype(input_dtype)  # noqa: E731
    y2, h2, cache2 = case.gru.forward(conv(case.x), conv(case.h0), lengths=case.lengths)
    assert y2.dtype == case.dtype and h2.dtype == case.dtype
    assert_close(y2, y, EXACT[case.dtype], "y from converted inputs")
    assert_close(h2, h_n, EXACT[case.dtype], "h_n from converted inputs")
    g2 = case.gru.backward(cache2, conv(dy), conv(dh_n))
    for k in grads:
        assert g2[k].dtype == case.dtype
        assert_close(g2[k], grads[k], EXACT[case.dtype], f"d{k} from converted inputs")
    y3, _ = case.gru(conv(case.x), conv(case.h0), lengths=case.lengths)
    assert y3.dtype == case.dtype
    assert_close(y3, y, EXACT[case.dtype], "__call__ y from converted inputs")


def test_lengths_accept_lists_and_int_types(rng):
    case = build_case(rng, D=5, H=6, T=4, B=3, L=1, lengths=True)
    y, _ = case.gru(case.x, lengths=case.lengths)
    for lens in (list(case.lengths), case.lengths.astype(np.int32),
                 case.lengths.astype(np.uint8)):
        assert_close(case.gru(case.x, lengths=lens)[0], y, EXACT[case.dtype], repr(lens))


def test_functional_matches_model(rng):
    case = build_case(rng, D=5, H=6, T=4, B=3, L=3, bidir=True, lengths=True)
    y, h_n = case.gru(case.x, case.h0, lengths=case.lengths)
    for kw in ({}, dict(num_layers=3, bidirectional=True)):
        yf, hf, _ = F.gru_forward(case.x, case.gru.state_dict(), case.h0, case.lengths, **kw)
        assert_close(yf, y, REORDER[case.dtype], f"functional y {kw}")
        assert_close(hf, h_n, REORDER[case.dtype], f"functional h_n {kw}")
    # dtype follows weight_ih_l0.
    p64 = {k: v.astype(np.float64) for k, v in case.gru.state_dict().items()}
    y64, _, _ = F.gru_forward(case.x, p64, case.h0, case.lengths)
    assert y64.dtype == np.float64


# ---------------------------------------------------------------------------------------------
# Module level: info, ISA, threads


def test_info():
    info = fastgru.info()
    for key in ("version", "isa", "isas_compiled", "isas_supported", "num_threads", "cuda"):
        assert key in info, key
    assert isinstance(info["version"], str) and info["version"]
    assert info["isa"] == fastgru.get_isa()
    assert "scalar" in info["isas_compiled"] and "scalar" in info["isas_supported"]
    assert set(info["isas_supported"]) <= {"scalar", "avx2", "avx512"}
    assert info["num_threads"] == fastgru.get_num_threads()
    assert info["cuda"] is False or info["cuda"] is True
    avail = fastgru.available_isas()
    assert avail[0] == "scalar"
    assert set(avail) == set(info["isas_compiled"]) & set(info["isas_supported"])
    order = ["scalar", "avx2", "avx512"]
    assert avail == sorted(avail, key=order.index)  # best last


def test_set_get_use_isa():
    before = fastgru.get_isa()
    try:
        for name in fastgru.available_isas():
            fastgru.set_isa(name)
            assert fastgru.get_isa() == name and fastgru.info()["isa"] == name
    finally:
        fastgru.set_isa(before)
    assert fastgru.get_isa() == before

    with fastgru.use_isa("scalar"):
        assert fastgru.get_isa() == "scalar"
    assert fastgru.get_isa() == before
    # Restored on an exception too.
    with pytest.raises(RuntimeError, match="inside"):
        with fastgru.use_isa("scalar"):
            raise RuntimeError("inside")
    assert fastgru.get_isa() == before


def test_isas_agree(rng):
    # Switching ISA on one model (its weights packed for another ISA) still gives its results.
    case = build_case(rng, D=17, H=33, T=5, B=3, L=2, bidir=True, lengths=True)
    with fastgru.use_isa("scalar"):
        y_ref, _ = case.gru(case.x, case.h0, lengths=case.lengths)
    for name in fastgru.available_isas():
        with fastgru.use_isa(name):
            y, _ = case.gru(case.x, case.h0, lengths=case.lengths)
        assert_close(y, y_ref, FORWARD[case.dtype], f"{name} vs scalar")


def test_env_isa_scalar(tmp_path):
    out = _run_python("import fastgru, json\n"
                      "print(json.dumps([fastgru.get_isa(), fastgru.info()['isa']]))",
                      tmp_path, FASTGRU_ISA="scalar")
    assert json.loads(out.strip().splitlines()[-1]) == ["scalar", "scalar"]


def test_set_get_num_threads(restore_threads):
    for n in (1, 2, 3):
        fastgru.set_num_threads(n)
        assert fastgru.get_num_threads() == n
        assert fastgru.info()["num_threads"] == n


def test_env_num_threads(tmp_path):
    for n in ("1", "2"):
        out = _run_python("import fastgru; print(fastgru.get_num_threads())", tmp_path,
                          FASTGRU_NUM_THREADS=n)
        assert out.strip().splitlines()[-1] == n


def test_default_num_threads_is_positive():
    assert fastgru.get_num_threads() >= 1
    if "FASTGRU_NUM_THREADS" not in os.environ and hasattr(os, "sched_getaffinity"):
        assert fastgru.get_num_threads() == len(os.sched_getaffinity(0))


def test_device_argument_and_to():
    """device="cuda" runs on the CUDA backend; in a CPU build (or without a GPU) it is a clear
    RuntimeError, never a silent CPU model."""
    gru = fastgru.GRU(4, 5, seed=0)
    assert gru.device == "cpu" and gru.to("cpu") is gru
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        fastgru.GRU(4, 5, device="tpu")
    if fastgru.cuda_available():
        moved = gru.to("cuda")
        x = np.ones((3, 2, 4), np.float32)
        assert moved.device == "cuda"
        assert_close(moved(x)[0], gru(x)[0], FORWARD[np.dtype(np.float32)], "y on the GPU")
    else:
        with pytest.raises(RuntimeError, match="CUDA"):
            fastgru.GRU(4, 5, device="cuda")
        with pytest.raises(RuntimeError, match="CUDA"):
            gru.to("cuda")


def test_dropout_is_the_one_writable_setting_and_is_checked():
    gru = fastgru.GRU(3, 4, num_layers=2)
    gru.dropout = 0.25
    assert gru.dropout == 0.25 and gru.config()["dropout"] == 0.25
    for bad, error in ((1.0, ValueError), (-0.1, ValueError), ("a", TypeError), (float("nan"), ValueError)):
        with pytest.raises(error, match="dropout"):
            gru.dropout = bad
    assert gru.dropout == 0.25
    with pytest.raises(AttributeError):
        gru.hidden_size = 5


def test_named_parameters_are_the_trained_ones_read_only():
    gru = fastgru.GRU(3, 4, num_layers=2, cell="ligru", seed=0)
    named = gru.named_parameters()
    assert list(named) == [k for k in gru.state_dict() if "running" not in k]
    for k, v in named.items():
        assert v is getattr(gru, k) and not v.flags.writeable
        assert np.array_equal(v, gru.state_dict()[k])
    assert [id(v) for v in named.values()] == [id(v) for v in gru.parameters()]
