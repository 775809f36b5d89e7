"""DLPack (fastgru/_core DLPackView, CudaArray.__dlpack__): the capsule handling, on any machine.

The CUDA paths use the same code on CUDA memory (tests/test_cuda.py, on a GPU); here host
memory from NumPy and PyTorch goes through it: a capsule is consumed once, its memory is shown
without a copy, re-exported to NumPy / PyTorch without a copy, and its producer's deleter runs
exactly when the last user lets go.
"""

import sys

import numpy as np
import pytest

import fastgru.cuda as fcuda
from fastgru import _core


def test_a_capsule_is_viewed_without_a_copy():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    v = _core.DLPackView(a.__dlpack__())
    assert v.device == (1, 0) and v.shape == (3, 4) and v.typestr == "<f4" and v.contiguous
    b = np.asarray(v)
    assert b.ctypes.data == a.ctypes.data and np.array_equal(a, b)
    with pytest.raises(AttributeError, match="not in CUDA memory"):
        v.__cuda_array_interface__


def test_strides_are_kept():
    a = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2]
    v = _core.DLPackView(a.__dlpack__())
    assert not v.contiguous and v.__array_interface__["strides"] == a.strides
    assert np.array_equal(np.asarray(v), a)
    with pytest.raises(BufferError, match="C-contiguous"):
        np.from_dlpack(v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reexport_to_numpy_shares_memory(dtype):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    again = np.from_dlpack(_core.DLPackView(a.__dlpack__()))
    assert again.ctypes.data == a.ctypes.data and again.dtype == dtype and np.array_equal(again, a)


def test_torch_tensors_both_ways():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    v = _core.DLPackView(t.__dlpack__())
    assert np.array_equal(np.asarray(v), t.numpy())
    assert torch.from_dlpack(v).data_ptr() == t.data_ptr()


def test_a_capsule_is_consumed_once():
    cap = np.zeros(3, np.float32).__dlpack__()
    _core.DLPackView(cap)
    with pytest.raises(ValueError, match="consumed once"):
        _core.DLPackView(cap)
    with pytest.raises(TypeError):
        _core.DLPackView("not a capsule")


def test_the_producer_is_released_when_the_last_user_goes():
    a = np.ones(5, np.float32)
    base = sys.getrefcount(a)
    v = _core.DLPackView(a.__dlpack__())
    assert sys.getrefcount(a) > base  # numpy's capsule context holds the array
    cap = v.__dlpack__()  # our export holds the view; unconsumed, the capsule frees it
    del v
    assert sys.getrefcount(a) > base
    del cap
    assert sys.getrefcount(a) == base
    w = np.from_dlpack(_core.DLPackView(a.__dlpack__()))  # consumed: the consumer's array holds it
    assert sys.getrefcount(a) > base
    del w
    assert sys.getrefcount(a) == base


def test_export_requests_fastgru_refuses():
    v = _core.DLPackView(np.zeros(3, np.float32).__dlpack__())
    with pytest.raises(BufferError, match="copy"):
        v.__dlpack__(copy=True)
    with pytest.raises(BufferError, match="device"):
        v.__dlpack__(dl_device=(2, 0))
    assert v.__dlpack_device__() == (1, 0)
    v.__dlpack__(dl_device=(1, 0), max_version=(1, 0))  # the same device, any version: fine


class _ClaimsCuda:
    def __init__(self, device):
        self.device = device

    def __dlpack__(self, stream=None):
        raise AssertionError("only asked for when the model reads it")

    def __dlpack_device__(self):
        return self.device


def test_which_objects_are_cuda_arrays():
    torch = pytest.importorskip("torch")
    assert not fcuda.is_device_array(None)
    assert not fcuda.is_device_array(np.zeros(3))  # DLPack on the host
    assert not fcuda.is_device_array(torch.zeros(3))
    assert fcuda.is_device_array(_ClaimsCuda((2, 0))) and fcuda.is_device_array(_ClaimsCuda((13, 1)))
    assert not fcuda.is_device_array(_ClaimsCuda((1, 0)))
    assert not fcuda.is_device_array(_ClaimsCuda("nonsense"))
    a = np.zeros(3)
    assert fcuda.device_view(a) is a and fcuda.device_view(None) is None
