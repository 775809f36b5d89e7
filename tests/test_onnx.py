"""fastgru.onnx: the ONNX GRU operator (gru_op), load_onnx, export_gru / GRU.to_onnx, ReverseGRU,
stack; activations, activation_alpha/beta and clip.

Oracles: ONNX's own GRU conformance cases (inputs and expected outputs shipped in the onnx
package), ONNX Runtime (float32 only: its GRU kernel rejects double and layout=1; it implements
every ONNX activation and clip), and `onnx_gru_reference` below, a float64 NumPy transcription of
the ONNX equations with ONNX Runtime's sequence_lens behaviour, itself checked against ONNX
Runtime.
"""

import functools
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastgru
from conftest import make_lengths
from fastgru.onnx import ReverseGRU, export_gru, gru_op, load_onnx, stack
from tolerances import REORDER, Tol, assert_close

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)

# Against the conformance cases' expected outputs (max abs): the project's contract, float32
# rounding of a handful of short recurrences; float64 cases would allow only a few ulp.
CONFORMANCE_TOL = {F32: Tol(atol=1e-5), F64: Tol(atol=1e-10)}
# gru_op / exported models vs ONNX Runtime, float32 on both sides (max abs): summation order,
# FMA and ORT's own sigmoid/tanh differ by a few ulp per step; outputs lie in (-1, 1).
ORT_TOL = Tol(atol=1e-5)
# gru_op vs the float64 NumPy transcription (max abs): float32 runs are rounded to float32 first,
# so only fastgru's arithmetic differs; float64 leaves ~1000x margin over rounding.
ORACLE_TOL = {F32: Tol(atol=1e-5), F64: Tol(atol=1e-10)}
# The same weights (reordered exactly) through the same core: nothing may differ.
EXACT = Tol(atol=0.0)
# Other activations. Unbounded gate functions (Relu, Affine, Elu, Softplus, ... as f) let z leave
# [0, 1], so h can grow several-fold per step and the float32 rounding error grows with it: the
# bound is relative to the array's largest value (~100 ulp of it, a few ulp per step), plus the
# float32 floor above. fastgru evaluates the rarer functions in double and ONNX Runtime in
# float, so the two differ by float32 rounding of the same magnitude. float64 vs the float64
# transcription: rounding only, ~1000x margin.
ACT_TOL = {F32: Tol(atol=1e-5, rtol=1e-5), F64: Tol(atol=1e-10, rtol=1e-10)}
ACT_ORT_TOL = Tol(atol=1e-5, rtol=1e-5)

ELEM = {F32: TensorProto.FLOAT, F64: TensorProto.DOUBLE}


def _ort():
    return pytest.importorskip("onnxruntime")


def _session(model):
    ort = _ort()
    data = model if isinstance(model, (bytes, str)) else model.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


# --------------------------------------------------------------------------------------------
# Oracles and helpers.

def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# The ONNX RNN operators' activation functions, as the spec defines them, in float64.
ONNX_FUNCS = {
    "sigmoid": lambda x, a, b: _sigmoid(x),
    "tanh": lambda x, a, b: np.tanh(x),
    "relu": lambda x, a, b: np.maximum(x, 0.0),
    "affine": lambda x, a, b: a * x + b,
    "leakyrelu": lambda x, a, b: np.where(x >= 0, x, a * x),
    "thresholdedrelu": lambda x, a, b: np.where(x > a, x, 0.0),  # the ThresholdedRelu operator's >
    "scaledtanh": lambda x, a, b: a * np.tanh(b * x),
    "hardsigmoid": lambda x, a, b: np.minimum(np.maximum(a * x + b, 0.0), 1.0),
    "elu": lambda x, a, b: np.where(x >= 0, x, a * (np.exp(x) - 1.0)),
    "softsign": lambda x, a, b: x / (1.0 + np.abs(x)),
    "softplus": lambda x, a, b: np.log1p(np.exp(x)),
}
DEFAULT_PAIR = [("sigmoid", None, None), ("tanh", None, None)]


def onnx_gru_reference(X, W, R, B=None, seq=None, h0=None, *, direction="forward", lbr=0, acts=None, clip=None):
    """ONNX GRU, layout 0, in float64, one sequence and one step at a time. sequence_lens as
    ONNX Runtime: zeros past each length, reverse starts at each own last element, length 0 gives
    zero Y and Y_h. `acts`: (name, alpha, beta) for f, g of each direction in turn (lower-case
    ONNX names, parameters resolved); `clip` clips every activation's input."""
    X, W, R = (np.asarray(a, np.float64) for a in (X, W, R))
    T, batch, _ = X.shape
    dirs, H = W.shape[0], R.shape[2]
    B = np.zeros((dirs, 6 * H)) if B is None else np.asarray(B, np.float64)
    h0 = np.zeros((dirs, batch, H)) if h0 is None else np.asarray(h0, np.float64)
    seq = np.full(batch, T) if seq is None else np.asarray(seq)
    acts = DEFAULT_PAIR * dirs if acts is None else acts
    cl = (lambda v: v) if clip is None else (lambda v: np.clip(v, -clip, clip))
    Y, Y_h = np.zeros((T, dirs, batch, H)), np.zeros((dirs, batch, H))
    for d in range(dirs):
        (fn, fa, fb), (gn, ga, gb) = acts[2 * d:2 * d + 2]

        def f(v):
            return ONNX_FUNCS[fn](cl(v), fa, fb)

        def g(v):
            return ONNX_FUNCS[gn](cl(v), ga, gb)

        Wz, Wr, Wh = np.split(W[d], 3)
        Rz, Rr, Rh = np.split(R[d], 3)
        wbz, wbr, wbh, rbz, rbr, rbh = np.split(B[d], 6)
        backwards = direction == "reverse" or d == 1
        for b in range(batch):
            n = int(seq[b])
            if n == 0:
                continue
            h = h0[d, b]
            for t in (range(n - 1, -1, -1) if backwards else range(n)):
                x = X[t, b]
                z = f(Wz @ x + Rz @ h + wbz + rbz)
                r = f(Wr @ x + Rr @ h + wbr + rbr)
                if lbr:
                    c = g(Wh @ x + r * (Rh @ h + rbh) + wbh)
                else:
                    c = g(Wh @ x + Rh @ (r * h) + rbh + wbh)
                h = (1 - z) * c + z * h
                Y[t, d, b] = h
            Y_h[d, b] = h
    return Y, Y_h


def _gru_model(dtype, *, with_B, with_seq, with_h0, opset=14, **attrs):
    """A one-node model whose inputs X, W, R, [B], [sequence_lens], [initial_h] are all fed."""
    elem = ELEM[np.dtype(dtype)]
    names = ["X", "W", "R", "B" if with_B else "", "sequence_lens" if with_seq else "",
             "initial_h" if with_h0 else ""]
    while names[-1] == "":
        names.pop()
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT32 if n == "sequence_lens" else elem, None)
              for n in names if n]
    node = helper.make_node("GRU", names, ["Y", "Y_h"], name="gru", **attrs)
    outputs = [helper.make_tensor_value_info(n, elem, None) for n in ("Y", "Y_h")]
    model = helper.make_model(helper.make_graph([node], "g", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _ort_gru(X, W, R, B=None, seq=None, h0=None, **attrs):
    """ONNX Runtime's GRU (layout 0) on these inputs."""
    model = _gru_model(X.dtype, with_B=B is not None, with_seq=seq is not None, with_h0=h0 is not None, **attrs)
    feeds = {"X": X, "W": W, "R": R, "B": B, "initial_h": h0,
             "sequence_lens": None if seq is None else np.asarray(seq, np.int32)}
    return _session(model).run(None, {k: v for k, v in feeds.items() if v is not None})


def _problem(rng, dtype, *, T, batch, D, H, dirs, with_B=True, with_h0=True, seq=None):
    dtype = np.dtype(dtype)
    scale = 1.0 / np.sqrt(H)  # PyTorch's init range, so the gates are not all saturated
    p = dict(X=rng.standard_normal((T, batch, D)),
             W=rng.uniform(-scale, scale, (dirs, 3 * H, D)),
             R=rng.uniform(-scale, scale, (dirs, 3 * H, H)),
             B=rng.uniform(-scale, scale, (dirs, 6 * H)) if with_B else None,
             h0=rng.uniform(-1, 1, (dirs, batch, H)) if with_h0 else None)
    p = {k: None if v is None else v.astype(dtype) for k, v in p.items()}
    p["seq"] = seq
    return p


def _to_layout1(p):
    """X and initial_h in ONNX layout 1 (batch first)."""
    h0 = p["h0"]
    return p["X"].transpose(1, 0, 2), None if h0 is None else h0.transpose(1, 0, 2)


def _onnx_outputs(y, h_n, dirs, layout):
    """fastgru's (y, h_n) -> ONNX (Y, Y_h) for one layer, y in the GRU's own layout."""
    if layout == 1:  # batch_first: y (B, T, dirs*H)
        batch, T = y.shape[:2]
        return y.reshape(batch, T, dirs, -1), h_n.transpose(1, 0, 2)
    T, batch = y.shape[:2]
    return y.reshape(T, batch, dirs, -1).transpose(0, 2, 1, 3), h_n


# --------------------------------------------------------------------------------------------
# ONNX's own conformance cases.

def _conformance_cases():
    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings():
        # collect_testcases runs every operator's case generator; some (Cast, ReduceMax, ...)
        # emit NumPy RuntimeWarnings that have nothing to do with GRU.
        warnings.simplefilter("ignore")
        return node_cases.collect_testcases("GRU")


CASES = _conformance_cases()


def _case_io(case):
    """(node, {input name: array}, {output name: array}) of a conformance case's data set 0."""
    inputs, outputs = case.data_sets[0]
    graph = case.model.graph
    (node,) = [n for n in graph.node if n.op_type == "GRU"]
    feeds = {vi.name: np.asarray(a) for vi, a in zip(graph.input, inputs)}
    expected = {vi.name: np.asarray(a) for vi, a in zip(graph.output, outputs)}
    return node, feeds, expected


def _node_attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def test_conformance_cases_found():
    names = {c.name for c in CASES}
    assert {"test_gru_defaults", "test_gru_reverse", "test_gru_bidirectional", "test_gru_batchwise"} <= names


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conformance_gru_op(case, isa):
    node, feeds, expected = _case_io(case)
    attrs = _node_attrs(node)
    args = [feeds[n] if n else None for n in list(node.input) + [""] * (6 - len(node.input))]
    outputs = dict(zip(node.output, gru_op(*args, **attrs)))
    tol = CONFORMANCE_TOL[np.dtype(args[0].dtype)]
    for name, want in expected.items():
        assert_close(outputs[name], want, tol, f"{case.name} {name}")


def _weights_as_initializers(model, feeds, names):
    """A copy of `model` where the named graph inputs are initializers holding `feeds`' values."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [vi for vi in m.graph.input if vi.name not in names]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    m.graph.initializer.extend(numpy_helper.from_array(feeds[n], n) for n in names)
    return m


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conformance_load_onnx(case, isa):
    node, feeds, expected = _case_io(case)
    attrs = _node_attrs(node)
    names = list(node.input) + [""] * (6 - len(node.input))
    weights = [n for n in names[1:4] if n]
    model = _weights_as_initializers(case.model, feeds, weights)
    onnx.checker.check_model(model)
    grus = load_onnx(model.SerializeToString())
    assert len(grus) == 1
    gru = next(iter(grus.values()))
    layout = attrs.get("layout", 0)
    dirs = gru.num_directions
    h0 = feeds.get(names[5]) if names[5] else None
    if h0 is not None and layout == 1:
        h0 = h0.transpose(1, 0, 2)
    lengths = feeds.get(names[4]) if names[4] else None
    outputs = dict(zip(node.output, _onnx_outputs(*gru(feeds[names[0]], h0, lengths), dirs, layout)))
    tol = CONFORMANCE_TOL[np.dtype(gru.dtype)]
    for name, want in expected.items():
        assert_close(outputs[name], want, tol, f"{case.name} {name} via load_onnx")


# --------------------------------------------------------------------------------------------
# gru_op against ONNX Runtime and the float64 transcription.

def _random_configs(n, seed):
    r = np.random.default_rng(seed)
    out = []
    for i in range(n):
        # Every (direction, linear_before_reset, layout) combination twice; the rest random.
        out.append(dict(direction=["forward", "reverse", "bidirectional"][i % 3], lbr=(i // 3) % 2,
                        layout=(i // 6) % 2, T=int(r.choice([1, 2, 5, 9])), batch=int(r.choice([1, 2, 4, 5])),
                        D=int(r.choice([1, 3, 7, 13, 17])), H=int(r.choice([1, 5, 9, 15, 17, 33])),
                        with_B=bool(r.integers(2)), with_h0=bool(r.integers(2)), with_seq=bool(r.integers(2))))
    return out


CONFIGS = _random_configs(24, seed=14)


def _cfg_id(c):
    return (f"{c['direction'][:3]}-lbr{c['lbr']}-layout{c['layout']}-T{c['T']}-B{c['batch']}-D{c['D']}-H{c['H']}"
            f"{'-bias' if c['with_B'] else ''}{'-h0' if c['with_h0'] else ''}{'-lens' if c['with_seq'] else ''}")


def _run_gru_op(p, c):
    """gru_op on problem p in config c's layout; returns (Y, Y_h) in layout 0."""
    X, h0 = (p["X"], p["h0"]) if c["layout"] == 0 else _to_layout1(p)
    Y, Y_h = gru_op(X, p["W"], p["R"], p["B"], p["seq"], h0, hidden_size=p["R"].shape[2],
                    direction=c["direction"], linear_before_reset=c["lbr"], layout=c["layout"])
    if c["layout"] == 1:
        assert Y.shape == (X.shape[0], X.shape[1], p["W"].shape[0], p["R"].shape[2])
        Y, Y_h = Y.transpose(1, 2, 0, 3), Y_h.transpose(1, 0, 2)
    return Y, Y_h


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("c", CONFIGS, ids=[_cfg_id(c) for c in CONFIGS])
def test_gru_op_random(c, dtype, rng, isa):
    dirs = 2 if c["direction"] == "bidirectional" else 1
    seq = make_lengths(rng, c["batch"], c["T"]).astype(np.int32) if c["with_seq"] else None
    p = _problem(rng, dtype, T=c["T"], batch=c["batch"], D=c["D"], H=c["H"], dirs=dirs, with_B=c["with_B"],
                 with_h0=c["with_h0"], seq=seq)
    Y, Y_h = _run_gru_op(p, c)
    assert Y.dtype == dtype and Y_h.dtype == dtype
    want_Y, want_Yh = onnx_gru_reference(p["X"], p["W"], p["R"], p["B"], seq, p["h0"], direction=c["direction"],
                                         lbr=c["lbr"])
    tol = ORACLE_TOL[np.dtype(dtype)]
    assert_close(Y, want_Y, tol, "Y vs float64 transcription")
    assert_close(Y_h, want_Yh, tol, "Y_h vs float64 transcription")
    if dtype == np.float32:  # ONNX Runtime's GRU runs float32 only
        ort_Y, ort_Yh = _ort_gru(p["X"], p["W"], p["R"], p["B"], seq, p["h0"], hidden_size=c["H"],
                                 direction=c["direction"], linear_before_reset=c["lbr"])
        assert_close(Y, ort_Y, ORT_TOL, "Y vs ONNX Runtime")
        assert_close(Y_h, ort_Yh, ORT_TOL, "Y_h vs ONNX Runtime")
        assert_close(want_Y, ort_Y, ORT_TOL, "the transcription itself vs ONNX Runtime")


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_gru_op_zero_lengths_like_ort(direction, rng):
    """A length of 0: ONNX Runtime gives zero Y and a zero Y_h even with initial_h."""
    dirs = 2 if direction == "bidirectional" else 1
    seq = np.array([0, 4, 1, 0, 2], np.int32)
    p = _problem(rng, np.float32, T=4, batch=5, D=3, H=6, dirs=dirs, seq=seq)
    for layout in (0, 1):
        Y, Y_h = _run_gru_op(p, dict(direction=direction, lbr=1, layout=layout))
        ort_Y, ort_Yh = _ort_gru(p["X"], p["W"], p["R"], p["B"], seq, p["h0"], hidden_size=6, direction=direction,
                                 linear_before_reset=1)
        assert_close(Y, ort_Y, ORT_TOL, f"Y layout {layout}")
        assert_close(Y_h, ort_Yh, ORT_TOL, f"Y_h layout {layout}")
        assert not Y[:, :, [0, 3]].any() and not Y_h[:, [0, 3]].any()


def test_gru_op_default_activations_spelled_out(rng):
    """activations given explicitly (any case) and alpha/beta lists, which Sigmoid and Tanh do not
    consume: the same result as the defaults, and as ONNX Runtime with the same attributes."""
    p = _problem(rng, np.float32, T=5, batch=3, D=4, H=7, dirs=2)
    attrs = dict(hidden_size=7, direction="bidirectional", activations=["Sigmoid", "Tanh", "sigmoid", "TANH"],
                 activation_alpha=[0.5, 2.0], activation_beta=[1.0])
    Y, Y_h = gru_op(p["X"], p["W"], p["R"], p["B"], None, p["h0"], **attrs)
    Y0, Y_h0 = gru_op(p["X"], p["W"], p["R"], p["B"], None, p["h0"], hidden_size=7, direction="bidirectional")
    assert_close(Y, Y0, EXACT, "Y")
    assert_close(Y_h, Y_h0, EXACT, "Y_h")
    ort_Y, ort_Yh = _ort_gru(p["X"], p["W"], p["R"], p["B"], None, p["h0"], **attrs)
    assert_close(Y, ort_Y, ORT_TOL, "Y vs ONNX Runtime")
    assert_close(Y_h, ort_Yh, ORT_TOL, "Y_h vs ONNX Runtime")


def test_gru_op_inputs_untouched_and_hidden_size_inferred(rng):
    p = _problem(rng, np.float64, T=3, batch=2, D=5, H=4, dirs=1, seq=np.array([3, 2], np.int32))
    copies = {k: v.copy() for k, v in p.items() if v is not None}
    Y, Y_h = gru_op(p["X"], p["W"], p["R"], p["B"], p["seq"], p["h0"], direction="reverse")
    Y2, Y_h2 = gru_op(p["X"], p["W"], p["R"], p["B"], p["seq"], p["h0"], hidden_size=4, direction="reverse")
    assert_close(Y, Y2, EXACT, "Y")
    assert_close(Y_h, Y_h2, EXACT, "Y_h")
    for k, v in copies.items():
        assert np.array_equal(p[k], v), f"{k} was modified"


# --------------------------------------------------------------------------------------------
# Activations, activation_alpha / activation_beta and clip.

# Non-default parameters for the functions that take them (alpha, beta), ONNX's spelling.
ACT_PARAMS = {"Affine": (0.7, -0.2), "LeakyRelu": (0.05, None), "ThresholdedRelu": (0.3, None),
              "ScaledTanh": (1.3, 0.6), "HardSigmoid": (0.3, 0.4), "Elu": (0.8, None)}
ONNX_NAMES = ["Sigmoid", "Tanh", "Relu", "Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh", "HardSigmoid",
              "Elu", "Softsign", "Softplus"]
# Every function once as f (g = Tanh) and once as g (f = Sigmoid).
ACT_CASES = [(f, "Tanh") for f in ONNX_NAMES] + [("Sigmoid", g) for g in ONNX_NAMES if g != "Tanh"]
CLIP = 1.5  # below the pre-activations' typical range, so clipping really happens


def _act_attrs(names):
    """ONNX attributes for `names` (f, g per direction), parameters packed as ONNX Runtime reads
    them, and the transcription's resolved (name, alpha, beta) list."""
    alphas, betas, resolved = [], [], []
    for n in names:
        a, b = ACT_PARAMS.get(n, (None, None))
        if a is not None:
            alphas.append(a)
        if b is not None:
            betas.append(b)
        resolved.append((n.lower(), a, b))
    attrs = dict(activations=list(names))
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    return attrs, resolved


def _check_against_oracles(p, attrs, resolved, *, direction, lbr, layout=0, clip=None, ort=True, what=""):
    """gru_op on problem p vs the float64 transcription (p's dtype) and, for float32, ONNX Runtime."""
    dtype = p["X"].dtype
    c = dict(direction=direction, lbr=lbr, layout=layout)
    X, h0 = (p["X"], p["h0"]) if layout == 0 else _to_layout1(p)
    Y, Y_h = gru_op(X, p["W"], p["R"], p["B"], p["seq"], h0, direction=direction, linear_before_reset=lbr,
                    layout=layout, clip=clip, **attrs)
    if layout == 1:
        Y, Y_h = Y.transpose(1, 2, 0, 3), Y_h.transpose(1, 0, 2)
    want_Y, want_Yh = onnx_gru_reference(p["X"], p["W"], p["R"], p["B"], p["seq"], p["h0"], direction=direction,
                                         lbr=lbr, acts=resolved, clip=clip)
    tol = ACT_TOL[np.dtype(dtype)]
    assert_close(Y, want_Y, tol, f"{what} {c} Y vs float64 transcription")
    assert_close(Y_h, want_Yh, tol, f"{what} {c} Y_h vs float64 transcription")
    if ort and dtype == np.float32:
        extra = {} if clip is None else dict(clip=clip)
        ort_Y, ort_Yh = _ort_gru(p["X"], p["W"], p["R"], p["B"], p["seq"], p["h0"], hidden_size=p["R"].shape[2],
                                 direction=direction, linear_before_reset=lbr, **attrs, **extra)
        assert_close(Y, ort_Y, ACT_ORT_TOL, f"{what} {c} Y vs ONNX Runtime")
        assert_close(Y_h, ort_Yh, ACT_ORT_TOL, f"{what} {c} Y_h vs ONNX Runtime")
        assert_close(want_Y, ort_Y, ACT_ORT_TOL, f"{what} {c} the transcription itself vs ONNX Runtime")
    return Y, Y_h


@pytest.mark.parametrize("lbr", [0, 1], ids=["lbr0", "lbr1"])
@pytest.mark.parametrize("clip", [None, CLIP], ids=["noclip", "clip"])
@pytest.mark.parametrize("f,g", ACT_CASES, ids=[f"{f}-{g}" for f, g in ACT_CASES])
def test_gru_op_activations(f, g, clip, lbr, rng):
    """Every ONNX activation as f and as g, with and without clip, forward / reverse /
    bidirectional (layout 1 for the reverse runs), float32 (also against ONNX Runtime) and float64;
    sequence_lens with a 0 and a full length, initial_h."""
    for direction in ("forward", "reverse", "bidirectional"):
        dirs = 2 if direction == "bidirectional" else 1
        attrs, resolved = _act_attrs([f, g] * dirs)
        seq = np.array([3, 5, 0, 1], np.int32)
        for dtype in (np.float32, np.float64):
            p = _problem(rng, dtype, T=5, batch=4, D=3, H=6, dirs=dirs, seq=seq)
            _check_against_oracles(p, attrs, resolved, direction=direction, lbr=lbr, clip=clip,
                                   layout=int(direction == "reverse"), what=f"{f}/{g} {np.dtype(dtype).name}")


@pytest.mark.parametrize("lbr", [0, 1], ids=["lbr0", "lbr1"])
def test_gru_op_bidirectional_directions_differ(lbr, rng):
    """Different activations per direction: run as two one-direction computations, stacked —
    the same as running each direction's half of the node on its own."""
    names = ["HardSigmoid", "Relu", "Sigmoid", "ScaledTanh"]
    attrs, resolved = _act_attrs(names)
    seq = np.array([4, 1, 6], np.int32)
    for dtype in (np.float32, np.float64):
        for layout in (0, 1):
            p = _problem(rng, dtype, T=6, batch=3, D=5, H=4, dirs=2, seq=seq)
            Y, Y_h = _check_against_oracles(p, attrs, resolved, direction="bidirectional", lbr=lbr, clip=CLIP,
                                            layout=layout, what=np.dtype(dtype).name)
            for d, direction in enumerate(("forward", "reverse")):
                half, _ = _act_attrs(names[2 * d:2 * d + 2])
                Yd, Y_hd = gru_op(p["X"], p["W"][d:d + 1], p["R"][d:d + 1], p["B"][d:d + 1], seq, p["h0"][d:d + 1],
                                  direction=direction, linear_before_reset=lbr, clip=CLIP, **half)
                assert_close(Y[:, d:d + 1], Yd, EXACT, f"Y {direction} half")
                assert_close(Y_h[d:d + 1], Y_hd, EXACT, f"Y_h {direction} half")


def test_gru_op_alpha_beta_lists_are_consumed_as_onnx_runtime_does(rng):
    """Each function that takes an alpha (beta) takes the next value, f before g, forward before
    reverse; functions without one take none; values left over are ignored."""
    cases = [
        (["Sigmoid", "LeakyRelu"], dict(activation_alpha=[0.3]), [("sigmoid", None, None), ("leakyrelu", 0.3, None)]),
        (["HardSigmoid", "Affine"], dict(activation_alpha=[0.3, 0.7, 9.0], activation_beta=[0.4, -0.2, 9.0]),
         [("hardsigmoid", 0.3, 0.4), ("affine", 0.7, -0.2)]),
        (["Elu", "Tanh", "LeakyRelu", "ScaledTanh"], dict(activation_alpha=[0.8, 0.05, 1.3], activation_beta=[0.6]),
         [("elu", 0.8, None), ("tanh", None, None), ("leakyrelu", 0.05, None), ("scaledtanh", 1.3, 0.6)]),
    ]
    for names, lists, resolved in cases:
        direction = "bidirectional" if len(names) == 4 else "forward"
        p = _problem(rng, np.float32, T=4, batch=2, D=3, H=5, dirs=len(names) // 2)
        _check_against_oracles(p, dict(activations=names, **lists), resolved, direction=direction, lbr=0,
                               what=str(names))


def test_gru_op_activation_names_any_case(rng):
    p = _problem(rng, np.float32, T=4, batch=2, D=3, H=5, dirs=1)
    args = (p["X"], p["W"], p["R"], p["B"])
    want = gru_op(*args, activations=["HardSigmoid", "LeakyRelu"], activation_alpha=[0.3, 0.05])
    for names in (["hardsigmoid", "LEAKYRELU"], [b"HardSigmoid", b"leakyRelu"]):
        got = gru_op(*args, activations=names, activation_alpha=[0.3, 0.05])
        for a, b in zip(got, want):
            assert_close(a, b, EXACT, str(names))


def test_gru_op_default_parameters_are_onnx_operators(rng):
    """Missing alpha/beta: the ONNX operators' defaults. ONNX Runtime 1.31 agrees for LeakyRelu,
    HardSigmoid and Elu, but uses 0 for Affine and ThresholdedRelu (and ScaledTanh, which has no
    ONNX default and is refused here): export_gru therefore writes every value."""
    p = _problem(rng, np.float32, T=4, batch=2, D=3, H=5, dirs=1)
    args = (p["X"], p["W"], p["R"], p["B"])
    onnx_defaults = {"LeakyRelu": [0.01], "HardSigmoid": [0.2], "Elu": [1.0], "Affine": [1.0],
                     "ThresholdedRelu": [1.0]}
    for name, alpha in onnx_defaults.items():
        beta = {"HardSigmoid": [0.5], "Affine": [0.0]}.get(name)
        Y, _ = gru_op(*args, activations=["Sigmoid", name])
        Y_explicit, _ = gru_op(*args, activations=["Sigmoid", name], activation_alpha=alpha, activation_beta=beta)
        assert_close(Y, Y_explicit, EXACT, f"{name} defaults")
        ort_Y, _ = _ort_gru(p["X"], p["W"], p["R"], p["B"], hidden_size=5, activations=["Sigmoid", name])
        if name in ("Affine", "ThresholdedRelu"):  # ONNX Runtime's own defaults
            Y, _ = gru_op(*args, activations=["Sigmoid", name], activation_alpha=[0.0],
                          activation_beta=[0.0] if beta else None)
        assert_close(Y, ort_Y, ACT_ORT_TOL, f"{name} defaults vs ONNX Runtime")


def test_gru_op_clip_with_default_activations(rng):
    for direction in ("forward", "reverse", "bidirectional"):
        dirs = 2 if direction == "bidirectional" else 1
        p = _problem(rng, np.float32, T=5, batch=3, D=4, H=5, dirs=dirs, seq=np.array([5, 2, 3], np.int32))
        p["X"] *= 3  # saturate more pre-activations
        _check_against_oracles(p, {}, None, direction=direction, lbr=1, clip=0.5, what="clip")


def test_load_onnx_reads_activations_and_clip(rng):
    cases = [
        dict(direction="forward", linear_before_reset=0, activations=["HardSigmoid", "Softsign"],
             activation_alpha=[0.25], activation_beta=[0.5], clip=2.0),
        dict(direction="reverse", linear_before_reset=1, activations=["sigmoid", "affine"],
             activation_alpha=[0.75], activation_beta=[-0.25]),
        dict(direction="bidirectional", linear_before_reset=1, activations=["Sigmoid", "Elu"] * 2,
             activation_alpha=[0.5, 0.5], clip=1.0),
    ]
    for attrs in cases:
        model = _weights_model(rng, **attrs)
        (gru,) = load_onnx(model).values()
        assert type(gru) is fastgru.GRU
        assert gru.direction == ("reverse" if attrs["direction"] == "reverse" else "forward")
        f, g = attrs["activations"][:2]
        assert gru.recurrent_activation == {"hardsigmoid": "hard_sigmoid"}.get(f.lower(), f.lower())
        assert gru.activation == g.lower() and gru.clip == attrs.get("clip")
        if f == "HardSigmoid":
            assert (gru.recurrent_activation_alpha, gru.recurrent_activation_beta) == (0.25, 0.5)
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        X = rng.standard_normal((5, 2, 3)).astype(np.float32)
        seq = np.array([5, 3], np.int32)
        op_Y, op_Yh = gru_op(X, inits["W"], inits["R"], inits["B"], seq, hidden_size=4, **attrs)
        Y, Y_h = _onnx_outputs(*gru(X, None, seq), gru.num_directions, 0)
        assert_close(Y, op_Y, REORDER[F32], f"{attrs['direction']} Y vs gru_op")
        assert_close(Y_h, op_Yh, REORDER[F32], f"{attrs['direction']} Y_h vs gru_op")
        ort_Y, ort_Yh = _session(model).run(None, {"X": X})
        Y, Y_h = _onnx_outputs(*gru(X), gru.num_directions, 0)
        assert_close(Y, ort_Y, ACT_ORT_TOL, f"{attrs['direction']} Y vs ONNX Runtime")
        assert_close(Y_h, ort_Yh, ACT_ORT_TOL, f"{attrs['direction']} Y_h vs ONNX Runtime")


# --------------------------------------------------------------------------------------------
# Export and load round trips.

ROUND_TRIPS = [
    dict(L=1),
    dict(L=2, bidir=True),
    dict(L=3, bias=False, reset_after=False),
    dict(L=2, bidir=True, batch_first=True, reset_after=False),
    dict(L=1, bidir=True, bias=False, batch_first=True),
    dict(L=3, bidir=True),
    dict(L=2, reverse=True, batch_first=True),
]


def _rt_id(c):
    return "-".join(f"{k}{'' if v is True else v}" for k, v in c.items())


def _make_gru(c, dtype=np.float32, D=7, H=9):
    cls = functools.partial(fastgru.GRU, direction="reverse") if c.get("reverse") else fastgru.GRU
    return cls(D, H, num_layers=c["L"], bias=c.get("bias", True), batch_first=c.get("batch_first", False),
               bidirectional=c.get("bidir", False), reset_after=c.get("reset_after", True), dtype=dtype, seed=3)


@pytest.mark.parametrize("lengths", [False, True], ids=["full", "lens"])
@pytest.mark.parametrize("c", ROUND_TRIPS, ids=[_rt_id(c) for c in ROUND_TRIPS])
def test_export_runs_in_ort_and_loads_back(c, lengths, rng, tmp_path):
    gru = _make_gru(c)
    T, batch = 6, 5
    x = rng.standard_normal((batch, T, 7) if gru.batch_first else (T, batch, 7)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (gru.num_layers * gru.num_directions, batch, 9)).astype(np.float32)
    lens = make_lengths(rng, batch, T).astype(np.int32) if lengths else None
    path = tmp_path / "m.onnx"
    gru.to_onnx(path, sequence_lens=lengths, initial_h=True)
    want_y, want_h = gru(x, h0, lens)

    feeds = {"x": x, "h0": h0} | ({"lengths": lens} if lengths else {})
    y, h_n = _session(str(path)).run(["y", "h_n"], feeds)
    assert_close(y, want_y, ORT_TOL, "y from ONNX Runtime")
    assert_close(h_n, want_h, ORT_TOL, "h_n from ONNX Runtime")

    nodes = load_onnx(path)
    assert list(nodes) == [f"gru_l{k}" for k in range(gru.num_layers)]
    assert all(type(g) is type(gru) for g in nodes.values())
    back = stack(nodes.values(), batch_first=gru.batch_first)
    for name, arr in gru.state_dict().items():
        assert np.array_equal(back.state_dict()[name], arr), name
    y2, h2 = back(x, h0, lens)
    assert_close(y2, want_y, EXACT, "y after load_onnx")
    assert_close(h2, want_h, EXACT, "h_n after load_onnx")


def test_export_float64_and_without_h0(rng, tmp_path):
    """float64 models export and load back exactly (ONNX Runtime has no float64 GRU kernel); a
    model exported without initial_h takes x alone."""
    gru = fastgru.GRU(4, 6, num_layers=2, bidirectional=True, dtype=np.float64, seed=1)
    model = export_gru(gru, tmp_path / "m64.onnx", initial_h=True)
    inits = {t.name: t for t in model.graph.initializer}
    assert all(inits[f"{w}_l{k}"].data_type == TensorProto.DOUBLE for w in "WRB" for k in range(2))
    assert model.ir_version <= 10 and model.opset_import[0].version == 14
    back = stack(load_onnx(tmp_path / "m64.onnx").values())
    x = rng.standard_normal((5, 3, 4))
    assert_close(back(x)[0], gru(x)[0], EXACT, "y after float64 round trip")

    g32 = fastgru.GRU(4, 6, num_layers=2, seed=2)
    m = export_gru(g32, None, initial_h=False, opset=17)
    assert [i.name for i in m.graph.input] == ["x"]
    x32 = x.astype(np.float32)
    y, h_n = _session(m).run(None, {"x": x32})
    want_y, want_h = g32(x32)
    assert_close(y, want_y, ORT_TOL, "y")
    assert_close(h_n, want_h, ORT_TOL, "h_n")


def test_load_onnx_torch_export(rng, tmp_path):
    """A model written by torch.onnx (one node per layer, weights as initializers)."""
    torch = pytest.importorskip("torch")
    module = torch.nn.GRU(5, 8, num_layers=2, bidirectional=True).eval()
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    path = tmp_path / "torch.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's own deprecation and tracer warnings
        try:
            torch.onnx.export(module, (torch.from_numpy(x),), str(path), dynamo=False, opset_version=14)
        except Exception as e:  # e.g. the legacy exporter missing from this torch build
            pytest.skip(f"torch.onnx.export failed: {e}")
    nodes = load_onnx(path)
    assert len(nodes) == 2 and all(g.bidirectional and g.reset_after for g in nodes.values())
    gru = stack(nodes.values())
    with torch.no_grad():
        want_y, want_h = module(torch.from_numpy(x))
    y, h_n = gru(x)
    assert_close(y, want_y.numpy(), ORT_TOL, "y")
    assert_close(h_n, want_h.numpy(), ORT_TOL, "h_n")


# Models with activations for the export round trips. Parameters are exact in float32 (ONNX
# stores them as float32), so the model loaded back is bit-identical.
ACT_ROUND_TRIPS = [
    dict(L=1, activation="softsign", recurrent_activation="hard_sigmoid", recurrent_activation_alpha=0.25,
         clip=2.0),
    dict(L=2, bidir=True, reset_after=False, activation="relu"),
    dict(L=2, reverse=True, batch_first=True, activation="affine", activation_alpha=0.75, activation_beta=-0.25,
         recurrent_activation="leaky_relu", recurrent_activation_alpha=0.125),
    dict(L=1, bidir=True, activation="scaled_tanh", activation_alpha=1.25, activation_beta=0.5,
         recurrent_activation="elu", recurrent_activation_alpha=0.5, clip=3.0),
    dict(L=1, activation="thresholded_relu", activation_alpha=0.25, recurrent_activation="softplus"),
    dict(L=2, cell="mgu", recurrent_activation="hard_sigmoid", recurrent_activation_alpha=0.25,
         activation="elu"),
]
_GRU_KEYS = ("L", "bidir", "reverse", "batch_first", "reset_after", "bias")


def _make_act_gru(c, dtype=np.float32, D=7, H=9):
    cls = functools.partial(fastgru.GRU, direction="reverse") if c.get("reverse") else fastgru.GRU
    extra = {k: v for k, v in c.items() if k not in _GRU_KEYS}
    reset_after = c.get("reset_after", None if c.get("cell") == "mgu" else True)
    return cls(D, H, num_layers=c["L"], batch_first=c.get("batch_first", False), bidirectional=c.get("bidir", False),
               reset_after=reset_after, dtype=dtype, seed=3, **extra)


@pytest.mark.parametrize("c", ACT_ROUND_TRIPS, ids=[_rt_id(c) for c in ACT_ROUND_TRIPS])
def test_export_with_activations_runs_in_ort_and_loads_back(c, rng, tmp_path):
    gru = _make_act_gru(c)
    T, batch = 6, 4
    x = rng.standard_normal((batch, T, 7) if gru.batch_first else (T, batch, 7)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (gru.num_layers * gru.num_directions, batch, 9)).astype(np.float32)
    lens = make_lengths(rng, batch, T).astype(np.int32)
    path = tmp_path / "m.onnx"
    model = gru.to_onnx(path, sequence_lens=True, initial_h=True)
    want_y, want_h = gru(x, h0, lens)

    node = next(n for n in model.graph.node if n.op_type == "GRU")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    names = [a.decode() for a in attrs.get("activations", [])]
    assert names == [] or len(names) == 2 * gru.num_directions
    assert attrs.get("clip") == gru.clip

    y, h_n = _session(str(path)).run(["y", "h_n"], {"x": x, "h0": h0, "lengths": lens})
    assert_close(y, want_y, ACT_ORT_TOL, "y from ONNX Runtime")
    assert_close(h_n, want_h, ACT_ORT_TOL, "h_n from ONNX Runtime")

    back = stack(load_onnx(path).values(), batch_first=gru.batch_first)
    std = gru.to_standard()
    assert type(back) is type(gru)
    assert back.config() == {**std.config(), "dropout": 0.0}
    y2, h2 = back(x, h0, lens)
    assert_close(y2, want_y, EXACT, "y after load_onnx")
    assert_close(h2, want_h, EXACT, "h_n after load_onnx")


def test_export_activation_attributes(tmp_path):
    gru = fastgru.GRU(3, 4, bidirectional=True, activation="affine", recurrent_activation="hard_sigmoid",
                      clip=2.5, seed=0)
    node = next(n for n in export_gru(gru, None).graph.node if n.op_type == "GRU")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert [a.decode() for a in attrs["activations"]] == ["HardSigmoid", "Affine"] * 2
    # HardSigmoid (0.2, 0.5) and Affine (1, 0), each direction: written although they are the defaults.
    assert np.array_equal(attrs["activation_alpha"], np.float32([0.2, 1.0, 0.2, 1.0]))
    assert np.array_equal(attrs["activation_beta"], np.float32([0.5, 0.0, 0.5, 0.0]))
    assert attrs["clip"] == 2.5
    plain = next(n for n in export_gru(fastgru.GRU(3, 4), None).graph.node if n.op_type == "GRU")
    assert {a.name for a in plain.attribute} == {"hidden_size", "direction", "linear_before_reset"}
    relu = next(n for n in export_gru(fastgru.GRU(3, 4, activation="relu"), None).graph.node if n.op_type == "GRU")
    assert {a.name for a in relu.attribute} == {"hidden_size", "direction", "linear_before_reset", "activations"}

    # float64 models: ONNX stores the parameters as float32.
    g64 = fastgru.GRU(3, 4, dtype=np.float64, activation="leaky_relu", activation_alpha=0.1, clip=0.3, seed=0)
    export_gru(g64, tmp_path / "m64.onnx")
    (back,) = load_onnx(tmp_path / "m64.onnx").values()
    assert back.activation_alpha == float(np.float32(0.1)) != 0.1
    assert back.clip == float(np.float32(0.3))


def test_stack_cell_forms_and_activations(rng):
    """stack keeps the cell form, activations and clip of its items."""
    for kw in (dict(cell="mgu"), dict(gates="type2", update="candidate"),
               dict(gates="type3", activation="softsign", recurrent_activation="hard_sigmoid", clip=2.0)):
        layers = [fastgru.GRU(3, 5, seed=1, **kw), fastgru.GRU(5, 5, seed=2, **kw)]
        st = stack(layers)
        whole = fastgru.GRU(3, 5, num_layers=2, seed=0, **kw)
        whole.load_state_dict({**layers[0].state_dict(),
                               **{k.replace("_l0", "_l1"): v for k, v in layers[1].state_dict().items()}})
        assert st.config() == whole.config()
        x = rng.standard_normal((4, 2, 3)).astype(np.float32)
        assert_close(st(x)[0], whole(x)[0], EXACT, f"{kw} y")
        y1, _ = layers[0](x)
        assert_close(st(x)[0], layers[1](y1)[0], EXACT, f"{kw} y vs layer by layer")


# --------------------------------------------------------------------------------------------
# ReverseGRU.

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [False, True])
def test_reverse_gru_is_the_reverse_half_of_a_bidirectional_gru(batch_first, lengths, rng):
    bi = fastgru.GRU(5, 7, bidirectional=True, batch_first=batch_first, seed=4)
    rev = fastgru.GRU(5, 7, batch_first=batch_first, seed=0, direction="reverse")
    rev.load_state_dict({k.replace("_reverse", ""): v for k, v in bi.state_dict().items() if "_reverse" in k})
    T, batch = 6, 4
    x = rng.standard_normal((batch, T, 5) if batch_first else (T, batch, 5)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (2, batch, 7)).astype(np.float32)
    lens = make_lengths(rng, batch, T) if lengths else None
    y_bi, h_bi = bi(x, h0, lens)
    y, h_n = rev(x, h0[1:], lens)
    assert_close(y, y_bi[..., 7:], REORDER[F32], "y")
    assert_close(h_n, h_bi[1:], REORDER[F32], "h_n")

    dy = rng.standard_normal(y.shape).astype(np.float32)
    dh = rng.standard_normal(h_n.shape).astype(np.float32)
    _, _, cache = rev.forward(x, h0[1:], lens)
    grads = rev.backward(cache, dy, dh)
    _, _, cache_bi = bi.forward(x, h0, lens)
    grads_bi = bi.backward(cache_bi, np.concatenate([np.zeros_like(dy), dy], axis=-1),
                           np.concatenate([np.zeros_like(dh), dh]))
    assert_close(grads["x"], grads_bi["x"], REORDER[F32], "dx")
    assert_close(grads["h0"], grads_bi["h0"][1:], REORDER[F32], "dh0")
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert_close(grads[name], grads_bi[name + "_reverse"], REORDER[F32], name)


def test_reverse_gru_unbatched_and_errors(rng, tmp_path):
    rev = ReverseGRU(3, 4, seed=0)
    assert isinstance(rev, fastgru.GRU) and rev.direction == "reverse"
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y, h_n = rev(x)
    y_b, h_b = rev(x[:, None, :])
    assert_close(y, y_b[:, 0], EXACT, "unbatched y")
    assert_close(h_n, h_b[:, 0], EXACT, "unbatched h_n")
    assert "direction='reverse'" in repr(rev)
    with pytest.raises(ValueError, match="step"):
        rev.step(x[0], rev.initial_state())
    with pytest.raises(ValueError, match="bidirectional"):
        ReverseGRU(3, 4, bidirectional=True)
    rev.save(tmp_path / "rev.npz")
    back = fastgru.load(tmp_path / "rev.npz")
    assert back.direction == "reverse" and back.config() == rev.config()
    assert_close(back(x)[0], y, EXACT, "y after save/load")
    with pytest.raises(ValueError, match="reverse-only"):
        rev.to_torch()
    with pytest.raises(ValueError, match="lengths"):
        rev(x[:, None, :], lengths=[6])
    with pytest.raises(ValueError, match="input_size"):
        rev(rng.standard_normal((5, 1, 2)).astype(np.float32))


# --------------------------------------------------------------------------------------------
# Errors.

def _op_args(rng, dirs=1, H=4, D=3, T=5, batch=2):
    p = _problem(rng, np.float32, T=T, batch=batch, D=D, H=H, dirs=dirs)
    return p["X"], p["W"], p["R"], p["B"]


def test_gru_op_bad_input_raises(rng):
    X, W, R, B = _op_args(rng)
    H = 4
    cases = [
        (ValueError, "direction", dict(direction="backward")),
        (ValueError, "layout", dict(layout=2)),
        (ValueError, "activations must hold 2", dict(activations=["Sigmoid", "Tanh", "Sigmoid", "Tanh"])),
        (ValueError, "not ONNX activation", dict(activations=["Sigmoid", "Swish"])),
        (ValueError, "scaled_tanh.*no default", dict(activations=["Sigmoid", "ScaledTanh"])),
        (ValueError, "activation_alpha.*finite", dict(activations=["Sigmoid", "Elu"], activation_alpha=[np.nan])),
        (TypeError, "activation_alpha must be a list of floats", dict(activation_alpha=["0.5"])),
        (TypeError, "activations must be a list of names", dict(activations="Sigmoid")),
        (ValueError, "clip must be > 0", dict(clip=0.0)),
        (TypeError, "clip must be a float", dict(clip="3")),
        (ValueError, "W has shape", dict(W=W[:, :-1])),
        (ValueError, "R has shape", dict(R=R[:, :, :-1].copy(), hidden_size=H)),
        (ValueError, "B has shape", dict(B=B[:, :-2])),
        (ValueError, "W has shape", dict(hidden_size=H + 1)),
        (ValueError, "W has shape", dict(direction="bidirectional")),
        (ValueError, "input_size", dict(X=X[:, :, :2])),
        (ValueError, "X must be 3-D", dict(X=X[0])),
        (ValueError, "initial_h has shape", dict(initial_h=np.zeros((1, 3, H), np.float32))),
        (ValueError, "initial_h has shape", dict(initial_h=np.zeros((1, 2, H), np.float32), layout=1)),
        (ValueError, r"sequence_lens\[1\] = 6", dict(sequence_lens=np.array([5, 6], np.int32))),
        (ValueError, r"sequence_lens\[0\] = -1", dict(sequence_lens=np.array([-1, 2], np.int32))),
        (ValueError, "sequence_lens has shape", dict(sequence_lens=np.array([5], np.int32))),
        (TypeError, "sequence_lens must be an integer", dict(sequence_lens=np.array([5.0, 2.0]))),
        (TypeError, "W has dtype float64", dict(W=W.astype(np.float64))),
        (TypeError, "X must be a floating", dict(X=X.astype(np.int32))),
        (NotImplementedError, "float16", dict(X=X.astype(np.float16))),
        (ValueError, "at least one time step", dict(X=X[:0])),
    ]
    for exc, match, change in cases:
        kw = dict(X=X, W=W, R=R, B=B, hidden_size=H) | change
        with pytest.raises(exc, match=match):
            gru_op(**kw)


def _weights_model(rng, node_name="enc", **attrs):
    """A one-node model with W, R, B as initializers."""
    X, W, R, B = _op_args(rng, dirs=2 if attrs.get("direction") == "bidirectional" else 1)
    model = _gru_model(np.float32, with_B=False, with_seq=False, with_h0=False, hidden_size=4, **attrs)
    model.graph.node[0].name = node_name
    model.graph.node[0].input.append("B")
    inits = {"W": W, "R": R, "B": B}
    return _weights_as_initializers(model, inits, list(inits))


PER_DIRECTION = [dict(activations=["Relu", "Tanh", "Sigmoid", "Tanh"]),
                 dict(activations=["Sigmoid", "Elu"] * 2, activation_alpha=[0.5, 0.25], clip=2.0),
                 dict(activations=["HardSigmoid", "Tanh", "Sigmoid", "Softsign"], activation_alpha=[0.3],
                      activation_beta=[0.4], linear_before_reset=1)]


@pytest.mark.parametrize("attrs", PER_DIRECTION, ids=["activations", "alpha-clip", "hard-sigmoid-lbr"])
def test_bidirectional_node_with_per_direction_activations_loads(attrs, rng, tmp_path):
    """Such a node becomes a BidirectionalPair (a forward and a direction='reverse' GRU), which
    computes what ONNX Runtime and gru_op compute, exports back to one node, and has gradients."""
    from fastgru.onnx import BidirectionalPair

    model = _weights_model(rng, direction="bidirectional", **attrs)
    (pair,) = load_onnx(model).values()
    assert isinstance(pair, BidirectionalPair) and pair.reverse_model.direction == "reverse"
    T, batch, D, H = 6, 3, 3, 4
    x = rng.standard_normal((T, batch, D)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (2, batch, H)).astype(np.float32)
    lens = np.array([6, 0, 2], np.int32)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    Y, Y_h = gru_op(x, inits["W"], inits["R"], inits["B"], lens, h0, direction="bidirectional", **attrs)
    y, h_n = pair(x, h0, lens)
    want_y = Y.transpose(0, 2, 1, 3).reshape(T, batch, 2 * H)
    assert_close(y, want_y, REORDER[F32], "y vs gru_op")  # gru_op runs the empty sequence: another batch
    keep = lens > 0  # gru_op (ONNX Runtime) gives Y_h = 0 for an empty sequence, a GRU h_n = h0
    assert_close(h_n[:, keep], Y_h[:, keep], REORDER[F32], "h_n vs gru_op")
    ort = _ort_gru(x, inits["W"], inits["R"], inits["B"], lens, h0, direction="bidirectional", hidden_size=H,
                   **attrs)
    assert_close(y, ort[0].transpose(0, 2, 1, 3).reshape(T, batch, 2 * H), ACT_ORT_TOL, "y vs ONNX Runtime")
    # Exported as one node with both directions' activations, loaded back: the same model.
    back = next(iter(load_onnx(pair.to_onnx(tmp_path / "pair.onnx")).values()))
    assert isinstance(back, BidirectionalPair) and repr(back) == repr(pair)
    assert_close(back(x, h0, lens)[0], y, EXACT, "y after to_onnx / load_onnx")
    copied = pickle.loads(pickle.dumps(pair))
    assert_close(copied(x, h0, lens)[0], y, EXACT, "y after pickle")
    # Gradients: the two halves' own, combined as a bidirectional GRU's.
    _, _, cache = pair.forward(x, h0, lens)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    grads = pair.backward(cache, dy, None)
    gf = pair.forward_model.backward(pair.forward_model.forward(x, h0[:1], lens)[2], dy[..., :H])
    gr = pair.reverse_model.backward(pair.reverse_model.forward(x, h0[1:], lens)[2], dy[..., H:])
    assert_close(grads["x"], gf["x"] + gr["x"], EXACT, "dx")
    assert_close(grads["weight_hh_l0_reverse"], gr["weight_hh_l0"], EXACT, "dR reverse")
    assert set(grads) == {"x", "h0"} | set(pair.state_dict())


def test_bidirectional_pair_with_one_activation_is_the_bidirectional_gru(rng):
    from fastgru.onnx import BidirectionalPair

    bi = fastgru.GRU(3, 5, bidirectional=True, batch_first=True, seed=1)
    pair = BidirectionalPair(fastgru.GRU(3, 5, batch_first=True), fastgru.GRU(3, 5, batch_first=True,
                                                                               direction="reverse"))
    pair.load_state_dict(bi.state_dict())
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (2, 4, 5)).astype(np.float32)
    mask = rng.random((4, 6)) < 0.7
    for a, b in zip(pair(x, h0, mask=mask), bi(x, h0, mask=mask)):
        assert_close(a, b, REORDER[F32], "pair vs bidirectional")
    dy, dh = rng.standard_normal((4, 6, 10)).astype(np.float32), rng.standard_normal((2, 4, 5)).astype(np.float32)
    g = pair.backward(pair.forward(x, h0, mask=mask)[2], dy, dh)
    g_bi = bi.backward(bi.forward(x, h0, mask=mask)[2], dy, dh)
    for k, v in g_bi.items():
        assert_close(g[k], v, REORDER[F32], f"d{k}")
    with pytest.raises(ValueError, match="direction='reverse'"):
        BidirectionalPair(fastgru.GRU(3, 5), fastgru.GRU(3, 5))
    with pytest.raises(ValueError, match="differ in .*hidden_size"):
        BidirectionalPair(fastgru.GRU(3, 5), fastgru.GRU(3, 4, direction="reverse"))


def test_load_onnx_with_weights_as_graph_inputs(rng):
    """W, R, B fed as graph inputs: load_onnx(weights=...) takes their values; without them the
    error says how (weights= or gru_op)."""
    X, W, R, B = _op_args(rng)
    fed = _gru_model(np.float32, with_B=True, with_seq=False, with_h0=False, hidden_size=4)
    with pytest.raises(ValueError, match=r"'gru'.*W \('W'\).*graph input.*weights=\{'W': array\}.*gru_op"):
        load_onnx(fed)
    (gru,) = load_onnx(fed, weights={"W": W, "R": R, "B": B}).values()
    Y, Y_h = gru_op(X, W, R, B)
    y, h_n = gru(X)
    assert_close(y, Y[:, 0], EXACT, "y")
    assert_close(h_n, Y_h, EXACT, "h_n")
    with pytest.raises(ValueError, match="not graph inputs"):
        load_onnx(fed, weights={"W": W, "R": R, "B": B, "X": X, "nope": W})
    with pytest.raises(TypeError, match="weights must be a dict"):
        load_onnx(fed, weights=[W, R, B])


def test_load_onnx_errors(rng):
    with pytest.raises(ValueError, match="'enc'.*clip must be > 0"):
        load_onnx(_weights_model(rng, clip=-1.0))
    with pytest.raises(ValueError, match="'enc'.*direction"):
        load_onnx(_weights_model(rng, direction="sideways"))
    unnamed = _weights_model(rng, node_name="")
    assert list(load_onnx(unnamed)) == ["Y"]  # keyed by its first output's name
    fed = _gru_model(np.float32, with_B=False, with_seq=False, with_h0=False, hidden_size=4)
    with pytest.raises(TypeError, match="path, bytes or onnx.ModelProto"):
        load_onnx(42)
    empty = helper.make_model(helper.make_graph([], "g", [], []))
    assert load_onnx(empty) == {}


def test_export_and_stack_errors():
    with pytest.raises(TypeError, match="fastgru.GRU"):
        export_gru("not a model", None)
    with pytest.raises(ValueError, match="opset"):
        export_gru(fastgru.GRU(2, 3), None, opset=13)
    a, b = fastgru.GRU(2, 3, seed=0), fastgru.GRU(3, 3, seed=0)
    with pytest.raises(ValueError, match="differs from item 0.* in bias"):
        stack([a, fastgru.GRU(3, 3, bias=False)])
    with pytest.raises(ValueError, match="in activation, activation_alpha, clip"):
        stack([a, fastgru.GRU(3, 3, activation="elu", clip=2.0)])
    with pytest.raises(ValueError, match="in cell, reset_after"):
        stack([a, fastgru.GRU(3, 3, cell="mgu")])
    with pytest.raises(ValueError, match="in class"):
        stack([a, ReverseGRU(3, 3)])
    with pytest.raises(ValueError, match="input_size"):
        stack([a, fastgru.GRU(4, 3)])
    with pytest.raises(ValueError, match="single-layer"):
        stack([fastgru.GRU(2, 3, num_layers=2)])
    with pytest.raises(ValueError, match="at least one"):
        stack([])
    assert stack([a, b]).num_layers == 2


def test_onnx_is_imported_lazily():
    code = "import sys, fastgru, fastgru.onnx; assert 'onnx' not in sys.modules, 'onnx imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert fastgru.load_onnx is load_onnx


def test_carry_padding_is_not_exported_as_zeros(tmp_path):
    """ONNX zeroes the outputs past sequence_lens: a padding='carry' model with lengths would export
    a different function, so it is refused; without lengths both compute the same."""
    pytest.importorskip("onnx")
    gru = fastgru.GRU(3, 4, padding="carry", seed=0)
    with pytest.raises(ValueError, match="padding='carry'"):
        gru.to_onnx(tmp_path / "m.onnx", sequence_lens=True)
    gru.to_onnx(tmp_path / "m.onnx")
    fastgru.GRU(3, 4, padding="carry", bidirectional=True).to_onnx(tmp_path / "b.onnx", sequence_lens=True)


@pytest.mark.parametrize("kind", ["forward", "reverse", "bidirectional"])
def test_default_export_runs_on_x_alone_and_takes_lengths_of_zero(kind, rng, tmp_path):
    """to_onnx's model needs only x (a zero initial state, as a torch.onnx export); with
    sequence_lens=True an int32 lengths (B,) input, where 0 gives zero outputs and h_n (= the
    zero h0, so fastgru and ONNX Runtime agree)."""
    gru = fastgru.GRU(3, 4, num_layers=2, bidirectional=kind == "bidirectional", batch_first=True, seed=0,
                      direction="reverse" if kind == "reverse" else "forward")
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    plain = gru.to_onnx(tmp_path / "x.onnx")
    assert [i.name for i in plain.graph.input] == ["x"]
    y, h_n = _session(str(tmp_path / "x.onnx")).run(["y", "h_n"], {"x": x})
    want_y, want_h = gru(x)
    assert_close(y, want_y, ORT_TOL, "y")
    assert_close(h_n, want_h, ORT_TOL, "h_n")

    model = gru.to_onnx(tmp_path / "lens.onnx", sequence_lens=True)
    inputs = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    assert inputs == {"x": TensorProto.FLOAT, "lengths": TensorProto.INT32}
    lens = np.array([5, 0, 2, 3], np.int32)
    y, h_n = _session(str(tmp_path / "lens.onnx")).run(["y", "h_n"], {"x": x, "lengths": lens})
    want_y, want_h = gru(x, lengths=lens)
    assert_close(y, want_y, ORT_TOL, "y with lengths")
    assert_close(h_n, want_h, ORT_TOL, "h_n with lengths")
    assert np.all(y[1] == 0) and np.all(h_n[:, 1] == 0)
    back = stack(load_onnx(tmp_path / "lens.onnx").values(), batch_first=True)
    assert back.direction == gru.direction
    assert_close(back(x, lengths=lens)[0], want_y, EXACT, "y after load_onnx")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("merge", ["sum", "mul", "ave", None])
def test_export_of_a_merge_runs_in_ort(merge, batch_first, rng, tmp_path):
    """Keras's merge modes are written as ops on the last node's two halves (merge=None: two
    outputs y_forward, y_reverse); load_onnx reads the GRU nodes (concatenating ones)."""
    gru = fastgru.GRU(3, 4, num_layers=2, bidirectional=True, merge=merge, batch_first=batch_first, seed=2)
    x = rng.standard_normal((5, 6, 3) if batch_first else (6, 5, 3)).astype(np.float32)
    lens = np.array([6, 0, 3, 1, 6], np.int32)
    gru.to_onnx(tmp_path / "m.onnx", sequence_lens=True)
    names = ["y_forward", "y_reverse", "h_n"] if merge is None else ["y", "h_n"]
    got = _session(str(tmp_path / "m.onnx")).run(names, {"x": x, "lengths": lens})
    y, h_n = gru(x, lengths=lens)
    for a, b, what in zip(got, [*(y if merge is None else [y]), h_n], names):
        assert_close(a, b, ORT_TOL, what)
    back = stack(load_onnx(tmp_path / "m.onnx").values(), batch_first=batch_first)
    assert back.merge == "concat"
    assert_close(back(x, lengths=lens)[1], h_n, EXACT, "h_n after load_onnx")
