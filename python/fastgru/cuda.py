"""fastgru's optional CUDA backend: a GRU's forward, backward and streaming step on an NVIDIA GPU.

It exists only in builds made with ``FASTGRU_CUDA=ON`` (see docs/CUDA.md); elsewhere
``cuda_available()`` is False and a CUDA model raises RuntimeError saying why.

    import fastgru
    gru = fastgru.GRU(64, 128, seed=0, device="cuda")  # or fastgru.GRU(64, 128).to("cuda")
    y, h_n = gru(x)                    # NumPy in, NumPy out (copies both ways)
    y_d, h_d = gru(x_cupy)             # a CUDA array in (read in place), CudaArray out, no copy

A CUDA model is a ``fastgru.GRU`` like any other (one class serves both devices): the same
methods, arguments and results. NumPy inputs are copied to the device and results copied back.
CUDA inputs — objects with ``__cuda_array_interface__`` or ``__dlpack__`` (CuPy arrays, PyTorch
CUDA tensors, this module's ``CudaArray``) — are read in place and results stay on the device as
``CudaArray``, which CuPy and PyTorch read without a copy (``cupy.asarray``, ``torch.from_dlpack``
or ``torch.as_tensor(a, device="cuda")``) and ``to_numpy()`` copies to the host. This module adds
what only the CUDA core has: ``set_recurrent_path`` and ``uses_persistent``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from . import _core, cells
from . import functional as F
from ._validation import check_size, float_array, lengths_array

__all__ = ["cuda_available", "cuda_compiled", "device_name", "to_cuda", "set_recurrent_path", "uses_persistent"]


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


_DLPACK_CUDA_DEVICES = (2, 13)  # kDLCUDA, kDLCUDAManaged


def is_device_array(a: Any) -> bool:
    """Whether `a` is a CUDA array this backend reads in place: it has __cuda_array_interface__, or
    __dlpack__ with a CUDA __dlpack_device__ (JAX arrays and other DLPack-only producers)."""
    if a is None:
        return False
    if hasattr(a, "__cuda_array_interface__"):
        return True
    device = getattr(a, "__dlpack_device__", None)
    if device is None or not hasattr(a, "__dlpack__"):
        return False
    try:
        return int(device()[0]) in _DLPACK_CUDA_DEVICES
    except Exception:  # noqa: BLE001 - a producer that cannot say where it lives is not ours to read
        return False


def device_view(a: Any) -> Any:
    """A CUDA array as the core reads it (__cuda_array_interface__): as it is, or a view of its
    DLPack capsule, asked for on the legacy default stream (the one fastgru's calls use)."""
    if a is None or hasattr(a, "__cuda_array_interface__") or not is_device_array(a):
        return a
    return _core.DLPackView(a.__dlpack__(stream=1))


def make_cuda_core(spec: F.Spec, params: Mapping[str, np.ndarray]) -> Any:
    """A CUDA core holding `params` (public, checked shapes), as functional.make_core builds a CPU
    core: the same constructor arguments and parameter mapping, the CUDA classes."""
    _require()
    return F.make_core(spec, params, (_core.CudaGruF32, _core.CudaGruF64))


def step_function(core: Any, spec: F.Spec) -> Callable[[Any, Any], tuple[Any, Any]]:
    """GRU.step for a CUDA core: NumPy arrays (copied to the device and back, a round trip per call,
    so small streaming steps are faster on the CPU) or CUDA arrays (read in place)."""
    dtype = spec.dtype

    def step(x_t: Any, state: Any) -> tuple[Any, Any]:
        if spec.bidirectional:
            raise ValueError("step() needs a unidirectional GRU: the reverse direction of a "
                             "bidirectional one needs the whole sequence")
        if is_device_array(x_t) or is_device_array(state):
            x_t, state = device_view(x_t), device_view(state)
        else:
            x_t, state = float_array("x_t", x_t, dtype), float_array("state", state, dtype)
        new = core.step(x_t, state)
        return new[-1], new  # for CUDA arrays, a CudaArray view of the last layer

    return step


def device_forward(model: Any, x: Any, h0: Any, lengths: Any, *, keep_cache: bool, dropout: float, seed: int,
                   batch_statistics: bool) -> tuple[Any, Any, F.GruCache | None]:
    """GRU.forward of a CUDA model on a CUDA x: (y, h_n, cache) as CudaArrays, read in place."""
    spec = model._spec
    if spec.batch_first:
        raise ValueError("CUDA array inputs must be time-major (steps, batch, input_size); this model is "
                         "batch_first: transpose on the device first (e.g. x.transpose(0, 1).contiguous() "
                         "in PyTorch) or pass NumPy arrays")
    if model.padding == "carry" and lengths is not None and not spec.bidirectional:
        raise ValueError("padding='carry' is applied on the host: pass NumPy arrays for this model")
    x = device_view(x)
    shape = tuple(x.__cuda_array_interface__["shape"])
    if len(shape) != 3:
        raise ValueError(f"a CUDA x must be 3-D (steps, batch, input_size), got shape {shape}")
    steps, batch = shape[0], shape[1]
    lens = None if lengths is None else lengths_array(lengths, batch, steps)
    h0 = device_view(h0) if is_device_array(h0) else None if h0 is None else float_array("h0", h0, spec.dtype)
    batch_statistics = batch_statistics and spec.batch_norm
    stats = None
    if batch_statistics:
        rows = steps * batch if lens is None else int(lens.sum())
        if rows < 2:
            raise ValueError("batch norm with batch statistics needs more than one valid step in the batch "
                             f"(this batch has {rows}); use training=False for a single step")
        stats = np.empty((spec.num_layers * spec.directions, 2, 2 * spec.hidden_size), spec.dtype)
    core = model._core
    y, h_n, data = core.forward(x, h0, lens, keep_cache, dropout, seed, batch_statistics, stats)
    cache = None
    if keep_cache:
        batch_stats = None if stats is None else F._stats_dict(spec, stats)
        lens = None if lens is None else F.frozen(lens)
        cache = F.seal_cache(F.GruCache(core, spec, model._token, data, steps, batch, lens, dropout, seed,
                                        False, spec.dtype, batch_statistics, batch_stats))
    return y, h_n, cache


def device_backward(model: Any, cache: F.GruCache, dy: Any, dh_n: Any) -> dict[str, Any]:
    """GRU.backward of a CUDA model given CUDA dy / dh_n: CudaArray gradients (NumPy for cell forms
    other than the standard one, whose gradients are mapped on the host)."""
    spec = model._spec
    if spec.batch_first or cache.unbatched:
        raise ValueError("CUDA gradients are time-major (steps, batch, ...): pass NumPy dy / dh_n for a "
                         "batch_first or unbatched model")
    for name, a in (("dy", dy), ("dh_n", dh_n)):
        if a is not None and not is_device_array(a):
            raise ValueError(f"{name} must be a CUDA array like the other gradient, or None")
    dy, dh_n = device_view(dy), device_view(dh_n)
    dx, dh0, per_layer = cache.core.backward(cache.data, cache.steps, cache.batch, cache.lengths, dy, dh_n,
                                             cache.dropout, cache.seed, cache.batch_statistics,
                                             device_outputs=True)
    names = cells.internal_grad_names(spec.form, spec.num_layers, spec.bidirectional, spec.bias)
    internal = dict(zip(names, [g for layer in per_layer for g in layer]))
    if not spec.form.standard:
        internal = cells.to_public_grads(spec.form, spec.hidden_size,
                                         {k: v.to_numpy() for k, v in internal.items()})
    grads: dict[str, Any] = {"x": dx, "h0": dh0}
    grads.update((k, internal[k]) for k in spec.param_shapes() if not cells.is_buffer(k))
    return grads


def _cuda_core(model: Any) -> Any:
    from .gru import GRU

    if not isinstance(model, GRU):
        raise TypeError(f"expected a fastgru.GRU, got {type(model).__name__}")
    if model.device != "cuda":
        raise ValueError("this model runs on the CPU; move it with model.to('cuda')")
    return model._core


def set_recurrent_path(model: Any, path: str) -> None:
    """The recurrent kernel of a CUDA model: "auto" (persistent where it fits), "persistent" or
    "per_step"."""
    _cuda_core(model).set_recurrent_path(path)


def uses_persistent(model: Any, batch: int) -> bool:
    """Whether a forward pass of this batch size runs the persistent recurrent kernel."""
    return bool(_cuda_core(model).uses_persistent(check_size("batch", batch)))


def to_cuda(gru: Any) -> Any:
    """gru on the current CUDA device: gru.to("cuda") (RuntimeError without CUDA)."""
    from .gru import GRU

    if not isinstance(gru, GRU):
        raise TypeError(f"to_cuda takes a fastgru.GRU, got {type(gru).__name__}")
    _require()
    return gru.to("cuda")
