"""Optional dependencies: imported only when a feature needs them, and when one is missing the
error says which `pip install fastgru[...]` extra brings it."""

from __future__ import annotations

import importlib
from types import ModuleType

# module -> the extra that installs it
EXTRAS = {
    "torch": "torch",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "keras": "keras",
    "dask": "dask",
    "distributed": "dask",
    "ray": "ray",
    "openvino": "bench",
    "matplotlib": "bench",
}


def require(module: str, purpose: str) -> ModuleType:
    """`import module`, or a ModuleNotFoundError naming `purpose` and the extra to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.partition(".")[0]
        if e.name is None or e.name.partition(".")[0] != top:
            raise  # the package is there but something it imports is not: its own error is clearer
        extra = EXTRAS.get(top, top)
        raise ModuleNotFoundError(f"{purpose} needs {top}, which is not installed: "
                                  f"pip install 'fastgru[{extra}]'", name=e.name) from e
