"""Batches the core cannot run as they are, run as exact reorderings around it.

The core runs each sequence b over its steps 0 .. len_b - 1 (1 <= len_b <= T): its forward
direction in that order, its reverse direction from len_b - 1 down. Three things go beyond it:

- a length of 0 (ONNX's ``sequence_lens``): the sequence is left out of the core's batch;
  its outputs are zero, h_n = h0, and in backward dh0 = dh_n;
- ``mask`` (B, T) (Keras): the core sees only each sequence's unmasked steps, packed to the
  front in time order, so masked steps carry the state (holes and left padding alike);
- ``direction="reverse"`` (ONNX ``direction="reverse"``, Keras ``go_backwards``): each
  sequence's valid steps are packed in reverse time order, so the core's forward direction
  reads them from the last to the first.

Every one is an index gather before the core and a scatter after it (and their transposes in
backward): values and gradients are the core's, with no arithmetic of their own. Outputs go
back to the time step they belong to (ONNX's order); a masked step's output is zero, or under
``padding="carry"`` (unidirectional models) the output of the step before it in processing
order (zero when there is none), which is Keras's masking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Plan:
    """How one batch (T steps, B sequences) maps onto the core's (core_steps, len(active))."""

    steps: int
    batch: int
    active: np.ndarray  # (Bc,) the sequences the core runs (those with a valid step)
    core_lengths: np.ndarray | None  # (Bc,) their valid-step counts; None when all are core_steps
    core_steps: int
    x_index: np.ndarray  # (core_steps * Bc,) flat (t * B + b) index of x per core row, -1: padding
    y_index: np.ndarray  # (T * B,) flat core row whose output y[t, b] shows, -1: zero
    carried: bool  # whether y_index repeats rows (padding="carry")


def mask_array(mask: Any, batch: int, steps: int) -> np.ndarray:
    """A (B, T) boolean array from `mask` (B, T), checked; always batch-major, as Keras's."""
    arr = mask if isinstance(mask, np.ndarray) else np.asarray(mask)
    if arr.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True = a step to compute), got dtype {arr.dtype}")
    if arr.shape != (batch, steps):
        raise ValueError(f"mask must have shape (batch, steps) = {(batch, steps)} (batch-major as Keras's, "
                         f"whatever batch_first), got {arr.shape}")
    return np.ascontiguousarray(arr)


def needed(lengths: np.ndarray | None, mask: np.ndarray | None, reverse: bool) -> bool:
    return mask is not None or reverse or (lengths is not None and not lengths.all())


def make_plan(steps: int, batch: int, lengths: np.ndarray | None, mask: np.ndarray | None, reverse: bool,
              carry: bool) -> Plan:
    """The plan for valid steps given by `lengths` (B,) (0 allowed) or `mask` (B, T) (not both)."""
    t = np.arange(steps)
    if mask is not None:
        valid = mask
    elif lengths is not None:
        valid = t[None, :] < lengths[:, None]
    else:
        valid = np.ones((batch, steps), dtype=bool)
    count = np.cumsum(valid, axis=1)  # (B, T): valid steps at or before t
    n = count[:, -1]
    # Each valid step's row in its sequence's packed order.
    pos = np.where(valid, n[:, None] - count if reverse else count - 1, -1)
    active = np.flatnonzero(n > 0)
    col = np.full(batch, -1, np.int64)
    col[active] = np.arange(active.size)
    core_steps = int(n.max()) if active.size else 0
    core_lengths = n[active].astype(np.int64)
    bs, ts = np.nonzero(valid)
    x_index = np.full(core_steps * active.size, -1, np.int64)
    x_index[pos[bs, ts] * active.size + col[bs]] = ts * batch + bs
    src = pos
    if carry:
        # A masked step shows the output of the valid step before it in processing order: the
        # last one before it in time (forward), the first one after it (reverse); -1 if none.
        src = n[:, None] - count - 1 + valid if reverse else count - 1
    y_index = np.where(src >= 0, src * active.size + col[:, None], -1).T.reshape(-1)  # (T, B) flat
    all_full = core_lengths.size == 0 or bool(np.all(core_lengths == core_steps))
    return Plan(steps, batch, _frozen(active), None if all_full else _frozen(core_lengths), core_steps,
                _frozen(x_index), _frozen(y_index), carry)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return np.frombuffer(a.tobytes(), a.dtype).reshape(a.shape)


def gather_x(plan: Plan, xt: np.ndarray) -> np.ndarray:
    """xt (T, B, D) -> the core's (core_steps, Bc, D); padding rows are zero."""
    flat = xt.reshape(-1, xt.shape[-1])
    out = np.zeros((plan.x_index.size, xt.shape[-1]), xt.dtype)
    used = plan.x_index >= 0
    out[used] = flat[plan.x_index[used]]
    return out.reshape(plan.core_steps, plan.active.size, xt.shape[-1])


def scatter_dx(plan: Plan, dxc: np.ndarray, dtype: np.dtype, features: int) -> np.ndarray:
    """gather_x's transpose: the core's dx -> (T, B, D); steps the core did not read get zero."""
    out = np.zeros((plan.steps * plan.batch, features), dtype)
    used = plan.x_index >= 0
    out[plan.x_index[used]] = dxc.reshape(-1, features)[used]
    return out.reshape(plan.steps, plan.batch, features)


def scatter_y(plan: Plan, yc: np.ndarray | None, width: int, dtype: np.dtype) -> np.ndarray:
    """The core's y -> (T, B, width) at the steps they belong to (zero or carried elsewhere)."""
    out = np.zeros((plan.steps * plan.batch, width), dtype)
    if yc is not None:
        shown = plan.y_index >= 0
        out[shown] = yc.reshape(-1, width)[plan.y_index[shown]]
    return out.reshape(plan.steps, plan.batch, width)


def gather_dy(plan: Plan, dyt: np.ndarray) -> np.ndarray:
    """scatter_y's transpose: dy (T, B, width) -> the core's dy; a carried output's dy adds to the
    row it was copied from."""
    width = dyt.shape[-1]
    out = np.zeros((plan.x_index.size, width), dyt.dtype)
    shown = plan.y_index >= 0
    rows, values = plan.y_index[shown], dyt.reshape(-1, width)[shown]
    if plan.carried:
        np.add.at(out, rows, values)
    else:
        out[rows] = values
    return out.reshape(plan.core_steps, plan.active.size, width)


def scatter_state(plan: Plan, inner: np.ndarray | None, outer: np.ndarray | None, shape: tuple[int, ...],
                  dtype: np.dtype) -> np.ndarray:
    """A (LD, B, H) state: `outer` (h0 for h_n, dh_n for dh0; zeros if None) with the active
    sequences' entries replaced by `inner` (the core's, (LD, Bc, H))."""
    out = np.zeros(shape, dtype) if outer is None else np.array(outer, dtype=dtype, copy=True)
    if inner is not None:
        out[:, plan.active] = inner
    return out


def check_direction(direction: Any, bidirectional: bool) -> str:
    if not isinstance(direction, str) or direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse' (ONNX's direction, Keras's go_backwards), "
                         f"got {direction!r}")
    if direction == "reverse" and bidirectional:
        raise ValueError("direction='reverse' is a one-direction model; bidirectional=True already runs both "
                         "directions (leave direction='forward')")
    return direction


def check_padding(padding: Any) -> str:
    if not isinstance(padding, str) or padding not in ("zeros", "carry"):
        raise ValueError(f"padding must be 'zeros' (PyTorch/ONNX: outputs past a length are zero) or "
                         f"'carry' (Keras masking: they repeat the last valid output), got {padding!r}")
    return padding


# Keras's Bidirectional merge modes, on y (..., 2H) = [forward | reverse] halves.
MERGES = ("concat", "sum", "mul", "ave", None)


def check_merge(merge: Any, bidirectional: bool) -> str | None:
    if merge is not None and (not isinstance(merge, str) or merge not in MERGES):
        raise ValueError(f"merge must be one of 'concat', 'sum', 'mul', 'ave' or None (Keras's Bidirectional "
                         f"merge_mode), got {merge!r}")
    if merge != "concat" and not bidirectional:
        raise ValueError(f"merge={merge!r} combines the two directions of a bidirectional GRU; this model "
                         "has one direction")
    return merge


def merge_outputs(merge: str | None, y: np.ndarray) -> Any:
    """y (..., 2H) merged; merge=None gives (forward, reverse) as two arrays."""
    if merge == "concat":
        return y
    H = y.shape[-1] // 2
    f, r = y[..., :H], y[..., H:]
    if merge is None:
        return np.ascontiguousarray(f), np.ascontiguousarray(r)
    if merge == "sum":
        return f + r
    if merge == "mul":
        return f * r
    return (f + r) / 2  # "ave", as Keras: (a + b) / 2


def unmerge_cotangent(merge: str | None, dy: Any, y: np.ndarray | None, shape: tuple[int, ...],
                      dtype: np.dtype) -> Any:
    """merge_outputs' transpose: dL/d(merged y) -> dL/dy (..., 2H). `y` is the unmerged y (for
    "mul"); `shape` is the merged y's shape, to check dy against."""
    from ._validation import check_shape, float_array

    if merge == "concat" or dy is None:
        return dy
    if merge is None:
        if not isinstance(dy, (tuple, list)) or len(dy) != 2:
            raise TypeError("dy for merge=None is a pair (dy_forward, dy_reverse) like y, "
                            f"got {type(dy).__name__}")
        parts = []
        for name, d in zip(("dy[0]", "dy[1]"), dy):
            arr = float_array(name, d, dtype)
            check_shape(name, arr, shape)
            parts.append(arr)
        return np.concatenate(parts, axis=-1)
    arr = float_array("dy", dy, dtype)
    check_shape("dy", arr, shape)
    if merge == "sum":
        return np.concatenate([arr, arr], axis=-1)
    if merge == "ave":
        half = arr / 2
        return np.concatenate([half, half], axis=-1)
    assert y is not None
    H = y.shape[-1] // 2
    return np.concatenate([arr * y[..., H:], arr * y[..., :H]], axis=-1)  # "mul"
