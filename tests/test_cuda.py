"""The CUDA backend (fastgru.cuda, docs/CUDA.md) against the CPU core.

The GPU tests need a FASTGRU_CUDA=ON build on a machine with an NVIDIA GPU; elsewhere they skip
and say why. The tests at the end run everywhere: without a usable GPU, cuda_available() is False
and the CUDA API raises a RuntimeError that says what is missing.
"""

import numpy as np
import pytest

import fastgru
import fastgru.cuda as fcuda
from fastgru import _core
from fastgru import functional as F

HAVE_GPU = fastgru.cuda_available()
if not _core.cuda_compiled:
    _WHY = "fastgru was built without CUDA (FASTGRU_CUDA=OFF)"
else:
    _WHY = "no CUDA device is visible (CUDA build without a GPU)"
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason=f"needs a CUDA GPU: {_WHY}")

# GPU vs CPU: different summation orders and sigmoid/tanh roundings, nothing more.
TOL = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-5), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-10)}
DTYPES = [np.float32, np.float64]
PATHS = ["auto", "per_step", "persistent"]


def close(a, b, dtype, what=""):
    a = a.to_numpy() if hasattr(a, "to_numpy") else np.asarray(a)
    np.testing.assert_allclose(a, np.asarray(b), err_msg=what, **TOL[np.dtype(dtype)])


def make(rng, *, D=7, H=33, L=1, bidir=False, reset_after=True, dtype=np.float32, **kw):
    gru = fastgru.GRU(D, H, num_layers=L, bidirectional=bidir, reset_after=reset_after, dtype=dtype,
                      seed=int(rng.integers(1 << 31)), **kw)
    return gru


def device_model(gru, path, batch):
    dev = fcuda.to_cuda(gru)
    if path == "persistent" and not fcuda.uses_persistent(dev, batch):
        pytest.skip(f"the persistent kernel does not fit hidden_size={gru.hidden_size}, batch={batch} here")
    fcuda.set_recurrent_path(dev, path)
    return dev


def inputs(rng, gru, T, B, lengths, h0):
    x = rng.standard_normal((T, B, gru.input_size)).astype(gru.dtype)
    hs = rng.uniform(-1, 1, (gru.num_layers * gru.num_directions, B, gru.hidden_size)).astype(gru.dtype) if h0 else None
    lens = None
    if lengths:
        lens = rng.integers(1, T + 1, size=B)
        lens[min(1, B - 1)] = T
        lens[0] = 1
    return x, hs, lens


# ---------------------------------------------------------------------------------------------
# GPU: results against the CPU core.


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("path", PATHS)
def test_forward_backward_match_cpu(rng, dtype, reset_after, bidir, L, lengths, path):
    T, B = 6, 3
    gru = make(rng, L=L, bidir=bidir, reset_after=reset_after, dtype=dtype)
    dev = device_model(gru, path, B)
    x, h0, lens = inputs(rng, gru, T, B, lengths, h0=True)

    y, h_n = gru(x, h0, lens)
    yd, hd = dev(x, h0, lens)
    close(yd, y, dtype, "y")
    close(hd, h_n, dtype, "h_n")

    y, h_n, cache = gru.forward(x, h0, lens)
    yd, hd, cd = dev.forward(x, h0, lens)
    close(yd, y, dtype, "training y")
    dy = rng.standard_normal(y.shape).astype(dtype)
    dh = rng.standard_normal(h_n.shape).astype(dtype)
    g = gru.backward(cache, dy, dh)
    gd = dev.backward(cd, dy, dh)
    assert g.keys() == gd.keys()
    for k in g:
        close(gd[k], g[k], dtype, k)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("L", [1, 3])
@pytest.mark.parametrize("B", [1, 5])
def test_step_matches_cpu(rng, dtype, reset_after, L, B):
    gru = make(rng, D=9, H=17, L=L, reset_after=reset_after, dtype=dtype)
    dev = fcuda.to_cuda(gru)
    state_c, state_d = gru.initial_state(B), dev.initial_state(B)
    for _ in range(4):
        x = rng.standard_normal((B, 9)).astype(dtype)
        y_c, state_c = gru.step(x, state_c)
        y_d, state_d = dev.step(x, state_d)
        close(y_d, y_c, dtype, "y_t")
        close(state_d, state_c, dtype, "state")


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 40, 256), (2, 9, 64), (24, 5, 100), (70, 3, 48)])
def test_batch_sizes_and_gemm_tiles(rng, dtype, shape):
    # batch 1-2: persistent / skinny GEMMs; 24, 70: tiled GEMMs with tails in every dimension.
    B, T, H = shape
    gru = make(rng, D=H // 2 + 3, H=H, L=2, dtype=dtype)
    dev = fcuda.to_cuda(gru)
    x, h0, lens = inputs(rng, gru, T, B, lengths=B > 2, h0=True)
    y, h_n, cache = gru.forward(x, h0, lens)
    yd, hd, cd = dev.forward(x, h0, lens)
    close(yd, y, dtype, "y")
    close(hd, h_n, dtype, "h_n")
    dy = rng.standard_normal(y.shape).astype(dtype)
    g, gd = gru.backward(cache, dy), dev.backward(cd, dy)
    for k in g:
        close(gd[k], g[k], dtype, k)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", [
    dict(gates="type1"), dict(gates="type3", reset_after=False), dict(update="candidate"), dict(cell="mgu"),
    dict(activation="elu", recurrent_activation="hard_sigmoid", clip=2.0),
    dict(activation="softsign", recurrent_activation="leaky_relu", reset_after=False),
    dict(activation="gelu", recurrent_activation="log_sigmoid"),  # beyond ONNX: the shared scalar code
    dict(activation="mish", recurrent_activation="hard_silu", reset_after=False, clip=2.0),
    dict(cell="ligru"),
])
def test_cell_forms_and_activations(rng, dtype, form):
    T, B = 5, 4
    gru = fastgru.GRU(6, 19, num_layers=2, dtype=dtype, seed=3, **form)
    cpu_twin = fastgru.GRU(6, 19, num_layers=2, dtype=dtype, seed=3, **form)  # training changes BN state
    dev = fcuda.to_cuda(gru)
    x, h0, lens = inputs(rng, gru, T, B, lengths=True, h0=True)
    close(dev(x, h0, lens)[0], cpu_twin(x, h0, lens)[0], dtype, "inference y")
    y, h_n, cache = cpu_twin.forward(x, h0, lens)
    yd, hd, cd = dev.forward(x, h0, lens)
    close(yd, y, dtype, "y")
    close(hd, h_n, dtype, "h_n")
    dy = rng.standard_normal(y.shape).astype(dtype)
    g, gd = cpu_twin.backward(cache, dy), dev.backward(cd, dy)
    for k in g:
        close(gd[k], g[k], dtype, k)
    if gru.cell == "ligru":  # the running statistics were updated the same way
        for k, v in cpu_twin.state_dict().items():
            close(dev.state_dict()[k], v, dtype, k)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_masks_match_cpu(rng, dtype):
    params = fastgru.GRU(5, 12, num_layers=3, dtype=dtype, seed=1).state_dict()
    spec = F.spec_from_params(params, None, None, None, False)
    cpu = F.make_core(spec, params)
    gpu = fcuda.make_cuda_core(spec, params)
    x = rng.standard_normal((7, 4, 5)).astype(dtype)
    lens = np.array([7, 3, 5, 1])
    y, h_n, c = F.run_forward(cpu, spec, None, x, None, lens, keep_cache=True, dropout=0.4, seed=99)
    yd, hd, cd = F.run_forward(gpu, spec, None, x, None, lens, keep_cache=True, dropout=0.4, seed=99)
    close(yd, y, dtype, "y")
    dy = rng.standard_normal(y.shape).astype(dtype)
    g, gd = F.run_backward(c, dy, None), F.run_backward(cd, dy, None)
    for k in g:
        close(gd[k], g[k], dtype, k)


@needs_gpu
def test_batch_first_unbatched_and_carry(rng):
    gru = fastgru.GRU(4, 10, batch_first=True, padding="carry", seed=2)
    dev = fcuda.to_cuda(gru)
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    lens = [6, 2, 4]
    close(dev(x, lengths=lens)[0], gru(x, lengths=lens)[0], np.float32, "batch_first, carry")
    close(dev(x[0])[0], gru(x[0])[0], np.float32, "unbatched")


# ---------------------------------------------------------------------------------------------
# GPU: device arrays (__cuda_array_interface__) in and out, without copies.


def _torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    return torch


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_device_arrays_through_torch(rng, dtype):
    torch = _torch_cuda()
    gru = make(rng, D=8, H=24, L=2, dtype=dtype)
    dev = fcuda.to_cuda(gru)
    x, h0, _ = inputs(rng, gru, 5, 3, lengths=False, h0=True)
    xt, h0t = torch.from_numpy(x).cuda(), torch.from_numpy(h0).cuda()
    y, h_n, cache = gru.forward(x, h0)
    yd, hd, cd = dev.forward(xt, h0t)
    assert isinstance(yd, _core.CudaArray) and yd.shape == y.shape and yd.dtype == y.dtype
    close(yd, y, dtype, "y")
    close(hd, h_n, dtype, "h_n")
    yt = torch.as_tensor(yd, device="cuda")  # read in place by PyTorch
    assert yt.data_ptr() == yd.__cuda_array_interface__["data"][0]
    dy = rng.standard_normal(y.shape).astype(dtype)
    g = gru.backward(cache, dy)
    gd = dev.backward(cd, torch.from_numpy(dy).cuda())
    for k in g:
        assert isinstance(gd[k], _core.CudaArray)
        close(gd[k], g[k], dtype, k)
    # Streaming with device state.
    state = torch.zeros((2, 3, 24), dtype=xt.dtype, device="cuda")
    y_c, s_c = gru.step(x[0], gru.initial_state(3))
    y_d, s_d = dev.step(xt[0], state)
    close(y_d, y_c, dtype, "step y")
    close(s_d, s_c, dtype, "step state")


class _DLPackOnly:
    """A CUDA producer without __cuda_array_interface__ (as JAX arrays are): DLPack only."""

    def __init__(self, tensor):
        self.tensor = tensor

    def __dlpack__(self, stream=None):
        return self.tensor.__dlpack__(stream=stream)

    def __dlpack_device__(self):
        return self.tensor.__dlpack_device__()


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_dlpack_in_and_out(rng, dtype):
    torch = _torch_cuda()
    gru = make(rng, D=8, H=24, L=2, dtype=dtype)
    dev = gru.to("cuda")
    x, h0, _ = inputs(rng, gru, 5, 3, lengths=False, h0=True)
    y, h_n = gru(x, h0)
    yd, hd = dev(_DLPackOnly(torch.from_numpy(x).cuda()), _DLPackOnly(torch.from_numpy(h0).cuda()))
    assert isinstance(yd, _core.CudaArray)
    close(yd, y, dtype, "y from DLPack inputs")
    yt = torch.from_dlpack(yd)  # out: no copy
    assert yt.data_ptr() == yd.__cuda_array_interface__["data"][0] and tuple(yt.shape) == y.shape
    close(yt.cpu().numpy(), y, dtype, "y through torch.from_dlpack")
    y_t, state = dev.step(_DLPackOnly(torch.from_numpy(x[0]).cuda()), _DLPackOnly(torch.from_numpy(h0).cuda()))
    close(state, gru.step(x[0], h0)[1], dtype, "step state")
    with pytest.raises(BufferError, match="copy"):
        yd.__dlpack__(copy=True)
    assert yd.__dlpack_device__() == (2, torch.cuda.current_device())


@needs_gpu
def test_device_array_errors(rng):
    torch = _torch_cuda()
    gru = make(rng, D=4, H=8)
    dev = fcuda.to_cuda(gru)
    with pytest.raises(TypeError, match="<f8"):
        dev(torch.zeros((3, 2, 4), dtype=torch.float64, device="cuda"))
    with pytest.raises(ValueError, match="contiguous"):
        dev(torch.zeros((2, 3, 4), device="cuda").transpose(0, 1))
    with pytest.raises(ValueError, match="time-major"):
        fcuda.to_cuda(fastgru.GRU(4, 8, batch_first=True))(torch.zeros((3, 2, 4), device="cuda"))


@needs_gpu
def test_cuda_array_object():
    gru = fastgru.GRU(3, 5, seed=0)
    dev = fcuda.to_cuda(gru)
    x = np.ones((2, 1, 3), np.float32)
    _, _, cache = dev.forward(x)
    arr = cache.data
    assert isinstance(arr, _core.CudaArray) and arr.ndim == 1 and arr.dtype == np.float32
    assert np.array_equal(np.asarray(arr), arr.to_numpy())
    with pytest.raises(ValueError, match="copy"):
        arr.__array__(copy=False)
    cai = arr.__cuda_array_interface__
    assert cai["typestr"] == "<f4" and cai["shape"] == arr.shape and cai["version"] == 3


@needs_gpu
def test_forced_persistent_that_does_not_fit(rng):
    gru = make(rng, D=4, H=16)
    dev = fcuda.to_cuda(gru)
    assert not fcuda.uses_persistent(dev, 64)  # batch > 8: the per-step path
    fcuda.set_recurrent_path(dev, "persistent")
    with pytest.raises(RuntimeError, match="persistent"):
        dev(np.zeros((2, 64, 4), np.float32))
    with pytest.raises(ValueError, match="per_step"):
        fcuda.set_recurrent_path(dev, "fastest")


# ---------------------------------------------------------------------------------------------
# Everywhere: what a build or machine without CUDA says.


def test_cuda_queries_are_consistent():
    info = fastgru.info()
    assert info["cuda"] is bool(_core.cuda_compiled)
    assert info["cuda_available"] is HAVE_GPU
    assert fcuda.cuda_available() is HAVE_GPU and fastgru.cuda_available is fcuda.cuda_available
    assert (info["cuda_device"] is None) is (not HAVE_GPU)
    if HAVE_GPU:
        assert isinstance(fcuda.device_name(), str) and fcuda.device_name()


@pytest.mark.skipif(HAVE_GPU, reason="a CUDA GPU is available here")
def test_without_gpu_the_api_raises_clearly():
    assert fastgru.cuda_available() is False
    assert _core.cuda_available() is False and _core.cuda_device_count() == 0
    assert fcuda.device_name() is None and _core.cuda_device_name() is None
    gru = fastgru.GRU(4, 8, seed=0)
    expected = "FASTGRU_CUDA=ON" if not _core.cuda_compiled else "no CUDA device"
    with pytest.raises(RuntimeError, match=expected):
        fcuda.to_cuda(gru)
    with pytest.raises(RuntimeError, match=expected):
        fastgru.GRU(4, 8, device="cuda")
    with pytest.raises(TypeError, match="fastgru.GRU"):
        fcuda.to_cuda("not a model")


@pytest.mark.skipif(bool(_core.cuda_compiled), reason="this build has the CUDA backend")
def test_cpu_build_has_no_cuda_classes():
    assert _core.cuda_compiled is False
    assert not hasattr(_core, "CudaGruF32") and not hasattr(_core, "CudaArray")
    assert fcuda.cuda_compiled() is False


@pytest.mark.skipif(not _core.cuda_compiled or HAVE_GPU, reason="needs a CUDA build on a machine without a GPU")
def test_cuda_build_without_device_raises_runtime_error():
    with pytest.raises(RuntimeError, match="no CUDA device"):
        _core.CudaGruF32(4, 8, 1, True, False, True)
