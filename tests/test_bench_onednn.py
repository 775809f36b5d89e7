"""bench/onednn/bench_onednn.py: its conversion to oneDNN's GRU layout and gate order, checked
against oneDNN's documented equations written out in NumPy (no oneDNN needed), the gradient map
as the exact adjoint of the weight map, and, where the oneDNN wheels and a C++ compiler are
installed, the built program itself against fastgru on a small case of every mode."""

import os
import shutil
import sys

import numpy as np
import pytest

import fastgru
from tolerances import FORWARD, GRAD, assert_close

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "onednn"))
import bench_onednn  # noqa: E402

sys.path.pop(0)
F32 = np.dtype(np.float32)


def _sig(a):
    return 1 / (1 + np.exp(-a))


def onednn_equations(wl, wi, b, x, h, lbr):
    """oneDNN's GRU (gates u, r, o): u, r = σ(x Wl_g + h Wi_g + b_g); lbr: o = tanh(x Wl_o + b_o +
    r (h Wi_o + b_3)); vanilla: o = tanh(x Wl_o + (r h) Wi_o + b_o); h' = u h + (1 - u) o."""
    ys = []
    for t in range(x.shape[0]):
        u = _sig(x[t] @ wl[:, 0] + h @ wi[:, 0] + b[0])
        r = _sig(x[t] @ wl[:, 1] + h @ wi[:, 1] + b[1])
        if lbr:
            o = np.tanh(x[t] @ wl[:, 2] + b[2] + r * (h @ wi[:, 2] + b[3]))
        else:
            o = np.tanh(x[t] @ wl[:, 2] + (r * h) @ wi[:, 2] + b[2])
        h = u * h + (1 - u) * o
        ys.append(h)
    return np.stack(ys)


def _params(rng, D, H):
    return {k: rng.uniform(-0.5, 0.5, s).astype(np.float32) for k, s in (
        ("weight_ih_l0", (3 * H, D)), ("weight_hh_l0", (3 * H, H)), ("bias_ih_l0", (3 * H,)), ("bias_hh_l0", (3 * H,)))}


@pytest.mark.parametrize("cell", ["lbr", "vanilla"])
def test_converted_weights_give_fastgrus_gru_under_onednns_equations(rng, cell):
    D, H, T, B = 5, 7, 6, 3
    p = _params(rng, D, H)
    lbr = cell == "lbr"
    o = {k: v.astype(np.float64) for k, v in bench_onednn.to_onednn(p, H, lbr).items()}
    assert o["b"].shape == ((4 if lbr else 3), H)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (1, B, H)).astype(np.float32)
    gru = fastgru.GRU(D, H, reset_after=lbr, dtype=np.float32)
    gru.load_state_dict(p)
    y, _ = gru(x, h0)
    assert_close(y, onednn_equations(o["wl"], o["wi"], o["b"], x.astype(np.float64), h0[0].astype(np.float64), lbr),
                 FORWARD[F32], f"{cell} y")


@pytest.mark.parametrize("cell", ["lbr", "vanilla"])
def test_gradient_map_is_the_adjoint_of_the_weight_map(rng, cell):
    """<to_onednn(P), G> = <P, grads_from_onednn(G)> for every P, G: the chain rule, exactly."""
    D, H = 4, 6
    lbr = cell == "lbr"
    p = {k: v.astype(np.float64) for k, v in _params(rng, D, H).items()}
    g = dict(dwl=rng.standard_normal((D, 3, H)), dwi=rng.standard_normal((H, 3, H)),
             db=rng.standard_normal((4 if lbr else 3, H)))
    o = bench_onednn.to_onednn(p, H, lbr)
    lhs = sum(float(np.sum(o[k].astype(np.float64) * g["d" + k])) for k in ("wl", "wi", "b"))
    back = bench_onednn.grads_from_onednn(g["dwl"], g["dwi"], g["db"], lbr)
    rhs = sum(float(np.sum(p[k] * back[k])) for k in p)
    assert abs(lhs - rhs) < 1e-5 * max(1.0, abs(lhs)), (lhs, rhs)


def test_check_refuses_a_wrong_answer():
    ours = {"y": np.zeros((2, 3)), "dx": np.ones((2, 3))}
    assert bench_onednn.check(ours, {"y": np.zeros((2, 3)), "dx": np.ones((2, 3))})[0]
    assert not bench_onednn.check(ours, {"y": np.full((2, 3), 1e-3), "dx": np.ones((2, 3))})[0]
    assert not bench_onednn.check(ours, {"y": np.zeros((2, 3)), "dx": np.full((2, 3), 1.01)})[0]


@pytest.fixture(scope="module")
def onednn_program(tmp_path_factory):
    found = bench_onednn.find_onednn()
    if isinstance(found, str):
        pytest.skip(found)
    if not (os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")):
        pytest.skip("no C++ compiler")
    return bench_onednn.build(str(tmp_path_factory.mktemp("onednn")), *found)


@pytest.mark.parametrize("kind", ["step", "forward", "train"])
@pytest.mark.parametrize("cell", ["lbr", "vanilla"])
def test_the_built_program_matches_fastgru(onednn_program, tmp_path, kind, cell):
    exe = onednn_program
    from fastgru.bench.workloads import Case, make_data

    case = Case("S?", kind, 1 if kind == "step" else 5, 1 if kind == "step" else 3, 9, 9, True)
    data = make_data(case)
    work = tmp_path / "work"
    work.mkdir()
    theirs, seconds = bench_onednn.run_onednn(exe, case, data, cell, 1, 2, 0.0, str(work))
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    ours, _ = bench_onednn.fastgru_bench(fastgru, case, data, cell == "lbr")
    assert set(ours) == set(theirs)
    for k in ours:
        assert_close(theirs[k], ours[k], (GRAD if k.startswith("d") else FORWARD)[F32], f"{kind} {cell} {k}")


def test_skipped_without_the_wheels(monkeypatch, capsys):
    monkeypatch.setattr(bench_onednn, "find_onednn", lambda: "onednn-cpu-gomp is not installed")
    assert bench_onednn.main([]) == bench_onednn.NO_ONEDNN
    assert "skipped" in capsys.readouterr().out
