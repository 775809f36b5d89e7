"""ONNX interoperability: the ONNX ``GRU`` operator on fastgru's core, loading the GRU nodes of
an ONNX model, and exporting a fastgru.GRU as an ONNX model.

- ``gru_op(X, W, R, B, sequence_lens, initial_h, **attributes) -> (Y, Y_h)``: the ONNX ``GRU``
  operator (opsets 7-22) with its exact semantics, computed by fastgru's compiled core.
- ``load_onnx(path_or_model, base_dir=None, weights=None) -> dict[str, GRU]``: every GRU node
  (weights constants, or graph inputs given in ``weights``); the file is not trusted
  (fastgru._onnx_file, fastgru.FormatError).
- ``export_gru(gru, path)`` (also ``gru.to_onnx(path)``): one ONNX ``GRU`` node per layer.
- ``stack(grus)``: single-layer GRUs (e.g. the nodes of a PyTorch export) as one multi-layer GRU.
- ``ReverseGRU``: ``GRU(direction="reverse")`` under its earlier name.
- ``BidirectionalPair``: a bidirectional node whose directions have different activations.

Conventions. ONNX orders the gates z, r, h; fastgru (like PyTorch) r, z, n. Converting is a
permutation of row blocks, exact in both directions. ``linear_before_reset != 0`` is fastgru's
``reset_after=True``. ONNX ``B`` [dirs, 6H] holds the input biases then the recurrent biases, i.e.
``bias_ih`` then ``bias_hh``.

``sequence_lens`` follows ONNX Runtime: outputs past each length are zero, ``Y_h`` is the state
at each sequence's own last step, the reverse direction starts at each sequence's own last
element, and a length of 0 gives zero outputs and a zero ``Y_h`` (even with ``initial_h``).

Activations and clip. ``activations`` (f for z and r, g for the candidate, per direction; any
case), ``activation_alpha``/``activation_beta`` and ``clip`` map onto fastgru's
``recurrent_activation``/``activation`` (docs/API.md, "Activations and clip"). The alpha and beta
lists are consumed as ONNX Runtime consumes them: each function that takes an alpha (beta) takes
the next value of its list, in the order f, g (then the reverse direction's f, g); the others
take none, values left over are ignored. A missing value is the ONNX operator's default
(LeakyRelu 0.01, ThresholdedRelu 1.0, Elu 1.0, Affine 1.0/0.0, HardSigmoid 0.2/0.5; ScaledTanh
has none, so its values are required). ONNX Runtime 1.31 defaults Affine, ThresholdedRelu and
ScaledTanh to 0 instead, so ``export_gru`` always writes every parameter explicitly.

Not supported (``NotImplementedError``): dtypes other than float32/float64. The ``onnx`` package is needed only by ``load_onnx``
and ``export_gru`` and imported only there.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import cells
from . import functional as F
from ._onnx_file import read_model, tensor_array
from ._optional import require
from ._validation import check_size
from .errors import FormatError, listing
from .gru import GRU

__all__ = ["gru_op", "load_onnx", "export_gru", "stack", "ReverseGRU", "BidirectionalPair"]

DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}
# Every activation the ONNX spec names for RNN operators, keyed by its lower-case name (ONNX
# Runtime compares names that way): (fastgru's name, ONNX's spelling, takes alpha, takes beta).
# Which functions consume values of activation_alpha / activation_beta is ONNX Runtime's table.
ONNX_ACTIVATIONS = {
    "sigmoid": ("sigmoid", "Sigmoid", False, False),
    "tanh": ("tanh", "Tanh", False, False),
    "relu": ("relu", "Relu", False, False),
    "affine": ("affine", "Affine", True, True),
    "leakyrelu": ("leaky_relu", "LeakyRelu", True, False),
    "thresholdedrelu": ("thresholded_relu", "ThresholdedRelu", True, False),
    "scaledtanh": ("scaled_tanh", "ScaledTanh", True, True),
    "hardsigmoid": ("hard_sigmoid", "HardSigmoid", True, True),
    "elu": ("elu", "Elu", True, False),
    "softsign": ("softsign", "Softsign", False, False),
    "softplus": ("softplus", "Softplus", False, False),
}
_BY_FASTGRU_NAME = {v[0]: v for v in ONNX_ACTIVATIONS.values()}
DEFAULT_ACTIVATIONS = ("sigmoid", "tanh")  # f (z and r gates), g (candidate), per direction
GRU_ATTRIBUTES = {"activation_alpha", "activation_beta", "activations", "clip", "direction",
                  "hidden_size", "layout", "linear_before_reset",
                  "output_sequence"}  # GRU-1 only; it decides whether Y is produced, not the math
FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))
MIN_OPSET = 14  # GRU's `layout` attribute and Split/Squeeze taking their sizes as inputs
# The IR version written to exported files: onnxruntime 1.31 rejects the newest (IR 14).
EXPORT_IR_VERSION = 8


# --------------------------------------------------------------------------------------------
# Attribute and weight conversion shared by gru_op, load_onnx and export_gru.

def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _check_attributes(direction: Any, linear_before_reset: Any, activations: Any, activation_alpha: Any,
                      activation_beta: Any, clip: Any, layout: Any,
                      where: str = "") -> tuple[str, int, list[cells.CellMath]]:
    """Validates the ONNX GRU attributes; returns (direction, layout, each direction's
    activations and clip). `where` prefixes messages."""
    direction = _text(direction)
    if direction not in DIRECTIONS:
        raise ValueError(f"{where}direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    dirs = DIRECTIONS[direction]
    if isinstance(layout, bool) or not isinstance(layout, numbers.Integral) or layout not in (0, 1):
        raise ValueError(f"{where}layout must be 0 or 1, got {layout!r}")
    if not isinstance(linear_before_reset, numbers.Integral):
        raise TypeError(f"{where}linear_before_reset must be an int, got {linear_before_reset!r}")
    names = list(DEFAULT_ACTIVATIONS) * dirs
    if activations is not None and len(activations) > 0:
        if isinstance(activations, (str, bytes)) or not all(isinstance(a, (str, bytes)) for a in activations):
            raise TypeError(f"{where}activations must be a list of names, got {activations!r}")
        names = [_text(a) for a in activations]
        if len(names) != 2 * dirs:  # ONNX Runtime insists on exactly 2 per direction as well
            raise ValueError(f"{where}activations must hold {2 * dirs} names (f and g for each of {dirs} "
                             f"direction(s), direction={direction!r}), got {names}")
        unknown = [a for a in names if a.lower() not in ONNX_ACTIVATIONS]
        if unknown:
            raise ValueError(f"{where}activations {unknown} are not ONNX activation functions")
    lists = []
    for name, values in (("activation_alpha", activation_alpha), ("activation_beta", activation_beta)):
        values = [] if values is None else list(np.ravel(values))
        if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
            raise TypeError(f"{where}{name} must be a list of floats, got {values!r}")
        lists.append(iter(float(v) for v in values))
    alphas, betas = lists
    if clip is not None and (isinstance(clip, (bool, np.bool_)) or not isinstance(clip, numbers.Real)):
        raise TypeError(f"{where}clip must be a float, got {clip!r}")

    maths = []
    for d in range(dirs):
        pair = []
        for name in names[2 * d:2 * d + 2]:  # f, then g
            ours, _, takes_alpha, takes_beta = ONNX_ACTIVATIONS[name.lower()]
            # A value missing from a list: None, i.e. the ONNX operator's default.
            alpha = next(alphas, None) if takes_alpha else None
            beta = next(betas, None) if takes_beta else None
            pair.append((ours, alpha, beta))
        (f, f_alpha, f_beta), (g, g_alpha, g_beta) = pair
        try:
            maths.append(cells.check_math(cells.STANDARD, activation=g, recurrent_activation=f,
                                          activation_alpha=g_alpha, activation_beta=g_beta,
                                          recurrent_activation_alpha=f_alpha, recurrent_activation_beta=f_beta,
                                          clip=clip))
        except ValueError as e:
            raise ValueError(f"{where}activations={names}, activation_alpha={activation_alpha}, "
                             f"activation_beta={activation_beta}, clip={clip}: {e}") from None
    return direction, int(layout), maths


def _math_kwargs(math: cells.CellMath) -> dict[str, Any]:
    """A CellMath as GRU / gru_forward keyword arguments."""
    return {k: getattr(math, k) for k in ("activation", "activation_alpha", "activation_beta",
                                          "recurrent_activation", "recurrent_activation_alpha",
                                          "recurrent_activation_beta", "clip")}


def _onnx_activation_attributes(math: Any, dirs: int) -> dict[str, Any]:
    """The GRU node attributes that make ONNX (Runtime) compute `math` (a CellMath, or a GRU:
    the same attribute names; or a list of one per direction, sharing the clip) in every
    direction: nothing for the defaults; otherwise every alpha/beta written out, since ONNX
    Runtime's defaults differ from ONNX's for some functions."""
    attrs: dict[str, Any] = {}
    maths = list(math) if isinstance(math, (list, tuple)) else [math] * dirs
    math = maths[0]
    functions = [f for m in maths for f in ((m.recurrent_activation, m.recurrent_activation_alpha,
                                             m.recurrent_activation_beta),
                                            (m.activation, m.activation_alpha, m.activation_beta))]
    if any((m.recurrent_activation, m.activation) != DEFAULT_ACTIVATIONS for m in maths):
        names, alphas, betas = [], [], []
        for name, alpha, beta in functions:
            _, onnx_name, takes_alpha, takes_beta = _BY_FASTGRU_NAME[name]
            names.append(onnx_name)
            if takes_alpha:
                alphas.append(float(alpha))
            if takes_beta:
                betas.append(float(beta))
        attrs["activations"] = names
        if alphas:
            attrs["activation_alpha"] = alphas
        if betas:
            attrs["activation_beta"] = betas
    if math.clip is not None:
        attrs["clip"] = float(math.clip)
    return attrs


def _float_input(name: str, value: Any, dtype: np.dtype | None, where: str = "") -> np.ndarray:
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"{where}{name} must be a floating-point array, got dtype {arr.dtype}")
    if arr.dtype not in FLOAT_TYPES:
        raise NotImplementedError(f"{where}{name} has dtype {arr.dtype}, which is not supported yet "
                                  f"(fastgru computes in float32 or float64)")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{where}{name} has dtype {arr.dtype} but X/W has {dtype}: ONNX requires one "
                        f"type for X, W, R, B and initial_h")
    return arr


def _swap_rz(a: np.ndarray, H: int) -> np.ndarray:
    """Swaps the first two row blocks of H: z, r, h <-> r, z, n (its own inverse)."""
    return np.concatenate([a[H:2 * H], a[:H], a[2 * H:3 * H]], axis=0)


def _check_weights(W: np.ndarray, R: np.ndarray, B: np.ndarray | None, hidden_size: Any, dirs: int,
                   where: str = "") -> int:
    """Checks the ONNX weight shapes against hidden_size and the direction count; returns H."""
    if R.ndim != 3:
        raise ValueError(f"{where}R must be [num_directions, 3*hidden_size, hidden_size], got shape {R.shape}")
    H = R.shape[2] if hidden_size is None else check_size("hidden_size", hidden_size)
    if W.ndim != 3 or W.shape[:2] != (dirs, 3 * H) or W.shape[2] == 0:
        raise ValueError(f"{where}W has shape {W.shape}, expected ({dirs}, {3 * H}, input_size) for "
                         f"hidden_size={H} and {dirs} direction(s)")
    if R.shape != (dirs, 3 * H, H):
        raise ValueError(f"{where}R has shape {R.shape}, expected {(dirs, 3 * H, H)} for hidden_size={H} "
                         f"and {dirs} direction(s)")
    if B is not None and B.shape != (dirs, 6 * H):
        raise ValueError(f"{where}B has shape {B.shape}, expected {(dirs, 6 * H)} for hidden_size={H} "
                         f"and {dirs} direction(s)")
    return H


def _params_from_onnx(W: np.ndarray, R: np.ndarray, B: np.ndarray | None, H: int, layer: int = 0,
                      ) -> dict[str, np.ndarray]:
    """One layer's ONNX weights under PyTorch's names (gate blocks permuted, nothing rounded)."""
    params = {}
    for d in range(W.shape[0]):
        s = f"l{layer}{'_reverse' if d else ''}"
        params[f"weight_ih_{s}"] = _swap_rz(W[d], H)
        params[f"weight_hh_{s}"] = _swap_rz(R[d], H)
        if B is not None:
            params[f"bias_ih_{s}"] = _swap_rz(B[d, :3 * H], H)
            params[f"bias_hh_{s}"] = _swap_rz(B[d, 3 * H:], H)
    return params


def _onnx_from_params(params: Mapping[str, np.ndarray], layer: int, dirs: int, H: int,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Layer `layer` of a PyTorch-named parameter dict as ONNX W, R, B (B None without biases)."""
    suffixes = [f"l{layer}{'_reverse' if d else ''}" for d in range(dirs)]
    W = np.stack([_swap_rz(params[f"weight_ih_{s}"], H) for s in suffixes])
    R = np.stack([_swap_rz(params[f"weight_hh_{s}"], H) for s in suffixes])
    if f"bias_ih_{suffixes[0]}" not in params:
        return W, R, None
    B = np.stack([np.concatenate([_swap_rz(params[f"bias_ih_{s}"], H), _swap_rz(params[f"bias_hh_{s}"], H)])
                  for s in suffixes])
    return W, R, B


def _reverse_within(a: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """a (T, B, ...) with each sequence b's first lengths[b] steps reversed; the padding stays put.

    The map is its own inverse, so the same call undoes it.
    """
    if lengths is None:
        return a[::-1].copy()
    T, B = a.shape[0], a.shape[1]
    t = np.arange(T)[:, None]
    src = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
    return a[src, np.arange(B)[None, :]]


# --------------------------------------------------------------------------------------------
# The ONNX GRU operator.

def _run_directions(x: np.ndarray, W: np.ndarray, R: np.ndarray, B: np.ndarray | None, H: int,
                    h0: np.ndarray | None, lens: np.ndarray | None, reset_after: bool, reverse: bool,
                    math: cells.CellMath) -> tuple[np.ndarray, np.ndarray]:
    """One ONNX node's directions (all of W's) on the core: y (T, B, dirs*H), h_n (dirs, B, H).
    `reverse`: one direction reading each sequence from its own last element."""
    params = _params_from_onnx(W, R, B, H)
    if reverse:
        x = _reverse_within(x, lens)
    y, h_n, _ = F.gru_forward(x, params, h0, lens, num_layers=1, bidirectional=W.shape[0] == 2,
                              reset_after=reset_after, **_math_kwargs(math))
    if reverse:
        y = _reverse_within(y, lens)
    return y, h_n


def gru_op(X: Any, W: Any, R: Any, B: Any = None, sequence_lens: Any = None, initial_h: Any = None, *,
           hidden_size: int | None = None, direction: str = "forward", linear_before_reset: int = 0,
           activations: Sequence[str] | None = None, activation_alpha: Sequence[float] | None = None,
           activation_beta: Sequence[float] | None = None, clip: float | None = None,
           layout: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ONNX ``GRU`` operator on fastgru's core: returns ``(Y, Y_h)``.

    Inputs and attributes are ONNX's (gate order z, r, h). ``layout=0``: X [T, B, D],
    initial_h and Y_h [dirs, B, H], Y [T, dirs, B, H]; ``layout=1``: X [B, T, D], initial_h and
    Y_h [B, dirs, H], Y [B, T, dirs, H]. W [dirs, 3H, D], R [dirs, 3H, H], B [dirs, 6H];
    ``sequence_lens`` integers [B] in [0, T]. ``hidden_size=None`` takes it from R. All float
    inputs must share one dtype, float32 or float64, which is the dtype of the results.

    ``activations`` (any case), ``activation_alpha``, ``activation_beta`` and ``clip`` as in the
    module docstring. ``direction="reverse"``: the core has no reverse-only mode, so each
    sequence is reversed within its own length, run forwards, and the outputs are reversed back
    (an exact reordering, no arithmetic). The core applies one (f, g) pair to both directions, so
    a bidirectional node whose directions' activations differ runs as two one-direction
    computations (the reverse one reversed as above), stacked. Raises ValueError/TypeError for
    malformed inputs or attributes.
    """
    direction, layout, maths = _check_attributes(direction, linear_before_reset, activations, activation_alpha,
                                                 activation_beta, clip, layout)
    dirs = DIRECTIONS[direction]
    X = _float_input("X", X, None)
    dtype = X.dtype
    W = _float_input("W", W, dtype)
    R = _float_input("R", R, dtype)
    B = None if B is None else _float_input("B", B, dtype)
    if X.ndim != 3:
        expected = "[seq_length, batch_size, input_size]" if layout == 0 else "[batch_size, seq_length, input_size]"
        raise ValueError(f"X must be 3-D {expected} (layout={layout}), got shape {X.shape}")
    H = _check_weights(W, R, B, hidden_size, dirs)
    x = X if layout == 0 else X.transpose(1, 0, 2)
    T, batch, D = x.shape
    if T == 0 or batch == 0:
        raise ValueError(f"X has shape {X.shape}: fastgru needs at least one time step and one sequence")
    if W.shape[2] != D:
        raise ValueError(f"W has input_size {W.shape[2]} (shape {W.shape}) but X has {D} features (shape {X.shape})")

    h0 = None
    if initial_h is not None:
        h0 = _float_input("initial_h", initial_h, dtype)
        expected = (dirs, batch, H) if layout == 0 else (batch, dirs, H)
        if h0.shape != expected:
            raise ValueError(f"initial_h has shape {h0.shape}, expected {expected} (layout={layout})")
        if layout == 1:
            h0 = h0.transpose(1, 0, 2)

    lens = empty = None
    if sequence_lens is not None:
        arr = np.asarray(sequence_lens)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"sequence_lens must be an integer array (int32 in ONNX), got dtype {arr.dtype}")
        if arr.shape != (batch,):
            raise ValueError(f"sequence_lens has shape {arr.shape}, expected ({batch},) (one per sequence)")
        bad = (arr < 0) | (arr > T)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"sequence_lens[{i}] = {arr[i]} is outside [0, {T}] (seq_length)")
        lens = arr.astype(np.int64)
        empty = lens == 0
        if not empty.any():
            empty = None
        # The core needs lengths >= 1: run empty sequences for one step, then zero them like ORT.
        lens = np.maximum(lens, 1)
        if np.all(lens == T) and empty is None:
            lens = None  # the unpadded fast path, same result

    run = dict(x=x, H=H, lens=lens, reset_after=bool(linear_before_reset))
    if dirs == 2 and maths[0] != maths[1]:
        parts = [_run_directions(W=W[d:d + 1], R=R[d:d + 1], B=None if B is None else B[d:d + 1],
                                 h0=None if h0 is None else h0[d:d + 1], reverse=d == 1, math=maths[d], **run)
                 for d in range(2)]
        y = np.concatenate([parts[0][0], parts[1][0]], axis=-1)  # forward half first, as the core's
        h_n = np.concatenate([parts[0][1], parts[1][1]], axis=0)
    else:
        y, h_n = _run_directions(W=W, R=R, B=B, h0=h0, reverse=direction == "reverse", math=maths[0], **run)
    if empty is not None:
        y[:, empty] = 0
        h_n[:, empty] = 0

    y4 = y.reshape(T, batch, dirs, H)
    if layout == 0:
        return np.ascontiguousarray(y4.transpose(0, 2, 1, 3)), np.ascontiguousarray(h_n)
    return np.ascontiguousarray(y4.transpose(1, 0, 2, 3)), np.ascontiguousarray(h_n.transpose(1, 0, 2))


# --------------------------------------------------------------------------------------------
# A GRU whose layers run backwards in time.

class ReverseGRU(GRU):
    """``GRU(direction="reverse")`` under its earlier name: a one-direction GRU whose every layer
    reads each sequence from its own last element (ONNX ``direction="reverse"``)."""

    def __init__(self, *args: Any, direction: str = "reverse", **kwargs: Any) -> None:
        if direction != "reverse":
            raise ValueError(f"ReverseGRU has direction='reverse', got direction={direction!r}; use GRU")
        if kwargs.get("bidirectional"):
            raise ValueError("ReverseGRU is one direction; use GRU(bidirectional=True) for both")
        super().__init__(*args, direction="reverse", **kwargs)


class BidirectionalPair:
    """A bidirectional GRU layer whose two directions have different activations (an ONNX
    bidirectional node may have them; a GRU applies one pair to both): a forward GRU and a
    ``direction="reverse"`` GRU, one layer each, on the same input. Calls, results and
    parameter names are a ``GRU(bidirectional=True)``'s: y = [forward | reverse] halves, h_n and
    h0 (2, B, H) with the forward direction first, state_dict names with ``_reverse`` for the
    reverse half. Pickles and deep-copies as its two models; ``to_onnx`` writes one node."""

    def __init__(self, forward: GRU, reverse: GRU) -> None:
        for role, m, want in (("forward", forward, "forward"), ("reverse", reverse, "reverse")):
            if not isinstance(m, GRU) or m.bidirectional or m.num_layers != 1 or m.direction != want:
                raise ValueError(f"BidirectionalPair: the {role} model must be a one-layer GRU with "
                                 f"direction={want!r}, got {m!r}")
        shared = ("input_size", "hidden_size", "bias", "batch_first", "dtype", "reset_after", "cell", "padding")
        differ = [k for k in shared if getattr(forward, k) != getattr(reverse, k)]
        if differ or forward.padding != "zeros":
            raise ValueError(f"BidirectionalPair: the two models must agree in {', '.join(shared)} and have "
                             f"padding='zeros' (as a bidirectional GRU's y); they differ in {differ}")
        self.forward_model, self.reverse_model = forward, reverse

    input_size = property(lambda self: self.forward_model.input_size)
    hidden_size = property(lambda self: self.forward_model.hidden_size)
    batch_first = property(lambda self: self.forward_model.batch_first)
    dtype = property(lambda self: self.forward_model.dtype)
    num_layers, num_directions, bidirectional = 1, 2, True

    def __repr__(self) -> str:
        return f"BidirectionalPair({self.forward_model!r}, {self.reverse_model!r})"

    def _halves(self, h0: Any) -> tuple[Any, Any]:
        if h0 is None:
            return None, None
        arr = np.asarray(h0)
        if arr.ndim < 1 or arr.shape[0] != 2:
            raise ValueError(f"h0 must be (2, batch, hidden_size) (forward first), got shape {arr.shape}")
        return arr[:1], arr[1:]

    def __call__(self, x: Any, h0: Any = None, lengths: Any = None, *, mask: Any = None) -> tuple[Any, Any]:
        hf, hr = self._halves(h0)
        yf, h_f = self.forward_model(x, hf, lengths, mask=mask)
        yr, h_r = self.reverse_model(x, hr, lengths, mask=mask)
        return np.concatenate([yf, yr], axis=-1), np.concatenate([h_f, h_r], axis=0)

    def forward(self, x: Any, h0: Any = None, lengths: Any = None, *, training: bool = True,
                mask: Any = None) -> tuple[Any, Any, Any]:
        hf, hr = self._halves(h0)
        yf, h_f, cf = self.forward_model.forward(x, hf, lengths, training=training, mask=mask)
        yr, h_r, cr = self.reverse_model.forward(x, hr, lengths, training=training, mask=mask)
        return np.concatenate([yf, yr], axis=-1), np.concatenate([h_f, h_r], axis=0), (cf, cr)

    def backward(self, cache: Any, dy: Any = None, dh_n: Any = None) -> dict[str, Any]:
        """Gradients as a bidirectional GRU's: dx summed over the halves, dh0 stacked."""
        if not isinstance(cache, tuple) or len(cache) != 2:
            raise TypeError(f"cache must come from BidirectionalPair.forward, got {type(cache).__name__}")
        H = self.hidden_size
        dy_arr = None if dy is None else np.asarray(dy)
        if dy_arr is not None and dy_arr.shape[-1:] != (2 * H,):
            raise ValueError(f"dy has shape {dy_arr.shape}, expected y's shape (last axis {2 * H})")
        dh_f, dh_r = self._halves(dh_n)
        gf = self.forward_model.backward(cache[0], None if dy_arr is None else dy_arr[..., :H], dh_f)
        gr = self.reverse_model.backward(cache[1], None if dy_arr is None else dy_arr[..., H:], dh_r)
        out = {"x": gf.pop("x") + gr.pop("x"), "h0": np.concatenate([gf.pop("h0"), gr.pop("h0")], axis=0)}
        out.update(gf)
        out.update({f"{k}_reverse": v for k, v in gr.items()})
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        return {**self.forward_model.state_dict(),
                **{f"{k}_reverse": v for k, v in self.reverse_model.state_dict().items()}}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        fwd = {k: v for k, v in state_dict.items() if not k.endswith("_reverse")}
        rev = {k[:-len("_reverse")]: v for k, v in state_dict.items() if k.endswith("_reverse")}
        self.forward_model.load_state_dict(fwd, strict)
        self.reverse_model.load_state_dict(rev, strict)

    def to_onnx(self, path: str | os.PathLike[str] | None, **kwargs: Any) -> Any:
        return export_gru(self, path, **kwargs)


# Settings that are not the same across the layers of one model, so stack does not compare them.
_PER_LAYER = ("input_size", "num_layers", "batch_first", "dropout")


def stack(grus: Iterable[GRU], *, batch_first: bool = False) -> GRU:
    """One multi-layer GRU from single-layer ones (layer 0 first), e.g. the per-layer nodes that
    load_onnx returns for a PyTorch or fastgru export. All must share class and every setting but
    input_size (hidden_size, direction(s), bias, reset_after, dtype, padding, cell form,
    activations, clip), and each layer's input_size must be the previous layer's output size. The
    result has those settings, no dropout, and the weights copied unchanged."""
    grus = list(grus)
    if not grus:
        raise ValueError("stack needs at least one GRU")
    first = grus[0]
    shared = {k: v for k, v in first.config().items() if k not in _PER_LAYER} if isinstance(first, GRU) else {}
    for k, g in enumerate(grus):
        if not isinstance(g, GRU):
            raise TypeError(f"stack: item {k} is a {type(g).__name__}, not a fastgru.GRU")
        if g.num_layers != 1:
            raise ValueError(f"stack: item {k} has {g.num_layers} layers; stack single-layer GRUs")
        cfg = {key: v for key, v in g.config().items() if key not in _PER_LAYER}
        differ = (["class"] if type(g) is not type(first) else []) + [
            key for key in sorted(set(cfg) | set(shared)) if cfg.get(key) != shared.get(key)]
        if differ:
            raise ValueError(f"stack: item {k} ({g!r}) differs from item 0 ({first!r}) in {', '.join(differ)}")
        if k and g.input_size != first.num_directions * first.hidden_size:
            raise ValueError(f"stack: item {k} has input_size {g.input_size}, expected "
                             f"{first.num_directions * first.hidden_size} (the output size of item {k - 1})")
    # config() holds every constructor setting (cell form and activations included), so the
    # stacked model has the same parameter shapes per layer and the same cell.
    out = type(first)(**{**first.config(), "num_layers": len(grus), "batch_first": batch_first, "dropout": 0.0},
                      seed=0)
    params = {}
    for k, g in enumerate(grus):
        params.update({name.replace("_l0", f"_l{k}"): arr for name, arr in g.state_dict().items()})
    out.load_state_dict(params)
    return out


# --------------------------------------------------------------------------------------------
# Loading and exporting models.

def _constant_tensors(graph: Any) -> dict[str, Any]:
    """The main graph's initializers and Constant nodes (tensor `value` form) by name, unconverted:
    only the GRU weights among them are read (tensor_array checks each)."""
    tensors = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
            for a in node.attribute:
                if a.name == "value":
                    tensors[node.output[0]] = a.t
    return tensors


def load_onnx(path_or_model: Any, *, base_dir: str | os.PathLike[str] | None = None,
              weights: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The GRU nodes of an ONNX model as fastgru GRUs, keyed by node name (the first output's
    name for unnamed nodes), in graph order.

    Each node becomes a one-layer ``GRU`` (``direction="reverse"`` for a reverse node) with
    the node's weights (gate blocks reordered, values unchanged): ``bias=False`` when B is
    absent, ``bidirectional`` for bidirectional nodes, ``reset_after = linear_before_reset != 0``,
    ``batch_first = layout == 1``, and the weights' dtype. W, R and B are initializers or
    Constant outputs, or graph inputs whose values ``weights`` gives ({input name: array}; a
    graph input without one raises FormatError saying so; ``gru_op`` runs the node on any W, R,
    B without a model). Inputs that are not weights (X, sequence_lens,
    initial_h) are not part of the GRU: pass them when calling it. Use ``stack`` to join the
    per-layer nodes of a multi-layer export. ``activations``, ``activation_alpha``,
    ``activation_beta`` and ``clip`` become the GRU's ``recurrent_activation``/``activation``,
    their alpha/beta and ``clip``. A bidirectional node whose two directions have different
    activations becomes a ``BidirectionalPair`` (a GRU applies one pair to both directions).
    float16 weights raise NotImplementedError.

    The model is not trusted. External data is read only from inside ``base_dir``: by default the
    model file's directory for a path, and no directory at all for bytes or a ModelProto (their
    external data needs ``base_dir``); a location that is absolute or leaves the directory (``..``,
    a symlink) is refused. Every weight's dims are checked against the data present before it is
    read. Anything malformed or inconsistent raises fastgru.FormatError naming the model (the
    path, ``<bytes>`` or ``<ModelProto>``); a wrong argument type raises TypeError; a missing model
    file raises the OSError of opening it.
    """
    model, name, base_dir = read_model(path_or_model, base_dir)
    if weights is not None and not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a dict {{graph input name: array}}, got {type(weights).__name__}")
    try:
        return _grus_of(model.graph, name, base_dir, dict(weights or {}))
    except FormatError:
        raise
    except (ValueError, TypeError) as e:  # the checks shared with gru_op, on the file's values
        message = str(e) if len(str(e)) <= 1000 else str(e)[:1000] + "..."
        raise FormatError(f"{name}: {message}") from e


def _grus_of(graph: Any, name: str, base_dir: str | None, fed: dict[str, Any]) -> dict[str, Any]:
    from onnx import helper

    tensors = _constant_tensors(graph)
    graph_inputs = {i.name for i in graph.input}
    unknown_feeds = [k for k in fed if k not in graph_inputs or k in tensors]
    if unknown_feeds:
        raise ValueError(f"weights names {listing(unknown_feeds)}, which are not graph inputs without a constant "
                         f"value (graph inputs: {listing(sorted(graph_inputs - set(tensors)))})")
    out: dict[str, Any] = {}
    for i, node in enumerate(graph.node):
        if node.op_type != "GRU" or node.domain not in ("", "ai.onnx"):
            continue
        key = node.name or next((o for o in node.output if o), f"GRU_{i}")
        where = f"GRU node {key[:100]!r}: "
        if key in out:
            raise ValueError(f"{where}two GRU nodes have this name")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        unknown = sorted(set(attrs) - GRU_ATTRIBUTES)
        if unknown:
            raise NotImplementedError(f"{where}attributes {listing(unknown)} are not supported")
        direction, layout, maths = _check_attributes(
            attrs.get("direction", "forward"), attrs.get("linear_before_reset", 0), attrs.get("activations"),
            attrs.get("activation_alpha"), attrs.get("activation_beta"), attrs.get("clip"),
            attrs.get("layout", 0), where)
        dirs = DIRECTIONS[direction]
        names = list(node.input) + [""] * (6 - len(node.input))
        weights = {}
        for role, tensor_name in zip("WRB", names[1:4]):
            if tensor_name == "":
                if role != "B":
                    raise ValueError(f"{where}input {role} is missing")
                continue
            if tensor_name in fed:
                weights[role] = fed[tensor_name]
                continue
            if tensor_name not in tensors:
                how = (f"it is a graph input: pass its value, load_onnx(..., weights={{{tensor_name[:100]!r}: "
                       f"array}}), or run the node on any weights with fastgru.onnx.gru_op"
                       if tensor_name in graph_inputs else "it is computed by the graph: run the node on its "
                       "value with fastgru.onnx.gru_op")
                raise ValueError(f"{where}input {role} ({tensor_name[:100]!r}) is not an initializer or Constant; "
                                 f"{how}")
            weights[role] = tensor_array(tensors[tensor_name], base_dir,
                                         f"{name}: {where}input {role} ({tensor_name[:100]!r})")
        W = _float_input("W", weights["W"], None, where)
        R = _float_input("R", weights["R"], W.dtype, where)
        B = _float_input("B", weights["B"], W.dtype, where) if "B" in weights else None
        H = _check_weights(W, R, B, attrs.get("hidden_size"), dirs, where)
        common = dict(input_size=W.shape[2], hidden_size=H, num_layers=1, bias=B is not None,
                      batch_first=layout == 1, reset_after=bool(attrs.get("linear_before_reset", 0)),
                      dtype=W.dtype, seed=0)
        params = _params_from_onnx(W, R, B, H)
        if dirs == 2 and maths[0] != maths[1]:  # one model per direction, each with its own activations
            halves = []
            for d, sub in enumerate(("forward", "reverse")):
                half = GRU._without_params(direction=sub, **common, **_math_kwargs(maths[d]))
                mine = {k.replace("_reverse", ""): v for k, v in params.items() if k.endswith("_reverse") == bool(d)}
                half._set_params(F.checked_params(half._spec, mine))
                halves.append(half)
            out[key] = BidirectionalPair(*halves)
            continue
        # Built from the node's weights: no random initialisation of arrays replaced at once.
        gru = GRU._without_params(direction="reverse" if direction == "reverse" else "forward",
                                  bidirectional=dirs == 2, **common, **_math_kwargs(maths[0]))
        gru._set_params(F.checked_params(gru._spec, params))
        out[key] = gru
    return out


def _merge_nodes(merge: str | None, halves: list[str], nodes: list[Any], const: Any,
                 dtype: np.dtype) -> dict[str, str]:
    """Nodes computing Keras's merge of the two [T, B, H] halves; {graph output name: source}."""
    from onnx import helper

    f, r = halves
    if merge is None:
        return {"y_forward": f, "y_reverse": r}
    op = {"sum": "Add", "mul": "Mul", "ave": "Add"}[merge]
    nodes.append(helper.make_node(op, [f, r], ["y_merged" if merge != "ave" else "y_sum"]))
    if merge == "ave":  # (f + r) / 2, as Keras and fastgru compute it
        nodes.append(helper.make_node("Div", ["y_sum", const("two", 2.0, dtype)], ["y_merged"]))
    return {"y": "y_merged"}


def export_gru(gru: GRU, path: str | os.PathLike[str] | None = None, *, initial_h: bool = False,
               sequence_lens: bool = False, opset: int = MIN_OPSET) -> Any:
    """Writes `gru` as an ONNX model (to `path` when given) and returns the ``onnx.ModelProto``.

    One ``GRU`` node per layer (``gru_l0``, ``gru_l1``, ...; as ``torch.onnx`` exports),
    ``linear_before_reset = int(gru.reset_after)``, ``layout=0``. The model has gru's own
    interface: input ``x`` in gru's layout ((T, B, D), or (B, T, D) for a batch_first model —
    Transposes around the nodes, since ONNX Runtime's GRU runs layout 0 only), so by default it
    runs on ``x`` alone from a zero state, as a torch.onnx export; ``initial_h=True`` adds the
    input ``h0`` (L*dirs, B, H) (then required: ONNX has no optional graph inputs of a dynamic
    shape); ``sequence_lens=True`` adds ``lengths``, int32 (B,) in [0, T] (0: zero outputs and a
    zero h_n, ONNX Runtime's rule);
    outputs ``y`` and ``h_n`` as ``gru(x, h0, lengths)`` returns them. T and B are dynamic; x
    must be 3-D. The weights keep gru's dtype (ONNX Runtime 1.31 runs float32 GRUs only).
    Other cell forms are written as their equivalent standard GRU (``gru.to_standard()``).
    Non-default activations are written as ``activations`` (f, g per direction, ONNX's
    spelling) with every alpha/beta in ``activation_alpha``/``activation_beta``, and a clip as
    ``clip``; ONNX stores these as float32, so a float64 model's values are rounded to float32.
    A ``merge`` other than "concat" becomes ops on the last node's halves (merge=None: outputs
    ``y_forward`` and ``y_reverse`` instead of ``y``).
    """
    onnx = require("onnx", "GRU.to_onnx")
    from onnx import TensorProto, helper, numpy_helper

    from . import __version__

    maths: Any = None
    if isinstance(gru, BidirectionalPair):  # one bidirectional node with each direction's activations
        f, r = gru.forward_model._exportable("ONNX"), gru.reverse_model._exportable("ONNX")
        if f.clip != r.clip:
            raise ValueError(f"an ONNX GRU node has one clip; the directions have {f.clip} and {r.clip}")
        maths = [f, r]
        both = GRU(**{**f.config(), "bidirectional": True}, seed=0)
        both.load_state_dict(gru.state_dict())
        gru = both
    if not isinstance(gru, GRU):
        raise TypeError(f"export_gru expects a fastgru.GRU, got {type(gru).__name__}")
    gru = gru._exportable("ONNX")
    beyond = [f"{arg}={getattr(gru, arg)!r}" for arg in ("recurrent_activation", "activation")
              if getattr(gru, arg) not in _BY_FASTGRU_NAME]
    if beyond:
        raise ValueError(f"{' and '.join(beyond)}: not among ONNX's GRU activations "
                         f"({', '.join(v[1] for v in ONNX_ACTIVATIONS.values())}), so an ONNX GRU node "
                         "cannot compute this model")
    if sequence_lens and gru.padding == "carry" and not gru.bidirectional:
        raise ValueError("this model has padding='carry' (outputs past a length repeat the last valid one); an "
                         "ONNX GRU's outputs past sequence_lens are zero. Export with sequence_lens=False (a "
                         "model without lengths computes the same), or export a padding='zeros' model "
                         "loaded with this one's state_dict()")
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) or not (
            MIN_OPSET <= opset <= onnx.defs.onnx_opset_version()):
        raise ValueError(f"opset must be an int in [{MIN_OPSET}, {onnx.defs.onnx_opset_version()}], got {opset!r}")
    L, dirs, H = gru.num_layers, gru.num_directions, gru.hidden_size
    direction = "bidirectional" if dirs == 2 else gru.direction
    elem = TensorProto.DOUBLE if gru.dtype == np.float64 else TensorProto.FLOAT
    params = gru.state_dict()
    nodes, inits = [], []

    def const(name: str, values: Any, dtype: Any = np.int64) -> str:
        inits.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    x_dims = ["batch", "seq_len", gru.input_size] if gru.batch_first else ["seq_len", "batch", gru.input_size]
    inputs = [helper.make_tensor_value_info("x", elem, x_dims)]
    cur = "x"
    if gru.batch_first:
        nodes.append(helper.make_node("Transpose", ["x"], ["x_time_major"], perm=[1, 0, 2]))
        cur = "x_time_major"
    lens_name = ""
    if sequence_lens:
        inputs.append(helper.make_tensor_value_info("lengths", TensorProto.INT32, ["batch"]))
        lens_name = "lengths"
    h0_names = [""] * L
    if initial_h:
        inputs.append(helper.make_tensor_value_info("h0", elem, [L * dirs, "batch", H]))
        if L == 1:
            h0_names = ["h0"]
        else:
            h0_names = [f"h0_l{k}" for k in range(L)]
            nodes.append(helper.make_node("Split", ["h0", const("h0_split", [dirs] * L)], h0_names, axis=0))

    h_n_parts = []
    for k in range(L):
        W, R, B = _onnx_from_params(params, k, dirs, H)
        node_inputs = [cur, const(f"W_l{k}", W, gru.dtype), const(f"R_l{k}", R, gru.dtype),
                       const(f"B_l{k}", B, gru.dtype) if B is not None else "", lens_name, h0_names[k]]
        while node_inputs[-1] == "":  # trailing optional inputs are left out
            node_inputs.pop()
        y_k, h_k = f"Y_l{k}", ("h_n" if L == 1 else f"Y_h_l{k}")
        nodes.append(helper.make_node("GRU", node_inputs, [y_k, h_k], name=f"gru_l{k}", hidden_size=H,
                                      direction=direction, linear_before_reset=int(gru.reset_after),
                                      **_onnx_activation_attributes(maths or gru, dirs)))
        h_n_parts.append(h_k)
        # Y is [T, dirs, B, H]; the next layer (and y) want [T, B, dirs*H].
        out_k = "y" if (k == L - 1 and not gru.batch_first) else f"out_l{k}"
        if k == L - 1 and gru.merge != "concat":  # the halves, [T, B, H] each, then Keras's merge
            halves = [f"Y_forward_l{k}", f"Y_reverse_l{k}"]
            nodes.append(helper.make_node("Split", [y_k, const("merge_split", [1, 1])], [h + "_4d" for h in halves],
                                          axis=1))
            for h in halves:
                nodes.append(helper.make_node("Squeeze", [h + "_4d", const(f"{h}_axes", [1])], [h]))
            y_names = _merge_nodes(gru.merge, halves, nodes, const, gru.dtype)
            break
        if dirs == 1:
            nodes.append(helper.make_node("Squeeze", [y_k, const(f"axes_l{k}", [1])], [out_k]))
        else:
            nodes.append(helper.make_node("Transpose", [y_k], [f"Y_t_l{k}"], perm=[0, 2, 1, 3]))
            nodes.append(helper.make_node("Reshape", [f"Y_t_l{k}", const(f"shape_l{k}", [0, 0, -1])], [out_k]))
        cur = out_k
    else:  # no break: y is the last layer's concatenated output
        y_names = {"y": cur}
    for y_name, src in y_names.items():  # the graph's y output(s), in gru's layout
        if gru.batch_first:
            nodes.append(helper.make_node("Transpose", [src], [y_name], perm=[1, 0, 2]))
        elif src != y_name:
            nodes.append(helper.make_node("Identity", [src], [y_name]))
    if L > 1:
        nodes.append(helper.make_node("Concat", h_n_parts, ["h_n"], axis=0))

    width = dirs * H if gru.merge == "concat" else H
    y_dims = ["batch", "seq_len", width] if gru.batch_first else ["seq_len", "batch", width]
    outputs = [*(helper.make_tensor_value_info(y_name, elem, y_dims) for y_name in y_names),
               helper.make_tensor_value_info("h_n", elem, [L * dirs, "batch", H])]
    graph = helper.make_graph(nodes, "fastgru_GRU", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))],
                              producer_name="fastgru", producer_version=__version__)
    # Newer onnx writes an IR version older runtimes refuse; the opset decides the minimum.
    model.ir_version = max(EXPORT_IR_VERSION, helper.find_min_ir_version_for(list(model.opset_import)))
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model
