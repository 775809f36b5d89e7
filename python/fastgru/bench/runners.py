"""One runner per framework: fastgru, NumPy, PyTorch, ONNX Runtime, OpenVINO.

A runner turns (case, data) into a :class:`Bench`: a zero-argument callable that does one
unit of work (one step, one forward, or one forward+backward), an ``output()`` that returns
the results as NumPy arrays for the correctness check, and an optional context manager the
timer enters around each batch of calls (an ISA override, torch.inference_mode).

Inputs are converted to each framework's native type once, outside the timed region; the
timed call returns whatever the framework returns (no conversion back to NumPy).
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any, Callable

import numpy as np

from .workloads import STEP_CHECK_STEPS, Case, CaseData

PARAM_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


class Bench:
    def __init__(self, fn: Callable[[], Any], output: Callable[[], dict[str, np.ndarray]],
                 context: Callable[[], contextlib.AbstractContextManager] | None = None,
                 impl: str = ""):
        self.fn = fn
        self.output = output
        self.context = context or contextlib.nullcontext
        self.impl = impl  # e.g. "nn.GRUCell" — shown in notes


class Runner:
    name = "?"
    # Reference runners (fastgru) are what every other runner is checked against.
    is_fastgru = False
    # The correctness gate's limit for this runner; None: the float32 one (cli.ATOL).
    atol: float | None = None

    def version(self) -> str:
        return ""

    def unsupported(self, case: Case) -> str | None:
        """None when the runner can run this case, else the reason it cannot."""
        return None

    def prepare(self, case: Case, data: CaseData) -> Bench:
        raise NotImplementedError


def _train_outputs(y, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {"y": np.asarray(y)}
    for k, v in grads.items():
        out["d" + k] = np.asarray(v)
    return out


# ---------------------------------------------------------------------------------------
# fastgru
# ---------------------------------------------------------------------------------------

class FastGRURunner(Runner):
    is_fastgru = True

    def __init__(self, fg, isa: str | None = None):
        self.fg = fg
        self.isa = isa
        self.name = f"fastgru[{isa}]" if isa else "fastgru"

    def version(self) -> str:
        return str(self.fg.info().get("version", ""))

    def _ctx(self):
        return self.fg.use_isa(self.isa) if self.isa else contextlib.nullcontext()

    def _model(self, case: Case, data: CaseData):
        gru = self.fg.GRU(case.D, case.H, dtype=np.float32, seed=0)
        gru.load_state_dict({k: v.copy() for k, v in data.params.items()})
        return gru

    def prepare(self, case: Case, data: CaseData) -> Bench:
        with self._ctx():  # build under the ISA too, in case weights are packed per ISA
            gru = self._model(case, data)
        ctx = self._ctx if self.isa else None

        if case.kind == "step":
            xs = data.xs
            it = itertools.cycle(xs)
            st = {"s": gru.initial_state(1)}

            def fn():
                _, st["s"] = gru.step(next(it), st["s"])

            def output():
                with self._ctx():
                    s = gru.initial_state(1)
                    ys = []
                    for t in range(STEP_CHECK_STEPS):
                        y, s = gru.step(xs[t], s)
                        ys.append(np.array(y))
                return {"y": np.stack(ys)}

            return Bench(fn, output, ctx, "gru.step")

        x, h0 = data.x, data.h0
        if case.kind == "forward":
            def fn():
                return gru(x, h0)

            def output():
                with self._ctx():
                    y, hn = gru(x, h0)
                return {"y": np.array(y), "h_n": np.array(hn)}

            return Bench(fn, output, ctx, "gru(x, h0)")

        dy = data.dy

        def fn():
            y, _, cache = gru.forward(x, h0, training=True)
            return gru.backward(cache, dy)

        def output():
            with self._ctx():
                y, _, cache = gru.forward(x, h0, training=True)
                g = gru.backward(cache, dy)
            return _train_outputs(y, {k: g[k] for k in ("x", "h0", *PARAM_NAMES)})

        return Bench(fn, output, ctx, "gru.forward + gru.backward")


class FastGRUQuantizedRunner(FastGRURunner):
    """fastgru's reduced-precision inference model (GRU.quantized), checked against fastgru
    float32 with the limit of a reduced-precision result."""
    is_fastgru = False
    atol = 5e-2

    def __init__(self, fg, precision: str):
        super().__init__(fg)
        self.precision = precision
        self.name = f"fastgru-{precision}"

    def unsupported(self, case: Case) -> str | None:
        return "inference only" if case.kind == "train" else None

    def _model(self, case: Case, data: CaseData):
        return super()._model(case, data).quantized(self.precision)


# ---------------------------------------------------------------------------------------
# NumPy: a straightforward vectorised float32 GRU (one matmul for the input projection of
# all steps, one matmul per step), and its backward through time.
# ---------------------------------------------------------------------------------------

def _sigmoid(a: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warnings for large |a|, stays float32.
    return 0.5 + 0.5 * np.tanh(0.5 * a)


class NumpyGRU:
    def __init__(self, params: dict[str, np.ndarray]):
        self.w_ih = params["weight_ih_l0"]
        self.w_hh = params["weight_hh_l0"]
        # Transposed once so the per-call matmuls are plain row-major x @ W^T.
        self.w_ihT = np.ascontiguousarray(self.w_ih.T)
        self.w_hhT = np.ascontiguousarray(self.w_hh.T)
        self.b_ih = params["bias_ih_l0"]
        self.b_hh = params["bias_hh_l0"]
        self.H = self.w_hh.shape[1]

    def step(self, x_t: np.ndarray, h: np.ndarray) -> np.ndarray:
        H = self.H
        gi = x_t @ self.w_ihT
        gi += self.b_ih
        gh = h @ self.w_hhT
        gh += self.b_hh
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return n + z * (h - n)

    def forward(self, x: np.ndarray, h0: np.ndarray, keep: bool = False):
        T, B, D = x.shape
        H = self.H
        gi_all = (x.reshape(T * B, D) @ self.w_ihT).reshape(T, B, 3 * H)
        gi_all += self.b_ih
        y = np.empty((T, B, H), np.float32)
        if keep:
            rs, zs, ns, ghns = (np.empty((T, B, H), np.float32) for _ in range(4))
        h = h0[0]
        for t in range(T):
            gh = h @ self.w_hhT
            gh += self.b_hh
            gi = gi_all[t]
            r = _sigmoid(gi[:, :H] + gh[:, :H])
            z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            ghn = gh[:, 2 * H:]
            n = np.tanh(gi[:, 2 * H:] + r * ghn)
            h = n + z * (h - n)
            y[t] = h
            if keep:
                rs[t], zs[t], ns[t], ghns[t] = r, z, n, ghn
        cache = (x, h0, y, rs, zs, ns, ghns) if keep else None
        return y, h[None], cache

    def backward(self, cache, dy: np.ndarray) -> dict[str, np.ndarray]:
        x, h0, y, rs, zs, ns, ghns = cache
        T, B, D = x.shape
        H = self.H
        dgi = np.empty((T, B, 3 * H), np.float32)  # grads of the input-projection pre-activations
        dgh = np.empty((T, B, 3 * H), np.float32)  # grads of the recurrent pre-activations
        dh = np.zeros((B, H), np.float32)
        for t in range(T - 1, -1, -1):
            h_prev = y[t - 1] if t > 0 else h0[0]
            r, z, n, ghn = rs[t], zs[t], ns[t], ghns[t]
            dh = dh + dy[t]
            dn_pre = dh * (1.0 - z) * (1.0 - n * n)
            dz_pre = dh * (h_prev - n) * z * (1.0 - z)
            dr_pre = dn_pre * ghn * r * (1.0 - r)
            dgi[t, :, :H] = dr_pre
            dgi[t, :, H:2 * H] = dz_pre
            dgi[t, :, 2 * H:] = dn_pre
            dgh[t, :, :H] = dr_pre
            dgh[t, :, H:2 * H] = dz_pre
            dgh[t, :, 2 * H:] = dn_pre * r
            dh = dh * z + dgh[t] @ self.w_hh
        # The big weight/input GEMMs once, after the recurrent chain.
        h_prev_all = np.concatenate([h0, y[:-1]], axis=0).reshape(T * B, H)
        dgi2 = dgi.reshape(T * B, 3 * H)
        dgh2 = dgh.reshape(T * B, 3 * H)
        return {
            "x": (dgi2 @ self.w_ih).reshape(T, B, D),
            "h0": dh[None],
            "weight_ih_l0": dgi2.T @ x.reshape(T * B, D),
            "weight_hh_l0": dgh2.T @ h_prev_all,
            "bias_ih_l0": dgi2.sum(axis=0),
            "bias_hh_l0": dgh2.sum(axis=0),
        }


class NumpyRunner(Runner):
    name = "numpy"

    def version(self) -> str:
        return np.__version__

    def prepare(self, case: Case, data: CaseData) -> Bench:
        m = NumpyGRU(data.params)
        if case.kind == "step":
            xs = data.xs
            it = itertools.cycle(xs)
            st = {"h": data.h0[0].copy()}

            def fn():
                st["h"] = m.step(next(it), st["h"])

            def output():
                h = data.h0[0].copy()
                ys = []
                for t in range(STEP_CHECK_STEPS):
                    h = m.step(xs[t], h)
                    ys.append(h)
                return {"y": np.stack(ys)}

            return Bench(fn, output, impl="numpy step")

        x, h0 = data.x, data.h0
        if case.kind == "forward":
            def fn():
                return m.forward(x, h0)

            def output():
                y, hn, _ = m.forward(x, h0)
                return {"y": y, "h_n": hn}

            return Bench(fn, output, impl="numpy forward")

        dy = data.dy

        def fn():
            _, _, cache = m.forward(x, h0, keep=True)
            return m.backward(cache, dy)

        def output():
            y, _, cache = m.forward(x, h0, keep=True)
            return _train_outputs(y, m.backward(cache, dy))

        return Bench(fn, output, impl="numpy forward + backward")


# ---------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------

class TorchRunner(Runner):
    name = "torch"

    def __init__(self, torch):
        self.torch = torch

    def version(self) -> str:
        return self.torch.__version__

    def _load(self, module, data: CaseData, cell: bool):
        torch = self.torch
        with torch.no_grad():
            for name in PARAM_NAMES:
                # nn.GRUCell names its parameters without the _l0 suffix.
                pname = name[:-3] if cell else name
                getattr(module, pname).copy_(torch.from_numpy(data.params[name]))
        return module

    def prepare(self, case: Case, data: CaseData) -> Bench:
        torch = self.torch
        nn = torch.nn
        if case.kind == "step":
            cell = self._load(nn.GRUCell(case.D, case.H), data, cell=True)
            xs = [torch.from_numpy(x) for x in data.xs]
            it = itertools.cycle(xs)
            st = {"h": torch.zeros(1, case.H)}

            def fn():
                st["h"] = cell(next(it), st["h"])

            def output():
                with torch.inference_mode():
                    h = torch.zeros(1, case.H)
                    ys = []
                    for t in range(STEP_CHECK_STEPS):
                        h = cell(xs[t], h)
                        ys.append(h.numpy().copy())
                return {"y": np.stack(ys)}

            return Bench(fn, output, torch.inference_mode, "nn.GRUCell")

        gru = self._load(nn.GRU(case.D, case.H), data, cell=False)
        if case.kind == "forward":
            x, h0 = torch.from_numpy(data.x), torch.from_numpy(data.h0)

            def fn():
                return gru(x, h0)

            def output():
                with torch.inference_mode():
                    y, hn = gru(x, h0)
                return {"y": y.numpy().copy(), "h_n": hn.numpy().copy()}

            return Bench(fn, output, torch.inference_mode, "nn.GRU")

        # Training: x and h0 require grad so torch computes dx and dh0 as fastgru does.
        x = torch.from_numpy(data.x.copy()).requires_grad_(True)
        h0 = torch.from_numpy(data.h0.copy()).requires_grad_(True)
        dy = torch.from_numpy(data.dy)
        leaves = [x, h0, *gru.parameters()]

        def fn():
            for p in leaves:
                p.grad = None
            y, _ = gru(x, h0)
            y.backward(dy)

        def output():
            for p in leaves:
                p.grad = None
            y, _ = gru(x, h0)
            y.backward(dy)
            grads = {"x": x.grad, "h0": h0.grad}
            grads.update({n: p.grad for n, p in gru.named_parameters()})
            return _train_outputs(y.detach().numpy().copy(),
                                  {k: v.numpy().copy() for k, v in grads.items()})

        return Bench(fn, output, None, "nn.GRU + autograd")


# ---------------------------------------------------------------------------------------
# ONNX Runtime: a one-node GRU model built with onnx.helper
# ---------------------------------------------------------------------------------------

def _rzn_to_zrn(a: np.ndarray) -> np.ndarray:
    r, z, n = np.split(a, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def build_onnx_gru(onnx, params: dict[str, np.ndarray], T: int, B: int, D: int, H: int):
    """One GRU node, linear_before_reset=1 (= reset_after), PyTorch weights re-ordered to
    ONNX's gate order z, r, h: W [1,3H,D], R [1,3H,H], B [1,6H] (input then recurrent)."""
    from onnx import TensorProto, helper, numpy_helper

    W = _rzn_to_zrn(params["weight_ih_l0"])[None]
    R = _rzn_to_zrn(params["weight_hh_l0"])[None]
    Bv = np.concatenate([_rzn_to_zrn(params["bias_ih_l0"]),
                         _rzn_to_zrn(params["bias_hh_l0"])])[None]
    node = helper.make_node("GRU", ["X", "W", "R", "B", "", "initial_h"], ["Y", "Y_h"],
                            hidden_size=H, linear_before_reset=1)
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        [node], "fastgru_bench_gru",
        inputs=[helper.make_tensor_value_info("X", f, [T, B, D]),
                helper.make_tensor_value_info("initial_h", f, [1, B, H])],
        outputs=[helper.make_tensor_value_info("Y", f, [T, 1, B, H]),
                 helper.make_tensor_value_info("Y_h", f, [1, B, H])],
        initializer=[numpy_helper.from_array(np.ascontiguousarray(W, np.float32), "W"),
                     numpy_helper.from_array(np.ascontiguousarray(R, np.float32), "R"),
                     numpy_helper.from_array(np.ascontiguousarray(Bv, np.float32), "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                              producer_name="fastgru.bench")
    # An IR version every ONNX Runtime of the last years loads (newer onnx writes newer ones).
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


class OrtRunner(Runner):
    name = "onnxruntime"

    def __init__(self, onnx, ort, threads: int | None):
        self.onnx = onnx
        self.ort = ort
        self.threads = threads

    def version(self) -> str:
        return self.ort.__version__

    def unsupported(self, case: Case) -> str | None:
        return "inference only (no training)" if case.kind == "train" else None

    def _session(self, case: Case, data: CaseData):
        ort = self.ort
        model = build_onnx_gru(self.onnx, data.params, case.T, case.B, case.D, case.H)
        so = ort.SessionOptions()
        if self.threads:
            so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        return ort.InferenceSession(model.SerializeToString(), so,
                                    providers=["CPUExecutionProvider"])

    def prepare(self, case: Case, data: CaseData) -> Bench:
        sess = self._session(case, data)
        H, B, T = case.H, case.B, case.T
        if case.kind == "step":
            # A T=1 model called once per step with the carried state.
            xs = [x[None] for x in data.xs]  # (1, 1, D)
            it = itertools.cycle(xs)
            st = {"h": np.zeros((1, 1, H), np.float32)}
            out_h = ["Y_h"]

            def fn():
                st["h"] = sess.run(out_h, {"X": next(it), "initial_h": st["h"]})[0]

            def output():
                h = np.zeros((1, 1, H), np.float32)
                ys = []
                for t in range(STEP_CHECK_STEPS):
                    h = sess.run(out_h, {"X": xs[t], "initial_h": h})[0]
                    ys.append(h[0])
                return {"y": np.stack(ys)}

            return Bench(fn, output, None, "GRU node, T=1 call")

        feeds = {"X": data.x, "initial_h": data.h0}
        outs = ["Y", "Y_h"]

        def fn():
            return sess.run(outs, feeds)

        def output():
            y, hn = sess.run(outs, feeds)
            return {"y": y.reshape(T, B, H), "h_n": hn}

        return Bench(fn, output, None, "GRU node")


class OpenVinoRunner(Runner):
    """OpenVINO's CPU plugin on the same ONNX GRU node as ONNX Runtime. ``precision="f32"`` sets
    INFERENCE_PRECISION_HINT=f32; ``precision=None`` keeps the plugin's default, which is bf16
    on CPUs with avx512_bf16 or AMX (f32 elsewhere): that runner is checked with a bf16 limit."""

    def __init__(self, ov, onnx, threads: int | None, precision: str | None):
        self.ov = ov
        self.onnx = onnx
        self.threads = threads
        self.precision = precision
        self.name = "openvino" if precision == "f32" else "openvino-default"
        self.core = ov.Core()
        if precision is None:
            self.atol = 5e-2  # bfloat16 keeps 8 significant bits
        self.inference_precision = self._compile_probe()

    def version(self) -> str:
        return self.ov.__version__

    def unsupported(self, case: Case) -> str | None:
        return "inference only (no training)" if case.kind == "train" else None

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = self.threads
        if self.precision:
            config["INFERENCE_PRECISION_HINT"] = self.precision
        return config

    def _compile(self, params: dict[str, np.ndarray], T: int, B: int, D: int, H: int):
        import os
        import tempfile

        model = build_onnx_gru(self.onnx, params, T, B, D, H)
        with tempfile.TemporaryDirectory() as tmp:  # read_model takes ONNX from a file
            path = os.path.join(tmp, "gru.onnx")
            self.onnx.save(model, path)
            compiled = self.core.compile_model(self.core.read_model(path), "CPU", self._config())
        return compiled

    def _compile_probe(self) -> str:
        """The precision the plugin actually runs in (shown in the report)."""
        H = 4
        params = {k: np.zeros(s, np.float32) for k, s in
                  (("weight_ih_l0", (3 * H, H)), ("weight_hh_l0", (3 * H, H)),
                   ("bias_ih_l0", (3 * H,)), ("bias_hh_l0", (3 * H,)))}
        compiled = self._compile(params, 1, 1, H, H)
        return str(compiled.get_property("INFERENCE_PRECISION_HINT")).split("'")[-2]

    def prepare(self, case: Case, data: CaseData) -> Bench:
        H, B, T = case.H, case.B, case.T
        impl = f"GRU node, {self.inference_precision}"
        if case.kind == "step":
            request = self._compile(data.params, 1, 1, case.D, H).create_infer_request()
            xs = [x[None] for x in data.xs]  # (1, 1, D)
            it = itertools.cycle(xs)
            st = {"h": np.zeros((1, 1, H), np.float32)}

            def step(x, h):
                return request.infer({"X": x, "initial_h": h})["Y_h"].copy()

            def fn():
                st["h"] = step(next(it), st["h"])

            def output():
                h = np.zeros((1, 1, H), np.float32)
                ys = []
                for t in range(STEP_CHECK_STEPS):
                    h = step(xs[t], h)
                    ys.append(h[0])
                return {"y": np.stack(ys)}

            return Bench(fn, output, None, impl + ", T=1 call")

        request = self._compile(data.params, T, B, case.D, H).create_infer_request()
        feeds = {"X": data.x, "initial_h": data.h0}

        def fn():
            return request.infer(feeds)

        def output():
            out = request.infer(feeds)
            return {"y": np.array(out["Y"]).reshape(T, B, H), "h_n": np.array(out["Y_h"])}

        return Bench(fn, output, None, impl)


# ---------------------------------------------------------------------------------------

FRAMEWORKS = ("fastgru", "fastgru-bf16", "fastgru-int8", "numpy", "torch", "onnxruntime", "openvino", "openvino-default")


def discover(fg, selected: list[str], isa_mode: str | None, threads: int | None):
    """Build the runners. Returns (runners, primary_name, notes). ``isa_mode`` is None for
    the active ISA, "all" for one fastgru runner per available ISA, or an ISA name."""
    runners: list[Runner] = []
    notes: list[str] = []
    active = fg.get_isa()
    if isa_mode is None:
        runners.append(FastGRURunner(fg))
        primary = "fastgru"
    elif isa_mode == "all":
        isas = list(fg.available_isas())
        # Best ISA last in available_isas(); put the active one first (it is the reference).
        for isa in sorted(isas, key=lambda i: i != active):
            runners.append(FastGRURunner(fg, isa))
        primary = f"fastgru[{active}]" if active in isas else runners[0].name
    else:
        runners.append(FastGRURunner(fg, isa_mode))
        primary = f"fastgru[{isa_mode}]"

    for precision in ("bf16", "int8"):
        if f"fastgru-{precision}" in selected:
            runners.append(FastGRUQuantizedRunner(fg, precision))
    if "numpy" in selected:
        runners.append(NumpyRunner())
    if "torch" in selected:
        try:
            import torch
        except Exception as e:  # noqa: BLE001 - any import failure means "skip"
            notes.append(f"torch: skipped (import failed: {e.__class__.__name__}: {e})")
        else:
            if threads:
                torch.set_num_threads(threads)
            runners.append(TorchRunner(torch))
    if "onnxruntime" in selected:
        try:
            import onnx
            import onnxruntime
        except Exception as e:  # noqa: BLE001
            notes.append(f"onnxruntime: skipped (needs onnx and onnxruntime; "
                         f"{e.__class__.__name__}: {e})")
        else:
            runners.append(OrtRunner(onnx, onnxruntime, threads))
    for name, precision in (("openvino", "f32"), ("openvino-default", None)):
        if name not in selected:
            continue
        try:
            import onnx
            import openvino
            runner = OpenVinoRunner(openvino, onnx, threads, precision)
            runners.append(runner)
            notes.append(f"{name}: {'INFERENCE_PRECISION_HINT=f32' if precision else 'the CPU plugin default'}, "
                         f"runs in {runner.inference_precision}, checked to {runner.atol or 'the float32 limit'}")
        except Exception as e:  # noqa: BLE001
            notes.append(f"{name}: skipped (needs onnx and openvino; {e.__class__.__name__}: {e})")
    return runners, primary, notes
