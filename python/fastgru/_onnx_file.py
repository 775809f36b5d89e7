"""Reading an ONNX model from outside without trusting it (load_onnx's file handling).

- ``read_model``: parses a path, bytes or ModelProto without loading external data (onnx's own
  loader would resolve it relative to the current directory for bytes, and follow any path).
- ``tensor_array``: one TensorProto as a float32/float64 array, its dims checked against the data
  present (inline, or external data read from inside ``base_dir`` only) before allocating.

Malformed content raises FormatError naming the model; the parser's exception is chained.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import PureWindowsPath
from typing import Any

import numpy as np

from ._optional import require
from .errors import FormatError, source_name

__all__ = ["read_model", "tensor_array"]

MAX_DIMS = 32  # far above a GRU weight's 3; bounds the product's cost for a tensor claiming many


def _check_base_dir(base_dir: Any) -> str | None:
    if base_dir is None:
        return None
    if not isinstance(base_dir, (str, os.PathLike)):
        raise TypeError(f"base_dir must be a path or None, got {type(base_dir).__name__}")
    base_dir = os.fspath(base_dir)
    if not os.path.isdir(base_dir):
        raise ValueError(f"base_dir {base_dir!r} is not a directory")
    return base_dir


def read_model(source: Any, base_dir: Any = None) -> tuple[Any, str, str | None]:
    """(model, how messages name it, the directory external data may be read from or None).

    A path's external data is read from beside it unless base_dir says otherwise; bytes and a
    ModelProto read no file unless base_dir is given."""
    onnx = require("onnx", "fastgru.load_onnx")

    base_dir = _check_base_dir(base_dir)
    name = source_name(source)
    if isinstance(source, onnx.ModelProto):
        model, name = source, "<ModelProto>"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        try:
            model = onnx.load_from_string(bytes(source))
        except Exception as e:  # protobuf's DecodeError and whatever else its parser raises
            raise FormatError(f"{name}: not an ONNX model (the protobuf cannot be parsed): {e}") from e
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            model = onnx.load(path, load_external_data=False)
        except OSError:
            raise  # a missing or unreadable file, not a format problem
        except Exception as e:
            raise FormatError(f"{name}: not an ONNX model (the protobuf cannot be parsed): {e}") from e
        if base_dir is None:
            base_dir = os.path.dirname(os.path.abspath(path))
    else:
        raise TypeError(f"load_onnx expects a path, bytes or onnx.ModelProto, got {type(source).__name__}")
    # Most byte strings parse as some protobuf (unknown fields are skipped): a model has these.
    if model.ir_version < 1 or not model.HasField("graph"):
        raise FormatError(f"{name}: not an ONNX model (no ir_version or no graph)")
    return model, name, base_dir


def _inside(base_dir: str, location: str, where: str) -> str:
    """The real path of external data `location`, which must stay inside base_dir."""
    if not location or "\0" in location:
        raise FormatError(f"{where}: external data has no valid location ({location[:100]!r})")
    if os.path.isabs(location) or PureWindowsPath(location).anchor or location[0] in "/\\":
        raise FormatError(f"{where}: external data location {location[:100]!r} is absolute; it must be "
                          f"relative to the model's directory")
    if ".." in re.split(r"[/\\]", location):
        raise FormatError(f"{where}: external data location {location[:100]!r} leaves the model's directory")
    real_base = os.path.realpath(base_dir)
    target = os.path.realpath(os.path.join(real_base, location))
    if os.path.commonpath([real_base, target]) != real_base:  # a symlink pointing out
        raise FormatError(f"{where}: external data location {location[:100]!r} resolves outside {base_dir!r}")
    return target


def _external_bytes(tensor: Any, nbytes: int, base_dir: str | None, where: str) -> bytes:
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise FormatError(f"{where}: the data is in an external file ({location[:100]!r}); a model given as "
                          f"bytes or a ModelProto reads no file unless load_onnx is given base_dir=")
    path = _inside(base_dir, location, where)
    location = location[:100]  # for messages
    fields = {}
    for key in ("offset", "length"):
        value = info.get(key)
        if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 20):
            raise FormatError(f"{where}: external data {key} {value[:40]!r} is not a non-negative integer")
        fields[key] = None if value is None else int(value)
    offset = fields["offset"] or 0
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: opening a FIFO would wait for a writer
            raise FormatError(f"{where}: external data {location!r} is not a regular file")
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            length = st.st_size - offset if fields["length"] is None else fields["length"]
            if length != nbytes or offset + length > st.st_size:
                raise FormatError(f"{where}: external data {location!r} (offset {offset}, length {length}, file "
                                  f"size {st.st_size}) does not hold the {nbytes} bytes its dims need")
            f.seek(offset)
            data = f.read(length)
    except OSError as e:
        raise FormatError(f"{where}: external data {location!r} cannot be read: {e}") from e
    if len(data) != nbytes:
        raise FormatError(f"{where}: external data {location!r} ended after {len(data)} of {nbytes} bytes")
    return data


def tensor_array(tensor: Any, base_dir: str | None, where: str) -> np.ndarray:
    """The tensor's values (a new float32 or float64 array); `where` starts messages."""
    from onnx import TensorProto

    types = {TensorProto.FLOAT: (np.dtype("<f4"), "float_data"), TensorProto.DOUBLE: (np.dtype("<f8"), "double_data")}
    if tensor.data_type not in types:
        type_name = TensorProto.DataType.Name(tensor.data_type) if tensor.data_type in TensorProto.DataType.values() \
            else str(tensor.data_type)
        if type_name in ("FLOAT16", "BFLOAT16"):  # a valid GRU weight type fastgru does not compute in
            raise NotImplementedError(f"{where} has dtype {type_name.lower()}, which is not supported yet "
                                      f"(fastgru computes in float32 or float64)")
        raise FormatError(f"{where} has element type {type_name}; a GRU's weights are floats")
    if tensor.HasField("segment"):
        raise NotImplementedError(f"{where} is a segmented tensor, which fastgru does not read")
    dims = list(tensor.dims)
    if len(dims) > MAX_DIMS:
        raise FormatError(f"{where} has {len(dims)} dims; a GRU weight has 2 or 3")
    if any(d < 0 for d in dims):
        raise FormatError(f"{where} has dims {dims}: every dim must be >= 0")
    dtype, field = types[tensor.data_type]
    count = math.prod(dims)
    if tensor.data_location == TensorProto.EXTERNAL:
        raw = _external_bytes(tensor, count * dtype.itemsize, base_dir, where)
    elif tensor.HasField("raw_data"):
        raw = tensor.raw_data
    else:
        values = getattr(tensor, field)
        if len(values) != count:
            raise FormatError(f"{where} has dims {dims} ({count} values) but holds {len(values)} values")
        return np.array(values, dtype=dtype.newbyteorder("=")).reshape(dims)
    if len(raw) != count * dtype.itemsize:
        raise FormatError(f"{where} has dims {dims} ({count * dtype.itemsize} bytes of {dtype.name}) but "
                          f"holds {len(raw)} bytes")
    return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("=")).reshape(dims)
