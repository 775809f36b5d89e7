"""fastgru.torch.GRU: a drop-in torch.nn.GRU whose forward and backward run on fastgru's CPU core.

>>> import torch, fastgru.torch
>>> gru = fastgru.torch.GRU(8, 16, num_layers=2, batch_first=True)   # nn.GRU's constructor
>>> y, h_n = gru(torch.randn(4, 10, 8))
>>> y.sum().backward()                                            # gradients for every parameter

Same constructor, parameter names, shapes, initialisation (the same draws from torch's generator,
so ``torch.manual_seed(s)`` gives nn.GRU's initial weights) and ``state_dict`` as
``torch.nn.GRU``, so the state dicts load into each other; same forward: ``(input, hx=None) ->
(output, h_n)`` with batched, unbatched and ``PackedSequence`` input (the output is then a
PackedSequence with the input's batch sizes and indices). Gradients flow to input, hx and every
parameter through a ``torch.autograd.Function``; first order only: a backward with
``create_graph=True`` raises RuntimeError rather than return gradients that would not be
differentiable.

Differences from nn.GRU:

- CPU only, float32 and float64 only (``device``/``dtype`` otherwise, CUDA tensors, a module
  moved with ``.cuda()`` or ``.half()``: errors that say so). ``proj_size`` raises ValueError, as
  nn.GRU's does. ``dropout`` must be < 1.
- Inter-layer dropout (``training`` mode, ``num_layers > 1``, ``dropout > 0``) uses fastgru's own
  mask (inverted dropout), seeded by one 62-bit draw from torch's default CPU generator per
  forward: ``torch.manual_seed`` makes it reproducible, but the masks are not nn.GRU's.
- fastgru computes with its own thread pool (``fastgru.set_num_threads``), not torch's.
- The weights are packed into a fastgru core when they change: each forward compares the
  parameters' values with the last packed copy (exactly, so in-place changes by any route, ``.data``
  included, are seen) and repacks if any differs; the module keeps that copy (the parameters'
  memory once more). No copy is made of contiguous parameters or inputs to hand them to fastgru.
- Outputs are always contiguous (nn.GRU's batch_first output is a transposed view).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from ._optional import require

# Without torch: ModuleNotFoundError (an ImportError) saying "pip install 'fastgru[torch]'".
require("torch", "fastgru.torch")

# The real torch package: imports are absolute, so `torch` here is never this module (fastgru.torch).
import torch  # noqa: E402
from torch.nn.utils.rnn import PackedSequence  # noqa: E402

from . import functional as F  # noqa: E402
from ._validation import check_size  # noqa: E402

__all__ = ["GRU"]

_DTYPES: dict[Any, np.dtype] = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}


def _np(t: Any) -> np.ndarray:
    """A NumPy view of a CPU tensor (a copy only when it is not contiguous)."""
    t = t.detach()
    if not t.is_contiguous():
        t = t.contiguous()
    return t.numpy()


def _check_cpu(what: str, t: Any) -> None:
    if t.device.type != "cpu":
        raise RuntimeError(f"fastgru.torch.GRU computes on the CPU only, but {what} is on {t.device}; "
                           "move it to the CPU or use torch.nn.GRU on that device")


class _Run:
    """What one forward hands its autograd Function: the core and how to call it."""

    __slots__ = ("core", "spec", "lengths", "dropout", "seed", "names")

    def __init__(self, core: Any, spec: F.Spec, lengths: np.ndarray | None, dropout: float, seed: int,
                 names: list[str]) -> None:
        self.core, self.spec, self.lengths, self.dropout, self.seed, self.names = (core, spec, lengths, dropout,
                                                                                   seed, names)


class _GruFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, run: _Run, x: Any, hx: Any, *weights: Any) -> tuple[Any, Any]:
        y, h_n, cache = F.run_forward(run.core, run.spec, None, _np(x), None if hx is None else _np(hx),
                                      run.lengths, keep_cache=True, dropout=run.dropout, seed=run.seed)
        ctx.cache, ctx.names, ctx.has_hx = cache, run.names, hx is not None
        ctx.set_materialize_grads(False)  # an unused output's gradient is None: fastgru takes it as zeros
        return torch.from_numpy(y), torch.from_numpy(h_n)

    @staticmethod
    def backward(ctx: Any, dy: Any, dh_n: Any) -> tuple[Any, ...]:
        if torch.is_grad_enabled():  # create_graph=True: the gradients would be constants, silently
            raise RuntimeError("fastgru.torch.GRU has first-order gradients only: backward with "
                               "create_graph=True (double backward, gradient penalties through the GRU) is not "
                               "supported; use torch.nn.GRU for that")
        need = ctx.needs_input_grad
        if dy is None and dh_n is None:
            return (None,) * len(need)
        g = F.run_backward(ctx.cache, None if dy is None else _np(dy), None if dh_n is None else _np(dh_n))
        dx = torch.from_numpy(g["x"]) if need[1] else None
        dh0 = torch.from_numpy(g["h0"]) if ctx.has_hx and need[2] else None
        dw = [torch.from_numpy(g[name]) if need[3 + i] else None for i, name in enumerate(ctx.names)]
        return (None, dx, dh0, *dw)


class GRU(torch.nn.Module):
    """torch.nn.GRU's interface on fastgru's core (see the module's docstring for the differences)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"GRU() got unexpected keyword arguments {', '.join(map(repr, kwargs))}")
        super().__init__()
        # torch.nn.GRU's checks and messages.
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout == 1:
            raise ValueError("dropout=1 zeroes every inter-layer activation; fastgru.torch.GRU needs dropout < 1")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        check_size("input_size", input_size)  # fastgru's limits (2^24; 4096 layers)
        check_size("hidden_size", hidden_size)
        check_size("num_layers", num_layers, maximum=F.MAX_LAYERS)
        device = torch.device("cpu") if device is None else torch.device(device)
        if device.type != "cpu":
            raise ValueError(f"fastgru.torch.GRU computes on the CPU only, got device={str(device)!r}; "
                             "use torch.nn.GRU on other devices")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in _DTYPES:
            raise TypeError(f"fastgru.torch.GRU supports dtype torch.float32 and torch.float64, got {dtype}")

        self.mode = "GRU"
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        self._flat_weights_names = F.param_names(num_layers, self.bidirectional, bias)
        dirs = 2 if self.bidirectional else 1
        self._all_weights = []
        for layer in range(num_layers):
            for d in range(dirs):
                suffix = f"_l{layer}{'_reverse' if d else ''}"
                cols = input_size if layer == 0 else dirs * hidden_size
                shapes: list[tuple[str, tuple[int, ...]]] = [("weight_ih", (3 * hidden_size, cols)), ("weight_hh", (3 * hidden_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (3 * hidden_size,)), ("bias_hh", (3 * hidden_size,))]
                for kind, shape in shapes:  # nn.GRU's registration order: parameters() agree
                    setattr(self, kind + suffix, torch.nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))
                self._all_weights.append([kind + suffix for kind, _ in shapes])
        self._packed: tuple[Any, list[np.ndarray], Any] | None = None  # (spec, copies of the weights, core)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.GRU's initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every parameter, in its order."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            torch.nn.init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """nn.GRU's (a no-op on the CPU); here it drops the packed core, so the next forward repacks."""
        self._packed = None

    @property
    def all_weights(self) -> list[list[Any]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def __getstate__(self) -> dict[str, Any]:  # pickle / deepcopy: the core is rebuilt on first use
        state = super().__getstate__()
        state["_packed"] = None
        return state

    # Forward.
    def _weights(self) -> tuple[list[Any], np.dtype]:
        weights = [getattr(self, name) for name in self._flat_weights_names]
        for name, w in zip(self._flat_weights_names, weights):
            _check_cpu(f"parameter {name}", w)
        dtype = weights[0].dtype
        if dtype not in _DTYPES:
            raise TypeError(f"fastgru.torch.GRU computes in float32 or float64, but its parameters are {dtype}")
        other = [name for name, w in zip(self._flat_weights_names, weights) if w.dtype != dtype]
        if other:
            raise TypeError(f"parameters {', '.join(other)} are not {dtype} as weight_ih_l0 is")
        return weights, _DTYPES[dtype]

    def _core(self, spec: F.Spec, weights: list[Any]) -> Any:
        """The core holding these weights: the last one if the values are the same, else a new one."""
        arrays = [_np(w) for w in weights]
        packed = self._packed
        if (packed is not None and packed[0] == spec
                and all(a.dtype == c.dtype and np.array_equal(a, c) for a, c in zip(arrays, packed[1]))):
            return packed[2]
        F.checked_params(spec, dict(zip(self._flat_weights_names, arrays)))  # shapes and dtype, before the core
        copies = [a.copy() for a in arrays]  # copied first: what the core gets is what is compared next time
        core = F.make_core(spec, dict(zip(self._flat_weights_names, copies)))
        self._packed = (spec, copies, core)
        return core

    def _check_input(self, x: Any, dims: int, dtype: np.dtype) -> None:
        _check_cpu("input", x)
        if _DTYPES.get(x.dtype) != dtype:
            wd = getattr(self, self._flat_weights_names[0]).dtype
            raise ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype ({wd}). Convert input: "
                             f"input.to({wd}), or convert model: model.to({x.dtype})")
        if x.dim() != dims:
            raise RuntimeError(f"input must have {dims} dimensions, got {x.dim()}")
        if x.size(-1) != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {x.size(-1)}")

    def _check_hx(self, hx: Any, expected: tuple[int, ...], dtype: np.dtype) -> None:
        if not isinstance(hx, torch.Tensor):
            raise TypeError(f"hx must be a Tensor or None, got {type(hx).__name__}")
        _check_cpu("hx", hx)
        if _DTYPES.get(hx.dtype) != dtype:
            raise ValueError(f"hx dtype ({hx.dtype}) does not match the input's and weights' dtype ({dtype})")
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"Expected hidden size {expected}, got {list(hx.shape)}")

    def _run(self, spec: F.Spec, x: Any, hx: Any, lengths: np.ndarray | None, weights: list[Any]) -> tuple[Any, Any]:
        core = self._core(replace(spec, batch_first=False), weights)  # the core does not depend on the layout
        rate = self.dropout if self.training and self.num_layers > 1 else 0.0
        # One draw from torch's generator, only when dropout applies (torch.manual_seed reproduces it).
        seed = int(torch.randint(0, 1 << 62, (1,)).item()) if rate > 0 else 0
        needs_grad = torch.is_grad_enabled() and (x.requires_grad or (hx is not None and hx.requires_grad)
                                                  or any(w.requires_grad for w in weights))
        if not needs_grad:  # inference: nothing kept for backward
            y, h_n, _ = F.run_forward(core, spec, None, _np(x), None if hx is None else _np(hx), lengths,
                                      keep_cache=False, dropout=rate, seed=seed)
            return torch.from_numpy(y), torch.from_numpy(h_n)
        return _GruFunction.apply(_Run(core, spec, lengths, rate, seed, self._flat_weights_names), x, hx, *weights)

    def _spec(self, dtype: np.dtype, batch_first: bool) -> F.Spec:
        return F.Spec(self.input_size, self.hidden_size, self.num_layers, self.bidirectional, self.bias, True,
                      batch_first, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:  # noqa: A002 - nn.GRU's argument name
        weights, dtype = self._weights()
        LD, H = self.num_layers * (2 if self.bidirectional else 1), self.hidden_size
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            self._check_input(data, 2, dtype)
            steps, batch = int(batch_sizes.numel()), int(batch_sizes[0])
            if hx is not None:  # in the caller's batch order, as nn.GRU takes it
                self._check_hx(hx, (LD, batch, H), dtype)
            lengths, rows = _packed_layout(batch_sizes, sorted_indices)
            # Padded time-major input, built with torch ops (autograd carries the gradient back to data).
            x = data.new_zeros(steps * batch, self.input_size).index_copy(0, rows, data).view(steps, batch, -1)
            y, h_n = self._run(self._spec(dtype, False), x, hx, lengths, weights)
            out = y.reshape(steps * batch, -1).index_select(0, rows)
            return PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices), h_n
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"input must be a Tensor or a PackedSequence, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"GRU: Expected input to be 2D or 3D, got {input.dim()}D instead")
        batched = input.dim() == 3
        if hx is not None and isinstance(hx, torch.Tensor) and hx.dim() != (3 if batched else 2):
            raise RuntimeError(f"For {'batched 3' if batched else 'unbatched 2'}-D input, hx should also be "
                               f"{3 if batched else 2}-D but got {hx.dim()}-D tensor")
        self._check_input(input, input.dim(), dtype)
        if hx is not None:
            batch = input.size(0 if self.batch_first else 1)
            self._check_hx(hx, (LD, batch, H) if batched else (LD, H), dtype)
        return self._run(self._spec(dtype, self.batch_first), input, hx, None, weights)


def _packed_layout(batch_sizes: Any, sorted_indices: Any) -> tuple[np.ndarray, Any]:
    """Each sequence's length (caller's order) and, for each row of the packed data, its row in the
    padded (steps * batch) time-major array."""
    bs = batch_sizes.numpy().astype(np.int64)
    steps, batch = bs.shape[0], int(bs[0])
    order = np.arange(batch) if sorted_indices is None else sorted_indices.cpu().numpy().astype(np.int64)
    sorted_lengths = (bs[None, :] > np.arange(batch)[:, None]).sum(axis=1)  # slot j is in batch_sizes[t] > j
    lengths = np.empty(batch, np.int64)
    lengths[order] = sorted_lengths
    t = np.repeat(np.arange(steps), bs)
    slot = np.arange(t.shape[0]) - np.repeat(np.cumsum(bs) - bs, bs)
    return lengths, torch.from_numpy(t * batch + order[slot])
