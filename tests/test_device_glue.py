"""The Python side of a CUDA model, on any machine: GRU(device="cuda") with a stand-in core.

A GPU is not needed to test what fastgru.GRU does around its CUDA core — choosing the device
path for CUDA arrays, carry padding and running-statistics updates shared with the CPU path,
caches, moving between devices, pickling, the errors. Here the CUDA core is replaced by the CPU
core behind the CUDA core's interface, and CUDA arrays by host arrays that expose
``__cuda_array_interface__``; results must then equal a CPU model's bit for bit. The kernels
themselves are tested against the CPU core in tests/test_cuda.py, on a GPU.
"""

import copy
import pickle

import numpy as np
import pytest

import fastgru
import fastgru.cuda as fcuda
from fastgru import functional as F


class FakeDeviceArray:
    """Host memory posing as a CUDA array (what the glue reads of one)."""

    def __init__(self, a):
        self.a = np.ascontiguousarray(a)

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.a.shape, "typestr": self.a.dtype.str, "data": (self.a.ctypes.data, False),
                "strides": None, "version": 3}

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)

    def __getitem__(self, i):
        return FakeDeviceArray(self.a[i])

    def to_numpy(self):
        return self.a.copy()


def _host(a):
    return a.a if isinstance(a, FakeDeviceArray) else a


def _on_device(*arrays):
    return any(isinstance(a, FakeDeviceArray) for a in arrays)


class FakeCudaCore:
    """The CPU core with the CUDA core's interface: CUDA arrays in, CUDA arrays out; no
    set_batch_norms (the CUDA core takes batch norms one layer at a time)."""

    def __init__(self, cpu_core):
        self.cpu = cpu_core
        self.path = "auto"

    def set_params(self, *args):
        self.cpu.set_params(*args)

    def set_batch_norm(self, *args):
        self.cpu.set_batch_norm(*args)

    def forward(self, x, h0, lengths, keep_cache, dropout, seed, batch_statistics=False, stats=None):
        y, h_n, data = self.cpu.forward(_host(x), _host(h0), lengths, keep_cache, dropout, seed,
                                        batch_statistics, stats)
        if _on_device(x):
            return FakeDeviceArray(y), FakeDeviceArray(h_n), data
        return y, h_n, data

    def step(self, x, h):
        _, new = self.cpu.step(_host(x), _host(h))
        return FakeDeviceArray(new) if _on_device(x, h) else new

    def backward(self, data, steps, batch, lengths, dy, dh_n, dropout, seed, batch_statistics,
                 device_outputs=False):
        dx, dh0, per_layer = self.cpu.backward(data, steps, batch, lengths, _host(dy), _host(dh_n), dropout,
                                               seed, batch_statistics)
        if not device_outputs:
            return dx, dh0, per_layer
        return (FakeDeviceArray(dx), FakeDeviceArray(dh0),
                [tuple(FakeDeviceArray(g) for g in layer) for layer in per_layer])

    def set_recurrent_path(self, path):
        self.path = path

    def uses_persistent(self, batch):
        return batch <= 8


@pytest.fixture(autouse=True)
def fake_cuda(monkeypatch):
    monkeypatch.setattr(fcuda, "make_cuda_core", lambda spec, params: FakeCudaCore(F.make_core(spec, params)))
    monkeypatch.setattr(fcuda, "_require", lambda: None)


FORMS = {
    "gru-2layer": dict(num_layers=2),
    "bidir-reset-before": dict(bidirectional=True, reset_after=False),
    "f64-dropout": dict(num_layers=3, dropout=0.3, dtype=np.float64),
    "type2-candidate": dict(gates="type2", update="candidate"),
    "ligru-2layer": dict(num_layers=2, cell="ligru"),
    "carry": dict(padding="carry"),
}


def _pair(form, seed=4):
    cpu = fastgru.GRU(5, 7, seed=seed, **FORMS[form])
    return cpu, copy.deepcopy(cpu).to("cuda")


def _data(m, rng, T=6, B=3):
    x = rng.standard_normal((T, B, 5)).astype(m.dtype)
    h0 = rng.standard_normal((m.num_layers * m.num_directions, B, 7)).astype(m.dtype)
    dy = rng.standard_normal((T, B, m.num_directions * 7)).astype(m.dtype)
    return x, h0, np.array([T, 1, T - 2]), dy


def _same(a, b, what):
    a = a.to_numpy() if isinstance(a, FakeDeviceArray) else a
    assert np.array_equal(a, b), what


@pytest.mark.parametrize("form", FORMS)
def test_host_arrays_give_the_cpu_models_results(form):
    cpu, dev = _pair(form)
    assert dev.device == "cuda" and isinstance(dev, fastgru.GRU) and isinstance(dev._core, FakeCudaCore)
    x, h0, lengths, dy = _data(cpu, np.random.default_rng(0))
    for got, want in zip(dev(x, h0, lengths), cpu(x, h0, lengths)):
        _same(got, want, "inference")
    yd, hd, cd = dev.forward(x, h0, lengths)
    yc, hc, cc = cpu.forward(x, h0, lengths)  # same dropout masks: the generator was copied
    _same(yd, yc, "training y")
    gd, gc = dev.backward(cd, dy), cpu.backward(cc, dy)
    assert gd.keys() == gc.keys()
    for k in gc:
        _same(gd[k], gc[k], k)
    # A Light GRU's running statistics were updated the same way, through the per-layer path.
    for k, v in cpu.state_dict().items():
        _same(dev.state_dict()[k], v, k)
    if not cpu.bidirectional:
        state_c = state_d = cpu.initial_state(3)
        for t in range(3):
            y_c, state_c = cpu.step(x[t], state_c)
            y_d, state_d = dev.step(x[t], state_d)
            _same(y_d, y_c, "step y")
            _same(state_d, state_c, "step state")


@pytest.mark.parametrize("form", ["gru-2layer", "bidir-reset-before", "f64-dropout", "type2-candidate",
                                  "ligru-2layer"])
def test_cuda_arrays_stay_on_the_device(form):
    cpu, dev = _pair(form)
    x, h0, lengths, dy = _data(cpu, np.random.default_rng(1))
    y, h_n = dev(FakeDeviceArray(x), FakeDeviceArray(h0), lengths)
    assert isinstance(y, FakeDeviceArray) and isinstance(h_n, FakeDeviceArray)
    _same(y, cpu(x, h0, lengths)[0], "y")
    yd, _, cd = dev.forward(FakeDeviceArray(x), h0, lengths)
    yc, _, cc = cpu.forward(x, h0, lengths)
    _same(yd, yc, "training y")
    gd, gc = dev.backward(cd, FakeDeviceArray(dy)), cpu.backward(cc, dy)
    for k in gc:
        # Other cell forms map their gradients on the host: those come back as NumPy arrays.
        assert isinstance(gd[k], FakeDeviceArray) is (dev._spec.form.standard or k in ("x", "h0")), k
        _same(gd[k], gc[k], k)
    for k, v in cpu.state_dict().items():
        _same(dev.state_dict()[k], v, k)
    if not cpu.bidirectional:
        y_t, state = dev.step(FakeDeviceArray(x[0]), FakeDeviceArray(cpu.initial_state(3)))
        assert isinstance(state, FakeDeviceArray)
        _same(y_t, cpu.step(x[0], cpu.initial_state(3))[0], "step")


def test_device_path_errors():
    x = FakeDeviceArray(np.zeros((4, 2, 5), np.float32))
    with pytest.raises(ValueError, match="time-major"):
        fastgru.GRU(5, 7, batch_first=True, device="cuda")(x)
    with pytest.raises(ValueError, match="carry"):
        fastgru.GRU(5, 7, padding="carry", device="cuda")(x, lengths=[4, 2])
    with pytest.raises(ValueError, match="3-D"):
        fastgru.GRU(5, 7, device="cuda")(FakeDeviceArray(np.zeros((2, 5), np.float32)))
    dev = fastgru.GRU(5, 7, device="cuda")
    _, _, cache = dev.forward(x)
    with pytest.raises(ValueError, match="CUDA array like the other"):
        dev.backward(cache, FakeDeviceArray(np.zeros((4, 2, 7), np.float32)), np.zeros((1, 2, 7), np.float32))
    with pytest.raises(ValueError, match="another model"):
        fastgru.GRU(5, 7, device="cuda").backward(cache)
    with pytest.raises(ValueError, match="bidirectional"):
        fastgru.GRU(5, 7, bidirectional=True, device="cuda").step(np.zeros((1, 5), np.float32),
                                                                   np.zeros((1, 1, 7), np.float32))


def test_moving_between_devices_keeps_parameters_and_generator():
    cpu = fastgru.GRU(5, 7, num_layers=2, dropout=0.5, seed=3)
    dev = fcuda.to_cuda(cpu)
    assert dev.device == "cuda" and dev.to("cuda") is dev and fcuda.to_cuda(dev) is dev
    back = dev.to("cpu")
    assert back.device == "cpu" and back.config() == cpu.config()
    x = np.random.default_rng(2).standard_normal((5, 2, 5)).astype(np.float32)
    want = cpu.forward(x)[0]  # the original's next draw; each copy continues from the same state
    _same(dev.forward(x)[0], want, "cuda copy")
    _same(back.forward(x)[0], want, "copy of the copy")


def test_a_cuda_model_pickles_as_a_cuda_model():
    dev = fastgru.GRU(5, 7, cell="ligru", device="cuda", seed=1)
    again = pickle.loads(pickle.dumps(dev))
    assert again.device == "cuda" and isinstance(again._core, FakeCudaCore)
    x = np.random.default_rng(3).standard_normal((5, 2, 5)).astype(np.float32)
    _same(again(x)[0], dev(x)[0], "unpickled")


def test_recurrent_path_controls_need_a_cuda_model():
    dev = fastgru.GRU(5, 7, device="cuda")
    fcuda.set_recurrent_path(dev, "per_step")
    assert dev._core.path == "per_step"
    assert fcuda.uses_persistent(dev, 4) and not fcuda.uses_persistent(dev, 64)
    with pytest.raises(ValueError, match="to\\('cuda'\\)"):
        fcuda.set_recurrent_path(fastgru.GRU(5, 7), "auto")
    with pytest.raises(TypeError, match="fastgru.GRU"):
        fcuda.uses_persistent("model", 4)


@pytest.mark.parametrize("options", [dict(direction="reverse", padding="carry", num_layers=2),
                                     dict(bidirectional=True, merge="mul")], ids=["reverse-carry", "merge-mul"])
def test_sequence_options_on_a_cuda_model(options, rng):
    """NumPy inputs: the reorderings of fastgru._sequences run on the host around the CUDA core,
    bit for bit the CPU model's; CUDA arrays: ValueError (not something else computed)."""
    cpu = fastgru.GRU(5, 7, seed=3, **options)
    gpu = copy.deepcopy(cpu).to("cuda")
    assert gpu.config() == cpu.config() and repr(gpu) == repr(cpu)
    x, h0, _, _ = _data(cpu, rng)
    mask = rng.random((3, 6)) < 0.6
    for kw in (dict(mask=mask), dict(lengths=[6, 0, 2])):
        for got, want in zip(gpu(x, h0, **kw), cpu(x, h0, **kw)):
            _same(got, want, f"{kw}")
        yg, hg, cg = gpu.forward(x, h0, **kw)
        yc, hc, cc = cpu.forward(x, h0, **kw)
        dy = rng.standard_normal(yc.shape).astype(cpu.dtype)
        g_gpu, g_cpu = gpu.backward(cg, dy), cpu.backward(cc, dy)
        for k in g_cpu:
            assert np.array_equal(g_gpu[k], g_cpu[k]), k
    with pytest.raises(ValueError, match="with CUDA arrays is not implemented"):
        gpu(FakeDeviceArray(x))
    with pytest.raises(ValueError, match="mask with CUDA arrays"):
        fastgru.GRU(5, 7, seed=3).to("cuda")(FakeDeviceArray(x), mask=mask)
    with pytest.raises(ValueError, match="host"):
        gpu.backward(gpu.forward(x, h0, mask=mask)[2], FakeDeviceArray(dy))
