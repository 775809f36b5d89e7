"""Type aliases of the public API (numpy.typing): what a method accepts and what it returns."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

# An input array: NumPy or anything NumPy converts (lists, objects with __array__); float32 or
# float64 data, strided or not (a copy is made where the core needs one).
ArrayIn = npt.ArrayLike
OptionalArrayIn = Optional[npt.ArrayLike]
# What the models return: float32 or float64 NumPy arrays, the model's dtype.
FloatArray = npt.NDArray[np.floating[Any]]
