"""fastgru: fast GRU forward and backward on the CPU, NumPy in and out.

>>> import numpy as np, fastgru
>>> gru = fastgru.GRU(input_size=8, hidden_size=16, seed=0)
>>> y, h_n = gru(np.zeros((5, 2, 8), np.float32))
>>> y.shape, h_n.shape
((5, 2, 16), (1, 2, 16))
"""

from __future__ import annotations

__version__ = "0.1.0"

try:
    from . import _core
except ImportError as e:  # pragma: no cover - only in a broken install
    raise ImportError(
        "fastgru's compiled core (fastgru._core) could not be imported; was the package built? "
        "Install it with `pip install .` from the source tree."
    ) from e

from . import functional, optim
from .errors import FormatError
from .gru import GRU, load
from .onnx import load_onnx  # fastgru.onnx imports the onnx package only inside its functions
from .runtime import (available_isas, get_isa, get_num_threads, get_wait_policy, info, set_isa, set_num_threads,
                      set_wait_policy, use_isa, use_num_threads)
from .cuda import cuda_available  # the optional CUDA backend: fastgru.cuda (docs/CUDA.md)

__all__ = [
    "cuda_available",
    "GRU",
    "load",
    "load_onnx",
    "FormatError",
    "functional",
    "optim",
    "available_isas",
    "get_isa",
    "set_isa",
    "use_isa",
    "set_num_threads",
    "get_num_threads",
    "use_num_threads",
    "set_wait_policy",
    "get_wait_policy",
    "info",
    "__version__",
]
