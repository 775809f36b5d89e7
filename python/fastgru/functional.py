"""GRU forward and backward on explicit weights (PyTorch names and layout).

The GRU class uses the same machinery with weights it keeps packed between calls; these
functions pack the given weights on every call. They never modify their inputs: a Light GRU's
training forward returns its batch statistics in ``cache.batch_stats``, and
``update_running_stats`` makes the new running statistics from them.
"""

from __future__ import annotations

import hashlib
import numbers
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from . import _core, cells
from . import _sequences as S
from ._validation import check_bool, check_choice, check_dropout, check_shape, check_size, float_array, lengths_array
from .errors import listing

__all__ = ["gru_forward", "gru_backward", "param_names", "update_running_stats", "recurrent_masks", "GruCache"]


MAX_LAYERS = 4096  # as GRU's num_layers
LAYER_NORM_EPS = 1e-5  # normalization="layernorm": torch.nn.LayerNorm's default


def param_names(num_layers: int, bidirectional: bool, bias: bool, cell: str = "gru",
                normalization: str | None = cells.DEFAULT) -> list[str]:
    """The state_dict names in PyTorch's order, the same for every GRU form (cells.param_names)."""
    cell = check_choice("cell", cell, cells.CELLS)
    return cells.param_names(check_size("num_layers", num_layers, maximum=MAX_LAYERS),
                             check_bool("bidirectional", bidirectional), check_bool("bias", bias), cell,
                             cells.check_normalization(cell, normalization))


@dataclass(frozen=True)
class Spec:
    """Everything about a GRU stack except its weights."""

    input_size: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    bias: bool
    reset_after: bool
    batch_first: bool
    dtype: np.dtype
    # The cell form (gates / update / cell) whose public parameters map onto the core's cell;
    # reset_after above is the core's (already resolved: False for an MGU).
    form: cells.Form = cells.STANDARD
    math: cells.CellMath = cells.STANDARD_MATH  # activations and clip
    bn_eps: float | None = None  # the Light GRU's batch norm epsilon (None for the other forms)
    direction: str = "forward"  # "reverse": one direction reading each sequence backwards (_sequences)
    merge: str | None = "concat"  # how y holds a bidirectional model's two halves (_sequences.MERGES)
    precision: str = "float32"  # or "bf16": weights (and their products' inputs) in bfloat16 (fastgru.quantize)
    # Training regularisers of the recurrence (the core's GruConfig): recurrent dropout where
    # recurrent_dropout_form says ("candidate" or "state"), zoneout (its expectation in inference).
    recurrent_dropout: float = 0.0
    recurrent_dropout_form: str = "state"
    zoneout: float = 0.0

    @property
    def batch_norm(self) -> bool:
        return self.form.normalization == "batchnorm"

    @property
    def layer_norm(self) -> bool:
        return self.form.normalization == "layernorm"

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The public parameters' shapes (the form's), in state_dict order."""
        return cells.param_shapes(self.form, self.input_size, self.hidden_size, self.num_layers,
                                  self.bidirectional, self.bias)


def recurrent_noise_fields(spec: Spec, device: str, recurrent_dropout: Any, form: Any, zoneout: Any) -> dict[str, Any]:
    """The checked recurrent dropout and zoneout settings, as Spec fields. The form defaults to the
    one of the library the cell comes from: "candidate" (SpeechBrain) for the Light GRUs, "state"
    (Keras) for the others; the LiBRU's log-domain update has only "state"."""
    rate, zoneout = check_dropout(recurrent_dropout, "recurrent_dropout"), check_dropout(zoneout, "zoneout")
    if form is None:
        form = "candidate" if spec.form.cell in ("ligru", "sligru") else "state"
    form = check_choice("recurrent_dropout_form", form, ("candidate", "state"))
    if form == "candidate" and spec.form.cell == "libru":
        raise ValueError("recurrent_dropout_form='candidate' needs the update h' = z h + (1 - z) n, which "
                         "cell='libru' has not; use recurrent_dropout_form='state'")
    if device == "cuda" and (rate or zoneout):
        raise ValueError("recurrent_dropout and zoneout have no CUDA kernels; use device='cpu'")
    return dict(recurrent_dropout=rate, recurrent_dropout_form=form, zoneout=zoneout)


def make_core(spec: Spec, params: Mapping[str, np.ndarray], classes: tuple[Any, Any] | None = None) -> Any:
    """A core holding `params` (public, checked shapes), mapped onto the core's standard cell.
    `classes`: the (float32, float64) core classes, the CPU ones by default (fastgru.cuda passes its
    own)."""
    params = cells.to_internal(spec.form, spec.hidden_size, params)
    f32, f64 = classes or (_core.GruF32, _core.GruF64)
    core_cls = f32 if spec.dtype == np.float32 else f64
    bn = dict(batch_norm=True, batch_norm_eps=spec.bn_eps) if spec.batch_norm else {}
    if spec.precision != "float32":
        bn["weight_format"] = spec.precision
    if spec.layer_norm:  # PyTorch's LayerNorm epsilon (SpeechBrain keeps it)
        bn.update(layer_norm=True, layer_norm_eps=LAYER_NORM_EPS)
    if spec.form.cell == "libru":  # its own state update (only the CPU core has it)
        bn["cell"] = "libru"
    if spec.form.cell == "sligru":  # layer norm on U h (CPU core only), PyTorch's LayerNorm epsilon
        bn.update(recurrent_layer_norm=True, layer_norm_eps=LAYER_NORM_EPS)
    if spec.recurrent_dropout:  # CPU core only
        bn.update(recurrent_dropout=spec.recurrent_dropout, recurrent_dropout_form=spec.recurrent_dropout_form)
    if spec.zoneout:
        bn["zoneout"] = spec.zoneout
    # The light cells always have the core's biases: bias_ih holds r's constant.
    core = core_cls(spec.input_size, spec.hidden_size, spec.num_layers, spec.bias or spec.form.light,
                    spec.bidirectional, spec.reset_after, **spec.math.core_kwargs(), **bn)
    for layer in range(spec.num_layers):
        for d in range(spec.directions):
            s = f"l{layer}{'_reverse' if d else ''}"
            core.set_params(layer, d, params[f"weight_ih_{s}"], params[f"weight_hh_{s}"],
                            params.get(f"bias_ih_{s}"), params.get(f"bias_hh_{s}"))
            if spec.batch_norm:
                set_batch_norm(core, layer, d, params)
            if spec.layer_norm:
                core.set_layer_norm(layer, d, *(params[f"{kind}_{s}"] for kind in cells.LN_PARAMS))
    return core


def frozen(a: Any) -> np.ndarray:
    """A read-only copy of `a` that cannot be made writable again: its memory is an immutable bytes
    object, and NumPy refuses ``flags.writeable = True`` (ValueError) for such arrays and their views."""
    a = np.ascontiguousarray(a)
    return np.frombuffer(a.tobytes(), a.dtype).reshape(a.shape)


def set_batch_norms(core: Any, spec: Spec, params: Mapping[str, np.ndarray]) -> None:
    """Hands every layer/direction's batch norm arrays (public names) to a Light GRU's core: the
    CPU core takes them in one call, which an inference running at the same time sees entirely or
    not at all; the CUDA core one layer and direction at a time."""
    if not hasattr(core, "set_batch_norms"):
        for layer in range(spec.num_layers):
            for d in range(spec.directions):
                set_batch_norm(core, layer, d, params)
        return
    core.set_batch_norms([tuple(params[f"{kind}_l{layer}{'_reverse' if d else ''}"]
                                for kind in (*cells.BN_PARAMS, *cells.BN_BUFFERS))
                          for layer in range(spec.num_layers) for d in range(spec.directions)])


def set_batch_norm(core: Any, layer: int, direction: int, params: Mapping[str, np.ndarray]) -> None:
    """Hands one layer/direction's batch norm arrays (public names) to a Light GRU's core."""
    s = f"l{layer}{'_reverse' if direction else ''}"
    core.set_batch_norm(layer, direction, *(params[f"{kind}_{s}"] for kind in (*cells.BN_PARAMS, *cells.BN_BUFFERS)))


@dataclass(frozen=True, eq=False)
class GruCache:
    """What backward needs from one forward call. Opaque to users.

    Sealed by the forward that made it (seal_cache): its fields cannot be reassigned, its data and
    lengths arrays cannot be written, and backward (check_cache) refuses a cache whose fields were
    changed anyway (object.__setattr__, dataclasses.replace) with ValueError."""

    core: Any
    spec: Spec
    token: Any  # identifies the weights the forward pass used
    data: np.ndarray
    steps: int
    batch: int
    lengths: np.ndarray | None
    dropout: float
    seed: int
    unbatched: bool
    x_dtype: np.dtype = field(default=np.dtype(np.float32))
    # Light GRU: whether batch norm used this batch's statistics (training) or the running ones;
    # with batch statistics, batch_stats maps each bn_running_mean_l{k}[_reverse] /
    # bn_running_var_l{k}[_reverse] name to this batch's mean / unbiased variance over its valid steps.
    batch_statistics: bool = False
    batch_stats: dict[str, np.ndarray] | None = None
    padding: str = "zeros"
    # The reordering around the core (fastgru._sequences) and, for merge="mul", the unmerged y
    # (user layout) its backward multiplies by; None when not needed.
    plan: Any = None
    unmerged_y: np.ndarray | None = None
    # Whether the forward drew recurrent dropout and zoneout masks (training), from `seed`.
    recurrent_masks: bool = False
    _digest: bytes = field(default=b"", init=False, repr=False)  # set by seal_cache


# The seals' key, new in every process: without it no code can make a digest that passes.
_CACHE_KEY = os.urandom(32)


def _cache_digest(cache: GruCache) -> bytes:
    """A keyed digest of everything backward relies on (batch_stats is not: backward does not read
    it). The objects the cache holds (core, spec, token, data) enter by identity: the cache keeps
    them alive, so no other object has their ids while it holds them; the arrays cannot be written."""
    lens, data = cache.lengths, cache.data
    fields = (cache.steps, cache.batch, cache.dropout, cache.seed, cache.unbatched, _dtype_str(cache.x_dtype),
              cache.batch_statistics, tuple(data.shape), _dtype_str(data.dtype), id(data), id(cache.core),
              id(cache.spec), id(cache.token), None if lens is None else (_dtype_str(lens.dtype), lens.shape),
              cache.padding, id(cache.plan), id(cache.unmerged_y), cache.recurrent_masks)
    h = hashlib.blake2b(repr(fields).encode(), key=_CACHE_KEY, digest_size=16)
    if lens is not None:
        h.update(np.ascontiguousarray(lens).tobytes())
    return h.digest()


def _dtype_str(d: Any) -> Any:
    return getattr(d, "str", d)  # '<f4': a dtype's repr costs microseconds


def seal_cache(cache: GruCache) -> GruCache:
    """Seals a cache a forward just made (see GruCache)."""
    object.__setattr__(cache, "_digest", _cache_digest(cache))
    return cache


def check_cache(cache: GruCache) -> None:
    """ValueError unless `cache` is as the forward that made it sealed it."""
    try:
        intact = bool(cache._digest) and cache._digest == _cache_digest(cache)
    except (AttributeError, TypeError, ValueError):  # a field replaced by something of another kind
        intact = False
    if not intact:
        raise ValueError("cache was modified after the forward that made it (its steps, batch, lengths, data or "
                         "another field differ from that forward's): run forward again")


def to_time_major(spec: Spec, x: Any) -> tuple[np.ndarray, bool]:
    """x as a contiguous (T, B, D) array of the model's dtype, and whether it was unbatched."""
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if arr.dtype.kind != "f":
        raise TypeError(f"x must be a floating-point array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        layout = "(batch, steps, input_size)" if spec.batch_first else "(steps, batch, input_size)"
        raise ValueError(f"x must be 3-D {layout} or 2-D (steps, input_size), got shape {arr.shape}")
    if arr.shape[-1] != spec.input_size:
        raise ValueError(f"x has {arr.shape[-1]} features (last axis of shape {arr.shape}), "
                         f"expected input_size={spec.input_size}")
    unbatched = arr.ndim == 2
    if unbatched:
        arr = arr[:, None, :]
    elif spec.batch_first:
        arr = arr.transpose(1, 0, 2)
    if arr.shape[0] == 0:
        raise ValueError(f"x has no time steps (shape {x.shape if hasattr(x, 'shape') else arr.shape})")
    if arr.shape[1] == 0:
        raise ValueError("x has an empty batch (batch size 0)")
    return float_array("x", arr, spec.dtype), unbatched


def from_time_major(spec: Spec, a: np.ndarray, unbatched: bool) -> np.ndarray:
    if unbatched:
        return a[:, 0, :]
    return np.ascontiguousarray(a.transpose(1, 0, 2)) if spec.batch_first else a


def state_array(spec: Spec, name: str, h: Any, batch: int, unbatched: bool) -> np.ndarray:
    """A (layers*dirs, B, H) state given as (layers*dirs, B, H), or (layers*dirs, H) if unbatched."""
    LD = spec.num_layers * spec.directions
    arr = float_array(name, h, spec.dtype)
    if unbatched:
        check_shape(name, arr, (LD, spec.hidden_size))
        return np.ascontiguousarray(arr[:, None, :])
    check_shape(name, arr, (LD, batch, spec.hidden_size))
    return arr


def run_forward(core: Any, spec: Spec, token: Any, x: Any, h0: Any, lengths: Any, *, keep_cache: bool,
                dropout: float, seed: int, batch_statistics: bool = False, mask: Any = None,
                padding: str = "zeros", recurrent_masks: bool = False) -> tuple[Any, np.ndarray, GruCache | None]:
    x_dtype = x.dtype if isinstance(x, np.ndarray) else np.asarray(x).dtype
    xt, unbatched = to_time_major(spec, x)
    steps, batch = xt.shape[0], xt.shape[1]
    h = None if h0 is None else state_array(spec, "h0", h0, batch, unbatched)
    lens = valid = None
    if lengths is not None and mask is not None:
        raise ValueError("pass lengths or mask, not both (a mask that is False from each length on is the "
                         "same as those lengths)")
    if lengths is not None:
        if unbatched:
            raise ValueError("lengths needs a batched (3-D) x")
        lens = lengths_array(lengths, batch, steps, minimum=0)
        if keep_cache:
            lens = frozen(lens)  # the cache's own copy: changing the caller's array cannot change it
    if mask is not None:
        if unbatched:
            raise ValueError("mask needs a batched (3-D) x")
        valid = S.mask_array(mask, batch, steps)
    carry = padding == "carry" and not spec.bidirectional
    plan = None
    core_x, core_h, core_lens = xt, h, lens
    if S.needed(lens, valid, spec.direction == "reverse"):
        plan = S.make_plan(steps, batch, lens, valid, spec.direction == "reverse", carry)
        core_x, core_lens = S.gather_x(plan, xt), plan.core_lengths
        core_h = None if h is None else np.ascontiguousarray(h[:, plan.active])
    batch_statistics = batch_statistics and spec.batch_norm
    stats = None
    LD, width = spec.num_layers * spec.directions, spec.directions * spec.hidden_size
    if batch_statistics:
        rows = (int(plan.x_index.size if core_lens is None else core_lens.sum()) if plan is not None
                else steps * batch if lens is None else int(lens.sum()))
        if rows < 2:  # PyTorch's BatchNorm refuses this too: the variance of one value is undefined
            raise ValueError("batch norm with batch statistics needs more than one valid step in the batch "
                             f"(this batch has {rows}); use training=False for a single step")
        stats = np.empty((LD, 2, 2 * spec.hidden_size), spec.dtype)
    y: Any
    h_n: Any
    # Only a CPU core knows the argument (CUDA models have neither recurrent dropout nor zoneout).
    noise = {"recurrent_masks": True} if recurrent_masks else {}
    if plan is not None and plan.active.size == 0:  # every sequence is empty: nothing for the core
        y, h_n, data = None, None, frozen(np.empty(0, spec.dtype))
    elif batch_statistics:
        y, h_n, data = core.forward(core_x, core_h, core_lens, keep_cache, dropout, seed, True, stats, **noise)
    else:
        y, h_n, data = core.forward(core_x, core_h, core_lens, keep_cache, dropout, seed, **noise)
    if plan is not None:
        y = S.scatter_y(plan, y, width, spec.dtype)
        h_n = S.scatter_state(plan, h_n, h, (LD, batch, spec.hidden_size), spec.dtype)
    elif carry and lens is not None:
        from ._keras import carry_outputs

        carry_outputs(y, lens, False)  # time-major, in place
    y = from_time_major(spec, y, unbatched)
    merged = S.merge_outputs(spec.merge, y)
    cache = None
    if keep_cache:
        cache = seal_cache(GruCache(core, spec, token, data, steps, batch, lens, dropout, seed, unbatched,
                                    np.dtype(x_dtype), batch_statistics,
                                    None if stats is None else _stats_dict(spec, stats), padding, plan,
                                    frozen(y) if spec.merge == "mul" else None, recurrent_masks))
    return merged, (h_n[:, 0, :] if unbatched else h_n), cache


def _stats_dict(spec: Spec, stats: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for i in range(spec.num_layers * spec.directions):
        s = f"l{i // spec.directions}{'_reverse' if i % spec.directions else ''}"
        out[f"bn_running_mean_{s}"], out[f"bn_running_var_{s}"] = stats[i, 0], stats[i, 1]
    return out


def run_backward(cache: GruCache, dy: Any, dh_n: Any) -> dict[str, np.ndarray]:
    check_cache(cache)
    spec, plan = cache.spec, cache.plan
    T, B, H = cache.steps, cache.batch, spec.hidden_size
    HD = spec.directions * H
    layout = (T,) if cache.unbatched else (B, T) if spec.batch_first else (T, B)
    dy = S.unmerge_cotangent(spec.merge, dy, cache.unmerged_y, (*layout, H), spec.dtype)
    dyt = None
    if dy is not None:
        arr = float_array("dy", dy, spec.dtype)
        check_shape("dy", arr, (*layout, HD))
        dyt = arr[:, None, :] if cache.unbatched else arr.transpose(1, 0, 2) if spec.batch_first else arr
        dyt = np.ascontiguousarray(dyt)
    dh = None if dh_n is None else state_array(spec, "dh_n", dh_n, cache.batch, cache.unbatched)
    names = cells.internal_grad_names(spec.form, spec.num_layers, spec.bidirectional, spec.bias)
    noise = {"recurrent_masks": True} if cache.recurrent_masks else {}
    state_shape = (spec.num_layers * spec.directions, B, H)
    if plan is None:
        if dyt is not None and cache.padding == "carry" and cache.lengths is not None and not spec.bidirectional:
            from ._keras import carry_cotangent

            dyt = carry_cotangent(dyt, cache.lengths, False, spec.dtype, dyt.shape)
        dx, dh0, per_layer = cache.core.backward(cache.data, cache.steps, cache.batch, cache.lengths, dyt, dh,
                                                 cache.dropout, cache.seed, cache.batch_statistics, **noise)
        flat = [g for layer in per_layer for g in layer]
    elif plan.active.size == 0:  # no sequence reached the core: h_n was h0
        dx = np.zeros((T, B, spec.input_size), spec.dtype)
        dh0 = S.scatter_state(plan, None, dh, state_shape, spec.dtype)
        flat = None
    else:
        core_dy = None if dyt is None else S.gather_dy(plan, dyt)
        core_dh = None if dh is None else np.ascontiguousarray(dh[:, plan.active])
        dxc, dh0c, per_layer = cache.core.backward(cache.data, plan.core_steps, plan.active.size,
                                                   plan.core_lengths, core_dy, core_dh, cache.dropout, cache.seed,
                                                   cache.batch_statistics, **noise)
        dx = S.scatter_dx(plan, dxc, spec.dtype, spec.input_size)
        dh0 = S.scatter_state(plan, dh0c, dh, state_shape, spec.dtype)
        flat = [g for layer in per_layer for g in layer]
    grads = {"x": from_time_major(spec, dx, cache.unbatched), "h0": dh0[:, 0, :] if cache.unbatched else dh0}
    shapes = spec.param_shapes()
    if flat is None:
        public = {k: np.zeros(shape, spec.dtype) for k, shape in shapes.items()}
    else:
        public = cells.to_public_grads(spec.form, spec.hidden_size, dict(zip(names, flat)))
    # In state_dict order; internal-only arrays (the Light GRU's bias_hh when bias=False) and the
    # running statistics (buffers) have none.
    grads.update((k, public[k]) for k in shapes if not cells.is_buffer(k))
    return grads


# A parameter's name: kind, layer (at most 4 digits, so a key cannot name an absurd layer count)
# and direction. Anything else in params is rejected.
_PARAM_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|bn_weight|bn_bias|bn_running_mean|bn_running_var|"
                        r"ln_weight|ln_bias)"
                        r"_l(\d{1,4})(_reverse)?")


def _check_mapping(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of arrays (PyTorch names), got {type(value).__name__}")
    return value


def _layers_in_keys(params: Mapping[str, Any]) -> int:
    """1 + the largest layer index the keys name, in one pass that rejects keys that are no
    parameter's name."""
    top, unknown = 0, []
    for k in params:
        m = _PARAM_KEY.fullmatch(k) if isinstance(k, str) else None
        if m is None:
            unknown.append(k)
        else:
            top = max(top, int(m.group(2)))
    if unknown:
        raise ValueError(f"params has keys that are no GRU parameter's name: {listing(unknown)}")
    if top >= MAX_LAYERS:
        raise ValueError(f"params names layer {top}, but num_layers must be in [1, {MAX_LAYERS}]")
    return top + 1


def spec_from_params(params: Mapping[str, Any], num_layers: int | None, bidirectional: bool | None,
                     reset_after: bool | None, batch_first: bool, gates: Any = "full", update: Any = "old",
                     cell: Any = "gru", normalization: Any = cells.DEFAULT) -> Spec:
    params = _check_mapping("params", params)
    batch_first = check_bool("batch_first", batch_first)
    num_layers = _layers_in_keys(params) if num_layers is None else check_size("num_layers", num_layers,
                                                                                 maximum=MAX_LAYERS)
    if bidirectional is not None:
        bidirectional = check_bool("bidirectional", bidirectional)
    if "weight_ih_l0" not in params or "weight_hh_l0" not in params:
        raise ValueError("params must hold at least weight_ih_l0 and weight_hh_l0 (PyTorch names)")
    bias = ("bias_hh_l0" if cell in cells.LIGHT else "bias_ih_l0") in params  # the light cells have no bias_ih
    form, reset_after = cells.check_form(gates, update, cell, reset_after, bias, normalization)
    blocks = cells.row_blocks(form, "weight_ih")
    w = np.asarray(params["weight_ih_l0"])
    if w.ndim != 2 or w.shape[0] % blocks != 0 or w.shape[0] == 0:
        rows = "hidden_size" if blocks == 1 else f"{blocks}*hidden_size"
        raise ValueError(f"weight_ih_l0 must have shape ({rows}, input_size), got {w.shape}")
    dtype = w.dtype if w.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    if bidirectional is None:
        bidirectional = "weight_ih_l0_reverse" in params
    needed = 2 * num_layers * (2 if bidirectional else 1)  # weight_ih and weight_hh per layer and direction
    if len(params) < needed:  # said without listing every missing name (cost: the keys, not the claim)
        raise ValueError(f"params holds {len(params)} arrays, but num_layers={num_layers}"
                         f"{' bidirectional' if bidirectional else ''} needs at least {needed} weights")
    return Spec(check_size("input_size (weight_ih_l0's columns)", w.shape[1]),
                check_size("hidden_size (from weight_ih_l0's rows)", w.shape[0] // blocks),
                num_layers, bidirectional, bias, reset_after, batch_first, np.dtype(dtype), form)


def checked_params(spec: Spec, params: Mapping[str, Any], strict: bool = True,
                   what: str = "params") -> dict[str, np.ndarray]:
    params = _check_mapping(what, params)
    strict = check_bool("strict", strict)
    shapes = spec.param_shapes()
    missing = [k for k in shapes if k not in params]
    unexpected = [k for k in params if k not in shapes]
    if strict and (missing or unexpected):
        raise ValueError(f"parameters do not match the model: missing {listing(missing) or 'none'}, "
                         f"unexpected {listing(unexpected) or 'none'}")
    out = {}
    for name, shape in shapes.items():
        if name in params:
            arr = float_array(name, params[name], spec.dtype)
            check_shape(name, arr, shape)
            out[name] = arr
    return out


def gru_forward(x: Any, params: Mapping[str, Any], h0: Any = None, lengths: Any = None, *,
                num_layers: int | None = None, bidirectional: bool | None = None, reset_after: bool | None = None,
                batch_first: bool = False, dropout: float = 0.0, training: bool = False,
                dropout_seed: int = 0, gates: str = "full", update: str = "old", cell: str = "gru",
                activation: str | None = None, recurrent_activation: str = "sigmoid",
                activation_alpha: float | None = None, activation_beta: float | None = None,
                recurrent_activation_alpha: float | None = None, recurrent_activation_beta: float | None = None,
                clip: float | None = None, bn_eps: float | None = None, direction: str = "forward",
                merge: str | None = "concat", mask: Any = None, padding: str = "zeros",
                normalization: str | None = cells.DEFAULT, recurrent_dropout: float = 0.0,
                recurrent_dropout_form: str | None = None,
                zoneout: float = 0.0) -> tuple[Any, np.ndarray, GruCache]:
    """GRU forward with explicit weights; returns (y, h_n, cache) — see docs/API.md. `params` are the
    cell form's public parameters (state_dict entries); reset_after=None means True, or False for
    cell="mgu"; activation=None is the form's candidate (tanh; ReLU for cell="ligru", softplus for
    cell="libru").

    normalization (cell="ligru" / "libru"): "batchnorm" (default), "layernorm" or None.
    cell="ligru" (and "libru") with batch norm and training=True normalises with the batch's
    statistics and returns them in cache.batch_stats (see update_running_stats); training=False
    uses params' running statistics. direction, merge, mask and padding as GRU's (docs/API.md,
    "Direction, masks and merge"). recurrent_dropout, recurrent_dropout_form and zoneout as GRU's:
    with training=True their masks are drawn from dropout_seed (see recurrent_masks)."""
    spec = spec_from_params(params, num_layers, bidirectional, reset_after, batch_first, gates, update, cell,
                            normalization)
    spec = replace(spec, math=cells.check_math(spec.form, activation, recurrent_activation, activation_alpha,
                                               activation_beta, recurrent_activation_alpha,
                                               recurrent_activation_beta, clip),
                   bn_eps=cells.check_batch_norm(spec.form, None, bn_eps)[1],
                   direction=S.check_direction(direction, spec.bidirectional),
                   merge=S.check_merge(merge, spec.bidirectional))
    spec = replace(spec, **recurrent_noise_fields(spec, "cpu", recurrent_dropout, recurrent_dropout_form, zoneout))
    padding = S.check_padding(padding)
    training = check_bool("training", training)
    dropout = check_dropout(dropout)  # checked even when unused: a wrong value is a mistake either way
    if isinstance(dropout_seed, (bool, np.bool_)) or not isinstance(dropout_seed, numbers.Integral):
        raise TypeError(f"dropout_seed must be an int, got {type(dropout_seed).__name__} {dropout_seed!r}")
    p = checked_params(spec, params)
    core = make_core(spec, p)
    return run_forward(core, spec, None, x, h0, lengths, keep_cache=True, dropout=dropout if training else 0.0,
                       seed=int(dropout_seed) % (1 << 64), batch_statistics=training, mask=mask, padding=padding,
                       recurrent_masks=training and bool(spec.recurrent_dropout or spec.zoneout))


def gru_backward(cache: GruCache, dy: Any = None, dh_n: Any = None) -> dict[str, np.ndarray]:
    """Gradients for x, h0 and every parameter from a gru_forward cache."""
    if not isinstance(cache, GruCache):
        raise TypeError(f"cache must come from gru_forward, got {type(cache).__name__}")
    return run_backward(cache, dy, dh_n)


def recurrent_masks(cache: GruCache) -> dict[str, dict[str, np.ndarray]]:
    """The recurrent dropout and zoneout masks a training forward drew, per layer and direction
    ("l0", "l0_reverse", ...): "recurrent_dropout", (gates, batch, H) scales 0 or 1/(1 - p) held over
    every step (gates r, z, n for the state form, the candidate's one for the candidate form), and
    "zoneout", (steps, batch, H) booleans, True where h' = h. Empty for a forward that drew none."""
    if not isinstance(cache, GruCache):
        raise TypeError(f"cache must come from a forward, got {type(cache).__name__}")
    check_cache(cache)
    spec = cache.spec
    if not cache.recurrent_masks:
        return {}
    if cache.plan is not None:
        raise ValueError("recurrent_masks: this forward reordered its batch (lengths of 0, mask= or "
                         "direction='reverse'), and its masks follow the reordered batch; use lengths >= 1")
    gates = 3 if spec.recurrent_dropout_form == "state" else 1
    out = {}
    for i in range(spec.num_layers * spec.directions):
        scales, keeps = _core.recurrent_masks(cache.seed, i, cache.steps, cache.batch, spec.hidden_size, gates,
                                              spec.recurrent_dropout, spec.zoneout)
        masks = {}
        if spec.recurrent_dropout:
            masks["recurrent_dropout"] = scales.astype(spec.dtype)
        if spec.zoneout:
            masks["zoneout"] = keeps
        out[f"l{i // spec.directions}{'_reverse' if i % spec.directions else ''}"] = masks
    return out


def update_running_stats(params: Mapping[str, Any], batch_stats: Mapping[str, Any],
                         momentum: float = 0.1) -> dict[str, np.ndarray]:
    """A Light GRU's new running statistics after one training batch, PyTorch's BatchNorm rule:
    running = (1 - momentum) * running + momentum * batch (the batch's unbiased variance for
    bn_running_var). `batch_stats` is a training forward's cache.batch_stats; returns new arrays
    for those names, of the running arrays' dtype (params is not modified)."""
    if isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
    if batch_stats is None:
        raise ValueError("batch_stats is None: only a training forward of a light cell with batch norm has batch "
                         "statistics")
    params, batch_stats = _check_mapping("params", params), _check_mapping("batch_stats", batch_stats)
    out = {}
    for name, batch in batch_stats.items():
        if name not in params:
            raise ValueError(f"params has no {name!r} for the batch statistic of that name")
        old = params[name]
        dtype = old.dtype if isinstance(old, np.ndarray) and old.dtype.kind == "f" else np.dtype(np.float64)
        old64, batch64 = np.asarray(old, np.float64), np.asarray(batch, np.float64)
        check_shape(name, old64, batch64.shape)
        # In float64, rounded once: the same bits whichever order the caller updates in.
        out[name] = ((1.0 - momentum) * old64 + momentum * batch64).astype(dtype)
    return out
