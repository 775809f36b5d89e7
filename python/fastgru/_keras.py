"""Keras 3 interoperability: weight conversion and Keras's masking semantics (padding="carry").

keras is never imported here: a Keras layer can only be passed in by a program that already
imported keras, so it is looked up in sys.modules. Weight lists need no Keras at all.

Keras keeps gates in column blocks z | r | h of `kernel` (D, 3H) and `recurrent_kernel` (H, 3H);
fastgru (PyTorch) keeps them in row blocks r; z; n of `weight_ih` (3H, D) and `weight_hh` (3H, H).
The conversion swaps the first two blocks and transposes: a pure permutation, exact both ways.

Activations: the Keras 3 functions that are exactly one of fastgru's map onto it with its
parameters (``KERAS_ACTIVATIONS`` by Keras name, ``KERAS_OPS_ACTIVATIONS`` for keras.ops functions
whose defaults differ); any other raises ValueError naming it.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

# Arguments from_keras derives from the layer or weights; passing them too would contradict it.
_DERIVED = ("input_size", "hidden_size", "num_layers", "bias", "bidirectional")
# ... and from a layer (not from a weight list, which does not say): its activations.
_MATH = ("activation", "activation_alpha", "activation_beta", "recurrent_activation",
         "recurrent_activation_alpha", "recurrent_activation_beta")

# Keras 3 activation name -> (fastgru activation, alpha, beta): the same function exactly (Keras 3.15,
# every backend). Keras's functions of these names, and keras.ops's where they exist with the same
# defaults, are recognised.
KERAS_ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "tanh": ("tanh", None, None),
    "sigmoid": ("sigmoid", None, None),
    "relu": ("relu", None, None),  # the default ReLU (negative_slope 0, no max_value or threshold)
    "linear": ("affine", 1.0, 0.0),  # also what activation=None gives
    "elu": ("elu", 1.0, None),
    "celu": ("elu", 1.0, None),  # celu(x, alpha=1) = max(0, x) + min(0, e^x - 1) = elu(x, 1)
    "leaky_relu": ("leaky_relu", 0.2, None),  # Keras 3's default negative_slope
    "softsign": ("softsign", None, None),
    "softplus": ("softplus", None, None),
    # Keras 3: relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1), i.e. HardSigmoid(alpha=1/6, beta=1/2);
    # Keras 2 / tf.keras used 0.2x + 0.5 (fastgru's default alpha 0.2, ONNX's).
    "hard_sigmoid": ("hard_sigmoid", 1.0 / 6.0, 0.5),
    "sparse_sigmoid": ("hard_sigmoid", 0.5, 0.5),  # clip((x + 1) / 2, 0, 1)
    # Beyond ONNX's set: fastgru computes these under Keras's own names and definitions.
    "selu": ("selu", None, None),
    "relu6": ("relu6", None, None),
    "gelu": ("gelu", None, None),  # keras.activations.gelu: approximate=False, the erf form
    "silu": ("silu", None, None),
    "hard_tanh": ("hard_tanh", None, None),
    "log_sigmoid": ("log_sigmoid", None, None),
    "mish": ("mish", None, None),
    "hard_silu": ("hard_silu", None, None),  # x relu6(x + 3) / 6
    "sparse_plus": ("sparse_plus", None, None),
    "squareplus": ("squareplus", 4.0, None),  # Keras's default b = 4
    "tanh_shrink": ("tanh_shrink", None, None),
    "soft_shrink": ("soft_shrink", 0.5, None),  # Keras's default threshold
    "hard_shrink": ("hard_shrink", 0.5, None),
    "exponential": ("exponential", None, None),
    # Keras's aliases (after the names above, which keras_activation_names prefers).
    "swish": ("silu", None, None),
    "hard_swish": ("hard_silu", None, None),
}
# keras.ops functions that are activations but not (or not with the same defaults) under that
# name in keras.activations: keras.ops.gelu defaults to approximate=True, the tanh form.
KERAS_OPS_ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "gelu": ("gelu_tanh", None, None),
    "sin": ("sin", None, None),  # SpeechBrain's Light GRU option; Keras has no activation of this name
    "exp": ("exponential", None, None),
}


def _swap_zr(a: np.ndarray, H: int, axis: int) -> np.ndarray:
    """Swaps the first two gate blocks along `axis` (z,r,h <-> r,z,n; the map is its own inverse)."""
    idx = np.r_[H:2 * H, 0:H, 2 * H:3 * H]
    return np.take(a, idx, axis=axis)


def _keras_module() -> Any:
    return sys.modules.get("keras")


def _direction_from_weights(ws: Sequence[Any], reset_after: bool | None,
                            where: str) -> tuple[dict[str, np.ndarray], int, int, bool, bool]:
    """One Keras GRU's [kernel, recurrent_kernel(, bias)] -> (our params, D, H, bias, reset_after)."""
    if len(ws) not in (2, 3):
        raise ValueError(f"{where}: a Keras GRU's weights are [kernel, recurrent_kernel, bias] "
                         f"(or the first two when use_bias=False), got {len(ws)} arrays")
    arrays = [np.asarray(w) for w in ws]
    for name, a in zip(("kernel", "recurrent_kernel", "bias"), arrays):
        if a.dtype.kind != "f":
            raise TypeError(f"{where}: {name} must be a floating-point array, got dtype {a.dtype}")
    kernel, recurrent = arrays[0], arrays[1]
    if kernel.ndim != 2 or kernel.shape[1] % 3 != 0 or 0 in kernel.shape:
        raise ValueError(f"{where}: kernel must have shape (input_size, 3*units), got {kernel.shape}")
    D, H = kernel.shape[0], kernel.shape[1] // 3
    if recurrent.shape != (H, 3 * H):
        raise ValueError(f"{where}: recurrent_kernel must have shape (units, 3*units) = {(H, 3 * H)} "
                         f"for a kernel of shape {kernel.shape}, got {recurrent.shape}")
    params = {"weight_ih": _swap_zr(kernel, H, 1).T, "weight_hh": _swap_zr(recurrent, H, 1).T}
    if len(arrays) == 2:
        if reset_after is None:
            raise ValueError(f"{where}: without a bias the weights do not tell reset_after; pass "
                             "reset_after=True (Keras's default) or reset_after=False")
        return params, D, H, False, reset_after
    bias = arrays[2]
    if bias.shape == (2, 3 * H):
        inferred = True  # row 0 input bias, row 1 recurrent bias
        params["bias_ih"] = _swap_zr(bias[0], H, 0)
        params["bias_hh"] = _swap_zr(bias[1], H, 0)
    elif bias.shape == (3 * H,):
        inferred = False  # one input-side bias; our recurrent bias is then zero (exact)
        params["bias_ih"] = _swap_zr(bias, H, 0)
        params["bias_hh"] = np.zeros_like(params["bias_ih"])
    else:
        raise ValueError(f"{where}: bias must have shape (2, 3*units) = {(2, 3 * H)} (reset_after=True) "
                         f"or (3*units,) = {(3 * H,)} (reset_after=False), got {bias.shape}")
    if reset_after is not None and bool(reset_after) != inferred:
        raise ValueError(f"{where}: reset_after={reset_after} was given but the bias shape {bias.shape} "
                         f"is that of reset_after={inferred}")
    return params, D, H, True, inferred


def _activation_name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


def _keras_function_map() -> dict[Any, tuple[str, float | None, float | None]]:
    """Keras function object -> (fastgru activation, alpha, beta)."""
    keras = _keras_module()
    out = {}
    for name, math in KERAS_ACTIVATIONS.items():
        op = getattr(keras.ops, name, None)
        if op is not None and name not in KERAS_OPS_ACTIVATIONS:
            out[op] = math
        out[keras.activations.get(name)] = math
    for name, math in KERAS_OPS_ACTIVATIONS.items():
        out[getattr(keras.ops, name)] = math
    return out


def _layer_math(cell: Any, where: str) -> dict[str, Any]:
    """The GRU keyword arguments for a Keras GRUCell's activation and recurrent_activation."""
    known = _keras_function_map()
    out: dict[str, Any] = {}
    bad = []
    for arg in ("activation", "recurrent_activation"):
        fn = getattr(cell, arg)
        try:
            math = known.get(fn)
        except TypeError:  # an unhashable callable
            math = None
        if math is None:
            bad.append(f"{arg}={_activation_name(fn)!r}")
            continue
        act, alpha, beta = math
        out.update({arg: act, f"{arg}_alpha": alpha, f"{arg}_beta": beta})
    if bad:
        ops = ", ".join(f"keras.ops.{name}" for name in KERAS_OPS_ACTIVATIONS)
        raise ValueError(f"{where}: {' and '.join(bad)}: not among the Keras activations fastgru computes "
                         f"exactly ({', '.join(KERAS_ACTIVATIONS)}; {ops})")
    return out


def keras_activation_names(gru: Any) -> dict[str, str]:
    """The Keras GRU arguments (``activation``, ``recurrent_activation``) naming `gru`'s functions;
    ValueError where Keras has no function of that name (build the Keras layer with a callable
    that computes it instead)."""
    out = {}
    for arg in ("activation", "recurrent_activation"):
        got = (getattr(gru, arg), getattr(gru, f"{arg}_alpha"), getattr(gru, f"{arg}_beta"))
        # Parameters compared in float32: an ONNX round trip stores them so.
        names = [name for name, (act, alpha, beta) in KERAS_ACTIVATIONS.items()
                 if name != "celu" and act == got[0]
                 and all((a is None) == (b is None) and (a is None or np.float32(a) == np.float32(b))
                         for a, b in ((alpha, got[1]), (beta, got[2])))]
        if not names:
            raise ValueError(f"Keras has no activation {got[0]!r} with alpha={got[1]}, beta={got[2]} "
                             f"({arg}); build the Keras layer with a callable computing it")
        out[arg] = names[0]
    return out


def _gru_layer_weights(layer: Any, where: str) -> tuple[list[np.ndarray], bool, dict[str, Any]]:
    """A Keras GRU (or RNN of a GRUCell) -> its weight list, reset_after and activations, after checks."""
    keras = _keras_module()
    cell = getattr(layer, "cell", None)
    if not isinstance(layer, keras.layers.RNN) or not isinstance(cell, keras.layers.GRUCell):
        raise TypeError(f"{where}: expected a keras.layers.GRU, got {type(layer).__name__}")
    math = _layer_math(cell, where)
    if not cell.built or getattr(cell, "kernel", None) is None:
        raise ValueError(f"{where}: the Keras layer has no weights yet; build it first "
                         "(call it on an input, or layer.build((None, None, input_dim)))")
    ws = [_variable_to_numpy(cell.kernel), _variable_to_numpy(cell.recurrent_kernel)]
    if cell.use_bias:
        ws.append(_variable_to_numpy(cell.bias))
    rate = float(getattr(cell, "recurrent_dropout", 0.0) or 0.0)
    if rate > 0:  # Keras's form: a mask per gate on h in its recurrent product, held over the steps
        math.update(recurrent_dropout=rate, recurrent_dropout_form="state")
    return ws, bool(cell.reset_after), math


def _variable_to_numpy(v: Any) -> np.ndarray:
    value = getattr(v, "value", v)
    if hasattr(value, "detach"):
        # torch backend: torch's __array__ (used by get_weights and convert_to_numpy) raises a
        # DeprecationWarning under NumPy 2; Tensor.numpy() does not. bfloat16 has no NumPy type.
        t = value.detach().cpu()
        return (t.float() if str(t.dtype) == "torch.bfloat16" else t).numpy()
    return np.asarray(_keras_module().ops.convert_to_numpy(value))


def _directions_from_layer(layer: Any) -> tuple[list[list[np.ndarray]], bool, dict[str, Any]]:
    """(weights per direction, reset_after, the GRU's activation / direction / merge arguments)."""
    keras = _keras_module()
    if isinstance(layer, keras.layers.Bidirectional):
        if layer.merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Bidirectional(merge_mode={layer.merge_mode!r}) is not one fastgru has "
                             "(concat, sum, mul, ave, None)")
        fwd, bwd = layer.forward_layer, layer.backward_layer
        if getattr(fwd, "go_backwards", False) or not getattr(bwd, "go_backwards", True):
            raise ValueError("Bidirectional: expected a forward layer with go_backwards=False and a "
                             "backward layer with go_backwards=True")
        wf, raf, mf = _gru_layer_weights(fwd, "Bidirectional forward layer")
        wb, rab, mb = _gru_layer_weights(bwd, "Bidirectional backward layer")
        if raf != rab:
            raise ValueError(f"Bidirectional: the forward layer has reset_after={raf}, the backward "
                             f"layer reset_after={rab}; fastgru needs one cell form for both")
        if mf != mb:
            raise ValueError(f"Bidirectional: the forward layer's activations ({mf['recurrent_activation']}, "
                             f"{mf['activation']}) differ from the backward layer's "
                             f"({mb['recurrent_activation']}, {mb['activation']}); fastgru applies one pair to "
                             "both directions")
        return [wf, wb], raf, {**mf, **({} if layer.merge_mode == "concat" else {"merge": layer.merge_mode})}
    ws, ra, math = _gru_layer_weights(layer, "from_keras")
    if layer.go_backwards:
        # Keras returns the outputs of a go_backwards layer in processing order; fastgru puts
        # each at the step it belongs to (ONNX's reverse): Keras's y is fastgru's y[:, ::-1].
        math["direction"] = "reverse"
    return [ws], ra, math


def _split_weight_list(weights: Sequence[Any]) -> list[Sequence[Any]]:
    """A get_weights() list -> one list per direction."""
    if len(weights) in (1, 2) and all(isinstance(w, (list, tuple)) for w in weights):
        return list(weights)  # one list per direction: [[fwd...], [bwd...]]
    if len(weights) in (4, 6):  # Bidirectional.get_weights(): forward's then backward's
        half = len(weights) // 2
        return [weights[:half], weights[half:]]
    return [weights]


def from_keras(cls: Any, obj: Any, reset_after: bool | None = None, **kwargs: Any) -> Any:
    clash = [k for k in _DERIVED if k in kwargs]
    if clash:
        raise TypeError(f"from_keras() takes {', '.join(clash)} from the Keras weights; do not pass them")
    if reset_after is not None and not isinstance(reset_after, (bool, np.bool_)):
        raise TypeError(f"reset_after must be True, False or None, got {reset_after!r}")
    keras = _keras_module()
    math: dict[str, Any] = {}
    if isinstance(obj, (list, tuple)):
        raw = _split_weight_list(obj)
        names = ["weights"] if len(raw) == 1 else ["forward weights", "backward weights"]
        parsed = [_direction_from_weights(ws, reset_after, n) for ws, n in zip(raw, names)]
    elif keras is not None and isinstance(obj, keras.layers.Layer):
        clash = [k for k in (*_MATH, "direction", "merge") if k in kwargs]
        if clash:
            raise TypeError(f"from_keras() takes {', '.join(clash)} from the Keras layer; do not pass them")
        raw, layer_ra, math = _directions_from_layer(obj)
        if reset_after is not None and bool(reset_after) != layer_ra:
            raise ValueError(f"reset_after={reset_after} was given but the Keras layer has reset_after={layer_ra}")
        names = ["from_keras"] if len(raw) == 1 else ["forward layer", "backward layer"]
        parsed = [_direction_from_weights(ws, layer_ra, n) for ws, n in zip(raw, names)]
    else:
        raise TypeError("from_keras expects a keras.layers.GRU, a keras.layers.Bidirectional(GRU) or a "
                        f"get_weights() list, got {type(obj).__name__}")
    first = parsed[0][1:]
    for other in parsed[1:]:
        if other[1:] != first:
            raise ValueError("the forward and backward weights disagree on (input_size, units, use_bias, "
                             f"reset_after): {first} vs {other[1:]}")
    D, H, bias, ra = first
    dtype = np.float64 if all(np.asarray(ws[0]).dtype == np.float64 for ws in raw) else np.float32
    options = dict(batch_first=True, padding="carry", dtype=dtype, **math)  # Keras: batch-major, masking carries
    options.update(kwargs)
    model = cls(D, H, num_layers=1, bias=bias, bidirectional=len(parsed) == 2, reset_after=ra, **options)
    state = {}
    for d, (params, *_rest) in enumerate(parsed):
        for name, value in params.items():
            state[f"{name}_l0{'_reverse' if d else ''}"] = value
    model.load_state_dict(state)
    return model


def to_keras_weights(gru: Any, layer: int | None = None) -> list[np.ndarray]:
    """The weights of one layer for set_weights. They do not depend on the activations: the Keras
    layer must be built with the model's (keras_activation_names(gru) gives their Keras names)."""
    if layer is None:
        if gru.num_layers != 1:
            raise ValueError(f"this model has {gru.num_layers} layers and a Keras GRU holds one: call "
                             "to_keras_weights(layer=k) for each k and set each list on its own Keras layer")
        layer = 0
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < gru.num_layers:
        raise ValueError(f"layer must be an integer in [0, {gru.num_layers}), got {layer!r}")
    H = gru.hidden_size
    p = gru.state_dict()
    out: list[np.ndarray] = []
    for suffix in ("", "_reverse") if gru.bidirectional else ("",):
        s = f"l{int(layer)}{suffix}"
        out.append(np.ascontiguousarray(_swap_zr(p[f"weight_ih_{s}"], H, 0).T))
        out.append(np.ascontiguousarray(_swap_zr(p[f"weight_hh_{s}"], H, 0).T))
        if gru.bias:
            b_ih, b_hh = _swap_zr(p[f"bias_ih_{s}"], H, 0), _swap_zr(p[f"bias_hh_{s}"], H, 0)
            # reset_after=False: both biases sit outside every product, so one sum is the same cell
            # (one float add; exact when bias_hh is zero, as after from_keras).
            out.append(np.stack([b_ih, b_hh]) if gru.reset_after else b_ih + b_hh)
    return out


# padding="carry": Keras's masking semantics, applied after (and before, for gradients) the core.

def carry_outputs(y: np.ndarray, lengths: Any, batch_first: bool) -> None:
    """In place: y at t >= len becomes y at len-1 (a unidirectional model's whole y)."""
    lens = np.asarray(lengths).astype(np.int64)
    yt = y.transpose(1, 0, 2) if batch_first else y  # a time-major view
    T, B = yt.shape[0], yt.shape[1]
    src = np.minimum(np.arange(T)[:, None], lens[None, :] - 1)  # (T, B): the step each output copies
    yt[...] = yt[src, np.arange(B)[None, :]]


def carry_cotangent(dy: Any, lengths: np.ndarray, batch_first: bool, dtype: np.dtype,
                    expected: tuple[int, ...]) -> Any:
    """dL/dy of the carried outputs -> dL/dy of the core's outputs: every dy at t >= len adds to
    dy at len-1 (that output was copied there); the core's own outputs there are constant zeros."""
    from ._validation import float_array

    arr = float_array("dy", dy, dtype)
    if arr.shape != expected:
        return dy  # the backward pass reports the shape error
    out = np.array(arr, dtype=dtype, copy=True)
    dyt = out.transpose(1, 0, 2) if batch_first else out
    T, B = dyt.shape[0], dyt.shape[1]
    past = np.arange(T)[:, None] >= lengths[None, :]  # (T, B)
    tail = np.where(past[..., None], dyt, 0).sum(axis=0)  # (B, H)
    dyt[past] = 0
    dyt[lengths - 1, np.arange(B)] += tail
    return out


def carried_outputs(model: Any, y: np.ndarray, lengths: Any) -> np.ndarray:
    """A model's y under its padding: with padding="carry", a unidirectional model's outputs past
    each length repeat the last valid one (in place); anything else is returned as it is."""
    if model._padding == "carry" and lengths is not None and not model.bidirectional:
        carry_outputs(y, lengths, model.batch_first)
    return y


def carried_cotangent(model: Any, cache: Any, dy: Any) -> Any:
    """dy for the core's backward under the model's padding (carried_outputs' transpose)."""
    if model._padding != "carry" or dy is None or cache.lengths is None or model.bidirectional:
        return dy
    HD = model.num_directions * model.hidden_size
    shape = (cache.batch, cache.steps, HD) if model.batch_first else (cache.steps, cache.batch, HD)
    return carry_cotangent(dy, cache.lengths, model.batch_first, model.dtype, shape)
