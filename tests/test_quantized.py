"""Reduced-precision inference models: GRU.quantized("bf16") and GRU.quantized("int8").

Oracles: the bf16 and int8 GEMMs against NumPy emulations of vdpbf16ps's / vpdpbusd's arithmetic
(bit for bit, every ISA, native and emulated); each step of a reduced model against a float64
step from the model's own previous state with the same roundings; layers, directions, steps,
batch positions and thread counts against each other (bit for bit); and the float32 model
(accuracy).
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import reference
from tolerances import BF16_VS_F32, EXACT, F32, FORWARD, INT8_VS_F32, assert_close

fastgru = pytest.importorskip("fastgru")
from fastgru import _core  # noqa: E402
from fastgru.quantize import round_to_bf16, round_to_int8_grid  # noqa: E402

PRECISIONS = ("bf16", "int8")
VS_F32 = {"bf16": BF16_VS_F32, "int8": INT8_VS_F32}


def emulated_bf16_matmul(a, w, bias):
    """vdpbf16ps's arithmetic in NumPy float32: a and w rounded to bf16, k in pairs (odd k first),
    one float32 chain per 128 pairs, slices added in order, bias after the first."""
    a, w = round_to_bf16(a), round_to_bf16(w)
    if a.shape[1] % 2:
        a, w = np.pad(a, ((0, 0), (0, 1))), np.pad(w, ((0, 0), (0, 1)))
    pairs = a.shape[1] // 2
    out = None
    for q0 in range(0, pairs, 128):
        acc = np.zeros((a.shape[0], w.shape[0]), np.float32)
        for q in range(q0, min(pairs, q0 + 128)):
            for kk in (2 * q + 1, 2 * q):  # each product of two bf16 is exact in float32
                acc = acc + np.outer(a[:, kk], w[:, kk]).astype(np.float32)
        out = acc + bias if out is None else out + acc
    return out


def quantized_rows(x):
    """Each row as (q, s) the core's way: s = float32(max|row| / 127), q = rint(row / s)."""
    x = np.asarray(x, np.float32)
    s = (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float32)
    q = np.where(s[:, None] > 0, np.rint(x / np.where(s > 0, s, 1)[:, None]), 0)
    return np.clip(q, -127, 127).astype(np.int64), s


def emulated_int8_matmul(a, w, bias):
    """vpdpbusd's sums in NumPy (exact integers), then float32(sum) * (s_a * s_w) + bias fused."""
    qa, sa = quantized_rows(a)
    qw, sw = quantized_rows(w)
    scale = (sa[:, None] * sw[None, :]).astype(np.float32)
    # float64 holds the product of two float32 exactly, so one rounding to float32 remains (as the FMA's).
    return ((qa @ qw.T).astype(np.float32).astype(np.float64) * scale + bias).astype(np.float32)


def rounded_inputs(precision, x):
    """What a product's input becomes before it is multiplied (float64)."""
    x = np.asarray(x, np.float32)
    if precision == "bf16":
        return round_to_bf16(x).astype(np.float64)
    q, s = quantized_rows(x)
    return q * s.astype(np.float64)[:, None]


def test_rounding_is_to_nearest_even_with_flushed_subnormals():
    x = np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-9), 3.4e38, -np.inf, 1e-39, -1e-39,
                  np.finfo(np.float32).tiny, 0.0, -0.0], np.float32)
    expected = np.array([1.0, 1.0, 1 + 2**-6, -1.0, np.inf, -np.inf, 0.0, -0.0,
                         np.finfo(np.float32).tiny, 0.0, -0.0], np.float32)
    r = round_to_bf16(x)
    assert np.array_equal(r, expected) and np.array_equal(np.signbit(r), np.signbit(expected))
    assert np.isnan(round_to_bf16(np.array([np.nan], np.float32)))[0]
    # The core's rounding is the same: a k=1 product with weight 1 returns the rounded input.
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((50, 1)) * 10.0 ** rng.integers(-30, 30, (50, 1))).astype(np.float32)
    assert np.array_equal(_core.bf16_matmul(a, np.ones((1, 1), np.float32)), round_to_bf16(a))


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (1, 17, 9), (2, 33, 300), (3, 100, 257), (9, 64, 512),
                                   (11, 24, 515), (13, 24, 515), (97, 40, 600), (200, 31, 65), (8, 16, 2)])
def test_bf16_matmul_is_the_emulation_bit_for_bit(isa, m, n, k):
    rng = np.random.default_rng(m * 1000 + n + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    assert_close(_core.bf16_matmul(a, w, bias), emulated_bf16_matmul(a, w, bias), EXACT[F32], f"{isa} {m}x{n}x{k}")


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (1, 17, 9), (2, 33, 300), (3, 100, 257), (9, 64, 512),
                                   (97, 40, 600), (200, 31, 65), (8, 16, 4), (5, 3, 1030), (13, 24, 515)])
def test_int8_matmul_is_the_emulation_bit_for_bit(isa, m, n, k):
    rng = np.random.default_rng(m * 1000 + n + k)
    a = (rng.standard_normal((m, k)) * 10.0 ** rng.integers(-3, 3, (m, 1))).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    a[0, :] = 0.0  # a zero row: scale 0
    assert_close(_core.int8_matmul(a, w, bias), emulated_int8_matmul(a, w, bias), EXACT[F32], f"{isa} {m}x{n}x{k}")


def test_int8_rows_with_nan_or_infinity_give_nan(isa):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 20)).astype(np.float32)
    a[2, 3], a[4, 0] = np.nan, -np.inf
    out = _core.int8_matmul(a, rng.standard_normal((7, 20)).astype(np.float32))
    assert np.isnan(out[[2, 4]]).all() and np.isfinite(out[[0, 1, 3]]).all()


def test_int8_rows_at_the_float_limits(isa):
    """Row scales from max |x| at the edges of float32: subnormal, largest finite, signed zeros;
    a NaN with its sign bit set still makes its row NaN."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal((6, 37)).astype(np.float32)
    a[0] *= np.float32(1e-41)  # subnormal values: a subnormal or zero scale
    a[1, 5] = np.finfo(np.float32).max
    a[2] = -0.0
    a[3, 36] = -np.finfo(np.float32).max
    a[4, 7] = -np.float32(np.nan)
    w = (rng.standard_normal((9, 37)) * 1e-12).astype(np.float32)  # keeps the largest rows finite
    bias = rng.standard_normal(9).astype(np.float32)
    out = _core.int8_matmul(a, w, bias)
    assert np.isnan(out[4]).all() and np.isfinite(np.delete(out, 4, axis=0)).all()
    finite_rows = [0, 1, 2, 3, 5]
    assert_close(out[finite_rows], emulated_int8_matmul(a[finite_rows], w, bias), EXACT[F32], isa)


def test_int8_grid_is_a_fixed_point_the_core_recovers():
    """The stored weights q * s give back q and s by the core's rule (max|row| / 127, rint), so
    the core multiplies with exactly the int8 values and scales the model stores."""
    rng = np.random.default_rng(4)
    w = (rng.standard_normal((4000, 37)) * 10.0 ** rng.integers(-30, 30, (4000, 1))).astype(np.float32)
    w[5] = 0.0
    d = round_to_int8_grid(w)
    q, s = quantized_rows(d)
    assert np.array_equal((q * s[:, None]).astype(np.float32), d)
    assert np.array_equal(round_to_int8_grid(d), d)
    # within half a step of the weight it came from (the scale moved at most a few ulp)
    assert np.all(np.abs(d.astype(np.float64) - w) <= 0.5 * s[:, None] * 1.001)
    with pytest.raises(ValueError, match="finite"):
        round_to_int8_grid(np.array([[1.0, np.nan]], np.float32))


@pytest.mark.parametrize("precision,variable", [("bf16", "FASTGRU_BF16_EMULATE"), ("int8", "FASTGRU_INT8_EMULATE")])
def test_native_and_emulated_instructions_agree(precision, variable):
    """Where the CPU has AVX512_BF16 / AVX512_VNNI, the avx512 table uses vdpbf16ps / vpdpbusd;
    FASTGRU_BF16_EMULATE=1 / FASTGRU_INT8_EMULATE=1 make it use the emulation. Same bits, tiny and
    huge magnitudes included."""
    script = (f"import numpy as np, sys; from fastgru import _core; matmul = _core.{precision}_matmul\n"
              "rng = np.random.default_rng(1)\n"
              "a = (rng.standard_normal((37, 301)) * 10.0 ** rng.integers(-20, 20, (37, 301))).astype(np.float32)\n"
              "w = (rng.standard_normal((45, 301)) * 10.0 ** rng.integers(-20, 20, (45, 301))).astype(np.float32)\n"
              "sys.stdout.buffer.write(matmul(a, w).tobytes())\n")
    outs = []
    for emulate in ("0", "1"):  # "0": the instruction itself (no timing picks the emulation)
        env = dict(os.environ, **{variable: emulate})
        outs.append(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=True,
                                   timeout=120).stdout)
    assert outs[0] == outs[1]


def _reference_step(precision, x_t, h, p, reset_after):
    """One float64 step of the standard cell with every product's inputs rounded as the precision's."""
    r16 = lambda v: rounded_inputs(precision, v)  # noqa: E731
    W_ih, W_hh, b_ih, b_hh = (p[k].astype(np.float64) for k in ("weight_ih_l0", "weight_hh_l0",
                                                               "bias_ih_l0", "bias_hh_l0"))
    H = h.shape[1]
    gi = r16(x_t) @ W_ih.T + b_ih
    if reset_after:
        gh = r16(h) @ W_hh.T + b_hh
        r = reference._sigmoid(gi[:, :H] + gh[:, :H])
        z = reference._sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    else:
        gh = r16(h) @ W_hh[:2 * H].T + b_hh[:2 * H]
        r = reference._sigmoid(gi[:, :H] + gh[:, :H])
        z = reference._sigmoid(gi[:, H:2 * H] + gh[:, H:])
        # r * h in float32, as the core forms it before rounding it for W_hn.
        rh = (r.astype(np.float32) * h.astype(np.float32))
        n = np.tanh(gi[:, 2 * H:] + r16(rh) @ W_hh[2 * H:].T + b_hh[2 * H:])
    return (1 - z) * n + z * h


FORMS = {
    "gru": dict(), "reset_before": dict(reset_after=False), "mgu": dict(cell="mgu"),
    "gates_type2": dict(gates="type2"), "candidate_update": dict(update="candidate"),
}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("hidden,din", [(1, 1), (7, 9), (17, 33), (33, 300)])
def test_each_step_matches_a_float64_step_with_the_same_roundings(isa, precision, form, hidden, din):
    """From the model's own previous state (so no rounding flip can compound), every step is the
    float64 cell on product inputs rounded as the precision rounds them, to float32 rounding."""
    rng = np.random.default_rng(hidden * 31 + din)
    q = fastgru.GRU(din, hidden, seed=2, **FORMS[form]).quantized(precision)
    std = q.to_standard()  # the core's cell: the parameters this form maps to
    assert std.precision == precision
    p = {k: v.astype(np.float64) for k, v in std.state_dict().items()}
    x = rng.standard_normal((9, 3, din)).astype(np.float32)
    h0 = (rng.standard_normal((1, 3, hidden)) * 0.5).astype(np.float32)
    y, h_n = q(x, h0)
    for t in range(9):
        h_prev = (h0[0] if t == 0 else y[t - 1]).astype(np.float64)
        expected = _reference_step(precision, x[t], h_prev, p, std.reset_after)
        assert_close(y[t], expected, FORWARD[F32], f"{isa} {form} step {t}")


def _bitwise(a, b, what):
    assert_close(a, b, EXACT[F32], what)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_layers_directions_steps_batch_positions_and_threads_agree_bit_for_bit(isa, precision, restore_threads):
    rng = np.random.default_rng(5)
    m = fastgru.GRU(13, 20, num_layers=2, bidirectional=True, seed=3)
    q = m.quantized(precision)
    x = rng.standard_normal((11, 5, 13)).astype(np.float32)
    lengths = np.array([11, 3, 7, 1, 11])
    y, h_n = q(x, lengths=lengths)
    for b in range(5):  # a sequence alone, at its own length, is the same as in the batch
        L = lengths[b]
        yb, hb = q(x[:L, b:b + 1])
        _bitwise(yb[:, 0], y[:L, b], f"{isa} sequence {b}")
        _bitwise(hb[:, 0], h_n[:, b], f"{isa} h_n of sequence {b}")
    fastgru.set_num_threads(1)
    y1, h1 = q(x, lengths=lengths)
    _bitwise(y1, y, f"{isa} 1 thread vs default")
    # streaming steps == the whole sequence (unidirectional, 2 layers)
    u = fastgru.GRU(13, 20, num_layers=2, seed=4).quantized(precision)
    ys, state = [], u.initial_state(5)
    for t in range(11):
        y_t, state = u.step(x[t], state)
        ys.append(y_t)
    yu, hu = u(x)
    _bitwise(np.stack(ys), yu, f"{isa} step vs sequence")
    _bitwise(state, hu, f"{isa} step state vs h_n")


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("kind", ["gru", "reset_before", "bidirectional_2_layers", "ligru"])
def test_accuracy_against_the_float32_model(precision, kind):
    rng = np.random.default_rng(7)
    kwargs = dict(reset_before=dict(reset_after=False), bidirectional_2_layers=dict(bidirectional=True, num_layers=2),
                  ligru=dict(cell="ligru")).get(kind, {})
    m = fastgru.GRU(64, 96, seed=1, **kwargs)
    q = m.quantized(precision)
    x = rng.standard_normal((40, 8, 64)).astype(np.float32)
    lengths = rng.integers(1, 41, 8)
    y, h = m(x, lengths=lengths)
    yq, hq = q(x, lengths=lengths)
    assert_close(yq, y, VS_F32[precision], f"{precision} {kind} y")
    assert_close(hq, h, VS_F32[precision], f"{precision} {kind} h_n")
    assert np.abs(yq - y).max() > 0  # it really ran in bf16


@pytest.mark.parametrize("precision", PRECISIONS)
def test_stored_weights_are_the_rounded_ones_and_survive_every_copy(tmp_path, precision):
    m = fastgru.GRU(6, 5, num_layers=2, seed=0)
    q = m.quantized(precision)
    assert q.precision == precision and m.precision == "float32"
    assert f"precision={precision!r}" in repr(q)
    rounded = round_to_bf16 if precision == "bf16" else round_to_int8_grid
    sd = q.state_dict()
    for k, v in m.state_dict().items():
        expected = rounded(v) if k.startswith("weight_") else v
        assert np.array_equal(sd[k], expected), k
        assert sd[k].dtype == np.float32
    x = np.random.default_rng(0).standard_normal((4, 2, 6)).astype(np.float32)
    y = q(x)[0]
    q.save(tmp_path / "q.npz")
    for copy_of_q in (fastgru.load(tmp_path / "q.npz"), pickle.loads(pickle.dumps(q)),
                      __import__("copy").deepcopy(q)):
        assert copy_of_q.precision == precision
        _bitwise(copy_of_q(x)[0], y, "copy")
    # load_state_dict rounds what it is given, as quantized() did
    q.load_state_dict(m.state_dict())
    _bitwise(q(x)[0], y, "reloaded float32 weights")
    # a model constructed with precision= is the same as quantized()
    direct = fastgru.GRU(6, 5, num_layers=2, seed=0, precision=precision)
    _bitwise(direct(x)[0], y, f"GRU(precision={precision!r})")


def test_what_a_bf16_model_refuses():
    m = fastgru.GRU(4, 3, seed=0)
    q = m.quantized("bf16")
    x = np.zeros((2, 1, 4), np.float32)
    with pytest.raises(ValueError, match="inference only"):
        q.forward(x)
    with pytest.raises(ValueError, match="converts a float32 model"):
        q.quantized("bf16")
    with pytest.raises(ValueError, match="dtype=float64"):
        fastgru.GRU(4, 3, dtype=np.float64).quantized("bf16")
    with pytest.raises(ValueError, match="for float32 models"):
        fastgru.GRU(4, 3, dtype=np.float64, precision="bf16")
    with pytest.raises(ValueError, match="precision must be one of"):
        m.quantized("fp8")
    with pytest.raises(ValueError, match="precision must be one of"):
        fastgru.GRU(4, 3, precision=16)
    with pytest.raises(ValueError, match="export the float32 model"):
        q.to_keras_weights()
    with pytest.raises(ValueError, match="CPU inference format"):
        fastgru.GRU(4, 3, precision="int8", device="cuda")
    with pytest.raises(ValueError, match="at most 65536"):
        fastgru.GRU(65537, 2, precision="int8")
    with pytest.raises(ValueError, match="finite"):
        fastgru.GRU(4, 3, precision="int8").load_state_dict({"weight_hh_l0": np.full((9, 3), np.inf, np.float32)},
                                                            strict=False)
