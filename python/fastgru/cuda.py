"""fastgru's optional CUDA backend: a GRU's forward, backward and streaming step on an NVIDIA GPU.

It exists only in builds made with ``FASTGRU_CUDA=ON`` (see docs/CUDA.md); elsewhere
``cuda_available()`` is False and ``to_cuda`` raises RuntimeError saying why.

    import fastgru, fastgru.cuda
    gru = fastgru.GRU(64, 128, seed=0)
    if fastgru.cuda_available():
        dev = fastgru.cuda.to_cuda(gru)    # a CudaGRU with gru's parameters on the GPU
        y, h_n = dev(x)                    # NumPy in, NumPy out (copies both ways)
        y_d, h_d = dev(x_cupy)             # __cuda_array_interface__ in, CudaArray out, no copy

A ``CudaGRU`` has the ``GRU``'s computing methods with the same arguments and results:
``__call__``, ``forward`` (with a cache for ``backward``), ``backward``, ``initial_state``,
``step``. NumPy inputs are copied to the device and results copied back. Inputs that expose
``__cuda_array_interface__`` (CuPy arrays, PyTorch CUDA tensors, the ``CudaArray`` results of
this module) are read in place and results stay on the device as ``CudaArray``, which CuPy
(``cupy.asarray``) and PyTorch (``torch.as_tensor(a, device="cuda")``) read without a copy and
``to_numpy()`` copies to the host. A CudaGRU holds a snapshot of the GRU's parameters: call
``to_cuda`` again after changing them.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

import numpy as np

from . import _core, cells
from . import functional as F
from ._keras import carried_cotangent, carried_outputs
from ._validation import check_bool, check_size, float_array, lengths_array

__all__ = ["cuda_available", "cuda_compiled", "device_name", "to_cuda", "CudaGRU"]


def cuda_compiled() -> bool:
    """Whether this build of fastgru has the CUDA backend (FASTGRU_CUDA=ON)."""
    return bool(getattr(_core, "cuda_compiled", False))


def cuda_available() -> bool:
    """Whether the CUDA backend can run here: compiled in and a CUDA device visible. Never raises."""
    return cuda_compiled() and bool(_core.cuda_available())


def device_name(device: int | None = None) -> str | None:
    """The CUDA device's name (the current one by default), or None without a usable device."""
    if not cuda_available():
        return None
    return _core.cuda_device_name(device)


def _require() -> None:
    if not cuda_compiled():
        raise RuntimeError(
            "fastgru was built without its CUDA backend (FASTGRU_CUDA=OFF), so it cannot run on a GPU; "
            "rebuild it with `FASTGRU_CUDA=ON pip install .` on a machine with the CUDA toolkit (nvcc), "
            "see docs/CUDA.md")
    if not _core.cuda_available():
        raise RuntimeError(
            "fastgru's CUDA backend is compiled in, but no CUDA device is available to this process "
            "(no NVIDIA GPU, no driver, or CUDA_VISIBLE_DEVICES hides them)")


def _is_device_array(a: Any) -> bool:
    return a is not None and hasattr(a, "__cuda_array_interface__")


def make_cuda_core(spec: F.Spec, params: Mapping[str, np.ndarray]) -> Any:
    """A CUDA core holding `params` (public, checked shapes), as functional.make_core builds a CPU
    core: the same constructor arguments and parameter mapping, the CUDA classes."""
    _require()
    return F.make_core(spec, params, (_core.CudaGruF32, _core.CudaGruF64))


class CudaGRU:
    """A fastgru.GRU's parameters on a CUDA device, with the GRU's computing methods (module doc)."""

    def __init__(self, gru: Any) -> None:
        from .gru import GRU

        if not isinstance(gru, GRU):
            raise TypeError(f"to_cuda takes a fastgru.GRU, got {type(gru).__name__}")
        _require()
        self._spec: F.Spec = gru._spec
        self._config = gru.config()
        self._padding = gru.padding
        self.dropout = gru.dropout
        self._bn_momentum = gru.bn_momentum
        self._rng = gru._rng  # dropout seeds continue the GRU's own stream
        self._params = dict(gru._params)  # immutable arrays (GRU._set_params): a snapshot, not a copy
        self._core = make_cuda_core(self._spec, self._params)
        self._token = object()
        self._state_lock = threading.Lock()  # one running-statistics update at a time, as GRU's

    input_size = property(lambda self: self._spec.input_size)
    hidden_size = property(lambda self: self._spec.hidden_size)
    num_layers = property(lambda self: self._spec.num_layers)
    bidirectional = property(lambda self: self._spec.bidirectional)
    batch_first = property(lambda self: self._spec.batch_first)
    dtype = property(lambda self: self._spec.dtype)
    num_directions = property(lambda self: self._spec.directions)
    device = property(lambda self: int(self._core.device))

    def __repr__(self) -> str:
        return f"CudaGRU({self.input_size}, {self.hidden_size}, device={self.device}, dtype={self.dtype.name})"

    # The recurrent kernel: "auto" (persistent where it fits), "persistent" or "per_step".
    def set_recurrent_path(self, path: str) -> None:
        self._core.set_recurrent_path(path)

    def uses_persistent(self, batch: int) -> bool:
        """Whether a forward pass of this batch size runs the persistent recurrent kernel."""
        return bool(self._core.uses_persistent(check_size("batch", batch)))

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._params.items()}

    def to_cpu(self) -> Any:
        """A fastgru.GRU with this model's parameters (and running statistics)."""
        from .gru import GRU

        gru = GRU(**self._config)
        gru.load_state_dict(self._params)
        return gru

    # Computation.
    def __call__(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[Any, Any]:
        """Inference: (y, h_n), NumPy for NumPy x, CudaArray for a CUDA x."""
        if _is_device_array(x):
            y, h_n, _ = self._device_forward(x, h0, lengths, keep_cache=False, dropout=0.0, seed=0,
                                             batch_statistics=False)
            return y, h_n
        y, h_n, _ = F.run_forward(self._core, self._spec, self._token, x, h0, lengths, keep_cache=False,
                                  dropout=0.0, seed=0)
        return carried_outputs(self, y, lengths), h_n

    def forward(self, x: Any, h0: Any = None, lengths: Any = None, *,
                training: bool = True) -> tuple[Any, Any, F.GruCache]:
        """(y, h_n, cache) as GRU.forward; the cache stays on the device."""
        training = check_bool("training", training)
        rate = self.dropout if training and self.num_layers > 1 else 0.0
        seed = int(self._rng.integers(0, 2**63)) if rate > 0 else 0
        if _is_device_array(x):
            y, h_n, cache = self._device_forward(x, h0, lengths, keep_cache=True, dropout=rate, seed=seed,
                                                 batch_statistics=training)
        else:
            y, h_n, cache = F.run_forward(self._core, self._spec, self._token, x, h0, lengths, keep_cache=True,
                                          dropout=rate, seed=seed, batch_statistics=training)
            y = carried_outputs(self, y, lengths)
        if cache.batch_stats is not None:
            self._update_running_stats(cache.batch_stats)
        return y, h_n, cache

    def backward(self, cache: F.GruCache, dy: Any = None, dh_n: Any = None) -> dict[str, Any]:
        """Gradients of x, h0 and every parameter, as GRU.backward: NumPy arrays, or CudaArray when
        dy / dh_n are CUDA arrays (and the model is a standard GRU: other forms map their gradients
        on the host, so those come back as NumPy arrays)."""
        if not isinstance(cache, F.GruCache) or cache.token is not self._token:
            raise ValueError("cache must come from this CudaGRU's forward()")
        F.check_cache(cache)
        if _is_device_array(dy) or _is_device_array(dh_n):
            return self._device_backward(cache, dy, dh_n)
        return F.run_backward(cache, carried_cotangent(self, cache, dy), dh_n)

    def initial_state(self, batch: int = 1) -> np.ndarray:
        batch = check_size("batch", batch, maximum=1 << 31)
        return np.zeros((self.num_layers * self.num_directions, batch, self.hidden_size), dtype=self.dtype)

    def step(self, x_t: Any, state: Any) -> tuple[Any, Any]:
        """One time step as GRU.step; NumPy arrays (copied to the device and back: a round trip per
        call, so small streaming steps are faster on the CPU) or CUDA arrays (read in place)."""
        if self._spec.bidirectional:
            raise ValueError("step() needs a unidirectional GRU: the reverse direction of a "
                             "bidirectional one needs the whole sequence")
        if _is_device_array(x_t) or _is_device_array(state):
            new = self._core.step(x_t, state)
            return new[-1], new  # a CudaArray view of the last layer
        new = self._core.step(float_array("x_t", x_t, self.dtype), float_array("state", state, self.dtype))
        return new[-1], new

    # Helpers.
    def _update_running_stats(self, batch_stats: dict[str, np.ndarray]) -> None:
        with self._state_lock:  # a read-modify-write: concurrent training forwards must not lose one
            new = F.update_running_stats(self._params, batch_stats, self._bn_momentum)
            self._params = {**self._params, **{k: F.frozen(v) for k, v in new.items()}}  # a new dict, as GRU's
            for layer in range(self.num_layers):
                for d in range(self.num_directions):
                    F.set_batch_norm(self._core, layer, d, self._params)

    def _device_forward(self, x: Any, h0: Any, lengths: Any, *, keep_cache: bool, dropout: float, seed: int,
                        batch_statistics: bool) -> tuple[Any, Any, F.GruCache | None]:
        spec = self._spec
        if spec.batch_first:
            raise ValueError("CUDA array inputs must be time-major (steps, batch, input_size); this model is "
                             "batch_first: transpose on the device first (e.g. x.transpose(0, 1).contiguous() "
                             "in PyTorch) or pass NumPy arrays")
        if self._padding == "carry" and lengths is not None and not spec.bidirectional:
            raise ValueError("padding='carry' is applied on the host: pass NumPy arrays for this model")
        shape = tuple(x.__cuda_array_interface__["shape"])
        if len(shape) != 3:
            raise ValueError(f"a CUDA x must be 3-D (steps, batch, input_size), got shape {shape}")
        steps, batch = shape[0], shape[1]
        lens = None if lengths is None else lengths_array(lengths, batch, steps)
        if h0 is not None and not _is_device_array(h0):
            h0 = float_array("h0", h0, spec.dtype)
        batch_statistics = batch_statistics and spec.batch_norm
        stats = None
        if batch_statistics:
            rows = steps * batch if lens is None else int(lens.sum())
            if rows < 2:
                raise ValueError("batch norm with batch statistics needs more than one valid step in the batch "
                                 f"(this batch has {rows}); use training=False for a single step")
            stats = np.empty((spec.num_layers * spec.directions, 2, 2 * spec.hidden_size), spec.dtype)
        y, h_n, data = self._core.forward(x, h0, lens, keep_cache, dropout, seed, batch_statistics, stats)
        cache = None
        if keep_cache:
            batch_stats = None if stats is None else F._stats_dict(spec, stats)
            lens = None if lens is None else F.frozen(lens)
            cache = F.seal_cache(F.GruCache(self._core, spec, self._token, data, steps, batch, lens, dropout, seed,
                                            False, spec.dtype, batch_statistics, batch_stats))
        return y, h_n, cache

    def _device_backward(self, cache: F.GruCache, dy: Any, dh_n: Any) -> dict[str, Any]:
        spec = self._spec
        if spec.batch_first or cache.unbatched:
            raise ValueError("CUDA gradients are time-major (steps, batch, ...): pass NumPy dy / dh_n for a "
                             "batch_first or unbatched model")
        for name, a in (("dy", dy), ("dh_n", dh_n)):
            if a is not None and not _is_device_array(a):
                raise ValueError(f"{name} must be a CUDA array like the other gradient, or None")
        dx, dh0, per_layer = self._core.backward(cache.data, cache.steps, cache.batch, cache.lengths, dy, dh_n,
                                                 cache.dropout, cache.seed, cache.batch_statistics,
                                                 device_outputs=True)
        names = cells.internal_grad_names(spec.form, spec.num_layers, spec.bidirectional, spec.bias)
        flat = [g for layer in per_layer for g in layer]
        internal = dict(zip(names, flat))
        if not spec.form.standard:
            internal = cells.to_public_grads(spec.form, spec.hidden_size,
                                             {k: v.to_numpy() for k, v in internal.items()})
        grads: dict[str, Any] = {"x": dx, "h0": dh0}
        grads.update((k, internal[k]) for k in spec.param_shapes() if not cells.is_buffer(k))
        return grads


def to_cuda(gru: Any) -> CudaGRU:
    """gru's parameters on the current CUDA device, as a CudaGRU (RuntimeError without CUDA)."""
    return CudaGRU(gru)
