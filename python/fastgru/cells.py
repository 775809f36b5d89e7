"""GRU cell forms that are the core's 3-gate cell with the parameters mapped (no new kernels).

The core computes one cell (PyTorch's layout: gate row blocks r, z, n). Each form below is that
cell with some parameters fixed at zero, some negated, or one block used twice; this module is
the one place that says how. A form has *public* parameters (what ``state_dict`` holds, only the
ones the form uses) and *internal* parameters (the full standard-GRU arrays the core runs):

- ``to_internal``: public -> internal (a placement of row blocks, negated where the form says;
  negation is exact, so the internal model is the form's cell bit for bit).
- ``to_public_grads``: internal gradients -> public gradients (the transpose of that map: the used
  blocks, negated back; a block used twice gets the sum of its two gradients).

Forms (see docs/API.md, "Cell forms"):

- ``gates`` (Dey & Salem 2017): "full"; "type1" (r, z see only h and the biases); "type2"
  (only h); "type3" (only the biases).
- ``update``: "old" (h' = (1 - z) n + z h, every framework's) or "candidate" (h' = z n +
  (1 - z) h, Chung et al. 2014 / Wikipedia) = "old" with the z pre-activation negated,
  since sigma(-a) = 1 - sigma(a).
- ``cell="mgu"`` (Zhou et al. 2016): f = sigma(W_f x + b_if + U_f h + b_hf);
  n = tanh(W_n x + b_in + U_n (f * h) + b_hn); h' = (1 - f) h + f n. That is the reset-before
  GRU with r = f and z = 1 - f (the negated f pre-activation).
- ``cell="ligru"`` (Ravanelli et al. 2018): z = sigma(BN(W_z x) + U_z h [+ b_hz]);
  n = ReLU(BN(W_n x) + U_n h [+ b_hn]); h' = z h + (1 - z) n. The core's reset-after cell with
  its batch norm on the z, n input blocks, a ReLU candidate, and r held at exactly 1: W_r = U_r = 0
  and b_ir = LIGRU_R_BIAS (sigma of it rounds to 1.0 in float32 and float64, so r * (U_n h + b_hn)
  is U_n h + b_hn exactly). The batch norm's own arrays (weight, bias, running statistics) pass
  through unchanged. Its candidate may also be tanh or leaky_relu (SpeechBrain's choices).
- ``cell="libru"`` (Bittar & Garner 2021, the "logprobs" light Bayesian recurrent unit):
  z = sigma(BN(W_z x) + U_z h [+ b_hz]); c = softplus(BN(W_c x) + U_c h [+ b_hc]);
  h' = log(z e^h + (1 - z) e^c). The Light GRU's parameters and mapping exactly; the core runs
  it with its own state update (cell="libru" in the core: not a linear mix, so its own kernels).
- ``cell="sligru"`` (Moumen & Parcollet 2023, SpeechBrain's SLiGRU): the Light GRU with a layer
  norm (no gamma, beta) on its recurrent term: z, n from BN(W x) + LN(U h) [+ b_h]. The Light GRU's
  parameters and mapping; the core's recurrent_layer_norm.

``normalization`` (light cells only): "batchnorm" (the default: per column over the batch),
"layernorm" (per row over its 2H projections, SpeechBrain's LiGRU(normalization="layernorm"):
parameters ln_weight/ln_bias, no running statistics) or None (no normalization, no parameters).

Activations (``CellMath``): ONNX's set, and the elementwise Keras 3 functions beyond it (selu,
gelu, silu, mish, ..., and sin), for the gates (``recurrent_activation``, sigmoid by default) and
the candidate (``activation``, tanh), and ONNX's ``clip`` of every pre-activation;
the core runs them. The negation tricks above need a gate activation with f(-a) = 1 - f(a).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ._validation import check_bool, check_choice

__all__ = ["Form", "STANDARD", "CellMath", "STANDARD_MATH", "check_form", "check_math", "param_names",
           "param_shapes", "row_blocks", "to_internal", "to_public_grads", "is_buffer", "internal_grad_names",
           "check_batch_norm", "LIGRU_R_BIAS", "LIGHT", "default_activation", "check_normalization"]

GATES = ("full", "type1", "type2", "type3")
UPDATES = ("old", "candidate")
CELLS = ("gru", "mgu", "ligru", "sligru", "libru")
# The light cells: z and candidate rows only, no reset gate, a normalization of the input projection.
LIGHT = ("ligru", "sligru", "libru")
LIGRU_LIKE = ("ligru", "sligru")  # the Light GRU's update and candidates
# The Light GRU's candidates: SpeechBrain's set (relu, tanh, leaky_relu, sin) less what the
# core's activations lack.
LIGRU_ACTIVATIONS = ("relu", "tanh", "leaky_relu", "sin")

KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
BN_PARAMS = ("bn_weight", "bn_bias")  # the Light GRU's batch norm: trained parameters
BN_BUFFERS = ("bn_running_mean", "bn_running_var")  # ... and buffers (state_dict, never gradients)
LN_PARAMS = ("ln_weight", "ln_bias")  # layer norm's gamma and beta (normalization="layernorm")
NORMALIZATIONS = ("batchnorm", "layernorm", None)
DEFAULT = "default"  # normalization="default": batch norm for the light cells, none for the others
R, Z, N = 0, 1, 2  # the core's gate row blocks
# The Light GRU's reset-gate pre-activation: sigma(1e4) is exactly 1.0 in float32 and float64 (the
# core clamps exp's argument, so 1 + exp(-1e4) rounds to 1), and with W_r = U_r = 0 it is constant.
LIGRU_R_BIAS = 1e4


@dataclass(frozen=True)
class Form:
    gates: str = "full"
    update: str = "old"
    cell: str = "gru"
    normalization: str | None = None  # the light cells' input normalization (resolved)

    @property
    def standard(self) -> bool:
        return self == STANDARD

    @property
    def light(self) -> bool:
        """A light cell (ligru, sligru, libru): input normalization, no reset gate, public z and candidate
        rows."""
        return self.cell in LIGHT


STANDARD = Form()


def default_activation(cell: str) -> str:
    """The candidate's activation when activation=None: the cell's own."""
    return {"ligru": "relu", "sligru": "relu", "libru": "softplus"}.get(cell, "tanh")


def check_normalization(cell: str, normalization: Any) -> str | None:
    """The resolved normalization: "default" is batch norm for the light cells, None otherwise."""
    if cell not in LIGHT:
        if normalization not in (DEFAULT, None):
            raise ValueError(f"normalization={normalization!r} is only for cell='ligru', 'sligru' or 'libru' (the "
                             f"forms with input normalization); this model has cell={cell!r}")
        return None
    if normalization == DEFAULT:
        return "batchnorm"
    if not (normalization is None or isinstance(normalization, str)) or normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be 'batchnorm', 'layernorm' or None, got {normalization!r}")
    return normalization


def check_form(gates: Any, update: Any, cell: Any, reset_after: Any, bias: bool,
               normalization: Any = DEFAULT) -> tuple[Form, bool]:
    """The validated form and the core's reset_after (None resolves to the cell's own form)."""
    cell = check_choice("cell", cell, CELLS)
    normalization = check_normalization(cell, normalization)
    gates = check_choice("gates", gates, GATES)
    update = check_choice("update", update, UPDATES)
    if reset_after is not None:
        reset_after = check_bool("reset_after", reset_after)
    if cell in LIGHT:
        for name, value, default in (("gates", gates, "full"), ("update", update, "old")):
            if value != default:
                raise ValueError(f"{name}={value!r} is not defined for cell={cell!r} (its paper fixes its gates and "
                                 f"update); leave {name}={default!r}")
        if reset_after is False:
            raise ValueError(f"cell={cell!r} has no reset gate, so reset_after means nothing for it; leave it None")
        reset_after = True  # the core's cell that carries it (r held at 1)
    elif cell == "mgu":
        if gates != "full":
            raise ValueError(f"gates={gates!r} is not defined for cell='mgu' (the Dey & Salem gate types are "
                             "GRU variants); use gates='full'")
        if update != "old":
            raise ValueError(f"update={update!r} is not defined for cell='mgu': its update is fixed by Zhou et "
                             "al. 2016, h' = (1 - f) h + f n; leave update='old'")
        if reset_after:
            raise ValueError("cell='mgu' is a reset-before cell (n = tanh(W_n x + b_in + U_n (f * h) + b_hn), "
                             "Zhou et al. 2016); reset_after must be False or None")
        reset_after = False
    elif reset_after is None:
        reset_after = True  # PyTorch's cell
    if gates == "type3" and not bias:
        raise ValueError("gates='type3' needs bias=True: its gates are sigma(bias) alone, which would be the "
                         "constant 1/2 without a bias")
    return Form(gates, update, cell, normalization), reset_after


# For each form and parameter kind: the public array's row blocks in order, each a list of
# (internal gate block, sign). Internal blocks no public block names are zero.
_P, _M = 1, -1
_FULL = [[(R, _P)], [(Z, _P)], [(N, _P)]]
_ONLY_N = [[(N, _P)]]
_LAYOUTS: dict[tuple[str, str], dict[str, list[list[tuple[int, int]]]]] = {
    ("full", "gru"): dict(weight_ih=_FULL, weight_hh=_FULL, bias_ih=_FULL, bias_hh=_FULL),
    ("type1", "gru"): dict(weight_ih=_ONLY_N, weight_hh=_FULL, bias_ih=_FULL, bias_hh=_FULL),
    ("type2", "gru"): dict(weight_ih=_ONLY_N, weight_hh=_FULL, bias_ih=_ONLY_N, bias_hh=_ONLY_N),
    # Type 3: the gate biases b_ir + b_hr (and b_iz + b_hz) only ever appear summed, so the gates
    # keep one bias each, in bias_ih; bias_hh keeps b_hn (inside r * (...) when reset_after).
    ("type3", "gru"): dict(weight_ih=_ONLY_N, weight_hh=_ONLY_N, bias_ih=_FULL, bias_hh=_ONLY_N),
}
_MGU = [[(R, _P), (Z, _M)], [(N, _P)]]  # r = f, z = 1 - f = sigma(-a_f)
_LAYOUTS[("full", "mgu")] = dict(weight_ih=_MGU, weight_hh=_MGU, bias_ih=_MGU, bias_hh=_MGU)
# Light GRU: z, n rows only; no public bias_ih (batch norm's bias is the input bias; the internal
# one holds only r's constant). bias_hh (bias=True) is [b_hz; b_hn].
_ZN = [[(Z, _P)], [(N, _P)]]
_LAYOUTS[("full", "ligru")] = dict(weight_ih=_ZN, weight_hh=_ZN, bias_ih=[], bias_hh=_ZN)
_LAYOUTS[("full", "libru")] = _LAYOUTS[("full", "ligru")]  # [W_z; W_c], the same mapping
_LAYOUTS[("full", "sligru")] = _LAYOUTS[("full", "ligru")]


def _layout(form: Form) -> dict[str, list[list[tuple[int, int]]]]:
    base = _LAYOUTS[(form.gates, form.cell)]
    if form.update == "old":
        return base
    # update="candidate": the z pre-activation negated wherever z has a parameter.
    return {kind: [[(g, -s if g == Z else s) for g, s in blk] for blk in blocks] for kind, blocks in base.items()}


def row_blocks(form: Form, kind: str) -> int:
    """How many H-row blocks the public `kind` ("weight_ih", ...) has: 3 for the standard GRU."""
    return len(_layout(form)[kind])


def _norm_kinds(normalization: str | None) -> list[str]:
    return {"batchnorm": [*BN_PARAMS, *BN_BUFFERS], "layernorm": [*LN_PARAMS], None: []}[normalization]


def param_names(num_layers: int, bidirectional: bool, bias: bool, cell: str = "gru",
                normalization: str | None = "batchnorm") -> list[str]:
    """state_dict names in PyTorch's order (the same for every GRU form). The light cells: per layer
    and direction weight_ih, weight_hh, bias_hh (bias=True), then with batch norm its bn_weight,
    bn_bias and its buffers bn_running_mean, bn_running_var (state_dict entries, not parameters),
    with layer norm its ln_weight, ln_bias."""
    names = []
    for layer in range(num_layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            kinds = ["weight_ih", "weight_hh"]
            if cell in LIGHT:
                kinds += ["bias_hh"] * bias + _norm_kinds(normalization)
            elif bias:
                kinds += ["bias_ih", "bias_hh"]
            names += [f"{kind}_l{layer}{suffix}" for kind in kinds]
    return names


def is_buffer(name: str) -> bool:
    """A state_dict entry that is state, not a trained parameter (the Light GRU's running statistics)."""
    return _kind(name) in BN_BUFFERS


def internal_grad_names(form: Form, num_layers: int, bidirectional: bool, bias: bool) -> list[str]:
    """Names for the core backward's per layer/direction gradients, flattened in its order."""
    if not form.light:
        return param_names(num_layers, bidirectional, bias)
    # The core runs a Light GRU with both biases (r's constant lives in bias_ih) and batch norm.
    # The core's normalization gradients (gamma, beta) come last, under the public names.
    norm = {"batchnorm": BN_PARAMS, "layernorm": LN_PARAMS, None: ()}[form.normalization]
    return [f"{kind}_l{layer}{suffix}" for layer in range(num_layers)
            for suffix in (("", "_reverse") if bidirectional else ("",))
            for kind in (*KINDS, *norm)]


def _is_norm(kind: str) -> bool:
    return kind.startswith(("bn_", "ln_"))


def _kind(name: str) -> str:
    # "weight_ih_l0_reverse" -> "weight_ih", "bias_hh_l1" -> "bias_hh", "bn_running_var_l2" -> ...
    return name[:name.rindex("_l")]


def param_shapes(form: Form, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool,
                 bias: bool) -> dict[str, tuple[int, ...]]:
    """The public parameters' shapes, in state_dict order."""
    H, dirs = hidden_size, 2 if bidirectional else 1
    shapes: dict[str, tuple[int, ...]] = {}
    for name in param_names(num_layers, bidirectional, bias, form.cell, form.normalization):
        kind = _kind(name)
        rows = 2 * H if _is_norm(kind) else row_blocks(form, kind) * H
        layer = int(re.search(r"_l(\d+)", name).group(1))
        cols = {"weight_ih": input_size if layer == 0 else dirs * H, "weight_hh": H}.get(kind)
        shapes[name] = (rows,) if cols is None else (rows, cols)
    return shapes


def to_internal(form: Form, hidden_size: int, params: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """Public parameters (checked shapes) -> the standard GRU's (3H, ...) parameters, exactly."""
    if form.standard:
        return params
    H, layout = hidden_size, _layout(form)
    out = {}
    for name, pub in params.items():
        if _is_norm(_kind(name)):
            out[name] = pub  # the core's own normalization arrays
            continue
        if form.light and _kind(name) == "weight_ih":
            # Every layer/direction: r's constant bias, and zeros where the public form has no bias.
            suffix = name[len("weight_ih"):]
            b_ih = np.zeros(3 * H, dtype=pub.dtype)
            b_ih[R * H:(R + 1) * H] = LIGRU_R_BIAS
            out["bias_ih" + suffix] = b_ih
            out.setdefault("bias_hh" + suffix, np.zeros(3 * H, dtype=pub.dtype))
        full = np.zeros((3 * H,) + pub.shape[1:], dtype=pub.dtype)
        for j, blk in enumerate(layout[_kind(name)]):
            src = pub[j * H:(j + 1) * H]
            for g, s in blk:
                full[g * H:(g + 1) * H] = src if s > 0 else -src
        out[name] = full
    return out


def to_public_grads(form: Form, hidden_size: int, grads: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gradients of the internal parameters -> gradients of the public ones (the map's transpose)."""
    if form.standard:
        return dict(grads)
    H, layout = hidden_size, _layout(form)
    out = {}
    for name, g_full in grads.items():
        kind = _kind(name)
        if _is_norm(kind):
            out[name] = g_full
            continue
        if not layout[kind]:
            # No public counterpart (the Light GRU's bias_ih: r's block has gradient 0, as r(1 - r) = 0,
            # and batch norm removes any bias on z, n).
            continue
        parts = []
        for blk in layout[kind]:
            acc = None
            for g, s in blk:
                part = g_full[g * H:(g + 1) * H]
                part = part if s > 0 else -part
                acc = part if acc is None else acc + part
            parts.append(acc)
        out[name] = np.ascontiguousarray(np.concatenate(parts, axis=0))
    return out


def check_batch_norm(form: Form, bn_momentum: Any, bn_eps: Any) -> tuple[float | None, float | None]:
    """(momentum, eps) resolved for the Light GRU (None -> 0.1, 1e-5, PyTorch's BatchNorm defaults);
    (None, None) for the other forms, which have no batch norm to configure."""
    if form.normalization != "batchnorm":
        for name, value in (("bn_momentum", bn_momentum), ("bn_eps", bn_eps)):
            if value is not None:
                what = f"cell={form.cell!r}" if not form.light else f"normalization={form.normalization!r}"
                raise ValueError(f"{name}={value!r} is only for batch norm (cell='ligru', 'sligru' or 'libru' with "
                                 f"normalization='batchnorm'); this model has {what}")
        return None, None
    momentum = 0.1 if bn_momentum is None else _real("bn_momentum", bn_momentum)
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"bn_momentum must be in [0, 1] (running = (1 - m) * running + m * batch), got {momentum}")
    eps = 1e-5 if bn_eps is None else _real("bn_eps", bn_eps)
    if eps <= 0:
        raise ValueError(f"bn_eps must be > 0, got {eps}")
    return momentum, eps


# ----------------------------------------------------------------------------------------------
# Activations and clip (ONNX's GRU attributes, Keras's argument names).

_REQUIRED = "required"
# name -> (alpha, beta) when not given: ONNX's operator defaults; None = the function has no such
# parameter; _REQUIRED = ONNX gives no default (ScaledTanh). After ONNX's set, the elementwise
# functions ONNX's GRU lacks, as Keras 3 defines them (docs/API.md's table): squareplus's alpha is
# Keras's b, soft_shrink's and hard_shrink's its threshold.
ACTIVATIONS: dict[str, tuple[Any, Any]] = {
    "sigmoid": (None, None), "tanh": (None, None), "relu": (None, None),
    "affine": (1.0, 0.0), "leaky_relu": (0.01, None), "thresholded_relu": (1.0, None),
    "scaled_tanh": (_REQUIRED, _REQUIRED), "hard_sigmoid": (0.2, 0.5), "elu": (1.0, None),
    "softsign": (None, None), "softplus": (None, None),
    "selu": (None, None), "relu6": (None, None), "gelu": (None, None), "gelu_tanh": (None, None),
    "silu": (None, None), "hard_tanh": (None, None), "log_sigmoid": (None, None), "mish": (None, None),
    "hard_silu": (None, None), "sparse_plus": (None, None), "squareplus": (4.0, None), "sin": (None, None),
    "tanh_shrink": (None, None), "soft_shrink": (0.5, None), "hard_shrink": (0.5, None),
    "exponential": (None, None),
}
# "LeakyRelu", "leaky_relu" -> "leaky_relu"; Keras's aliases swish and hard_swish.
_BY_KEY = {name.replace("_", ""): name for name in ACTIVATIONS} | {"swish": "silu", "hardswish": "hard_silu"}
# Parameters with a restricted domain: name -> (test, what it must be).
_ALPHA_DOMAIN = {"squareplus": (lambda a: a > 0, "> 0"), "soft_shrink": (lambda a: a >= 0, ">= 0"),
                 "hard_shrink": (lambda a: a >= 0, ">= 0")}


@dataclass(frozen=True)
class CellMath:
    """The cell's activations (alpha/beta resolved: None where the function has none) and clip."""

    activation: str = "tanh"
    activation_alpha: float | None = None
    activation_beta: float | None = None
    recurrent_activation: str = "sigmoid"
    recurrent_activation_alpha: float | None = None
    recurrent_activation_beta: float | None = None
    clip: float | None = None

    @property
    def standard(self) -> bool:
        return self == STANDARD_MATH

    def core_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the core's constructor (none for the standard pair)."""
        if self.standard:
            return {}
        return dict(gate_activation=self.recurrent_activation, gate_alpha=self.recurrent_activation_alpha or 0.0,
                    gate_beta=self.recurrent_activation_beta or 0.0, candidate_activation=self.activation,
                    candidate_alpha=self.activation_alpha or 0.0, candidate_beta=self.activation_beta or 0.0,
                    clip=self.clip)

    def config(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


STANDARD_MATH = CellMath()


def _real(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number or None, got {value!r}")
    return float(value)


def _activation(name: str, value: Any, alpha: Any, beta: Any) -> tuple[str, float | None, float | None]:
    key = value.replace("_", "").lower() if isinstance(value, str) else None
    if key not in _BY_KEY:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, ACTIVATIONS))} (ONNX's names are accepted "
                         f"too, e.g. 'LeakyRelu', and Keras's aliases 'swish', 'hard_swish'), got {value!r}")
    act = _BY_KEY[key]
    out = []
    for pname, given, default in ((f"{name}_alpha", alpha, ACTIVATIONS[act][0]),
                                  (f"{name}_beta", beta, ACTIVATIONS[act][1])):
        if default is None:
            if given is not None:
                raise ValueError(f"{pname}={given!r} is not used by {name}={act!r}; leave it None")
            out.append(None)
        elif given is None:
            if default is _REQUIRED:
                raise ValueError(f"{name}={act!r} has no default {pname} (ONNX gives none); pass it")
            out.append(float(default))
        else:
            out.append(_real(pname, given))
    if act in _ALPHA_DOMAIN and not _ALPHA_DOMAIN[act][0](out[0]):
        raise ValueError(f"{name}_alpha must be {_ALPHA_DOMAIN[act][1]} for {name}={act!r}, got {out[0]}")
    return act, out[0], out[1]


def check_math(form: Form, activation: Any = None, recurrent_activation: Any = "sigmoid",
               activation_alpha: Any = None, activation_beta: Any = None, recurrent_activation_alpha: Any = None,
               recurrent_activation_beta: Any = None, clip: Any = None) -> CellMath:
    """The validated activations and clip. activation=None is the form's own candidate: tanh, ReLU
    for the Light GRU, softplus for the LiBRU."""
    if activation is None:
        activation = default_activation(form.cell)
    act, a_alpha, a_beta = _activation("activation", activation, activation_alpha, activation_beta)
    rec, r_alpha, r_beta = _activation("recurrent_activation", recurrent_activation, recurrent_activation_alpha,
                                       recurrent_activation_beta)
    if clip is not None:
        clip = _real("clip", clip)
        if clip <= 0:
            raise ValueError(f"clip must be > 0 (None: no clipping), got {clip}")
    # update="candidate" and the MGU reach z = 1 - f(a) as f(-a): true for sigmoid and for a hard
    # sigmoid centred at 1/2 (clip is symmetric, so it keeps the identity).
    if (form.update == "candidate" or form.cell == "mgu") and not (
            rec == "sigmoid" or (rec == "hard_sigmoid" and r_beta == 0.5)):
        what = "cell='mgu'" if form.cell == "mgu" else "update='candidate'"
        raise ValueError(f"{what} needs a recurrent_activation with f(-a) = 1 - f(a) ('sigmoid', or 'hard_sigmoid' "
                         f"with recurrent_activation_beta=0.5), got {rec!r}"
                         + (f" with beta {r_beta}" if rec == "hard_sigmoid" else ""))
    if form.cell in LIGRU_LIKE:
        # Its activations are part of its definition (ReLU candidate, sigmoid gate); a clip would also
        # clip r's constant pre-activation and break r = 1.
        if act not in LIGRU_ACTIVATIONS:
            raise ValueError(f"cell={form.cell!r} takes activation {', '.join(map(repr, LIGRU_ACTIVATIONS))} (ReLU, "
                             f"Ravanelli et al. 2018's, by default; the others are SpeechBrain's); got {act!r}")
    if form.cell == "libru" and act != "softplus":
        raise ValueError(f"cell='libru' has a softplus candidate by definition (Bittar & Garner 2021); got "
                         f"activation={act!r} (leave it None or 'softplus')")
    if form.light:
        if rec != "sigmoid":
            raise ValueError(f"cell={form.cell!r} has a sigmoid update gate by definition; got "
                             f"recurrent_activation={rec!r}")
        if clip is not None:
            raise ValueError(f"clip is not supported for cell={form.cell!r} (got clip={clip})")
    return CellMath(act, a_alpha, a_beta, rec, r_alpha, r_beta, clip)
