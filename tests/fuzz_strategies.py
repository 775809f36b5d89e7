"""Hypothesis strategies of malformed calls to fastgru's public API, shared by tests/test_fuzz.py
(a short seeded run) and tools/fuzz_api.py (a long one).

Every strategy draws a `Case`: a label, a zero-argument call and the exception types the API
documents for it. `run_case` runs one and returns the exception when it is not one of those, so
the only outcomes allowed are success or a documented error; a crash ends the process. Sizes stay
tiny: allocation limits are tested in tests/test_hostile_input.py, not here.
"""

from __future__ import annotations

import functools
import io
import json
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import fastgru
import fastgru.functional as F

ARGUMENT_ERRORS = (ValueError, TypeError)  # every malformed argument (FormatError is a ValueError)
FILE_ERRORS = (fastgru.FormatError,)  # malformed content, the argument being of the right type
ONNX_ERRORS = (fastgru.FormatError, NotImplementedError)  # NotImplementedError: valid ONNX fastgru lacks


@dataclass
class Case:
    label: str
    call: Callable[[], Any]
    allowed: tuple[type[BaseException], ...]
    # NumPy's floating-point warnings are fine for arrays the caller passes (a float64 1e300 given
    # to a float32 model is inf, as NumPy says); a loader must not emit them.
    numpy_warnings_ok: bool = True


def run_case(case: Case) -> BaseException | None:
    """Runs `case`; the exception it raised if the API does not document it, else None. Warnings
    are errors (as under pytest), except NumPy's floating-point ones where the case allows them."""
    with warnings.catch_warnings(), np.errstate(all="ignore" if case.numpy_warnings_ok else "warn"):
        warnings.simplefilter("error")
        try:
            case.call()
        except case.allowed:
            return None
        except Exception as e:  # noqa: BLE001 - reported by the caller
            return e
    return None


def pick(draw: Any, options: Any) -> Any:
    """One of `options`, drawn by index: st.integers is cached by its bounds, while a sampled_from
    built at every draw costs Hypothesis a validation each time."""
    return options[draw(st.integers(0, len(options) - 1))]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------------------------------------
# Values

class _Sub(np.ndarray):
    """An ndarray subclass: accepted like any array."""


JUNK = [None, 0, -1, 2**70, 1.5, float("nan"), float("inf"), True, "3", b"3", "", [], {}, (), [[1.0]],
        object(), np.float32(1.0), np.int64(3), np.array(1.0), np.array([]), np.array(["a"]), slice(None), {1, 2}]
junk = st.sampled_from(JUNK)
DTYPES = ["float32", "float64", "float16", ">f4", ">f8", "longdouble", "int32", "int64", "uint8", "bool",
          "complex64", "object", "U1"]


def _fill(shape: tuple[int, ...], dtype: str, seed: int, specials: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape)
    if specials and values.size:
        flat = values.reshape(-1)
        flat[rng.integers(0, flat.size, size=2)] = rng.choice([np.nan, np.inf, -np.inf, 0.0, 1e30])
    if dtype == "object":
        out = np.empty(shape, object)
        out[...] = values
        return out
    if dtype == "U1":
        return np.full(shape, "a")
    with np.errstate(all="ignore"):  # NaN / inf / 1e30 into integers or float16
        return values.astype(dtype)


def _layout(arr: np.ndarray, how: str) -> Any:
    if how == "noncontig" and arr.ndim:
        wide = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), arr.dtype)
        wide[..., ::2] = arr
        return wide[..., ::2]
    if how == "fortran":
        return np.asfortranarray(arr)
    if how == "readonly":
        arr = arr.copy()
        arr.flags.writeable = False
        return arr
    if how == "broadcast" and arr.ndim and arr.size:
        return np.broadcast_to(arr[..., :1], arr.shape)
    if how == "list":
        return arr.tolist()
    if how == "subclass":
        return arr.view(_Sub)
    return arr


@st.composite
def arrays(draw: Any, shape: tuple[int, ...], float_only: bool = False) -> Any:
    """An array near `shape` (usually it, else a dim changed, dropped or added), of a usually
    floating dtype, in some layout; sometimes junk instead."""
    if not float_only and draw(st.integers(0, 19)) == 0:
        return draw(junk)
    shape = list(shape)
    change = pick(draw, ["same"] * 6 + ["dim", "drop", "add", "zero", "scalar"])
    if change == "dim" and shape:
        i = draw(st.integers(0, len(shape) - 1))
        shape[i] = max(0, shape[i] + pick(draw, [-1, 1, 2]))
    elif change == "drop" and shape:
        shape.pop(draw(st.integers(0, len(shape) - 1)))
    elif change == "add":
        shape.insert(draw(st.integers(0, len(shape))), pick(draw, [1, 2]))
    elif change == "zero" and shape:
        shape[draw(st.integers(0, len(shape) - 1))] = 0
    elif change == "scalar":
        shape = []
    dtype = "float32" if float_only else pick(draw, DTYPES[:3] * 4 + DTYPES)
    arr = _fill(tuple(shape), dtype, draw(st.integers(0, 2**16)), draw(st.booleans()))
    how = pick(draw, ["plain"] * 4 + ["noncontig", "fortran", "readonly", "broadcast", "list", "subclass"])
    return _layout(arr, how)


@functools.lru_cache(maxsize=None)  # one strategy per (batch, steps): building one costs Hypothesis a validation
def lengths_for(batch: int, steps: int) -> st.SearchStrategy[Any]:
    valid = st.lists(st.integers(1, steps), min_size=batch, max_size=batch).map(np.array)
    off = st.lists(st.sampled_from([0, -1, steps + 1, 2**62, -(2**63)]), min_size=batch, max_size=batch).map(np.array)
    floats = st.lists(st.sampled_from([1.0, 1.5, float("nan"), float("inf"), float(steps)]),
                      min_size=batch, max_size=batch).map(np.array)
    return st.one_of(st.none(), valid, valid.map(list), off, floats, valid.map(lambda a: a.astype(np.uint64)),
                     valid.map(lambda a: a.astype(bool)), valid.map(lambda a: a[:-1]), valid.map(lambda a: a[None]),
                     st.just(np.array([2**64 - 1] * batch, np.uint64)), junk)


# ---------------------------------------------------------------------------------------------
# Models

CELLS = [dict(), dict(cell="mgu"), dict(cell="ligru"), dict(cell="libru"), dict(gates="type1"),
         dict(gates="type2", update="candidate"), dict(gates="type3"), dict(activation="relu", recurrent_activation="hard_sigmoid", clip=3.0),
         dict(reset_after=False)]


@st.composite
def model_configs(draw: Any) -> dict[str, Any]:
    """A valid small GRU configuration."""
    config = dict(input_size=draw(st.integers(1, 4)), hidden_size=draw(st.integers(1, 4)),
                  num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
                  batch_first=draw(st.booleans()), dtype=pick(draw, ["float32", "float64"]),
                  dropout=pick(draw, [0.0, 0.3]), padding=pick(draw, ["zeros", "carry"]),
                  **pick(draw, CELLS))
    if config.get("gates") == "type3":
        config["bias"] = True
    else:
        config["bias"] = draw(st.booleans())
    return config


def _use(gru: Any) -> None:
    """Runs a model on a valid input: a model that was built must work."""
    shape = (1, 2, gru.input_size) if gru.batch_first else (2, 1, gru.input_size)
    gru(np.zeros(shape, gru.dtype))
    repr(gru)
    gru.config()


SIZE_JUNK = [0, -1, 2**24 + 1, 2**63, 1.0, "3", None, True, np.float32(2)]


@st.composite
def constructor_cases(draw: Any) -> Case:
    """GRU(...) with some arguments replaced by junk or out-of-range values."""
    config = draw(model_configs())
    junk_for = {
        "input_size": SIZE_JUNK, "hidden_size": SIZE_JUNK, "num_layers": SIZE_JUNK + [4097],
        "bias": ["yes", 1, None], "batch_first": ["yes", 0, None], "bidirectional": ["no", 1, np.array([True])],
        "dropout": [-0.1, 1.0, float("nan"), float("inf"), "0.1", None, True],
        "reset_after": ["yes", 1, np.array(True)], "dtype": ["float16", "int32", "junk", object(), np.complex64],
        "seed": [-1, 1.5, "x", object()], "padding": ["ones", None, 0], "gates": ["type4", None, 1],
        "update": ["new", None], "cell": ["lstm", None, 3], "activation": ["softmax", 3, ""],
        "recurrent_activation": ["tanh2", None], "activation_alpha": [float("nan"), "1", 1.0],
        "clip": [0.0, -1.0, float("inf"), "1", True], "bn_momentum": [2.0, -1.0, "x", 0.5],
        "bn_eps": [0.0, -1.0, float("nan"), 1e-3], "device": ["gpu", "CPU", None, 0],
    }
    for name in {pick(draw, sorted(junk_for)) for _ in range(draw(st.integers(1, 3)))}:
        config[name] = pick(draw, junk_for[name])

    def call() -> None:
        _use(fastgru.GRU(**config))

    return Case(f"GRU(**{_short(config)})", call, ARGUMENT_ERRORS)


def _valid_x(gru: Any, T: int, B: int) -> np.ndarray:
    shape = (B, T, gru.input_size) if gru.batch_first else (T, B, gru.input_size)
    return np.random.default_rng(0).standard_normal(shape).astype(gru.dtype)


@st.composite
def call_cases(draw: Any) -> Case:
    """__call__ / forward / backward / step / initial_state with malformed arguments."""
    config = draw(model_configs())
    gru = fastgru.GRU(**config, seed=0)
    T, B = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x_shape = (B, T, gru.input_size) if gru.batch_first else (T, B, gru.input_size)
    if draw(st.booleans()):
        x_shape = (T, gru.input_size)  # unbatched
    LD, H = gru.num_layers * gru.num_directions, gru.hidden_size
    h_shape = (LD, H) if len(x_shape) == 2 else (LD, B, H)
    x = draw(arrays(x_shape))
    h0 = None if draw(st.booleans()) else draw(arrays(h_shape))
    lengths = draw(lengths_for(B, T))
    method = pick(draw, ["call", "forward", "backward", "step", "initial_state"])
    if method == "call":
        def call() -> None:
            gru(x, h0, lengths=lengths)
    elif method == "forward":
        training = pick(draw, [True, False, "yes", None, 1])

        def call() -> None:
            gru.forward(x, h0, lengths=lengths, training=training)
    elif method == "backward":
        y_shape = (B, T, gru.num_directions * H) if gru.batch_first else (T, B, gru.num_directions * H)
        dy = None if draw(st.booleans()) else draw(arrays(y_shape))
        dh = None if draw(st.booleans()) else draw(arrays((LD, B, H)))
        source = pick(draw, ["own", "own", "other-model", "functional", "junk"])
        junk_cache = draw(junk)

        def call() -> None:
            if source == "junk":
                cache = junk_cache
            else:
                maker = gru if source == "own" else fastgru.GRU(**config, seed=1)
                if source == "functional":
                    _, _, cache = F.gru_forward(_valid_x(gru, T, B), gru.state_dict(), batch_first=gru.batch_first,
                                                **_form_kwargs(gru))
                else:
                    _, _, cache = maker.forward(_valid_x(gru, T, B), training=False)
            gru.backward(cache, dy, dh)
    elif method == "step":
        x_t = draw(arrays((B, gru.input_size) if draw(st.booleans()) else (gru.input_size,)))
        state = pick(draw, [None, (gru.num_layers, B, H), (gru.num_layers, H)])
        state = None if state is None else draw(arrays(state))

        def call() -> None:
            gru.step(x_t, state)
    else:
        batch = pick(draw, [1, 2, 3, 0, -1, 2**31 + 1, 1.5, "2", None, True])

        def call() -> None:
            gru.initial_state(batch)
    return Case(f"{method} on GRU(**{_short(config)}) x={_short(x)} h0={_short(h0)} lengths={_short(lengths)}",
                call, ARGUMENT_ERRORS)


def _form_kwargs(gru: Any) -> dict[str, Any]:
    kw = dict(gates=gru.gates, update=gru.update, cell=gru.cell, activation=gru.activation,
              recurrent_activation=gru.recurrent_activation, clip=gru.clip,
              activation_alpha=gru.activation_alpha, activation_beta=gru.activation_beta,
              recurrent_activation_alpha=gru.recurrent_activation_alpha,
              recurrent_activation_beta=gru.recurrent_activation_beta)
    return {k: v for k, v in kw.items() if v is not None}


KEY_JUNK = ["weight_ih_l4095", "weight_ih_l4096", "weight_ih_l99999", "weight_ih_l123456789012", "bias_hh_l0_reverse",
            "weight_ih_l01", "junk", "", "weight_ih_l-1", "bn_weight_l0", 3, None, ("a",), b"weight_ih_l0"]


@st.composite
def mutated_params(draw: Any, params: dict[str, np.ndarray]) -> Any:
    """A state_dict with keys dropped, added or renamed and values replaced; sometimes no dict."""
    if draw(st.integers(0, 15)) == 0:
        return pick(draw, [list(params.items()), None, "weights", 3, [params]])
    params = dict(params)
    names = list(params)
    for _ in range(draw(st.integers(1, 3))):
        what = pick(draw, ["drop", "add", "value", "value", "many"])
        name = pick(draw, names)
        if what == "drop":
            params.pop(name, None)
        elif what == "add":
            params[pick(draw, KEY_JUNK)] = draw(arrays(np.shape(params.get(name, np.zeros(2)))))
        elif what == "many":
            params.update({f"junk_{i}": 0 for i in range(draw(st.integers(10, 2000)))})
        elif name in params:
            params[name] = draw(arrays(np.shape(params[name])))
    return params


@st.composite
def state_dict_cases(draw: Any) -> Case:
    gru = fastgru.GRU(**draw(model_configs()), seed=0)
    params = draw(mutated_params(gru.state_dict()))
    strict = pick(draw, [True, True, False, "no", None, 1, np.bool_(True)])

    def call() -> None:
        gru.load_state_dict(params, strict=strict)
        _use(gru)

    return Case(f"load_state_dict({_short(params)}, strict={strict!r}) on {gru!r}", call, ARGUMENT_ERRORS)


@st.composite
def functional_cases(draw: Any) -> Case:
    gru = fastgru.GRU(**draw(model_configs()), seed=0)
    params = draw(mutated_params(gru.state_dict()))
    T, B = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = draw(arrays((B, T, gru.input_size) if gru.batch_first else (T, B, gru.input_size)))
    kw: dict[str, Any] = dict(batch_first=gru.batch_first, **(_form_kwargs(gru) if draw(st.booleans()) else {}))
    junk_for = {"num_layers": [0, 4097, 10**12, "1", 1.0, None, 2], "bidirectional": ["no", 1, None, True],
                "reset_after": ["yes", None, False], "batch_first": ["yes", 1, None, np.bool_(False)],
                "dropout": [-1.0, 1.0, "0.5", float("nan"), 0.5], "training": ["yes", None, True],
                "dropout_seed": [1.5, "7", None, -(2**70), 2**70], "gates": [3, "type9"], "cell": ["lstm", None],
                "bn_eps": [0.0, "x", 1e-3], "clip": [-1.0, "1", 2.0]}
    for name in {pick(draw, sorted(junk_for)) for _ in range(draw(st.integers(0, 2)))}:
        kw[name] = pick(draw, junk_for[name])
    lengths = draw(lengths_for(B, T))
    backward = draw(st.booleans())
    dy = draw(arrays((T, B, gru.num_directions * gru.hidden_size))) if backward else None

    def call() -> None:
        _, _, cache = F.gru_forward(x, params, None, lengths, **kw)
        if backward:
            F.gru_backward(cache, dy)

    return Case(f"gru_forward(x={_short(x)}, params={_short(params)}, **{_short(kw)})", call, ARGUMENT_ERRORS)


# ---------------------------------------------------------------------------------------------
# Files: mutated bytes of valid files, at the byte level and inside the container.

def _byte_mutation(draw: Any, data: bytes) -> bytes:
    buf = bytearray(data)
    what = pick(draw, ["flip", "flip", "truncate", "overwrite", "insert", "delete"])
    if not buf:
        return bytes(draw(st.binary(max_size=64)))
    pos = draw(st.integers(0, len(buf) - 1))
    if what == "flip":
        for p in [pos] + draw(st.lists(st.integers(0, len(buf) - 1), max_size=7)):
            buf[p] ^= draw(st.integers(1, 255))
    elif what == "truncate":
        del buf[pos:]
    elif what == "overwrite":
        chunk = draw(st.binary(min_size=1, max_size=32))
        buf[pos:pos + len(chunk)] = chunk
    elif what == "insert":
        buf[pos:pos] = draw(st.binary(min_size=1, max_size=32))
    else:
        del buf[pos:pos + draw(st.integers(1, 64))]
    return bytes(buf)


_NPZ_MODELS = [dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
               dict(input_size=2, hidden_size=3, cell="ligru", dtype="float64"),
               dict(input_size=2, hidden_size=2, cell="mgu", batch_first=True, padding="carry"),
               dict(input_size=2, hidden_size=3, gates="type2", update="candidate", clip=2.0)]
_cache: dict[Any, Any] = {}


def _npz_file(i: int) -> bytes:
    if ("npz", i) not in _cache:
        buf = io.BytesIO()
        fastgru.GRU(**_NPZ_MODELS[i], seed=i).save(buf)
        _cache[("npz", i)] = buf.getvalue()
    return _cache[("npz", i)]


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


JSON_JUNK = [None, True, -1, 0, 2**31, 2**63, 10**30, 1.5, float("nan"), "", "x" * 100, [], [1], {}, {"a": 1}]


def _member_mutation(draw: Any, data: bytes) -> bytes:
    """Unzip, change one thing (a member's bytes or name, the config, an array), zip again: the
    CRCs are right, so the mutation reaches the .npy, JSON and config checks."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {info.filename: z.read(info) for info in z.infolist()}
    names = sorted(members)
    name = pick(draw, names)
    what = pick(draw, ["bytes", "rename", "drop", "add", "config", "config", "array", "array"])
    if what == "bytes":
        members[name] = _byte_mutation(draw, members[name])
    elif what == "rename":
        members[pick(draw, ["weight_ih_l4095.npy", "x", "../evil.npy", "a/b.npy", name[:-4]])] = \
            members.pop(name)
    elif what == "drop":
        del members[name]
    elif what == "add":
        members[pick(draw, ["extra.npy", "weight_ih_l9.npy", "__fastgru_config__.npy.npy"])] = \
            _npy(np.zeros(draw(st.integers(0, 4)), np.float32))
    elif what == "config":
        config = json.loads(str(np.load(io.BytesIO(members["__fastgru_config__.npy"]))))
        key = pick(draw, sorted(config) + ["evil", "seed", "device"])
        if draw(st.integers(0, 4)) == 0:
            config.pop(key, None)
        else:
            config[key] = pick(draw, JSON_JUNK)
        text = json.dumps(config) if draw(st.integers(0, 9)) else pick(draw, ["[]", "1", "{", "null"])
        members["__fastgru_config__.npy"] = _npy(np.array(text))
    else:
        old = np.load(io.BytesIO(members[name]), allow_pickle=False) if name != "__fastgru_config__.npy" else None
        shape = old.shape if old is not None else (2,)
        members[name] = _npy(np.asarray(draw(arrays(shape))))
    compression = pick(draw, [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for n, b in members.items():
            z.writestr(n, b)
    return out.getvalue()


def _load_from(data: bytes, as_path: bool, loader: Callable[..., Any], suffix: str, **kwargs: Any) -> Any:
    if not as_path:
        return loader(data, **kwargs)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        return loader(path, **kwargs)


@st.composite
def npz_cases(draw: Any) -> Case:
    """fastgru.load of a mutated GRU.save file (bytes, sometimes a path)."""
    i = draw(st.integers(0, len(_NPZ_MODELS) - 1))
    data = _npz_file(i)
    inside = draw(st.booleans())
    data = _member_mutation(draw, data) if inside else _byte_mutation(draw, data)
    as_path = draw(st.integers(0, 7)) == 0

    def call() -> None:
        _use(_load_from(data, as_path, fastgru.load, ".npz"))

    return Case(f"load(mutated npz {i}, {'inside' if inside else 'bytes'}, {len(data)} bytes, path={as_path})",
                call, FILE_ERRORS + ((OSError,) if as_path else ()), numpy_warnings_ok=False)


def _onnx_models() -> list[bytes]:
    if "onnx" not in _cache:
        from fastgru.onnx import ReverseGRU

        models = [fastgru.GRU(3, 4, seed=0), fastgru.GRU(2, 3, bidirectional=True, bias=False, seed=1),
                  ReverseGRU(2, 2, seed=2), fastgru.GRU(2, 3, dtype="float64", reset_after=False, seed=3),
                  fastgru.GRU(2, 2, activation="leaky_relu", clip=2.0, seed=4)]
        _cache["onnx"] = [m.to_onnx(None).SerializeToString() for m in models]
    return _cache["onnx"]


def _attribute_junk(draw: Any) -> Any:
    return pick(draw, [-1, 0, 10**6, 2**40, 1.5, "forward", "sideways", b"\xff", [1, 2], [1.5],
                                 ["Sigmoid"], ["Sigmoid", "Tanh"], ["x", "y"], [b"a"], 2])


def _proto_mutation(draw: Any, data: bytes) -> Any:
    """Parse, change one field the loader reads (dims, data, types, attributes, inputs, external
    data), return the ModelProto or its bytes."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load_from_string(data)
    graph = model.graph
    gru = next(n for n in graph.node if n.op_type == "GRU")
    weights = [t for t in graph.initializer if t.name in gru.input[1:4]]
    t = pick(draw, weights)
    what = pick(draw, ["dims", "dims", "raw", "type", "external", "external", "attr", "attr",
                                 "inputs", "node", "model"])
    if what == "dims":
        choice = pick(draw, ["set", "append", "pop"])
        if choice == "set" and t.dims:
            t.dims[draw(st.integers(0, len(t.dims) - 1))] = pick(draw, [-1, 0, 1, 2**40, 2**62, 5])
        elif choice == "append":
            t.dims.append(pick(draw, [1, 2, -3]))
        elif t.dims:
            del t.dims[-1]
    elif what == "raw":
        raw = bytes(t.raw_data)
        choice = pick(draw, ["cut", "extend", "floats", "clear"])
        if choice == "cut":
            t.raw_data = raw[:draw(st.integers(0, max(len(raw) - 1, 0)))]
        elif choice == "extend":
            t.raw_data = raw + b"\0" * draw(st.integers(1, 16))
        elif choice == "floats":
            t.ClearField("raw_data")
            t.float_data.extend([0.5] * draw(st.integers(0, 40)))
        else:
            t.ClearField("raw_data")
    elif what == "type":
        t.data_type = draw(st.integers(0, 25))
    elif what == "external":
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for key, values in (("location", ["w.bin", "../w.bin", "/etc/passwd", "", "a/../../b", "x\0y", "C:\\w",
                                          "sub/w.bin", "missing.bin"]),
                            ("offset", [None, "0", "4", "-1", "x", "99999999999"]),
                            ("length", [None, "0", "48", "1" * 30, "-5"])):
            value = pick(draw, values)
            if value is not None:
                entry = t.external_data.add()
                entry.key, entry.value = key, value
    elif what == "attr":
        name = pick(draw, ["hidden_size", "direction", "linear_before_reset", "layout", "clip",
                                     "activations", "activation_alpha", "activation_beta", "output_sequence",
                                     "mystery"])
        for i, a in enumerate(gru.attribute):
            if a.name == name:
                del gru.attribute[i]
                break
        if draw(st.integers(0, 4)):
            gru.attribute.append(helper.make_attribute(name, _attribute_junk(draw)))
    elif what == "inputs":
        i = draw(st.integers(0, len(gru.input)))
        new = pick(draw, ["", "missing", "X", "W_l0"])
        if i < len(gru.input):
            gru.input[i] = new
        else:
            gru.input.append(new)
    elif what == "node":
        choice = pick(draw, ["duplicate", "unname", "domain", "constant"])
        if choice == "duplicate":
            graph.node.append(gru)
        elif choice == "unname":
            gru.name = ""
            del gru.output[:]
        elif choice == "domain":
            gru.domain = "com.example"
        else:
            graph.node.insert(0, helper.make_node("Constant", [], [t.name], value=t))
            graph.initializer.remove(t)
    else:
        choice = pick(draw, ["ir", "graph"])
        if choice == "ir":
            model.ir_version = 0
        else:
            model.ClearField("graph")
    return model if draw(st.booleans()) else model.SerializeToString()


@st.composite
def onnx_cases(draw: Any) -> Case:
    """fastgru.load_onnx of a mutated export (bytes, ModelProto, sometimes a path), with or
    without a base_dir holding a w.bin."""
    models = _onnx_models()
    i = draw(st.integers(0, len(models) - 1))
    inside = draw(st.booleans())
    source = _proto_mutation(draw, models[i]) if inside else _byte_mutation(draw, models[i])
    as_path = isinstance(source, bytes) and draw(st.integers(0, 7)) == 0
    with_base = draw(st.integers(0, 3)) == 0
    w_bin = draw(st.binary(max_size=96))

    def call() -> None:
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "w.bin"), "wb") as f:
                f.write(w_bin)
            kwargs = dict(base_dir=d) if with_base else {}
            grus = _load_from(source, as_path, fastgru.load_onnx, ".onnx", **kwargs)
            for g in grus.values():
                _use(g)

    kind = "ModelProto" if not isinstance(source, bytes) else f"{len(source)} bytes"
    return Case(f"load_onnx(mutated onnx {i}, {'inside' if inside else 'bytes'}, {kind}, path={as_path}, "
                f"base_dir={with_base})", call, ONNX_ERRORS + ((OSError,) if as_path else ()), numpy_warnings_ok=False)


def api_cases() -> st.SearchStrategy[Case]:
    return st.one_of(constructor_cases(), call_cases(), state_dict_cases(), functional_cases())


def all_cases(with_onnx: bool) -> st.SearchStrategy[Case]:
    loaders = [npz_cases()] + ([onnx_cases()] if with_onnx else [])
    return st.one_of(api_cases(), *loaders)
