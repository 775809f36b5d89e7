"""Float64 NumPy GRU, forward and backward: the top-level oracle for fastgru's tests.

Written for clarity, not speed: plain loops over layers, directions and time steps, and a
hand-written backprop through time. It is itself checked against central finite differences
and against torch.nn.GRU in tests/test_reference.py.

Semantics are exactly PyTorch's nn.GRU (gate order r, z, n; h' = (1 - z) * n + z * h), plus
``reset_after=False`` (n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), Cho et al. 2014).

Variable lengths follow packed-sequence semantics: step t of sequence b exists only when
t < lengths[b]. A step that does not exist leaves the state untouched and writes a zero output,
so the forward direction ends at each sequence's own last step and the reverse direction starts
there from h0. Values of x (and dy) past a length are never read, so padding may hold anything,
NaN included.

Beyond PyTorch (fastgru._sequences): ``lengths`` may hold 0; ``mask`` (B, T) booleans say which
steps exist, anywhere in the sequence (Keras masking); ``direction="reverse"`` runs the one
direction from the last step to the first; ``padding="carry"`` (one direction) makes a missing
step's output that of the step before it in processing order (zero when there is none);
``merge`` combines a bidirectional y's halves as Keras's Bidirectional (None: the pair).

Unbatched 2-D x (T, D) is accepted like PyTorch: h0 is (L*dirs, H), y (T, dirs*H), h_n
(L*dirs, H), and batch_first does not apply (PyTorch ignores it for 2-D input too).
"""

import numpy as np

__all__ = ["param_names", "init_params", "gru_forward", "gru_backward", "light_forward", "libru_update"]


def param_names(num_layers, bidirectional, bias):
    """Parameter names in PyTorch's state_dict order."""
    names = []
    for layer in range(num_layers):
        for suffix in _direction_suffixes(bidirectional):
            names.append(f"weight_ih_l{layer}{suffix}")
            names.append(f"weight_hh_l{layer}{suffix}")
            if bias:
                names.append(f"bias_ih_l{layer}{suffix}")
                names.append(f"bias_hh_l{layer}{suffix}")
    return names


def init_params(rng, input_size, hidden_size, num_layers=1, bidirectional=False, bias=True,
                scale=None):
    """Float64 parameters drawn from U(-s, s), s = scale or 1/sqrt(hidden_size).

    ``rng`` is a np.random.Generator (or anything np.random.default_rng accepts). Values are
    drawn in param_names order, so a seed fixes every array.
    """
    rng = np.random.default_rng(rng)
    H = hidden_size
    s = 1.0 / np.sqrt(H) if scale is None else float(scale)
    dirs = 2 if bidirectional else 1
    params = {}
    for name in param_names(num_layers, bidirectional, bias):
        layer = _layer_of(name)
        if name.startswith("weight_ih"):
            shape = (3 * H, input_size if layer == 0 else dirs * H)
        elif name.startswith("weight_hh"):
            shape = (3 * H, H)
        else:
            shape = (3 * H,)
        params[name] = rng.uniform(-s, s, size=shape)
    return params


def gru_forward(x, params, h0=None, lengths=None, *, num_layers, bidirectional=False,
                reset_after=True, batch_first=False, mask=None, direction="forward", padding="zeros",
                merge="concat"):
    """Returns (y, h_n) with PyTorch's shapes; see the module docstring for semantics."""
    inp = _prepare(x, params, h0, lengths, num_layers, bidirectional, batch_first, mask)
    y, h_n, _ = _run_forward(inp, params, num_layers, bidirectional, reset_after, direction == "reverse")
    if padding == "carry" and not bidirectional:
        y = _carry(y, inp["mask"], direction == "reverse")
    y = _output_y(y, inp)
    return _merge(y, merge), _output_h(h_n, inp)


def _carry(y, mask, reverse):
    """A missing step's output := the last existing one before it in processing order (or 0)."""
    y = y.copy()
    T, B = y.shape[:2]
    for b in range(B):
        last = np.zeros(y.shape[2])
        for t in (reversed(range(T)) if reverse else range(T)):
            if mask[t, b, 0]:
                last = y[t, b].copy()
            else:
                y[t, b] = last
    return y


def _carry_transpose(dy, mask, reverse):
    dy = dy.copy()
    T, B = dy.shape[:2]
    for b in range(B):
        acc = np.zeros(dy.shape[2])
        order = list(reversed(range(T))) if reverse else list(range(T))
        for t in reversed(order):  # undo the processing order
            if mask[t, b, 0]:
                dy[t, b] += acc
                acc = np.zeros(dy.shape[2])
            else:
                acc += dy[t, b]
                dy[t, b] = 0.0
    return dy


def _merge(y, merge):
    if merge == "concat":
        return y
    H = y.shape[-1] // 2
    f, r = y[..., :H], y[..., H:]
    return {"sum": lambda: f + r, "mul": lambda: f * r, "ave": lambda: (f + r) / 2,
            None: lambda: (f, r)}[merge]()


def _merge_transpose(dy, y, merge):
    """d(merged)/dy applied to dy: the cotangent of the unmerged y."""
    if merge == "concat":
        return dy
    H = y.shape[-1] // 2
    if merge is None:
        return np.concatenate([np.asarray(d, np.float64) for d in dy], axis=-1)
    dy = np.asarray(dy, np.float64)
    if merge == "sum":
        return np.concatenate([dy, dy], axis=-1)
    if merge == "ave":
        return np.concatenate([dy / 2, dy / 2], axis=-1)
    return np.concatenate([dy * y[..., H:], dy * y[..., :H]], axis=-1)


def gru_backward(x, params, h0=None, lengths=None, dy=None, dh_n=None, *, num_layers,
                 bidirectional=False, reset_after=True, batch_first=False, mask=None, direction="forward",
                 padding="zeros", merge="concat"):
    """Gradients of sum(y * dy) + sum(h_n * dh_n).

    Returns a dict with "x" (x's shape), "h0" ((L*dirs, B, H), or (L*dirs, H) for unbatched x,
    present even when h0 is None) and one entry per parameter in ``params``. Parameters that
    are absent (bias=False) are treated as zero and get no entry.
    """
    inp = _prepare(x, params, h0, lengths, num_layers, bidirectional, batch_first, mask)
    reverse = direction == "reverse"
    y, h_n, caches = _run_forward(inp, params, num_layers, bidirectional, reset_after, reverse)
    T, B = inp["x"].shape[:2]
    dirs = 2 if bidirectional else 1
    H = inp["H"]
    carry = padding == "carry" and not bidirectional
    y_shown = _carry(y, inp["mask"], reverse) if carry else y

    if dy is not None:
        dy = _merge_transpose(dy, _output_y(y_shown, inp), merge)
    dy = np.zeros((T, B, dirs * H)) if dy is None else _to_time_major(
        _check_shape("dy", dy, _output_y(y, inp).shape), inp)
    if carry:
        dy = _carry_transpose(dy, inp["mask"], reverse)
    dh_n = np.zeros((num_layers * dirs, B, H)) if dh_n is None else _check_shape(
        "dh_n", dh_n, _output_h(h_n, inp).shape).reshape(num_layers * dirs, B, H)

    grads = {}
    dh0 = np.zeros((num_layers * dirs, B, H))
    d_out = dy  # gradient w.r.t. the current layer's output y
    for layer in reversed(range(num_layers)):
        d_in = None  # gradient w.r.t. this layer's input, summed over both directions
        for direction, suffix in enumerate(_direction_suffixes(bidirectional)):
            idx = layer * dirs + direction
            w = _layer_params(params, layer, suffix, inp["H"])
            g = _direction_backward(
                d_out[:, :, direction * H:(direction + 1) * H], dh_n[idx], caches[idx],
                w, reset_after)
            d_in = g["x"] if d_in is None else d_in + g["x"]
            dh0[idx] = g["h0"]
            for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                name = f"{key}_l{layer}{suffix}"
                if name in params:
                    grads[name] = g[key]
        d_out = d_in

    grads["x"] = _output_y(d_out, inp)
    grads["h0"] = _output_h(dh0, inp)
    # Dict order: x, h0, then parameters in params' order, for readable failure messages.
    return {"x": grads["x"], "h0": grads["h0"],
            **{name: grads[name] for name in params}}


# ---------------------------------------------------------------------------------------------
# One direction of one layer.


def _sigmoid(a):
    # tanh form: no overflow warning for large |a|, and exact enough for float64 oracles.
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _direction_forward(x, h0, mask, w, reverse, reset_after):
    """x (T, B, D), h0 (B, H), mask (T, B, 1) bool. Returns y (T, B, H), h_last, caches."""
    T = x.shape[0]
    H = h0.shape[1]
    W_ih, W_hh, b_ih, b_hh = w
    y = np.zeros((T, x.shape[1], H))
    h = h0
    caches = []
    for t in (reversed(range(T)) if reverse else range(T)):
        m = mask[t]
        # Zero the padded rows so garbage (even NaN) past a length cannot leak into
        # weight gradients through 0 * NaN.
        x_t = np.where(m, x[t], 0.0)
        gi = x_t @ W_ih.T + b_ih  # input projections, gates r, z, n
        if reset_after:
            gh = h @ W_hh.T + b_hh
            r = _sigmoid(gi[:, :H] + gh[:, :H])
            z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            hn = gh[:, 2 * H:]  # W_hn h + b_hn, needed by the backward pass
            n = np.tanh(gi[:, 2 * H:] + r * hn)
        else:
            gh_rz = h @ W_hh[:2 * H].T + b_hh[:2 * H]
            r = _sigmoid(gi[:, :H] + gh_rz[:, :H])
            z = _sigmoid(gi[:, H:2 * H] + gh_rz[:, H:])
            hn = r * h  # the input of W_hn, needed by the backward pass
            n = np.tanh(gi[:, 2 * H:] + hn @ W_hh[2 * H:].T + b_hh[2 * H:])
        h_new = (1.0 - z) * n + z * h
        caches.append(dict(t=t, m=m, x=x_t, h=h, r=r, z=z, n=n, hn=hn))
        # A step that does not exist leaves the state as it was and outputs zero.
        h = np.where(m, h_new, h)
        y[t] = np.where(m, h, 0.0)
    return y, h, caches


def _direction_backward(dy, dh_last, caches, w, reset_after):
    """Backprop through one direction. dy (T, B, H) is the gradient w.r.t. its output y."""
    W_ih, W_hh, _, _ = w
    H = W_hh.shape[1]
    dx = np.zeros((dy.shape[0], dy.shape[1], W_ih.shape[1]))
    dW_ih = np.zeros_like(W_ih)
    dW_hh = np.zeros_like(W_hh)
    db_ih = np.zeros(3 * H)
    db_hh = np.zeros(3 * H)
    dh = dh_last.copy()  # gradient w.r.t. the state after the step being undone
    for c in reversed(caches):
        m, h, r, z, n, hn = c["m"], c["h"], c["r"], c["z"], c["n"], c["hn"]
        # y[t] equals the new state where the step exists and is 0 elsewhere.
        dh = dh + np.where(m, dy[c["t"]], 0.0)

        # h' = (1 - z) * n + z * h
        dn = dh * (1.0 - z)
        dz = dh * (h - n)
        dh_prev = dh * z
        da_n = dn * (1.0 - n * n)  # through tanh
        if reset_after:
            # a_n = gi_n + r * (W_hn h + b_hn)
            dr = da_n * hn
            dgh_n = da_n * r  # gradient w.r.t. W_hn h + b_hn
            h_in_n = h
        else:
            # a_n = gi_n + W_hn (r * h) + b_hn
            d_rh = da_n @ W_hh[2 * H:]
            dr = d_rh * h
            dh_prev = dh_prev + d_rh * r
            dgh_n = da_n
            h_in_n = hn  # r * h
        da_r = dr * r * (1.0 - r)  # through sigmoid
        da_z = dz * z * (1.0 - z)

        # Steps that do not exist contribute nothing and pass dh through unchanged.
        dgi = np.where(m, np.concatenate([da_r, da_z, da_n], axis=1), 0.0)
        dgh = np.where(m, np.concatenate([da_r, da_z, dgh_n], axis=1), 0.0)

        dx[c["t"]] = dgi @ W_ih
        dW_ih += dgi.T @ c["x"]
        db_ih += dgi.sum(axis=0)
        dW_hh[:2 * H] += dgh[:, :2 * H].T @ h
        dW_hh[2 * H:] += dgh[:, 2 * H:].T @ h_in_n
        db_hh += dgh.sum(axis=0)
        dh_prev = dh_prev + dgh[:, :2 * H] @ W_hh[:2 * H]
        if reset_after:
            dh_prev = dh_prev + dgh[:, 2 * H:] @ W_hh[2 * H:]
        dh = np.where(m, dh_prev, dh)
    return {"x": dx, "h0": dh, "weight_ih": dW_ih, "weight_hh": dW_hh,
            "bias_ih": db_ih, "bias_hh": db_hh}


# ---------------------------------------------------------------------------------------------
# Whole stack, input normalisation.


def _run_forward(inp, params, num_layers, bidirectional, reset_after, reverse=False):
    x, h0, mask, H = inp["x"], inp["h0"], inp["mask"], inp["H"]
    dirs = 2 if bidirectional else 1
    T, B = x.shape[:2]
    h_n = np.zeros((num_layers * dirs, B, H))
    caches = [None] * (num_layers * dirs)
    layer_in = x
    for layer in range(num_layers):
        outs = []
        for direction, suffix in enumerate(_direction_suffixes(bidirectional)):
            idx = layer * dirs + direction
            w = _layer_params(params, layer, suffix, H)
            if w[0].shape[1] != layer_in.shape[2]:
                raise ValueError(f"weight_ih_l{layer}{suffix} has shape {w[0].shape}, "
                                 f"expected (3*{H}, {layer_in.shape[2]})")
            y_d, h_n[idx], caches[idx] = _direction_forward(
                layer_in, h0[idx], mask, w, reverse=(direction == 1) or reverse, reset_after=reset_after)
            outs.append(y_d)
        layer_in = np.concatenate(outs, axis=2)  # forward direction in the first H columns
    return layer_in, h_n, caches


def _prepare(x, params, h0, lengths, num_layers, bidirectional, batch_first, step_mask=None):
    """Converts the public arguments to time-major float64 (T, B, D) plus h0 and a step mask."""
    x = np.asarray(x, dtype=np.float64)
    dirs = 2 if bidirectional else 1
    if "weight_hh_l0" not in params:
        raise ValueError("params has no weight_hh_l0")
    H = np.shape(params["weight_hh_l0"])[1]
    unbatched = x.ndim == 2
    if unbatched:
        # Like PyTorch: a batch of one, time-major; batch_first does not apply.
        x = x[:, None, :]
    elif x.ndim != 3:
        raise ValueError(f"x must be 2-D or 3-D, got shape {x.shape}")
    elif batch_first:
        x = x.transpose(1, 0, 2)
    T, B = x.shape[:2]
    if T < 1 or B < 1:
        raise ValueError(f"x has an empty time or batch dimension: {x.shape}")

    if h0 is None:
        h0 = np.zeros((num_layers * dirs, B, H))
    else:
        want = (num_layers * dirs, H) if unbatched else (num_layers * dirs, B, H)
        h0 = _check_shape("h0", h0, want).reshape(num_layers * dirs, B, H)

    if lengths is None:
        lengths = np.full(B, T)
    else:
        if unbatched:
            raise ValueError("lengths is not supported for unbatched (2-D) x")
        lengths = np.asarray(lengths)
        if lengths.shape != (B,) or not np.issubdtype(lengths.dtype, np.integer):
            raise ValueError(f"lengths must be an integer array of shape ({B},), "
                             f"got {lengths.dtype} {lengths.shape}")
        if lengths.min() < 0 or lengths.max() > T:
            raise ValueError(f"lengths must lie in [0, {T}], got {lengths}")
    mask = (np.arange(T)[:, None] < lengths[None, :])[:, :, None]  # (T, B, 1)
    if step_mask is not None:
        step_mask = np.asarray(step_mask, dtype=bool)
        if step_mask.shape != (B, T):
            raise ValueError(f"mask must have shape {(B, T)}, got {step_mask.shape}")
        mask = mask & step_mask.T[:, :, None]
    return dict(x=x, h0=h0, mask=mask, H=H, unbatched=unbatched, batch_first=batch_first)


def _layer_params(params, layer, suffix, H):
    W_ih = np.asarray(params[f"weight_ih_l{layer}{suffix}"], dtype=np.float64)
    W_hh = np.asarray(params[f"weight_hh_l{layer}{suffix}"], dtype=np.float64)
    zero = np.zeros(3 * H)
    b_ih = np.asarray(params.get(f"bias_ih_l{layer}{suffix}", zero), dtype=np.float64)
    b_hh = np.asarray(params.get(f"bias_hh_l{layer}{suffix}", zero), dtype=np.float64)
    if W_ih.ndim != 2 or W_ih.shape[0] != 3 * H or W_hh.shape != (3 * H, H) \
            or b_ih.shape != (3 * H,) or b_hh.shape != (3 * H,):
        raise ValueError(f"layer {layer}{suffix}: bad parameter shapes {W_ih.shape}, "
                         f"{W_hh.shape}, {b_ih.shape}, {b_hh.shape} for hidden size {H}")
    return W_ih, W_hh, b_ih, b_hh


def _check_shape(name, a, shape):
    a = np.asarray(a, dtype=np.float64)
    if a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {a.shape}")
    return a


def _to_time_major(a, inp):
    if inp["unbatched"]:
        return a[:, None, :]
    return a.transpose(1, 0, 2) if inp["batch_first"] else a


def _output_y(a, inp):
    """Inverse of _to_time_major: back to the caller's layout of x / y."""
    if inp["unbatched"]:
        return np.ascontiguousarray(a[:, 0, :])
    return np.ascontiguousarray(a.transpose(1, 0, 2)) if inp["batch_first"] else a


def _output_h(a, inp):
    return np.ascontiguousarray(a[:, 0, :]) if inp["unbatched"] else a


def _direction_suffixes(bidirectional):
    return ["", "_reverse"] if bidirectional else [""]


def _layer_of(name):
    return int(name.split("_l")[1].split("_")[0])


# ---------------------------------------------------------------------------------------------
# The light cells (fastgru's cell="ligru" and cell="libru"), forward only: written from the
# papers' equations, not from fastgru's mapping onto its core. Their gradients are checked by
# central finite differences of this function (tests/test_libru.py, tests/test_ligru.py).


def _softplus(a):
    return np.logaddexp(0.0, a)


def libru_update(h, a_z, a_c):
    """The LiBRU's new state (Bittar & Garner 2021, "logprobs"): z = sigmoid(a_z), c = softplus(a_c),
    h' = log(z e^h + (1 - z) e^c), as logaddexp(h + log z, c + log(1 - z)) with
    log z = -softplus(-a_z) and log(1 - z) = -softplus(a_z) (no overflow for any finite input)."""
    return np.logaddexp(h - _softplus(-a_z), _softplus(a_c) - _softplus(a_z))


_LIGRU_CANDIDATES = {
    "relu": lambda a, alpha: np.maximum(a, 0.0),
    "tanh": lambda a, alpha: np.tanh(a),
    "leaky_relu": lambda a, alpha: np.where(a >= 0, a, alpha * a),
    "sin": lambda a, alpha: np.sin(a),
}


def light_forward(x, params, h0=None, lengths=None, *, num_layers, bidirectional=False, training=False,
                  cell="ligru", activation="relu", alpha=0.01, eps=1e-5, normalization="batchnorm"):
    """A light cell's stack on time-major x (T, B, D); returns (y, h_n, batch statistics).

    Per layer and direction, with the public parameters ([W_z; W_c] rows of weight_ih and
    weight_hh, optional bias_hh, bn_* or ln_*):
      a = BN(x W_ih^T)  (per column over the valid steps: the batch's mean and biased variance in
                         training, the running statistics otherwise), or with
                         normalization="layernorm" LN(x W_ih^T) (per row over its 2H values,
                         ln_weight * (a - mean) / sqrt(var + eps) + ln_bias), or None: x W_ih^T
      ligru: z = sigmoid(a_z + U_z h + b_hz), n = act(a_n + U_n h + b_hn), h' = z h + (1 - z) n
      sligru: the same with LN(U h) (per row over its 2H values, no gamma/beta) in place of U h
      libru: the same pre-activations as ligru, h' = libru_update(h, ., .)
    Steps past a length keep the state and output zero. The statistics returned map
    bn_running_mean_* / bn_running_var_* to the batch mean and unbiased variance (training)."""
    T, B, _ = x.shape
    dirs = 2 if bidirectional else 1
    H = params["weight_hh_l0"].shape[1]
    lens = np.full(B, T) if lengths is None else np.asarray(lengths)
    valid = np.arange(T)[:, None] < lens[None, :]
    h0 = np.zeros((num_layers * dirs, B, H)) if h0 is None else h0
    inp, h_n, stats = x, [], {}
    for k in range(num_layers):
        outs = []
        for d in range(dirs):
            s = f"l{k}{'_reverse' if d else ''}"
            a = inp @ params[f"weight_ih_{s}"].T
            if normalization == "layernorm":
                mean, var = a.mean(-1, keepdims=True), a.var(-1, keepdims=True)
                a = params[f"ln_weight_{s}"] * (a - mean) / np.sqrt(var + eps) + params[f"ln_bias_{s}"]
            elif normalization is None:
                pass
            elif training:
                rows = a[valid]
                mean, var = rows.mean(0), rows.var(0)
                stats[f"bn_running_mean_{s}"], stats[f"bn_running_var_{s}"] = mean, rows.var(0, ddof=1)
            else:
                mean, var = params[f"bn_running_mean_{s}"], params[f"bn_running_var_{s}"]
            if normalization == "batchnorm":
                a = params[f"bn_weight_{s}"] * (a - mean) / np.sqrt(var + eps) + params[f"bn_bias_{s}"]
            U, b = params[f"weight_hh_{s}"], params.get(f"bias_hh_{s}", 0.0)
            h, y = h0[k * dirs + d].copy(), np.zeros((T, B, H))
            for t in range(T) if d == 0 else reversed(range(T)):
                u = h @ U.T
                if cell == "sligru":
                    u = (u - u.mean(-1, keepdims=True)) / np.sqrt(u.var(-1, keepdims=True) + eps)
                g = a[t] + u + b
                if cell == "libru":
                    new = libru_update(h, g[:, :H], g[:, H:])
                else:
                    z = _sigmoid(g[:, :H])
                    new = z * h + (1 - z) * _LIGRU_CANDIDATES[activation](g[:, H:], alpha)
                live = valid[t][:, None]
                h = np.where(live, new, h)
                y[t] = np.where(live, new, 0.0)
            outs.append(y)
            h_n.append(h)
        inp = np.concatenate(outs, axis=-1)
    return inp, np.stack(h_n), stats
