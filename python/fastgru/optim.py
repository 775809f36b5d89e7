"""Optimizers for a fastgru.GRU, and gradient clipping: NumPy only, PyTorch's update rules.

>>> import numpy as np, fastgru
>>> from fastgru.optim import Adam, clip_grad_norm
>>> gru = fastgru.GRU(4, 8, seed=0)
>>> opt = Adam(gru, lr=1e-2)
>>> x = np.ones((5, 2, 4), np.float32)
>>> y, h_n, cache = gru.forward(x)
>>> grads = gru.backward(cache, dy=2 * y)        # d(sum(y**2))/dy
>>> norm = clip_grad_norm(grads, max_norm=1.0)   # returns the norm before clipping
>>> opt.step(grads)                              # updates gru's parameters (one repack)

Every optimizer follows the corresponding ``torch.optim`` class's single-tensor (for-loop) update,
operation for operation, in the model's dtype: given the same gradients, the parameters agree
with torch's to rounding (tests/test_optim.py). One model is one parameter group.

``step(grads)`` takes the dict ``model.backward`` returns. Its ``"x"`` and ``"h0"`` entries are
ignored; every other key must be one of the model's trained parameters (its running statistics,
``cell="ligru"``'s buffers, have no gradient and are refused, as are unknown names and wrong
shapes). A parameter whose gradient is missing or None is skipped, as torch skips a parameter
whose ``.grad`` is None: it is not changed and its optimizer state does not advance.

The parameters are read from the model at every step: whatever the model holds then (after a
``load_state_dict`` by someone else, say) is what the update starts from, and the optimizer's
state (momentum, moments) carries on. The new values go to the model in one
``load_state_dict(..., strict=False)`` (one repack) holding the trained parameters only, so a
Light GRU's running statistics stay as the model's training forwards last set them. A cache made
before a step belongs to the old weights: ``backward`` refuses it afterwards (run forward again).
An optimizer is not thread-safe: one step at a time per model.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import numpy as np

from . import cells
from ._validation import check_bool
from .errors import listing

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "clip_grad_norm", "grad_norm"]

# Entries of GRU.backward's dict that are not parameters' gradients.
_NOT_PARAMS = ("x", "h0")


def _real(name: str, value: Any, minimum: float = 0.0, below: float | None = None) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not number >= minimum or (below is not None and not number < below):  # NaN fails both
        where = f"[{minimum}, {below})" if below is not None else f">= {minimum}"
        raise ValueError(f"Invalid {name} value: {number} (must be {where})")
    return number


_BUFFER_PREFIXES = tuple(f"{kind}_l" for kind in cells.BN_BUFFERS)


def _trained_names(model: Any) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The model's trained parameters (not its buffers): name -> (shape, dtype), state_dict order."""
    return {k: (v.shape, v.dtype) for k, v in model.named_parameters().items()}


class Optimizer:
    """Base class: the model, the hyperparameters and per-parameter state (keyed by name)."""

    # The hyperparameters' names, in the constructor's order; subclasses set them.
    _HYPER: tuple[str, ...] = ()

    def __init__(self, model: Any, **hyper: Any) -> None:
        from .gru import GRU

        if not isinstance(model, GRU):
            raise TypeError(f"{type(self).__name__} optimizes a fastgru.GRU (its parameters), got "
                            f"{type(model).__name__}; for a torch module use torch.optim")
        self._model = model
        self._hyper = self._check_hyper(hyper)
        # name -> dict of arrays (and "step" for Adam); created at a parameter's first update.
        self.state: dict[str, dict[str, Any]] = {}

    @property
    def model(self) -> Any:
        return self._model

    @property
    def lr(self) -> float:
        return float(self._hyper["lr"])

    @lr.setter
    def lr(self, value: Any) -> None:  # learning-rate schedules set it between steps
        self._hyper = self._check_hyper({**self._hyper, "lr": value})

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """A copy of the hyperparameters (set lr through the `lr` attribute)."""
        return dict(self._hyper)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper.items())
        return f"{type(self).__name__}({self._model!r}, {args})"

    # Gradients.
    def _gradients(self, grads: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """grads' parameter entries, checked, as arrays of the parameters' dtype (None: skipped)."""
        if not isinstance(grads, Mapping):
            raise TypeError(f"grads must be the dict model.backward returns, got {type(grads).__name__}")
        names = _trained_names(self._model)
        buffers = [k for k in grads if isinstance(k, str) and k.startswith(_BUFFER_PREFIXES)]
        if buffers:
            raise ValueError(f"grads has entries for running statistics {listing(buffers)}: they are buffers, "
                             "updated by the model's training forward, not trained (no gradient)")
        unknown = [k for k in grads if k not in names and k not in _NOT_PARAMS]
        if unknown:
            raise ValueError(f"grads has entries that are no parameter of this model ({self._model!r}): "
                             f"{listing(unknown)}; expected names among {listing(list(names))}")
        out = {}
        for name, (shape, dtype) in names.items():
            g = grads.get(name)
            if g is None:
                continue
            arr = g if isinstance(g, np.ndarray) else np.asarray(g)
            if arr.dtype.kind != "f":
                raise TypeError(f"grads[{name!r}] must be a floating-point array, got dtype {arr.dtype}")
            if arr.shape != shape:
                raise ValueError(f"grads[{name!r}] has shape {arr.shape}, but the parameter has shape {shape}")
            out[name] = np.asarray(arr, dtype=dtype)  # no copy when it is already the right dtype
        if not out:
            raise ValueError("grads holds no parameter's gradient (only x/h0, or every entry None): nothing to "
                             "update; pass the dict model.backward returns")
        return out

    def step(self, grads: Mapping[str, Any]) -> None:
        """One update of every parameter that has a gradient in `grads` (model.backward's dict),
        then one repack of the model."""
        g = self._gradients(grads)
        current = self._model.named_parameters()  # read once: one consistent set of weights
        new = {}
        for name, grad in g.items():
            param = np.array(current[name])  # a writable copy of what the model holds now
            self._update(name, param, grad)
            new[name] = param
        self._model.load_state_dict(new, strict=False)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        """Updates `param` (a writable copy) in place; `grad` must not be written."""
        raise NotImplementedError

    # State.
    def state_dict(self) -> dict[str, Any]:
        """{"optimizer": class name, "hyperparameters": {...}, "state": {parameter name: {...}}}
        (copies; arrays and plain numbers, so np.savez/pickle can store it)."""
        return {"optimizer": type(self).__name__, "hyperparameters": dict(self._hyper),
                "state": {name: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                          for name, s in self.state.items()}}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores hyperparameters and state from state_dict() of an optimizer of the same class
        for a model with the same parameters (names and shapes; arrays are converted to the
        model's dtype). Checked completely before anything changes."""
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"optimizer", "hyperparameters", "state"}:
            raise ValueError("state_dict must be the dict Optimizer.state_dict() returns (keys 'optimizer', "
                             "'hyperparameters', 'state')")
        if state_dict["optimizer"] != type(self).__name__:
            raise ValueError(f"state_dict is a {state_dict['optimizer']!r} optimizer's, this is {type(self).__name__}")
        hyper = dict(state_dict["hyperparameters"])
        if set(hyper) != set(self._HYPER):
            raise ValueError(f"state_dict's hyperparameters are {listing(sorted(hyper))}, expected "
                             f"{listing(list(self._HYPER))}")
        hyper = self._check_hyper(hyper)
        names = _trained_names(self._model)
        state: dict[str, dict[str, Any]] = {}
        for name, s in dict(state_dict["state"]).items():
            if name not in names:
                raise ValueError(f"state_dict has state for {name!r}, which is no parameter of this model")
            shape, dtype = names[name]
            entry: dict[str, Any] = {}
            for k, v in dict(s).items():
                if k == "step":
                    entry[k] = int(v)
                    continue
                arr = np.asarray(v)
                if arr.dtype.kind != "f" or arr.shape != shape:
                    raise ValueError(f"state_dict's {name!r} {k!r} is {arr.dtype} of shape {arr.shape}, expected "
                                     f"floats of shape {shape}")
                entry[k] = np.array(arr, dtype=dtype)
            state[name] = entry
        self._hyper, self.state = hyper, state


class SGD(Optimizer):
    """torch.optim.SGD: with g = grad (+ weight_decay * param; negated first if maximize),
    buf = g at the first step, then buf = momentum * buf + (1 - dampening) * g;
    g = g + momentum * buf (nesterov) or buf (momentum > 0); param -= lr * g."""

    _HYPER = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")

    def __init__(self, model: Any, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *, dampening: float = 0.0, maximize: bool = False) -> None:
        super().__init__(model, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        h = dict(lr=_real("learning rate", hyper["lr"]), momentum=_real("momentum", hyper["momentum"]),
                 dampening=_real("dampening", hyper["dampening"], minimum=-math.inf),
                 weight_decay=_real("weight_decay", hyper["weight_decay"]),
                 nesterov=check_bool("nesterov", hyper["nesterov"]), maximize=check_bool("maximize", hyper["maximize"]))
        if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        return h

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        h, dt = self._hyper, param.dtype.type
        g = -grad if h["maximize"] else grad
        if h["weight_decay"] != 0:
            g = g + dt(h["weight_decay"]) * param
        if h["momentum"] != 0:
            s = self.state.setdefault(name, {})
            buf = s.get("momentum_buffer")
            if buf is None:
                buf = s["momentum_buffer"] = np.array(g)
            else:
                buf *= dt(h["momentum"])
                buf += dt(1 - h["dampening"]) * g
            g = g + dt(h["momentum"]) * buf if h["nesterov"] else buf
        param += dt(-h["lr"]) * g


class Adam(Optimizer):
    """torch.optim.Adam (amsgrad, maximize, and L2 weight_decay added to the gradient): with
    t the parameter's step count, m = lerp(m, g, 1 - beta1), v = beta2 * v + (1 - beta2) * g * g,
    param -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps) (v: its running maximum
    with amsgrad)."""

    _HYPER = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")
    _decoupled = False

    def __init__(self, model: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False) -> None:
        super().__init__(model, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        betas = hyper["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        return dict(lr=_real("learning rate", hyper["lr"]),
                    betas=(_real("beta parameter at index 0", betas[0], below=1.0),
                           _real("beta parameter at index 1", betas[1], below=1.0)),
                    eps=_real("epsilon", hyper["eps"]), weight_decay=_real("weight_decay", hyper["weight_decay"]),
                    amsgrad=check_bool("amsgrad", hyper["amsgrad"]), maximize=check_bool("maximize", hyper["maximize"]))

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        h, dt = self._hyper, param.dtype.type
        lr, (beta1, beta2), wd = h["lr"], h["betas"], h["weight_decay"]
        s = self.state.get(name)
        if s is None:
            s = self.state[name] = {"step": 0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
            if h["amsgrad"]:
                s["max_exp_avg_sq"] = np.zeros_like(param)
        s["step"] += 1
        g = -grad if h["maximize"] else grad
        if wd != 0:
            if self._decoupled:
                param *= dt(1 - lr * wd)
            else:
                g = g + dt(wd) * param
        m, v = s["exp_avg"], s["exp_avg_sq"]
        w = 1 - beta1  # torch's lerp: start + w * (end - start), or end - (end - start) * (1 - w) for w >= 0.5
        if w < 0.5:
            m += dt(w) * (g - m)
        else:
            m[...] = g - (g - m) * dt(1 - w)
        v *= dt(beta2)
        v += dt(1 - beta2) * g * g
        step = s["step"]
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if h["amsgrad"]:
            vmax = s.get("max_exp_avg_sq")
            if vmax is None:  # amsgrad switched on by load_state_dict after steps without it
                vmax = s["max_exp_avg_sq"] = np.zeros_like(param)
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = np.sqrt(v) / dt(bias_correction2_sqrt)
        denom += dt(h["eps"])
        param += dt(-(lr / bias_correction1)) * (m / denom)


class AdamW(Adam):
    """torch.optim.AdamW: Adam whose weight decay is decoupled (param *= 1 - lr * weight_decay
    before the Adam update, not added to the gradient); weight_decay defaults to 1e-2."""

    _decoupled = True

    def __init__(self, model: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False) -> None:
        super().__init__(model, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)


def _grad_items(grads: Mapping[str, Any]) -> list[tuple[str, np.ndarray]]:
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of gradients (model.backward's), got {type(grads).__name__}")
    out = []
    for k, g in grads.items():
        if k in _NOT_PARAMS or g is None:
            continue
        arr = g if isinstance(g, np.ndarray) else np.asarray(g)
        if arr.dtype.kind != "f":
            raise TypeError(f"grads[{k!r}] must be a floating-point array, got dtype {arr.dtype}")
        out.append((k, arr))
    return out


def _norm_type(norm_type: Any) -> float:
    if isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"norm_type must be a number (or inf), got {type(norm_type).__name__} {norm_type!r}")
    p = float(norm_type)
    if not p > 0:  # NaN too
        raise ValueError(f"norm_type must be > 0 (or inf), got {p}")
    return p


def _total_norm(items: list[tuple[str, np.ndarray]], p: float) -> float:
    # Each array's norm, then the norm of those norms (torch's order), in float64.
    if math.isinf(p):
        return max((float(np.max(np.abs(g))) if g.size else 0.0 for _, g in items), default=0.0)
    norms = np.array([np.linalg.norm(np.ravel(g).astype(np.float64), ord=p) if g.size else 0.0
                      for _, g in items], np.float64)
    return float(np.linalg.norm(norms, ord=p)) if norms.size else 0.0


def grad_norm(grads: Mapping[str, Any], norm_type: float = 2.0) -> float:
    """The norm of all parameter gradients in `grads` taken as one vector (torch.nn.utils.get_total_norm);
    the "x" and "h0" entries and None values are left out."""
    items, p = _grad_items(grads), _norm_type(norm_type)
    with np.errstate(all="ignore"):
        return _total_norm(items, p)


def clip_grad_norm(grads: dict[str, Any], max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> float:
    """torch.nn.utils.clip_grad_norm_ on the dict model.backward returns: the total norm of the
    parameter gradients (every entry but "x", "h0" and None values, as one vector; p-norm
    `norm_type`, inf for the largest magnitude) before clipping, returned as a float. When it
    exceeds max_norm, every parameter gradient is scaled by max_norm / (total_norm + 1e-6).

    In place on the dict: its parameter entries are replaced by the scaled arrays (new arrays of
    the same dtype: the arrays the dict held are not written, so read-only ones are fine). "x" and
    "h0" are neither counted nor scaled. A non-finite norm raises RuntimeError when
    error_if_nonfinite, else the gradients are scaled by NaN as torch does (fix the model)."""
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict (it is updated in place), got {type(grads).__name__}")
    max_norm = _real("max_norm", max_norm)
    p = _norm_type(norm_type)
    error_if_nonfinite = check_bool("error_if_nonfinite", error_if_nonfinite)
    items = _grad_items(grads)
    with np.errstate(all="ignore"):  # inf/NaN gradients: the norm says so (and torch warns of nothing)
        total = _total_norm(items, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {p} for gradients from `grads` is non-finite, so it cannot be "
                           "clipped. To disable this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # below 1, or NaN (a non-finite norm)
        with np.errstate(all="ignore"):
            for k, g in items:
                grads[k] = g * g.dtype.type(coef)
    return total
