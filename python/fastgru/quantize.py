"""Reduced-precision inference models: GRU.quantized(precision).

``"bf16"``: the weights are rounded once to bfloat16 (to nearest even; values below bfloat16's
smallest normal become zero) and stored so; every weight product rounds its other input (x, h)
to bfloat16 as well and accumulates pairs of products in float32, exactly as AVX512_BF16's
vdpbf16ps does (natively where the CPU has it, emulated bit for bit elsewhere). Biases, batch
norm, gates and state stay float32. Such a model is for inference: __call__, step, save/load,
state_dict (the rounded weights, as float32 arrays that hold them exactly).
"""

from __future__ import annotations

import numpy as np

PRECISIONS = ("float32", "bf16")


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
