"""Malformed input raises ValueError/TypeError naming the argument and the offending value;
inputs are never modified; read-only, strided and foreign-layout arrays are accepted."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import fastgru
import fastgru.functional as F
from conftest import build_case, cotangents
from tolerances import EXACT, assert_close

BAD = (ValueError, TypeError)
X = r"(\bx(_t)?\b|input)"  # how a message may name x (x_t for step)


def msg(*parts):
    """A regex that matches when every part occurs somewhere (any order, any case)."""
    return "(?is)" + "".join(f"(?=.*(?:{p}))" for p in parts)


def shape_re(shape):
    """Matches a shape written as (2, 3, 4), [2, 3, 4], 2x3x4, ..."""
    return r"\b" + r"\D{1,4}".join(str(s) for s in shape) + r"\b"


T, B, D, H, L = 5, 3, 4, 6, 2


@pytest.fixture
def case(rng):
    return build_case(rng, D=D, H=H, T=T, B=B, L=L, lengths=True)


def _call(how, case, x, h0=None, lengths=None):
    """The three public forward entry points, same arguments."""
    if how == "call":
        return case.gru(x, h0, lengths=lengths)
    if how == "forward":
        return case.gru.forward(x, h0, lengths=lengths)
    return F.gru_forward(x, case.params, h0, lengths)


CALLS = ["call", "forward", "functional"]


# ---------------------------------------------------------------------------------------------
# x


@pytest.mark.parametrize("how", CALLS)
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4, 5), (5, 3, 4, 1)])
def test_x_wrong_rank(case, how, shape):
    with pytest.raises(ValueError, match=msg(X, shape_re(shape))):
        _call(how, case, np.zeros(shape, np.float32))


@pytest.mark.parametrize("how", CALLS)
@pytest.mark.parametrize("shape", [(T, B, D + 1), (T, B, 1), (T, D + 3)])
def test_x_wrong_feature_size(case, how, shape):
    with pytest.raises(ValueError, match=msg(X, rf"\b{shape[-1]}\b")):
        _call(how, case, np.zeros(shape, np.float32))


@pytest.mark.parametrize("how", CALLS)
@pytest.mark.parametrize("shape", [(T, 0, D), (0, B, D), (0, D)], ids=["B0", "T0", "T0-2d"])
def test_x_empty(case, how, shape):
    with pytest.raises(ValueError, match=msg(X, r"\b0\b|empty")):
        _call(how, case, np.zeros(shape, np.float32))


@pytest.mark.parametrize("how", CALLS)
@pytest.mark.parametrize("bad,name", [
    (np.ones((T, B, D), np.int64), r"int"),
    (np.ones((T, B, D), np.int32), r"int"),
    (np.ones((T, B, D), np.complex128), r"complex"),
    (np.ones((T, B, D), np.complex64), r"complex"),
    (np.ones((T, B, D), bool), r"bool"),
    (np.ones((T, B, D), object), r"object|\bO\b"),
    (np.full((T, B, D), "a"), r"<U|\bstr|unicode"),
], ids=["int64", "int32", "complex128", "complex64", "bool", "object", "str"])
def test_x_non_float_dtype(case, how, bad, name):
    with pytest.raises(BAD, match=msg(X, name)):
        _call(how, case, bad)


# ---------------------------------------------------------------------------------------------
# h0


@pytest.mark.parametrize("how", CALLS)
@pytest.mark.parametrize("shape", [(L, B, H + 1), (L + 1, B, H), (L, B + 1, H), (L, H),
                                   (1, L, B, H)])
def test_h0_wrong_shape(case, how, shape):
    with pytest.raises(ValueError, match=msg(r"\bh0\b|h_0", shape_re(shape))):
        _call(how, case, case.x, np.zeros(shape, np.float32))


def test_h0_unbatched_needs_2d(case):
    x = case.x[:, 0]
    with pytest.raises(ValueError, match=msg(r"\bh0\b|h_0", shape_re((L, 1, H)))):
        case.gru(x, np.zeros((L, 1, H), np.float32))


def test_h0_complex(case):
    with pytest.raises(BAD, match=msg(r"\bh0\b|h_0", "complex")):
        case.gru(case.x, np.zeros((L, B, H), np.complex64))


# ---------------------------------------------------------------------------------------------
# lengths


@pytest.mark.parametrize("how", CALLS)
@pytest.mark.parametrize("lengths,pattern", [
    (np.array([3.0, np.nan, 2.0]), r"nan|integer|int"),
    (np.array([3.0, 1.5, 2.0]), r"1\.5|integer|int"),
    (np.array([2, -1, 3]), r"-1"),
    (np.array([2, T + 1, 3]), rf"\b{T + 1}\b"),
    (np.array([2, 3]), r"\b2\b"),
    (np.array([2, 3, 1, 1]), r"\b4\b"),
    (np.array([[2], [3], [1]]), shape_re((3, 1))),
    (np.array(["2", "3", "1"]), r"<U|\bstr|unicode|integer|int"),
], ids=["nan", "fraction", "negative", "over-T", "too-few", "too-many", "2d", "str"])
def test_lengths_invalid(case, how, lengths, pattern):
    with pytest.raises(BAD, match=msg(r"lengths", pattern)):
        _call(how, case, case.x, case.h0, lengths)


def test_lengths_with_unbatched_x(case):
    with pytest.raises(ValueError, match=msg(r"lengths")):
        case.gru(case.x[:, 0], lengths=np.array([T]))


# ---------------------------------------------------------------------------------------------
# dy, dh_n


@pytest.mark.parametrize("shape", [(T, B, H + 1), (B, T, H), (T, B), (T, B, H, 1)])
def test_dy_wrong_shape(case, shape):
    _, _, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    with pytest.raises(ValueError, match=msg(r"\bdy\b", shape_re(shape))):
        case.gru.backward(cache, np.zeros(shape, np.float32), None)


@pytest.mark.parametrize("shape", [(L, B, H + 1), (L + 1, B, H), (B, H), (L, B, H, 1)])
def test_dh_n_wrong_shape(case, shape):
    _, _, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    with pytest.raises(ValueError, match=msg(r"\bdh_n\b", shape_re(shape))):
        case.gru.backward(cache, None, np.zeros(shape, np.float32))


def test_dy_non_float(case):
    _, _, cache = case.gru.forward(case.x, case.h0)
    with pytest.raises(BAD, match=msg(r"\bdy\b", "complex")):
        case.gru.backward(cache, np.zeros((T, B, H), np.complex128))


def test_functional_backward_wrong_shapes(case):
    _, _, cache = F.gru_forward(case.x, case.params, case.h0, case.lengths)
    with pytest.raises(ValueError, match=msg(r"\bdy\b", shape_re((T, B, 2 * H)))):
        F.gru_backward(cache, np.zeros((T, B, 2 * H), np.float32))
    with pytest.raises(ValueError, match=msg(r"\bdh_n\b", shape_re((1, B, H)))):
        F.gru_backward(cache, None, np.zeros((1, B, H), np.float32))


def test_backward_without_cache(case):
    with pytest.raises(BAD, match=r"(?i)cache"):
        case.gru.backward(None, np.zeros((T, B, H), np.float32))


# ---------------------------------------------------------------------------------------------
# step / state


def test_step_state_wrong_shape(case):
    x_t = case.x[0]
    for shape in [(L, B, H + 1), (L + 1, B, H), (L, B + 1, H), (B, H)]:
        with pytest.raises(ValueError, match=msg(r"\bstate\b", shape_re(shape))):
            case.gru.step(x_t, np.zeros(shape, np.float32))


def test_step_x_wrong_shape(case):
    state = case.gru.initial_state(B)
    for shape in [(B, D + 1), (1, B, D, 1)]:
        with pytest.raises(ValueError, match=msg(X, shape_re(shape))):
            case.gru.step(np.zeros(shape, np.float32), state)
    with pytest.raises(ValueError, match=msg(r"\b1\b", r"\b3\b|batch")):  # x_t 1, state 3
        case.gru.step(np.zeros((1, D), np.float32), state)
    with pytest.raises(BAD, match=msg(X, "int")):
        case.gru.step(np.zeros((B, D), np.int64), state)


def test_step_fast_path_refuses_what_it_cannot_take(case):
    # The streaming path is a raw CPython function over the core (no pybind11 argument casting):
    # wrong arity or non-arrays must raise TypeError, never reach the kernels.
    fast = case.gru._core_step
    state = case.gru.initial_state(B)
    with pytest.raises(TypeError, match="2 arguments"):
        fast(case.x[0])
    with pytest.raises(TypeError, match=msg("NumPy arrays", "state")):
        fast(case.x[0], state.tolist())
    with pytest.raises(TypeError, match=msg("NumPy arrays", "x_t")):
        fast(None, state)


def test_step_bidirectional():
    gru = fastgru.GRU(D, H, bidirectional=True, seed=0)
    with pytest.raises(ValueError, match=r"(?i)bidirectional"):
        gru.step(np.zeros((1, D), np.float32), np.zeros((1, 1, H), np.float32))


def test_initial_state_bad_batch(case):
    for batch in (0, -1):
        with pytest.raises(ValueError, match=msg(r"batch", rf"{batch}\b")):
            case.gru.initial_state(batch)


# ---------------------------------------------------------------------------------------------
# Constructor arguments


CTOR_CASES = [
    (dict(input_size=0), ValueError, r"input_size"),
    (dict(input_size=-3), ValueError, r"input_size.*-3|-3.*input_size"),
    (dict(input_size=2.5), TypeError, r"input_size"),
    (dict(input_size="4"), TypeError, r"input_size"),
    (dict(hidden_size=0), ValueError, r"hidden_size"),
    (dict(hidden_size=-1), ValueError, r"hidden_size.*-1|-1.*hidden_size"),
    (dict(hidden_size=3.0), TypeError, r"hidden_size"),
    (dict(hidden_size=None), TypeError, r"hidden_size"),
    (dict(num_layers=0), ValueError, r"num_layers"),
    (dict(num_layers=-2), ValueError, r"num_layers"),
    (dict(dropout=-0.1), ValueError, r"dropout"),
    (dict(dropout=1.0), ValueError, r"dropout"),
    (dict(dropout=1.5), ValueError, r"dropout"),
    (dict(dropout=math.nan), ValueError, r"dropout"),
    (dict(dtype=np.int32), BAD, r"dtype"),
    (dict(dtype=np.complex64), BAD, r"dtype|complex"),
]


@pytest.mark.parametrize("kw,exc,pattern", CTOR_CASES,
                         ids=["-".join(f"{k}={v!r}" for k, v in c[0].items())
                              for c in CTOR_CASES])
def test_constructor_rejects(kw, exc, pattern):
    args = dict(input_size=4, hidden_size=5)
    args.update(kw)
    with pytest.raises(exc, match=f"(?i){pattern}"):
        fastgru.GRU(**args)


ABSURD = [dict(input_size=2**40), dict(input_size=2**70), dict(hidden_size=2**40),
          dict(hidden_size=2**31), dict(num_layers=2**40), dict(num_layers=2**20)]


@pytest.mark.parametrize("kw", ABSURD, ids=[f"{k}=2^{v.bit_length() - 1}" for d in ABSURD
                                            for k, v in d.items()])
def test_constructor_absurd_sizes(kw, tmp_path):
    # Must be refused up front (ValueError naming the argument), not attempted. Run in a child
    # whose address space is capped at 4 GiB, so an attempted allocation fails fast (or the
    # child dies) instead of swapping this machine to death.
    (name, value), = kw.items()
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "import fastgru\n"
        "args = dict(input_size=4, hidden_size=5)\n"
        f"args[{name!r}] = {value}\n"
        "try:\n"
        "    fastgru.GRU(**args)\n"
        "except BaseException as e:\n"
        "    print(type(e).__name__ + ': ' + str(e))\n"
        "else:\n"
        "    print('NO ERROR')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    out = r.stdout.strip()
    assert out.startswith("ValueError:"), out
    assert name in out, out


@pytest.mark.parametrize("p", [-0.5, 1.0, math.inf])
def test_functional_dropout_out_of_range(case, p):
    with pytest.raises(ValueError, match=r"(?i)dropout"):
        F.gru_forward(case.x, case.params, dropout=p, training=True)


# ---------------------------------------------------------------------------------------------
# Parameters: load_state_dict and functional params


def test_load_state_dict_missing_key(case):
    sd = case.gru.state_dict()
    del sd["bias_hh_l1"]
    with pytest.raises(BAD, match=r"bias_hh_l1"):
        case.gru.load_state_dict(sd)


def test_load_state_dict_extra_key(case):
    sd = case.gru.state_dict()
    sd["weight_ih_l7"] = np.zeros((3 * H, H), np.float32)
    with pytest.raises(BAD, match=r"weight_ih_l7"):
        case.gru.load_state_dict(sd)


@pytest.mark.parametrize("name,shape", [("weight_hh_l0", (3 * H, H + 1)),
                                        ("weight_ih_l0", (3 * H, D + 1)),
                                        ("weight_ih_l1", (3 * H, D)),
                                        ("bias_ih_l1", (3 * H, 1)),
                                        ("bias_hh_l0", (2 * H,))])
def test_load_state_dict_wrong_shape(case, name, shape):
    sd = case.gru.state_dict()
    sd[name] = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=msg(name, shape_re(shape))):
        case.gru.load_state_dict(sd)


def test_load_state_dict_non_float(case):
    sd = case.gru.state_dict()
    sd["weight_hh_l0"] = sd["weight_hh_l0"].astype(np.complex64)
    with pytest.raises(BAD, match=msg("weight_hh_l0", "complex")):
        case.gru.load_state_dict(sd)


def test_functional_inconsistent_params(case):
    p = dict(case.params)
    p["weight_hh_l1"] = np.zeros((3 * H, H + 2), np.float32)
    with pytest.raises(ValueError, match=msg("weight_hh_l1", shape_re((3 * H, H + 2)))):
        F.gru_forward(case.x, p)
    p = dict(case.params)
    del p["weight_hh_l0"]
    with pytest.raises(BAD, match=r"weight_hh_l0"):
        F.gru_forward(case.x, p)
    with pytest.raises(ValueError, match=r"num_layers|weight_ih_l2"):
        F.gru_forward(case.x, case.params, num_layers=3)


# ---------------------------------------------------------------------------------------------
# ISA selection


def test_set_isa_unknown_name():
    before = fastgru.get_isa()
    for name in ("sse9", "", "AVX-2 "):
        with pytest.raises(ValueError, match=msg(r"isa", rf"{name.strip() or 'isa'}")):
            fastgru.set_isa(name)
        assert fastgru.get_isa() == before  # a failed set changes nothing


def test_set_isa_unsupported_by_cpu():
    missing = [n for n in ("avx2", "avx512") if n not in fastgru.available_isas()]
    if not missing:
        pytest.skip("this CPU runs every ISA; nothing to refuse")
    with pytest.raises(ValueError, match=missing[0]):
        fastgru.set_isa(missing[0])


def test_use_isa_unknown_name():
    before = fastgru.get_isa()
    with pytest.raises(ValueError, match=r"bogus"):
        with fastgru.use_isa("bogus"):
            pass
    assert fastgru.get_isa() == before


def test_env_unknown_isa_is_a_clean_error(tmp_path):
    # FASTGRU_ISA=bogus: a Python exception naming the value, never a crash or abort.
    code = ("import numpy as np, fastgru\n"
            "g = fastgru.GRU(3, 4, seed=0)\n"
            "g(np.zeros((2, 1, 3), np.float32))\n"
            "print('ISA', fastgru.get_isa())\n")
    env = dict(os.environ, FASTGRU_ISA="bogus")
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" in r.stderr and "bogus" in r.stderr, r.stderr
    assert "FASTGRU_ISA" in r.stderr, r.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_env_bad_num_threads_is_a_clean_error(tmp_path, value):
    code = ("import numpy as np, fastgru\n"
            "fastgru.GRU(3, 4, seed=0)(np.zeros((2, 1, 3), np.float32))\n"
            "print(fastgru.get_num_threads())\n")
    env = dict(os.environ, FASTGRU_NUM_THREADS=value)
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "FASTGRU_NUM_THREADS" in r.stderr and value in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------------
# Inputs are never modified; read-only, strided and byte-swapped inputs work.


def _frozen(a):
    if a is None:
        return None
    a = np.array(a)
    a.flags.writeable = False
    return a


def test_inputs_not_modified_and_read_only_accepted(rng):
    case = build_case(rng, D=D, H=H, T=T, B=B, L=L, bidir=True, lengths=True,
                      dtype=np.float64)
    dy, dh_n = cotangents(rng, case)
    given = dict(x=case.x, h0=case.h0, lengths=case.lengths, dy=dy, dh_n=dh_n)
    before = {k: v.copy() for k, v in given.items()}
    y, h_n, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    grads = case.gru.backward(cache, dy, dh_n)
    case.gru(case.x, case.h0, lengths=case.lengths)
    for k in given:
        assert_close(given[k], before[k], EXACT[case.dtype], f"{k} was modified")

    ro = {k: _frozen(v) for k, v in dict(x=case.x, h0=case.h0, lengths=case.lengths,
                                          dy=dy, dh_n=dh_n).items()}
    snapshot = {k: v.copy() for k, v in ro.items()}
    y2, h2, cache2 = case.gru.forward(ro["x"], ro["h0"], lengths=ro["lengths"])
    grads2 = case.gru.backward(cache2, ro["dy"], ro["dh_n"])
    y3, h3 = case.gru(ro["x"], ro["h0"], lengths=ro["lengths"])
    ex = EXACT[case.dtype]
    for k in ro:
        assert_close(ro[k], snapshot[k], ex, f"{k} was modified")
    assert_close(y2, y, ex, "y, read-only inputs")
    assert_close(h2, h_n, ex, "h_n, read-only inputs")
    assert_close(y3, y, ex, "y (__call__), read-only inputs")
    assert_close(h3, h_n, ex, "h_n (__call__), read-only inputs")
    for k in grads:
        assert_close(grads2[k], grads[k], ex, f"d{k}, read-only inputs")

    # Returned arrays do not alias the inputs or each other's storage.
    assert not np.shares_memory(y2, ro["x"]) and not np.shares_memory(grads2["x"], ro["x"])

    # Functional: params (read-only) and everything else untouched.
    params = {k: _frozen(v) for k, v in case.params.items()}
    p_snap = {k: v.copy() for k, v in params.items()}
    _, _, fc = F.gru_forward(ro["x"], params, ro["h0"], ro["lengths"])
    F.gru_backward(fc, ro["dy"], ro["dh_n"])
    for k in params:
        assert_close(params[k], p_snap[k], ex, f"param {k} was modified")

    # load_state_dict keeps no reference to (and does not modify) the caller's arrays.
    sd = {k: np.array(v) for k, v in case.gru.state_dict().items()}
    sd_snap = {k: v.copy() for k, v in sd.items()}
    case.gru.load_state_dict(sd)
    for k in sd:
        assert_close(sd[k], sd_snap[k], ex, f"state_dict {k} was modified")
        sd[k][...] = 0  # must not reach the model
    y4, _ = case.gru(case.x, case.h0, lengths=case.lengths)
    assert_close(y4, y, ex, "model changed after editing the loaded dict")


def test_step_does_not_modify_inputs(rng):
    case = build_case(rng, D=D, H=H, B=B, L=L, dtype=np.float32)
    x_t = _frozen(case.x[0])
    state = _frozen(rng.uniform(-1, 1, (L, B, H)).astype(np.float32))
    snap_x, snap_s = x_t.copy(), state.copy()
    y_t, new_state = case.gru.step(x_t, state)
    assert_close(x_t, snap_x, EXACT[case.dtype], "x_t modified")
    assert_close(state, snap_s, EXACT[case.dtype], "state modified")
    assert not np.shares_memory(new_state, state)


def _strided_variants(a):
    """Views of the same values with other memory layouts (all non C-contiguous)."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    rev = np.ascontiguousarray(a[::-1])[::-1]
    return {"every-other": big[..., ::2], "fortran": np.asfortranarray(a),
            "reversed": rev, "byteswapped": a.astype(a.dtype.newbyteorder(">")),
            "transposed-back": np.ascontiguousarray(np.moveaxis(a, 0, -1)).transpose(
                (a.ndim - 1,) + tuple(range(a.ndim - 1)))}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_strided_inputs_match_contiguous(rng, dtype):
    case = build_case(rng, D=9, H=H, T=T, B=B, L=L, bidir=True, lengths=True, dtype=dtype)
    dy, dh_n = cotangents(rng, case)
    y, h_n, cache = case.gru.forward(case.x, case.h0, lengths=case.lengths)
    grads = case.gru.backward(cache, dy, dh_n)
    ex = EXACT[case.dtype]
    xs, hs = _strided_variants(case.x), _strided_variants(case.h0)
    dys, dhs = _strided_variants(dy), _strided_variants(dh_n)
    long_lens = np.repeat(case.lengths.astype(np.int32), 2)  # int32, stride 2
    for kind in xs:
        assert not xs[kind].flags.c_contiguous or kind == "byteswapped"
        yv, hv, cv = case.gru.forward(xs[kind], hs[kind], lengths=long_lens[::2])
        assert_close(yv, y, ex, f"y with {kind} inputs")
        assert_close(hv, h_n, ex, f"h_n with {kind} inputs")
        gv = case.gru.backward(cv, dys[kind], dhs[kind])
        for k in grads:
            assert_close(gv[k], grads[k], ex, f"d{k} with {kind} inputs")

    # Strided / Fortran parameters in load_state_dict and functional.
    sd = {k: np.asfortranarray(v) if v.ndim == 2 else v for k, v in case.params.items()}
    case.gru.load_state_dict(sd)
    assert_close(case.gru(case.x, case.h0, lengths=case.lengths)[0], y, ex,
                 "y after loading Fortran-ordered weights")
    yf, _, _ = F.gru_forward(case.x, sd, case.h0, case.lengths)
    assert_close(yf, y, ex, "functional y with Fortran-ordered weights")


def test_broadcast_h0_accepted(rng):
    # np.broadcast_to gives a read-only array with zero strides.
    case = build_case(rng, D=D, H=H, T=T, B=B, L=L, h0=False)
    row = rng.uniform(-1, 1, (1, 1, H)).astype(np.float32)
    h0 = np.broadcast_to(row, (L, B, H))
    y, h_n = case.gru(case.x, h0)
    y2, h2 = case.gru(case.x, np.ascontiguousarray(h0))
    assert_close(y, y2, EXACT[case.dtype], "y with broadcast h0")
    assert_close(h_n, h2, EXACT[case.dtype], "h_n with broadcast h0")


def test_backward_refuses_a_cache_from_other_weights():
    """A cache belongs to the weights that made it: another model's cache, or one made before
    load_state_dict changed the weights, would give gradients of the wrong function."""
    import fastgru

    x = np.zeros((3, 2, 4), np.float32)
    gru, other = fastgru.GRU(4, 5, seed=0), fastgru.GRU(4, 5, seed=1)
    _, _, cache = other.forward(x)
    with pytest.raises(ValueError, match="cache.*another model"):
        gru.backward(cache)
    _, _, cache = gru.forward(x)
    gru.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="cache.*weights changed"):
        gru.backward(cache)
    with pytest.raises(TypeError, match="cache must come from"):
        gru.backward({"not": "a cache"})
