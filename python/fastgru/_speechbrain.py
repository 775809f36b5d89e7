"""Conversion from SpeechBrain's speechbrain.nnet.RNN.LiGRU and SLiGRU. Neither speechbrain nor
torch is imported: the module is read through its attributes (the layers in ``module.rnn``, each
with Linear ``w`` and ``u`` and its normalization ``norm``; an SLiGRU layer also its recurrent
``layer_norm``), so anything shaped like those modules converts.

What differs from SpeechBrain's own layout and is handled here:
- gate order: SpeechBrain's rows are [candidate; z], fastgru's [z; candidate] (swapped);
- a bidirectional SpeechBrain layer runs both directions with one set of weights: they are
  copied into both of fastgru's directions;
- SpeechBrain has no recurrent bias (``bias=False`` there freezes the normalization's bias at 0):
  the model is built with bias=False and the normalization's bias carries the rest;
- every normalization name other than "batchnorm" gives a LayerNorm in SpeechBrain: the
  converter reads the module it holds, not the name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# SpeechBrain's nonlinearity -> fastgru's activation.
_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "leaky_relu": "leaky_relu", "sin": "sin"}
_LAYER_NORM_EPS = 1e-5  # fastgru's layer norm epsilon (torch.nn.LayerNorm's default)


def _array(t: Any) -> np.ndarray:
    """A copy of a torch tensor (any device) or array-like as a NumPy array."""
    if hasattr(t, "detach"):
        t = t.detach().cpu()
        return np.array(t.numpy(), copy=True)
    return np.array(t, copy=True)


def _swap(a: np.ndarray, H: int) -> np.ndarray:
    """[candidate; z] rows -> [z; candidate]."""
    return np.concatenate([a[H:2 * H], a[:H]], axis=0)


def _is_batch_norm(norm: Any) -> bool:
    return hasattr(norm, "running_mean")


def _check_layer_norm(what: str, norm: Any, affine: bool) -> None:
    eps = float(getattr(norm, "eps", _LAYER_NORM_EPS))
    if eps != _LAYER_NORM_EPS:
        raise ValueError(f"from_speechbrain: {what} has eps={eps}; fastgru's layer norm uses {_LAYER_NORM_EPS}")
    has_affine = getattr(norm, "weight", None) is not None
    if has_affine != affine:
        raise ValueError(f"from_speechbrain: {what} has elementwise_affine={has_affine}; fastgru supports only "
                         f"{affine} there")


def from_speechbrain(cls: Any, module: Any) -> Any:
    kind = type(module).__name__
    if kind not in ("LiGRU", "SLiGRU") or not hasattr(module, "rnn"):
        raise TypeError(f"from_speechbrain expects a speechbrain.nnet.RNN.LiGRU or SLiGRU, got {kind}")
    layers = list(module.rnn)
    if not layers:
        raise ValueError("from_speechbrain: the module has no layers")
    H = int(module.hidden_size)
    bidirectional = bool(module.bidirectional)
    nonlinearity = getattr(module, "nonlinearity", "relu")
    # SpeechBrain maps any other name to ReLU.
    activation = _ACTIVATIONS.get(nonlinearity, "relu")
    alpha = float(layers[0].act.negative_slope) if activation == "leaky_relu" else None

    norm = layers[0].norm
    kwargs: dict[str, Any] = {}
    if _is_batch_norm(norm):
        if getattr(norm, "momentum", 0.1) is None:
            raise ValueError("from_speechbrain: batch norm with momentum=None (a cumulative average) is not "
                             "supported; fastgru's running statistics use a momentum")
        if not getattr(norm, "track_running_stats", True) or getattr(norm, "weight", None) is None:
            raise ValueError("from_speechbrain: the batch norm must be affine and track running statistics")
        kwargs.update(normalization="batchnorm", bn_momentum=float(norm.momentum), bn_eps=float(norm.eps))
    else:
        _check_layer_norm("the input projection's LayerNorm", norm, affine=True)
        kwargs.update(normalization="layernorm")
    if kind == "SLiGRU":
        for k, layer in enumerate(layers):
            _check_layer_norm(f"layer {k}'s recurrent layer_norm", layer.layer_norm, affine=False)

    w0 = layers[0].w.weight
    dtype = np.float64 if "float64" in str(getattr(w0, "dtype", "")) else np.float32
    gru = cls(int(w0.shape[1]), H, num_layers=len(layers), bias=False, batch_first=True,
              bidirectional=bidirectional, cell="sligru" if kind == "SLiGRU" else "ligru", activation=activation,
              activation_alpha=alpha, dtype=dtype, **kwargs)
    params = {}
    for k, layer in enumerate(layers):
        one = {"weight_ih": _swap(_array(layer.w.weight), H), "weight_hh": _swap(_array(layer.u.weight), H)}
        n = layer.norm
        if _is_batch_norm(n):
            one.update(bn_weight=n.weight, bn_bias=n.bias, bn_running_mean=n.running_mean,
                       bn_running_var=n.running_var)
        else:
            one.update(ln_weight=n.weight, ln_bias=n.bias)
        for name in one:
            if name.startswith(("bn_", "ln_")):
                one[name] = _swap(_array(one[name]), H)
        # One set of weights for both directions in SpeechBrain: copied into each.
        for suffix in ("", "_reverse") if bidirectional else ("",):
            params.update({f"{name}_l{k}{suffix}": v for name, v in one.items()})
    gru.load_state_dict(params)
    return gru
