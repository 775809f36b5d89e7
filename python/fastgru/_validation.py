"""Argument checks shared by the GRU class and the functional API.

Every problem becomes a ValueError or TypeError that names the argument and the offending
shape or value, before anything reaches the compiled core.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

# Larger sizes would overflow buffer arithmetic long before any machine could hold them.
MAX_SIZE = 1 << 24


def check_size(name: str, value: Any, *, minimum: int = 1, maximum: int = MAX_SIZE) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum or value > maximum:
        raise ValueError(f"{name} must be in [{minimum}, {maximum}], got {value}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of a fixed set of strings; anything else (a non-string too) is a ValueError naming it."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_dropout(value: Any, name: str = "dropout") -> float:
    """A probability in [0, 1): dropout, recurrent_dropout, zoneout."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(value).__name__} {value!r}")
    value = float(value)
    if not 0.0 <= value < 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from e
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def float_array(name: str, value: Any, dtype: np.dtype) -> np.ndarray:
    """A C-contiguous array of `dtype` holding `value` (a copy when needed; never the caller's
    array when a conversion happens, so inputs are never modified)."""
    if type(value) is np.ndarray and value.dtype == dtype and value.flags.c_contiguous:
        return value  # the common case, kept cheap for per-step calls
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point array, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=dtype, order="C")  # not ascontiguousarray: it makes a 0-d array 1-d


def lengths_array(lengths: Any, batch: int, steps: int, minimum: int = 1) -> np.ndarray:
    """lengths (B,) as int64, each in [minimum, steps] (0 allowed where the caller runs empty
    sequences itself: fastgru._sequences)."""
    arr = lengths if isinstance(lengths, np.ndarray) else np.asarray(lengths)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"lengths must be an integer array, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise ValueError(f"lengths must have shape ({batch},) (one per sequence), got {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"lengths must be finite integers, got {arr.tolist()}")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"lengths must be whole numbers, got {arr.tolist()}")
    bad = (arr < minimum) | (arr > steps)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"lengths[{i}] = {arr[i]} is outside [{minimum}, {steps}] (the sequence length)")
    return np.ascontiguousarray(arr, dtype=np.int64)


def check_shape(name: str, arr: np.ndarray, expected: tuple[int, ...]) -> None:
    if arr.shape != tuple(expected):
        raise ValueError(f"{name} has shape {arr.shape}, expected {tuple(expected)}")
