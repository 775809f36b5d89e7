"""A GRU over a Ray Dataset: a callable class for ``Dataset.map_batches``, loaded once per actor.

    import ray, fastgru, fastgru.ray
    ds = ray.data.from_items([{"id": i, "x": seq} for i, seq in enumerate(sequences)])  # seq: (T, D)
    out = fastgru.ray.apply(ds, "model.npz", actors=2)  # or a fastgru.GRU; lazy, like any Dataset
    out = ds.map_batches(fastgru.ray.GRUPredictor, fn_constructor_args=("model.npz",), batch_format="numpy",
                         compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1)  # the same, by hand

Rows: each row's ``input_column`` is one sequence (T, D), so a NumPy batch is (B, T, D): batch-first
whatever the model's own ``batch_first`` (the predictor converts). Rows may have different T
(Ray then hands the batch over as an object array of (T_i, D) arrays): they are zero-padded to
the longest, run with lengths T_i, and each row's y is cut back to its own (T_i, ...). The result
is the single-process ``model(x, h0, lengths)``'s, bit for bit (a row's arithmetic does not depend
on the other rows of its call, nor on padding past its length).

The model: a ``fastgru.GRU`` (Ray pickles it to each actor; the packed weights are rebuilt there)
or what ``fastgru.load`` reads, e.g. the path of an .npz written by ``model.save`` (read by each
actor, so it must be readable where the actors run). Each actor's calls run with ``threads``
fastgru threads (default 1: Ray runs one actor per CPU it reserves), restored afterwards.

Only ``apply`` needs Ray (ModuleNotFoundError naming ``pip install 'fastgru[ray]'`` without it):
``GRUPredictor`` is plain NumPy, so it can be tried on a dict of arrays in any process.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from ._optional import require
from ._validation import check_bool, check_size
from .gru import GRU, load
from .runtime import MAX_THREADS, use_num_threads

__all__ = ["GRUPredictor", "apply"]


def _column_name(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a column name (str), got {type(value).__name__} {value!r}")
    return value


def _optional_column_name(name: str, value: Any) -> str | None:
    return None if value is None else _column_name(name, value)


class GRUPredictor:
    """``fn`` for ``ray.data.Dataset.map_batches(..., batch_format="numpy")``: a model applied to
    each batch (a dict of NumPy arrays, one entry per column).

    model_or_path: a ``fastgru.GRU``, or a path (or bytes, or a binary file) ``fastgru.load`` reads.
    input_column: the (T, D) sequences. lengths_column: optional per-row valid lengths (1..T_i).
    h0_column: optional per-row initial state (num_layers * num_directions, H).
    output_column: gets each row's y (T_i, num_directions * H). h_n_column: when set, gets each
    row's final state (num_layers * num_directions, H). keep_input: whether the input column is
    passed on (the other columns always are: ids and the like stay with their results).
    threads: fastgru threads per call (None: leave the process's setting alone).
    """

    def __init__(self, model_or_path: Any, *, input_column: str = "x", lengths_column: str | None = None,
                 h0_column: str | None = None, output_column: str = "y", h_n_column: str | None = None,
                 keep_input: bool = True, threads: int | None = 1) -> None:
        self.model = model_or_path if isinstance(model_or_path, GRU) else load(model_or_path)
        if self.model.merge != "concat":  # one output column holds y's concatenated halves
            raise ValueError(f"GRUPredictor runs merge='concat' models; this one has merge={self.model.merge!r}")
        self.input_column = _column_name("input_column", input_column)
        self.lengths_column = _optional_column_name("lengths_column", lengths_column)
        self.h0_column = _optional_column_name("h0_column", h0_column)
        self.output_column = _column_name("output_column", output_column)
        self.h_n_column = _optional_column_name("h_n_column", h_n_column)
        if h_n_column is not None and h_n_column == output_column:
            raise ValueError(f"output_column and h_n_column are both {output_column!r}")
        self.keep_input = check_bool("keep_input", keep_input)
        self.threads = None if threads is None else check_size("threads", threads, maximum=MAX_THREADS)

    def __repr__(self) -> str:
        return f"GRUPredictor({self.model!r}, input_column={self.input_column!r})"

    def _column(self, batch: Mapping[str, Any], name: str) -> Any:
        try:
            return batch[name]
        except KeyError:
            raise KeyError(f"the batch has no column {name!r}; its columns are {sorted(batch)}") from None

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(batch, Mapping):
            raise TypeError(f"GRUPredictor takes a dict of NumPy arrays (map_batches(..., batch_format='numpy')), "
                            f"got {type(batch).__name__}")
        model = self.model
        x, steps = self._sequences(self._column(batch, self.input_column))
        n = x.shape[0]
        lengths = None
        if self.lengths_column is not None:
            lengths = np.asarray(self._column(batch, self.lengths_column))
            if lengths.shape != (n,):
                raise ValueError(f"column {self.lengths_column!r} must hold one length per row: shape ({n},), "
                                 f"got {lengths.shape}")
            if steps is not None and lengths.dtype.kind in "iuf" and np.any(lengths > steps):
                i = int(np.flatnonzero(lengths > steps)[0])
                raise ValueError(f"row {i}: length {lengths[i]} is longer than its sequence ({steps[i]} steps)")
        elif steps is not None:
            lengths = steps  # ragged rows: padded, and each runs for its own length
        h0 = None
        if self.h0_column is not None:
            h0 = np.asarray(self._column(batch, self.h0_column))
            expected = (n, model.num_layers * model.num_directions, model.hidden_size)
            if h0.shape != expected:
                raise ValueError(f"column {self.h0_column!r} must hold one state (layers * directions, H) per row: "
                                 f"shape {expected}, got {h0.shape}")
            h0 = h0.transpose(1, 0, 2)  # (layers * directions, B, H), as the model takes it
        if n == 0:  # an empty batch (the model refuses one): empty columns of the right shapes
            y = np.empty((0, x.shape[1], model.num_directions * model.hidden_size), model.dtype)
            h_n = np.empty((model.num_layers * model.num_directions, 0, model.hidden_size), model.dtype)
        else:
            with use_num_threads(self.threads):
                y, h_n = model(x if model.batch_first else x.transpose(1, 0, 2), h0, lengths)
            y = np.ascontiguousarray(y if model.batch_first else y.transpose(1, 0, 2))  # (B, T, dirs * H)
        out = {k: v for k, v in batch.items() if self.keep_input or k != self.input_column}
        if steps is None:
            out[self.output_column] = y
        else:  # each row cut back to its own steps: an object array, as Ray hands ragged columns over
            out[self.output_column] = np.empty(n, dtype=object)
            out[self.output_column][:] = [y[i, :t].copy() for i, t in enumerate(steps)]
        if self.h_n_column is not None:
            out[self.h_n_column] = np.ascontiguousarray(h_n.transpose(1, 0, 2))  # (B, layers * dirs, H)
        return out

    def _sequences(self, column: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """The batch's sequences as one (B, T, D) array, and for ragged rows their steps (else None)."""
        arr = column
        if not isinstance(arr, np.ndarray):
            try:
                arr = np.asarray(column)
            except ValueError:  # a list of sequences of different lengths
                arr = np.empty(len(column), dtype=object)
                arr[:] = list(column)
        if arr.dtype != object:
            if arr.ndim != 3:
                raise ValueError(f"column {self.input_column!r}: each row must be one (T, D) sequence, so a batch is "
                                 f"(B, T, D); got a batch of shape {arr.shape}")
            return arr, None
        rows = [np.asarray(r) for r in arr]
        for i, r in enumerate(rows):
            if r.ndim != 2 or r.shape[0] < 1 or r.dtype.kind != "f":
                raise ValueError(f"column {self.input_column!r}, row {i}: expected a (T, D) floating-point sequence "
                                 f"with T >= 1, got shape {r.shape} of {r.dtype}")
        widths = {r.shape[1] for r in rows}
        if len(widths) > 1:
            raise ValueError(f"column {self.input_column!r}: rows have different feature sizes {sorted(widths)}")
        steps = np.array([r.shape[0] for r in rows], dtype=np.int64)
        x = np.zeros((len(rows), int(steps.max(initial=1)), widths.pop() if widths else self.model.input_size),
                     dtype=self.model.dtype)
        for i, r in enumerate(rows):
            x[i, :r.shape[0]] = r
        return x, steps


def apply(dataset: Any, model_or_path: Any, *, actors: int = 1, batch_size: int | None = 256,
          **predictor_kwargs: Any) -> Any:
    """``dataset.map_batches`` with a GRUPredictor on a pool of `actors` actors, each reserving
    ``threads`` CPUs (GRUPredictor's argument, default 1) and running that many fastgru threads.
    `predictor_kwargs` go to GRUPredictor. Returns the (lazy) Dataset with the output column(s)."""
    ray_data = require("ray.data", "fastgru.ray.apply")
    actors = check_size("actors", actors, maximum=1 << 16)
    threads = predictor_kwargs.get("threads", 1)
    if threads is not None:  # checked here, not first in every actor
        threads = check_size("threads", threads, maximum=MAX_THREADS)
    if isinstance(model_or_path, (str, os.PathLike)):
        model_or_path = os.fspath(model_or_path)
    return dataset.map_batches(GRUPredictor, fn_constructor_args=(model_or_path,),
                               fn_constructor_kwargs=predictor_kwargs, batch_format="numpy",
                               batch_size=batch_size, compute=ray_data.ActorPoolStrategy(size=actors),
                               num_cpus=1 if threads is None else threads)
