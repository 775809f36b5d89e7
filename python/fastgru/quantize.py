"""Reduced-precision inference models: GRU.quantized(precision).

``"bf16"``: the weights are rounded once to bfloat16 (to nearest even; values below bfloat16's
smallest normal become zero) and stored so; every weight product rounds its other input (x, h)
to bfloat16 as well and accumulates pairs of products in float32, exactly as AVX512_BF16's
vdpbf16ps does (natively where the CPU has it, emulated bit for bit elsewhere). Biases, batch
norm, gates and state stay float32. Such a model is for inference: __call__, step, save/load,
state_dict (the rounded weights, as float32 arrays that hold them exactly).

``"int8"``: each output row of a weight is stored as int8 values q and one scale s (symmetric:
s = max|row| / 127, q = round-half-even(w / s)); each weight product quantizes its input rows
the same way at run time (one scale per row, dynamically, as torch's dynamic quantized GRU) and
sums the products exactly in int32 (vpdpbusd where the CPU has AVX512_VNNI, exact emulations
elsewhere), then scales the sum back to float32. The stored weights are q * s as float32; s is
picked (within a few ulp of max|row| / 127) so that the core recovers q and s from them exactly.
"""

from __future__ import annotations

import numpy as np

PRECISIONS = ("float32", "bf16", "int8")
MAX_INT8_K = 65536  # the core's kMaxInt8K: its int32 sums of that many products cannot overflow


def rounding(precision: str):
    """The function that puts a weight on the precision's grid (None for float32)."""
    return {"bf16": lambda w, name: round_to_bf16(w), "int8": round_to_int8_grid}.get(precision)


def check_precision(precision: object, dtype: np.dtype) -> str:
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    if precision != "float32" and dtype != np.float32:
        raise ValueError(f"precision={precision!r} is for float32 models (its products accumulate in float32); "
                         f"this model has dtype={dtype.name}")
    return precision


def round_to_bf16(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to bfloat16 (nearest even, NaN kept quiet, subnormal results flushed to
    a signed zero), as float32: the same rounding as the core's (kernels/bf16_convert.h)."""
    u = np.ascontiguousarray(a, np.float32).view(np.uint32)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    with np.errstate(over="ignore"):  # NaN patterns may wrap; they are replaced below
        r = (u + np.uint32(0x7FFF) + ((u >> 16) & 1)) >> 16
    r = np.where(nan, (u >> 16) | 0x40, r)
    r = np.where((r & 0x7F80) == 0, r & 0x8000, r)
    return (r.astype(np.uint32) << 16).view(np.float32).reshape(np.shape(a))


def is_weight(name: str) -> bool:
    """The parameters a reduced precision stores rounded (biases and batch norm stay float32)."""
    return name.startswith(("weight_ih_", "weight_hh_"))


def _is_fixed_point(s: np.ndarray) -> np.ndarray:
    """Whether the core, given the row's largest stored value 127 * s, finds the scale s again."""
    f = np.float32
    with np.errstate(over="ignore"):
        return (((f(127) * s).astype(f) / f(127)).astype(f) == s) | (s == 0)


def round_to_int8_grid(w: np.ndarray, name: str = "weight") -> np.ndarray:
    """Each row of a 2-D float32 weight as q * s (see the module docstring), as float32."""
    w = np.ascontiguousarray(w, np.float32)
    if not np.isfinite(w).all():
        raise ValueError(f"{name}: int8 weights need finite values")
    f = np.float32
    m = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(w.shape[0], f)
    s = (m / f(127)).astype(f)
    for step in (1, -1, 2, -2, 3, -3):  # the nearest scales that are fixed points
        bad = ~_is_fixed_point(s)
        if not bad.any():
            break
        trial = s.copy()
        for _ in range(abs(step)):
            trial = np.nextafter(trial, f(np.inf) if step > 0 else f(0)).astype(f)
        s = np.where(bad & _is_fixed_point(trial), trial, s)
    bad = ~_is_fixed_point(s)
    if bad.any():  # a power of two always is one (127 * 2^e and its division by 127 are exact)
        s = np.where(bad, (2.0 ** np.ceil(np.log2(m / 127.0))).astype(f), s)
    safe = np.where(s > 0, s, f(1))[:, None]
    q = np.clip(np.rint(w / safe), -127, 127)
    return (q.astype(f) * np.where(s > 0, s, f(0))[:, None]).astype(f)
