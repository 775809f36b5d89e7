"""A GRU over a Dask array: one model call per chunk of sequences, on any Dask scheduler.

    import dask.array as da, fastgru, fastgru.dask
    model = fastgru.GRU(input_size=8, hidden_size=16, seed=0)
    x = da.random.random((100, 10_000, 8), chunks=(100, 1_000, 8)).astype("float32")  # (T, B, D)
    y = fastgru.dask.apply(model, x)     # lazy: (T, B, H), chunked like x's batch axis
    y.compute()                          # on the dask.distributed Client, if one is made

Each chunk along the batch axis is a whole set of sequences, and a GRU's sequences are
independent, so a chunk's result is the rows of the single-process ``model(x, h0, lengths)`` on
the whole array: the same bits (a row's arithmetic does not depend on which rows share its call).

Chunking: only the batch axis may have several chunks. A split time axis cannot be run chunk by
chunk without a sequential hand-over of the state, and a split feature axis is a rechunking
mistake; both raise a ValueError (as ``dask.array.fft`` does for its axis) that says how to
rechunk, rather than rechunking silently (that moves the whole array between workers).

The model travels once per graph: it is one node of the graph that every chunk's task depends on
(``dask.delayed``), so a distributed worker receives one copy (pickled, the packed weights rebuilt
there) however many chunks it runs. It is sent with the graph, so a model of more than about 10 MB of
weights makes dask.distributed warn "Sending large graph" (once per computation; raise
``distributed.admin.large-graph-warning-threshold`` in dask.config to quiet it).

Threads: each chunk runs with ``threads_per_worker`` fastgru threads (default 1: a worker is
usually one of several processes or threads per machine, and Dask already runs chunks in
parallel). The setting is process-wide in fastgru, so while chunks run in a process it is changed
and afterwards the previous value is restored (with the synchronous or threaded scheduler, that
is the calling process: fastgru calls it makes concurrently run with the chunks' setting until
the last running chunk ends). ``threads_per_worker=None`` leaves the setting alone.

dask is imported only when a function here is called: without it, ``import fastgru.dask`` works and
``apply`` raises ModuleNotFoundError naming ``pip install 'fastgru[dask]'``.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np

from ._optional import require
from ._validation import check_choice, check_size
from .gru import GRU
from .runtime import MAX_THREADS, use_num_threads

__all__ = ["apply"]

OUTPUTS = ("y", "h_n", "both")

def _forward_block(model: GRU, x: np.ndarray, lengths: np.ndarray | None, h0: np.ndarray | None,
                   want: str, threads: int | None) -> Any:
    """One chunk: the model on its sequences. Returns y, h_n, or the tuple (y, h_n)."""
    with use_num_threads(threads):
        y, h_n = model(x, h0, lengths)
    return y if want == "y" else h_n if want == "h_n" else (y, h_n)


def _pick(pair: tuple[np.ndarray, np.ndarray], i: int) -> np.ndarray:
    return pair[i]


def _model_node(model: GRU) -> Any:
    """The model as one node of the graph, named by its pickled bytes: every chunk's task depends
    on it (one copy per worker), and the same model gives the same name (Dask merges equal graphs)."""
    from dask.base import tokenize
    from dask.delayed import delayed

    return delayed(model, name="fastgru-model-" + tokenize(pickle.dumps(model, protocol=5)),
                        traverse=False)


def _batch_aligned(da: Any, name: str, value: Any, shape: tuple[int, ...], batch_axis: int,
                   batch_chunks: tuple[int, ...]) -> Any:
    """`value` (a NumPy or Dask array) as a Dask array of `shape`, chunked like x's batch axis and
    one chunk along every other axis."""
    if not isinstance(value, da.Array):
        value = np.asarray(value)
    if value.ndim != len(shape) or any(not math.isnan(s) and s != e for s, e in zip(value.shape, shape)):
        raise ValueError(f"{name} must have shape {shape} for this x and model, got {tuple(value.shape)}")
    chunks = tuple(batch_chunks if axis == batch_axis else (n,) for axis, n in enumerate(shape))
    if isinstance(value, da.Array):
        if any(math.isnan(c) for c in value.chunks[batch_axis]):
            raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first")
        return value if value.chunks == chunks else value.rechunk(chunks)
    return da.from_array(value, chunks=chunks)


def apply(model: GRU, x: Any, lengths: Any = None, h0: Any = None, *, outputs: str = "y",
          threads_per_worker: int | None = 1) -> Any:
    """`model` applied to the Dask array `x`, lazily, one task per chunk of its batch axis.

    x: a Dask array (T, B, D), or (B, T, D) when ``model.batch_first``; floating point (converted to
    the model's dtype in each task, as ``model(x)`` does). Its batch axis may have any chunks,
    uneven ones included; its time and feature axes must be one chunk each (ValueError otherwise:
    rechunk with ``x.rechunk({time_axis: -1, 2: -1})``).
    lengths: optional (B,) integers, a NumPy or Dask array; rechunked to x's batch chunks.
    h0: optional (num_layers * num_directions, B, H), NumPy or Dask; rechunked likewise (axis 1).
    outputs: "y" (the default), "h_n", or "both" (a tuple (y, h_n) computed by the same tasks).
    threads_per_worker: fastgru threads each chunk runs with (None: leave the setting alone);
    restored afterwards (see the module's docstring).

    Returns Dask arrays of the model's dtype: y (T, B, num_directions * H) or (B, T, ...) when
    batch_first, chunked along the batch axis like x; h_n (num_layers * num_directions, B, H),
    chunked along axis 1. Values are the single-process ``model(x, h0, lengths)``'s, bit for bit.
    """
    da = require("dask.array", "fastgru.dask.apply")
    if not isinstance(model, GRU):
        raise TypeError(f"model must be a fastgru.GRU, got {type(model).__name__}")
    if model.merge != "concat":  # y's blocks are laid out for the concatenated halves
        raise ValueError(f"fastgru.dask.apply runs merge='concat' models; this one has merge={model.merge!r}")
    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a dask.array.Array, got {type(x).__name__}; call the model directly on a "
                        "NumPy array, or wrap it with dask.array.from_array(x, chunks=...)")
    check_choice("outputs", outputs, OUTPUTS)
    if threads_per_worker is not None:
        threads_per_worker = check_size("threads_per_worker", threads_per_worker, maximum=MAX_THREADS)
    if x.dtype.kind != "f":
        raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}")
    b_axis, t_axis = (0, 1) if model.batch_first else (1, 0)
    layout = "(B, T, D)" if model.batch_first else "(T, B, D)"
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D {layout} (batch_first={model.batch_first}), got shape {x.shape}")
    if any(math.isnan(c) for c in x.chunks[b_axis]):
        raise ValueError("x has unknown chunk sizes along its batch axis; call x.compute_chunk_sizes() first")
    if x.shape[2] != model.input_size:
        raise ValueError(f"x has {x.shape[2]} features (axis 2), the model's input_size is {model.input_size}")
    for axis, what in ((t_axis, "time"), (2, "feature")):
        if len(x.chunks[axis]) != 1:
            raise ValueError(
                f"x's {what} axis (axis {axis}) is split into {len(x.chunks[axis])} chunks {x.chunks[axis]}; "
                "fastgru.dask.apply splits work along the batch axis only (a sequence must be whole in one "
                f"task): rechunk it with x.rechunk({{{t_axis}: -1, 2: -1}})")

    batch, batch_chunks = x.shape[b_axis], x.chunks[b_axis]
    layers = model.num_layers * model.num_directions
    x_ind = "btd" if model.batch_first else "tbd"
    args: list[Any] = [_model_node(model), None, x, x_ind]
    args += [None, None] if lengths is None else [
        _batch_aligned(da, "lengths", lengths, (batch,), 0, batch_chunks), "b"]
    args += [None, None] if h0 is None else [
        _batch_aligned(da, "h0", h0, (layers, batch, model.hidden_size), 1, batch_chunks), "pbq"]
    if h0 is not None and args[-2].dtype.kind != "f":
        raise TypeError(f"h0 must be a floating-point array, got dtype {args[-2].dtype}")

    dtype = model.dtype
    meta = np.empty((0, 0, 0), dtype)
    # Inputs' other indexes (t, d; p, q) are contracted, the outputs' (s, o; l, h) are new: no index is
    # shared but b, so each output's chunks are given here, not inferred from an input's.
    y_ind = "bso" if model.batch_first else "sbo"
    y_axes = {"s": x.shape[t_axis], "o": model.num_directions * model.hidden_size}
    h_axes = {"l": layers, "h": model.hidden_size}
    # Every index but b has one chunk, so concatenate=True hands each task whole arrays.
    common = dict(concatenate=True, threads=threads_per_worker)
    if outputs == "y":
        return da.blockwise(_forward_block, y_ind, *args, want="y", new_axes=y_axes, dtype=dtype, meta=meta,
                            token="fastgru-y", **common)
    if outputs == "h_n":
        return da.blockwise(_forward_block, "lbh", *args, want="h_n", new_axes=h_axes, dtype=dtype, meta=meta,
                            token="fastgru-h_n", **common)
    # One task per chunk makes both outputs (as dask's apply_gufunc does for several outputs): its
    # result is the pair, and y and h_n pick from it. Computed together, the pair's tasks run once.
    pairs = da.blockwise(_forward_block, "b", *args, want="both", dtype=object,
                         meta=np.empty((0,), object), token="fastgru-pair", **common)
    y = da.blockwise(_pick, y_ind, pairs, "b", 0, None, new_axes=y_axes, dtype=dtype, meta=meta,
                     token="fastgru-y")
    h_n = da.blockwise(_pick, "lbh", pairs, "b", 1, None, new_axes=h_axes, dtype=dtype, meta=meta,
                       token="fastgru-h_n")
    return y, h_n
