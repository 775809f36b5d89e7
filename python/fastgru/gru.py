"""fastgru.GRU: a PyTorch-shaped, NumPy-native GRU stack."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import json
import os
import threading
import weakref
from typing import Any, Mapping

import numpy as np

from . import cells
from . import functional as F
from . import _sequences as S
from . import quantize
from ._npz import PARSE_ERRORS, Npz
from ._typing import ArrayIn, FloatArray, OptionalArrayIn
from ._validation import check_bool, check_dropout, check_dtype, check_size, float_array
from .cuda import is_device_array as _on_device
from .errors import FormatError, listing, source_name

__all__ = ["GRU", "load"]

_ndarray = np.ndarray  # one global lookup on step()'s fast path
# Models whose state lock a fork child must find free: a parent thread may have held it when the
# process forked, and that thread does not exist in the child (the C++ locks do the same).
_MODELS_WITH_LOCKS: "weakref.WeakSet[GRU]" = weakref.WeakSet()


def _fresh_locks_after_fork() -> None:
    for model in list(_MODELS_WITH_LOCKS):
        model.__dict__["_state_lock"] = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_locks_after_fork)

# PyTorch's BatchNorm and LayerNorm
_NORM_INIT = dict(bn_weight=1.0, bn_bias=0.0, bn_running_mean=0.0, bn_running_var=1.0, ln_weight=1.0, ln_bias=0.0)


def _reverse_step(*_: Any) -> Any:
    raise ValueError("step() needs a forward GRU: direction='reverse' reads each sequence from its last "
                     "step, so it needs the whole sequence")


class GRU:
    """A multi-layer GRU with PyTorch's semantics, weight names and layout (see docs/API.md).

    ``reset_after=True`` is PyTorch/cuDNN's cell; ``reset_after=False`` applies the reset gate
    before the recurrent product (Cho et al. 2014, ONNX's default, Keras ``reset_after=False``).
    ``reset_after=None`` (the default) is True, except for ``cell="mgu"`` (a reset-before cell).

    ``gates``, ``update`` and ``cell`` select a cell form from the literature that is this cell with
    its parameters mapped (fastgru.cells, docs/API.md "Cell forms"); the parameters are the form's own.
    ``activation`` (candidate), ``recurrent_activation`` (gates), their ``*_alpha``/``*_beta`` and
    ``clip`` are ONNX's GRU attributes, with the elementwise Keras activations beyond ONNX's set too
    (docs/API.md "Activations and clip").

    ``cell="ligru"`` is the Light GRU (Ravanelli et al. 2018): batch norm on the input projection,
    with its own ``bn_weight_l{k}``/``bn_bias_l{k}`` parameters and running statistics (buffers in
    state_dict); ``forward(training=True)`` uses the batch's statistics and updates the running ones
    with ``bn_momentum``; inference (``gru(x)``, ``step``, ``forward(training=False)``) uses them.
    ``cell="libru"`` is the light Bayesian recurrent unit (Bittar & Garner 2021, "logprobs"): the
    same parameters and batch norm, a softplus candidate c and h' = log(z e^h + (1 - z) e^c).
    ``normalization`` (light cells): "batchnorm" (default), "layernorm" (per row over its 2H input
    projections, parameters ``ln_weight_l{k}``/``ln_bias_l{k}``, SpeechBrain's) or None.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 reset_after: bool | None = None, dtype: Any = np.float32, seed: int | None = None,
                 padding: str = "zeros", *, gates: str = "full", update: str = "old", cell: str = "gru",
                 activation: str | None = None, recurrent_activation: str = "sigmoid",
                 activation_alpha: float | None = None, activation_beta: float | None = None,
                 recurrent_activation_alpha: float | None = None, recurrent_activation_beta: float | None = None,
                 clip: float | None = None, bn_momentum: float | None = None, bn_eps: float | None = None,
                 normalization: str | None = cells.DEFAULT, device: str = "cpu", direction: str = "forward",
                 merge: str | None = "concat", precision: str = "float32", recurrent_dropout: float = 0.0,
                 recurrent_dropout_form: str | None = None, zoneout: float = 0.0) -> None:
        self._configure(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, reset_after,
                        dtype, seed, padding, gates=gates, update=update, cell=cell, activation=activation,
                        recurrent_activation=recurrent_activation, activation_alpha=activation_alpha,
                        activation_beta=activation_beta, recurrent_activation_alpha=recurrent_activation_alpha,
                        recurrent_activation_beta=recurrent_activation_beta, clip=clip, bn_momentum=bn_momentum,
                        bn_eps=bn_eps, normalization=normalization, device=device, direction=direction, merge=merge,
                        precision=precision, recurrent_dropout=recurrent_dropout,
                        recurrent_dropout_form=recurrent_dropout_form, zoneout=zoneout)
        bound = 1.0 / np.sqrt(self.hidden_size)  # PyTorch's init, for the form's own (public) parameters
        params = {name: (np.full(shape, _NORM_INIT[name[:name.rindex("_l")]], self.dtype)
                         if name.startswith(("bn_", "ln_"))
                         else self._rng.uniform(-bound, bound, size=shape).astype(self.dtype))
                  for name, shape in self._spec.param_shapes().items()}
        self._set_params(params)

    @classmethod
    def _without_params(cls, **config: Any) -> "GRU":
        """A model configured as cls(**config) whose parameters are not set yet: the loaders set them
        with _set_params, so nothing is allocated or drawn at random from what a file claims."""
        self = cls.__new__(cls)
        GRU._configure(self, **config)
        return self

    def _configure(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                   batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                   reset_after: bool | None = None, dtype: Any = np.float32, seed: int | None = None,
                   padding: str = "zeros", *, gates: str = "full", update: str = "old", cell: str = "gru",
                   activation: str | None = None, recurrent_activation: str = "sigmoid",
                   activation_alpha: float | None = None, activation_beta: float | None = None,
                   recurrent_activation_alpha: float | None = None, recurrent_activation_beta: float | None = None,
                   clip: float | None = None, bn_momentum: float | None = None, bn_eps: float | None = None,
                   normalization: str | None = cells.DEFAULT, device: str = "cpu", direction: str = "forward",
                   merge: str | None = "concat", precision: str = "float32", recurrent_dropout: float = 0.0,
                   recurrent_dropout_form: str | None = None, zoneout: float = 0.0) -> None:
        """__init__'s checks and settings: everything but the parameters (same arguments)."""
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        self._device = device
        if device == "cuda" and cell in ("libru", "sligru"):
            what = "log-domain update" if cell == "libru" else "recurrent layer norm"
            raise ValueError(f"cell={cell!r} has no CUDA kernels (its {what} runs on the CPU only); use device='cpu'")
        self._padding = S.check_padding(padding)
        bias = check_bool("bias", bias)
        form, reset_after = cells.check_form(gates, update, cell, reset_after, bias, normalization)
        if device == "cuda" and form.normalization == "layernorm":
            raise ValueError("normalization='layernorm' has no CUDA kernels (the CUDA backend has batch norm only); "
                             "use device='cpu'")
        self._bn_momentum, bn_eps = cells.check_batch_norm(form, bn_momentum, bn_eps)
        self._spec = F.Spec(
            check_size("input_size", input_size),
            check_size("hidden_size", hidden_size),
            check_size("num_layers", num_layers, maximum=4096),
            check_bool("bidirectional", bidirectional),
            bias,
            reset_after,
            check_bool("batch_first", batch_first),
            check_dtype(dtype),
            form,
            cells.check_math(form, activation, recurrent_activation, activation_alpha, activation_beta,
                             recurrent_activation_alpha, recurrent_activation_beta, clip),
            bn_eps,
            direction=S.check_direction(direction, bool(bidirectional)),
            merge=S.check_merge(merge, bool(bidirectional)),
        )
        precision = quantize.check_precision(precision, self._spec.dtype)
        if precision != "float32":
            if device == "cuda":
                raise ValueError(f"precision={precision!r} is a CPU inference format; device='cuda' runs float32 "
                                 "and float64 models")
            self._spec = dataclasses.replace(self._spec, precision=precision)
        self._spec = dataclasses.replace(self._spec, **F.recurrent_noise_fields(
            self._spec, device, recurrent_dropout, recurrent_dropout_form, zoneout))
        self._dropout = check_dropout(dropout)
        self._rng = np.random.default_rng(seed)

    # Configuration, read-only.
    input_size = property(lambda self: self._spec.input_size)
    hidden_size = property(lambda self: self._spec.hidden_size)
    num_layers = property(lambda self: self._spec.num_layers)
    bidirectional = property(lambda self: self._spec.bidirectional)
    bias = property(lambda self: self._spec.bias)
    reset_after = property(lambda self: self._spec.reset_after)
    batch_first = property(lambda self: self._spec.batch_first)
    dtype = property(lambda self: self._spec.dtype)
    num_directions = property(lambda self: self._spec.directions)
    padding = property(lambda self: self._padding)
    gates = property(lambda self: self._spec.form.gates)
    update = property(lambda self: self._spec.form.update)
    cell = property(lambda self: self._spec.form.cell)
    activation = property(lambda self: self._spec.math.activation)
    recurrent_activation = property(lambda self: self._spec.math.recurrent_activation)
    activation_alpha = property(lambda self: self._spec.math.activation_alpha)
    activation_beta = property(lambda self: self._spec.math.activation_beta)
    recurrent_activation_alpha = property(lambda self: self._spec.math.recurrent_activation_alpha)
    recurrent_activation_beta = property(lambda self: self._spec.math.recurrent_activation_beta)
    clip = property(lambda self: self._spec.math.clip)
    bn_momentum = property(lambda self: self._bn_momentum)  # None unless cell="ligru" or "libru"
    bn_eps = property(lambda self: self._spec.bn_eps)
    direction = property(lambda self: self._spec.direction)  # "forward" or "reverse" (one direction)
    merge = property(lambda self: self._spec.merge)  # a bidirectional y's halves: "concat", "sum", ...
    precision = property(lambda self: self._spec.precision)  # "float32", or a reduced one (quantized())
    normalization = property(lambda self: self._spec.form.normalization)  # None unless a light cell
    recurrent_dropout = property(lambda self: self._spec.recurrent_dropout)
    recurrent_dropout_form = property(lambda self: self._spec.recurrent_dropout_form)  # "candidate" or "state"
    zoneout = property(lambda self: self._spec.zoneout)

    # The one setting that may change after construction (as torch's module.dropout), checked as
    # the constructor checks it.
    @property
    def dropout(self) -> float:
        return self._dropout

    @dropout.setter
    def dropout(self, rate: float) -> None:
        self._dropout = check_dropout(rate)

    def _set_params(self, params: dict[str, np.ndarray]) -> None:
        # Immutable copies (F.frozen: not even flags.writeable can be set again), so what the model
        # shows (attributes, parameters(), state_dict(), save) is what its core computes with;
        # changes go through load_state_dict, which repacks. Arrays this model already froze are kept.
        old = self.__dict__.get("_params", {})
        rounded = quantize.rounding(self._spec.precision)
        params = {k: v if old.get(k) is v else F.frozen(rounded(v, k) if rounded and quantize.is_weight(k) else v)
                  for k, v in params.items()}
        # Guards the model's state against a running-statistics update in another thread (the
        # loaders call this without __init__, so it is made here).
        lock = self.__dict__.setdefault("_state_lock", threading.Lock())
        _MODELS_WITH_LOCKS.add(self)
        with lock:
            self._params = params
            # Plain instance attributes, not a __getattr__ hook: that hook would slow down every
            # attribute read of the model, step()'s included.
            self.__dict__.update(params)
            if self._device == "cuda":  # the same model, its core on the GPU (fastgru.cuda)
                from . import cuda

                self._core = cuda.make_cuda_core(self._spec, params)
                self._core_step = cuda.step_function(self._core, self._spec)
            else:
                self._core = F.make_core(self._spec, params)
                self._core_step = self._core.fast_step()  # bound once, no pybind11 dispatch: step() runs per sample
            if self._spec.direction == "reverse":
                self._core_step = _reverse_step
            self._token = object()  # a new identity for every set of weights

    def _update_running_stats(self, batch_stats: dict[str, np.ndarray], core: Any) -> None:
        """Folds a training forward's batch statistics (computed by `core`) into the running ones."""
        # One read-modify-write at a time: two training forwards in two threads must not both
        # start from the same old statistics (one update would be lost), and the core must end
        # with the statistics the attributes show.
        with self._state_lock:
            if core is not self._core:
                # load_state_dict replaced the parameters (running statistics included) after this
                # forward ran: as if the load came after the update, which it overwrote.
                return
            new = {k: F.frozen(v) for k, v in F.update_running_stats(self._params, batch_stats,
                                                                     self._bn_momentum).items()}
            # A new dict, not an update in place: state_dict(), save() and parameters() read
            # self._params once, so they see every statistic from before or every one from after.
            self._params = {**self._params, **new}
            self.__dict__.update(new)
            # All layers at once (one exclusive lock in the core): an inference call running in
            # another thread uses the statistics from entirely before or entirely after this update.
            # Running statistics are state, not weights: caches stay valid (backward reads the
            # statistics its forward used from the cache), so the weights' token is kept.
            F.set_batch_norms(self._core, self._spec, self._params)

    # Assigning or deleting a parameter's attribute would make the model show one array and
    # compute with another: parameters change through load_state_dict, which repacks the core.
    def __setattr__(self, name: str, value: Any) -> None:
        self._check_not_param(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._check_not_param(name)
        object.__delattr__(self, name)

    def _check_not_param(self, name: str) -> None:
        if name in self.__dict__.get("_params", ()):
            raise AttributeError(f"{name} is a parameter: change it with load_state_dict({{{name!r}: ...}}, "
                                 "strict=False)")

    def __repr__(self) -> str:
        extra = [f"num_layers={self.num_layers}"] if self.num_layers != 1 else []
        for name, default in (("bias", True), ("batch_first", False), ("bidirectional", False),
                              ("reset_after", self.cell != "mgu")):
            if getattr(self, name) != default:
                extra.append(f"{name}={getattr(self, name)}")
        light = self._spec.form.light
        math_defaults = dict(cells.STANDARD_MATH.config(), activation=cells.default_activation(self.cell))
        for name, default in (("gates", "full"), ("update", "old"), ("cell", "gru"), *math_defaults.items(),
                              ("normalization", "batchnorm" if light else None),
                              ("bn_momentum", 0.1 if self._spec.batch_norm else None),
                              ("bn_eps", 1e-5 if self._spec.batch_norm else None)):
            if getattr(self, name) != default:
                extra.append(f"{name}={getattr(self, name)!r}")
        if self.dropout:
            extra.append(f"dropout={self.dropout}")
        if self._padding != "zeros":
            extra.append(f"padding={self._padding!r}")
        if self.direction != "forward":
            extra.append(f"direction={self.direction!r}")
        if self.merge != "concat":
            extra.append(f"merge={self.merge!r}")
        if self.precision != "float32":
            extra.append(f"precision={self.precision!r}")
        if self.recurrent_dropout:
            extra.append(f"recurrent_dropout={self.recurrent_dropout}, "
                         f"recurrent_dropout_form={self.recurrent_dropout_form!r}")
        if self.zoneout:
            extra.append(f"zoneout={self.zoneout}")
        extra.append(f"dtype={self.dtype.name}")
        return f"GRU({self.input_size}, {self.hidden_size}, {', '.join(extra)})"

    # Computation.
    def __call__(self, x: ArrayIn, h0: OptionalArrayIn = None, lengths: OptionalArrayIn = None, *,
                 mask: OptionalArrayIn = None) -> tuple[FloatArray, FloatArray]:
        """Inference: (y, h_n). No dropout, nothing kept for backward. `mask` (B, T) booleans:
        Keras masking (docs/API.md, "Direction, masks and merge"); lengths may hold 0. For
        merge=None, y is the pair (y_forward, y_reverse) (the annotation is every other model's)."""
        if self._device == "cuda" and _on_device(x):
            from .cuda import device_forward

            self._check_device_sequences(mask)
            y, h_n, _ = device_forward(self, x, h0, lengths, keep_cache=False, dropout=0.0, seed=0,
                                       batch_statistics=False)
            return y, h_n
        y, h_n, _ = F.run_forward(self._core, self._spec, self._token, x, h0, lengths, keep_cache=False,
                                  dropout=0.0, seed=0, mask=mask, padding=self._padding)
        return y, h_n

    def _check_device_sequences(self, mask: Any) -> None:
        """The CUDA-array path runs the core directly: the reorderings of fastgru._sequences are
        NumPy's (a CUDA model computes them with NumPy inputs)."""
        what = [w for w, on in (("mask", mask is not None), (f"direction={self.direction!r}", self.direction != "forward"),
                                (f"merge={self.merge!r}", self.merge != "concat")) if on]
        if what:
            raise ValueError(f"{' and '.join(what)} with CUDA arrays is not implemented: pass NumPy arrays "
                             "(the model still computes on the GPU)")

    def forward(self, x: ArrayIn, h0: OptionalArrayIn = None, lengths: OptionalArrayIn = None, *,
                training: bool = True, mask: OptionalArrayIn = None) -> tuple[FloatArray, FloatArray, F.GruCache]:
        """The differentiable forward: (y, h_n, cache) for backward(). With training=True,
        inter-layer dropout is applied with a fresh seed from the model's generator, and a Light GRU
        normalises with the batch's statistics and then updates its running statistics (like a
        PyTorch module in train mode: this call changes the model's state)."""
        training = check_bool("training", training)
        self._check_full_precision("forward (the differentiable one)")
        rate = self.dropout if training and self.num_layers > 1 else 0.0
        recurrent_masks = training and (self.recurrent_dropout > 0 or self.zoneout > 0)
        seed = int(self._rng.integers(0, 2**63)) if rate > 0 or recurrent_masks else 0
        if self._device == "cuda" and _on_device(x):
            from .cuda import device_forward

            self._check_device_sequences(mask)
            y, h_n, cache = device_forward(self, x, h0, lengths, keep_cache=True, dropout=rate, seed=seed,
                                           batch_statistics=training)
        else:
            y, h_n, cache = F.run_forward(self._core, self._spec, self._token, x, h0, lengths, keep_cache=True,
                                          dropout=rate, seed=seed, batch_statistics=training, mask=mask,
                                          padding=self._padding, recurrent_masks=recurrent_masks)
        assert cache is not None  # keep_cache=True
        if cache.batch_stats is not None:
            self._update_running_stats(cache.batch_stats, cache.core)
        return y, h_n, cache

    def backward(self, cache: F.GruCache, dy: OptionalArrayIn = None,
                 dh_n: Any = None) -> dict[str, FloatArray]:
        """Gradients of x, h0 and every parameter, given dL/dy and dL/dh_n (None = zeros); for
        merge=None, dy is a pair (dy_forward, dy_reverse) like y."""
        if not isinstance(cache, F.GruCache):
            raise TypeError(f"cache must come from GRU.forward, got {type(cache).__name__}")
        F.check_cache(cache)  # before anything reads its fields
        if cache.token is not self._token:
            raise ValueError("cache was made by another model or before this model's weights changed; "
                             "run forward again")
        if self._device == "cuda" and (_on_device(dy) or _on_device(dh_n)):
            from .cuda import device_backward

            if cache.plan is not None or cache.spec.merge != "concat":
                raise ValueError("this forward reordered its batch on the host (lengths of 0, a mask, "
                                 "direction='reverse' or a merge): pass NumPy dy / dh_n")
            return device_backward(self, cache, dy, dh_n)
        return F.run_backward(cache, dy, dh_n)

    def _check_full_precision(self, what: str) -> None:
        if self.precision != "float32":
            raise ValueError(f"{what}: this model has precision={self.precision!r}, for inference only (__call__, "
                             "step); train the float32 model and call quantized() again")

    def quantized(self, precision: str) -> "GRU":
        """An inference copy of this float32 model in a reduced precision (fastgru.quantize): "bf16"
        stores the weights rounded to bfloat16 and runs every weight product in bf16 with float32
        accumulation; "int8" stores per-row symmetric int8 weights and quantizes each product's
        input rows dynamically, with exact int32 sums. Same call API (__call__, step, save/load,
        state_dict of the stored weights)."""
        if self.dtype != np.float32 or self.precision != "float32":
            raise ValueError(f"quantized() converts a float32 model; this one has dtype={self.dtype.name}, "
                             f"precision={self.precision!r}")
        if self._device != "cpu":
            raise ValueError(f"quantized() makes CPU inference models; this model is on {self._device!r}")
        return type(self)._without_params(**dict(self.config(), precision=precision))._adopt(self._rng, self._params)

    def initial_state(self, batch: int = 1) -> FloatArray:
        """Zeros of shape (num_layers * num_directions, batch, hidden_size)."""
        batch = check_size("batch", batch, maximum=1 << 31)
        return np.zeros((self.num_layers * self.num_directions, batch, self.hidden_size), dtype=self.dtype)

    def step(self, x_t: ArrayIn, state: OptionalArrayIn = None) -> tuple[FloatArray, FloatArray]:
        """One time step: x_t (B, input_size) or (input_size,), state (num_layers, B, H) or
        (num_layers, H) from initial_state() or a previous step; None (the default) starts from
        zeros. Returns (y_t, new_state), the same as running the whole sequence at once; `state`
        is not modified."""
        # Fast path (streaming loops): arrays go straight to the core, which checks dtype (any
        # float converts) and shapes (batched or unbatched), copies a strided array itself and
        # returns (state[-1], state).
        if type(x_t) is _ndarray and type(state) is _ndarray:
            return self._core_step(x_t, state)
        if state is None:
            state = self._zero_state(x_t)
        if self._device == "cuda":
            return self._core_step(x_t, state)  # fastgru.cuda.step_function: NumPy or CUDA arrays
        dtype = self._spec.dtype
        if self._spec.direction == "reverse":
            _reverse_step()
        if self._spec.bidirectional:
            raise ValueError("step() needs a unidirectional GRU: the reverse direction of a "
                             "bidirectional one needs the whole sequence")
        return self._core_step(float_array("x_t", x_t, dtype), float_array("state", state, dtype))

    def _zero_state(self, x_t: Any) -> np.ndarray:
        """The zero state step() starts from: (num_layers, B, H) for x_t (B, D), (num_layers, H) for
        x_t (D,). Other shapes get the state of a batch of one; step() then reports x_t's shape."""
        iface = getattr(x_t, "__cuda_array_interface__", None)
        shape = tuple(iface["shape"]) if iface is not None else np.shape(x_t)
        batch = (shape[0],) if len(shape) == 2 else () if len(shape) == 1 else (1,)
        return np.zeros((self.num_layers, *batch, self.hidden_size), dtype=self.dtype)

    # Parameters.
    def state_dict(self) -> dict[str, FloatArray]:
        """Copies of the parameters under PyTorch's names (and a Light GRU's running statistics)."""
        return {k: v.copy() for k, v in self._params.items()}

    def named_parameters(self) -> dict[str, FloatArray]:
        """The trained parameters by name (read-only arrays, no copies), in state_dict order; one
        consistent set even while another thread loads new ones. Running statistics are buffers:
        not included."""
        return {k: v for k, v in self._params.items() if not cells.is_buffer(k)}

    def parameters(self) -> list[FloatArray]:
        """Read-only views of the parameters, in state_dict order (running statistics are buffers:
        not included, and backward gives them no gradient)."""
        return [v for k, v in self._params.items() if not cells.is_buffer(k)]

    def load_state_dict(self, state_dict: Mapping[str, ArrayIn], strict: bool = True) -> None:
        """Replaces the parameters (names and shapes as state_dict()); repacks the weights."""
        given = F.checked_params(self._spec, state_dict, strict=strict, what="state_dict")
        params = {k: given.get(k, v) for k, v in self._params.items()}
        self._set_params(params)

    def to_standard(self) -> "GRU":
        """The equivalent standard GRU (gates="full", update="old", cell="gru"): its parameters are
        the ones this model's form maps to, so it computes the same function with the same core
        arithmetic (bit for bit). Every other setting is kept; a new generator (seed 0) drives its
        dropout. Exports (to_torch, to_onnx, to_keras_weights) write this model."""
        if self._spec.form.light:
            raise ValueError(f"cell={self.cell!r} has batch norm on its input projection, which the standard GRU has "
                             "not; there is no equivalent standard GRU")
        std = type(self)(self.input_size, self.hidden_size, self.num_layers, self.bias, self.batch_first,
                         self.dropout, self.bidirectional, self.reset_after, self.dtype, seed=0,
                         padding=self._padding, **self._spec.math.config(), direction=self.direction,
                         merge=self.merge, precision=self.precision, **self._recurrent_noise_config())
        std.load_state_dict(cells.to_internal(self._spec.form, self.hidden_size, self._params))
        return std

    def _exportable(self, to: str) -> "GRU":
        if self.precision != "float32":
            raise ValueError(f"{to} export: this model has precision={self.precision!r}, which {to} would not "
                             "reproduce (it rounds x and h to bf16 too); export the float32 model")
        if self.direction == "reverse" and to == "PyTorch":
            raise ValueError("torch.nn.GRU has no reverse-only form (direction='reverse'); export with to_onnx")
        if self.merge != "concat" and to == "PyTorch":
            raise ValueError(f"{to}'s GRU concatenates the two directions; this model has merge={self.merge!r} "
                             f"(export a merge='concat' model with this state_dict and merge y yourself)")
        if self.zoneout:  # recurrent dropout is training only: the exported inference is the same
            raise ValueError(f"{to} export: zoneout={self.zoneout} makes inference mix h and the new state "
                             f"({self.zoneout} h + {1 - self.zoneout:g} h_new), which {to}'s GRU cannot express")
        if self._spec.form.light:
            raise ValueError(f"{to} export: cell={self.cell!r} has batch norm on its input projection, which {to}'s "
                             "GRU has not; it cannot be exported")
        if not self._spec.math.standard and to not in ("Keras", "ONNX"):  # ONNX's GRU has them as attributes
            raise ValueError(f"{to} export writes the default activations (sigmoid gates, tanh candidate, no "
                             f"clip); this model has activation={self.activation!r}, recurrent_activation="
                             f"{self.recurrent_activation!r}, clip={self.clip!r}")
        return self if self._spec.form.standard else self.to_standard()

    # Frameworks and files.
    @classmethod
    def from_torch(cls, module: Any) -> "GRU":
        """From a torch.nn.GRU or a torch.nn.GRUCell (a 1-layer unidirectional GRU)."""
        from ._torch import from_torch

        return from_torch(cls, module)

    def to_torch(self, cell: bool = False) -> Any:
        """A torch.nn.GRU with this model's weights, or with cell=True a torch.nn.GRUCell (1-layer
        unidirectional models only). Other cell forms export their equivalent standard GRU."""
        from ._torch import to_torch

        if self.cell == "mgu":
            raise ValueError("cell='mgu' is a reset-before GRU (r = f, z = 1 - f) and torch.nn.GRU has only the "
                             "reset-after cell; export it with to_onnx or to_keras_weights instead")
        return to_torch(self._exportable("PyTorch"), cell)

    @classmethod
    def from_speechbrain(cls, module: Any) -> "GRU":
        """From a speechbrain.nnet.RNN.LiGRU or SLiGRU (cell="ligru" / "sligru", batch_first, bias=False,
        its normalization, nonlinearity and batch norm momentum; a bidirectional layer's one set of
        weights in both directions). Outputs match the module in eval mode; its returned h of a
        bidirectional model is not the final state (see docs/API.md)."""
        from ._speechbrain import from_speechbrain

        return from_speechbrain(cls, module)

    @classmethod
    def from_keras(cls, layer_or_weights: Any, reset_after: bool | None = None, **kwargs: Any) -> "GRU":
        """From a Keras 3 GRU or Bidirectional(GRU) layer, or its get_weights() list. The model is
        batch_first with padding="carry" (Keras's conventions) unless kwargs say otherwise."""
        from ._keras import from_keras

        return from_keras(cls, layer_or_weights, reset_after, **kwargs)

    def to_keras_weights(self, layer: int | None = None) -> list[FloatArray]:
        """The list a Keras GRU's (or Bidirectional's) set_weights takes, for one layer."""
        from ._keras import to_keras_weights

        if self.clip is not None:
            raise ValueError(f"Keras's GRU has no clip; this model has clip={self.clip}")
        # Other cell forms: the equivalent standard GRU. Other activations: the weights are the same;
        # the Keras layer needs the same activation and recurrent_activation set.
        return to_keras_weights(self._exportable("Keras"), layer)

    @property
    def device(self) -> str:
        return self._device

    def to(self, device: str) -> "GRU":
        """This model on `device` ("cpu" or "cuda"): itself if already there, else a copy with the
        same configuration and parameters (RuntimeError where the build or machine has no CUDA)."""
        if device == self._device:
            return self
        return type(self)._without_params(**self.config(), device=device)._adopt(self._rng, self._params)

    def _adopt(self, rng: np.random.Generator, params: Mapping[str, np.ndarray]) -> "GRU":
        """Takes a copy of `rng` (dropout draws continue as they would have) and `params`."""
        object.__setattr__(self, "_rng", copy.deepcopy(rng))
        self._set_params(dict(params))
        return self

    def config(self) -> dict[str, Any]:
        return dict(input_size=self.input_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
                    bias=self.bias, batch_first=self.batch_first, dropout=self.dropout,
                    bidirectional=self.bidirectional, reset_after=self.reset_after, dtype=self.dtype.name,
                    padding=self._padding, gates=self.gates, update=self.update, cell=self.cell,
                    **self._spec.math.config(),
                    **(dict(normalization=self.normalization) if self._spec.form.light else {}),
                    **(dict(bn_momentum=self.bn_momentum, bn_eps=self.bn_eps) if self._spec.batch_norm else {}),
                    **({"direction": self.direction} if self.direction != "forward" else {}),
                    **({"merge": self.merge} if self.merge != "concat" else {}),
                    **(dict(precision=self.precision) if self.precision != "float32" else {}),
                    **self._recurrent_noise_config())

    def _recurrent_noise_config(self) -> dict[str, Any]:
        return {**(dict(recurrent_dropout=self.recurrent_dropout, recurrent_dropout_form=self.recurrent_dropout_form)
                   if self.recurrent_dropout else {}),
                **(dict(zoneout=self.zoneout) if self.zoneout else {})}

    def to_onnx(self, path: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Exports this model as ONNX (one GRU node per layer); see fastgru.onnx.export_gru. Other
        cell forms export their equivalent standard GRU (to_standard())."""
        from .onnx import export_gru

        return export_gru(self._exportable("ONNX"), path, **kwargs)

    # Models are values: pickle, copy.copy and copy.deepcopy give a model with the same
    # configuration, parameters (running statistics included) and dropout generator; the core and
    # its workspace are rebuilt from them, in the process that unpickles.
    def __getstate__(self) -> dict[str, Any]:
        return dict(config=self.config(), device=self._device, params=self._params, rng=self._rng)

    def __setstate__(self, state: dict[str, Any]) -> None:
        GRU._configure(self, **state["config"], device=state["device"])
        self._adopt(state["rng"], state["params"])  # a copy of the generator: copy.copy's too

    def save(self, path: str | os.PathLike[str]) -> None:
        """Saves config and parameters to an .npz file (read back with fastgru.load)."""
        np.savez(path, __fastgru_config__=np.array(json.dumps(self.config())), **self._params)


_CONFIG_KEY = "__fastgru_config__"
_MAX_CONFIG_CHARS = 1 << 16  # a real config is under 1000 characters
_NUMBER, _OPTIONAL_NUMBER = ("int", "float"), ("int", "float", "null")
# The entries GRU.save writes (config()) and the JSON types each may have; a missing one takes
# the constructor's default (files written before the entry existed).
_CONFIG_TYPES: dict[str, tuple[str, ...]] = {
    "input_size": ("int",), "hidden_size": ("int",), "num_layers": ("int",), "bias": ("bool",),
    "batch_first": ("bool",), "dropout": _NUMBER, "bidirectional": ("bool",), "reset_after": ("bool", "null"),
    "dtype": ("str",), "padding": ("str",), "gates": ("str",), "update": ("str",), "cell": ("str",),
    "activation": ("str", "null"), "recurrent_activation": ("str",), "direction": ("str",),
    "merge": ("str", "null"), "precision": ("str",), "normalization": ("str", "null"),
    "recurrent_dropout": _NUMBER, "recurrent_dropout_form": ("str", "null"), "zoneout": _NUMBER,
    **{k: _OPTIONAL_NUMBER for k in ("activation_alpha", "activation_beta", "recurrent_activation_alpha",
                                     "recurrent_activation_beta", "clip", "bn_momentum", "bn_eps")},
}


def _json_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__  # json.loads makes bool/int/float/str/list/dict


def _open_model_file(source: Any) -> Any:
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb")  # a missing or unreadable file: the OSError as it is
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    if hasattr(source, "read") and hasattr(source, "seek"):
        return contextlib.nullcontext(source)  # the caller's open file, left open
    raise TypeError(f"load expects a path, bytes or a binary file, got {type(source).__name__}")


def _read_config(npz: Npz) -> dict[str, Any]:
    """The stored config, checked to be the kind of dict GRU.save writes."""
    name = npz.name
    if _CONFIG_KEY not in npz.members:
        raise FormatError(f"{name} is not a fastgru model file (no config entry)")
    head = npz.header(_CONFIG_KEY)
    if head.shape != () or head.dtype.kind != "U" or head.dtype.itemsize > 4 * _MAX_CONFIG_CHARS:
        raise FormatError(f"{name}: the config entry must be one JSON string, got shape {head.shape} "
                          f"of {head.dtype}")
    try:
        config = json.loads(npz.read(_CONFIG_KEY, head).item())
    except PARSE_ERRORS as e:  # bad JSON, code points, or nesting (RecursionError)
        raise FormatError(f"{name}: the config entry is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise FormatError(f"{name}: the config must be a JSON object, got {_json_type(config)}")
    unknown = [k for k in config if k not in _CONFIG_TYPES]
    if unknown:
        raise FormatError(f"{name}: the config has unknown entries {listing(unknown)}")
    for k in ("input_size", "hidden_size"):
        if k not in config:
            raise FormatError(f"{name}: the config has no {k!r}")
    for k, value in config.items():
        if _json_type(value) not in _CONFIG_TYPES[k]:
            raise FormatError(f"{name}: config entry {k!r} must be {' or '.join(_CONFIG_TYPES[k])}, "
                              f"got {_json_type(value)} {repr(value)[:80]}")
    return config


def load(path: str | os.PathLike[str] | bytes | Any) -> GRU:
    """Loads a GRU written by GRU.save, from a path, the file's bytes or a binary file object.

    The file is not trusted: the config must be GRU.save's (known entries, JSON types, a valid GRU)
    and every stored array's header must match the shape the config gives it before any data is
    read; the model is built from the stored arrays (no random initialisation), so the cost is
    bounded by the file's size. Anything malformed raises fastgru.FormatError naming the file;
    a missing or unreadable file raises the OSError of opening it."""
    name = source_name(path)
    with _open_model_file(path) as fp, contextlib.closing(Npz(fp, name)) as npz:
        config = _read_config(npz)
        try:
            gru = GRU._without_params(**config)
        except (ValueError, TypeError) as e:
            raise FormatError(f"{name}: the config is not a valid GRU's: {e}") from e
        expected = gru._spec.param_shapes()
        unexpected = [k for k in npz.members if k not in expected and k != _CONFIG_KEY]
        missing = [k for k in expected if k not in npz.members]
        if missing or unexpected:
            raise FormatError(f"{name}: the arrays do not match the config "
                              f"({gru!r}): missing {listing(missing) or 'none'}, "
                              f"unexpected {listing(unexpected) or 'none'}")
        heads = {k: npz.header(k) for k in expected}  # every shape checked before any data is read
        for k, head in heads.items():
            if head.dtype.kind != "f" or head.shape != expected[k]:
                raise FormatError(f"{name}: {k!r} is stored as {head.dtype} of shape {head.shape}, expected "
                                  f"floats of shape {expected[k]} ({gru!r})")
        with np.errstate(all="ignore"):  # float64 values beyond float32's range become inf, quietly
            params = {k: np.array(npz.read(k, head), dtype=gru.dtype, order="C") for k, head in heads.items()}
    gru._set_params(params)
    return gru
