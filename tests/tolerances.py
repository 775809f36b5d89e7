"""Named tolerances for every numerical comparison in fastgru's tests, and the one assertion
helper that applies them.

A tolerance is ``atol + rtol * max|expected|``: the error is measured against the largest
magnitude in the whole array, not element by element, because gradient arrays mix large
entries with entries that are zero up to rounding (element-wise rtol would demand
impossible relative accuracy from those).

Inputs and parameters of float32 runs are rounded to float32 *before* the float64 reference
sees them, so the differences below come only from fastgru's own arithmetic.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tol:
    atol: float
    rtol: float = 0.0

    def bound(self, expected):
        scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
        return self.atol + self.rtol * scale


F32, F64 = np.dtype(np.float32), np.dtype(np.float64)

# fastgru forward vs the float64 reference. float32: dot products of up to ~200 terms (error
# ~sqrt(K) * 6e-8 of the sum of |terms| ~ 1e-6), vectorised exp/tanh approximations of a few
# ulp, then up to 17 steps and 3 layers of (mostly contracting) recurrence; outputs lie in
# (-1, 1). 3e-5 is ~10x that and far below a formula or indexing mistake (1e-3 and up).
# float64: same error sources at eps 1e-16; 1e-11 leaves ~1000x margin.
FORWARD = {F32: Tol(atol=3e-5, rtol=1e-5), F64: Tol(atol=1e-11, rtol=1e-11)}

# fastgru gradients vs the float64 reference. Gradients are sums over T*B terms carried back
# through time, so they are O(10) and their rounding error grows with them: scaled by the
# array's largest entry. float32 1e-4 relative is ~100x the expected rounding error; a wrong
# term in a gradient shows up at 1e-2 relative or worse.
GRAD = {F32: Tol(atol=2e-5, rtol=1e-4), F64: Tol(atol=1e-10, rtol=1e-10)}

# Same mathematics computed in a different order: 1 vs 2 threads, a batch split in two, step
# by step vs whole sequence, training path vs inference path. Only summation order / blocking /
# vector-tail handling may differ, i.e. a few ulp per operation accumulated over the sequence.
REORDER = {F32: Tol(atol=2e-6, rtol=1e-5), F64: Tol(atol=1e-13, rtol=1e-12)}

# The very same computation on the very same values (a copy, a read-only or strided view of the
# input, a float64 input to a float32 model after conversion, a saved and reloaded model):
# nothing may differ at all.
EXACT = {F32: Tol(atol=0.0), F64: Tol(atol=0.0)}

# Central finite differences of fastgru's own float64 backward, step FD_STEP: truncation error
# ~STEP^2 ~ 1e-12, cancellation ~1e-16 * |loss| / STEP ~ 1e-9 for these small problems.
FD_STEP = 1e-6
FD = Tol(atol=1e-7, rtol=1e-6)


def central_differences(loss, base):
    """d loss / d base by central differences of step FD_STEP, one element at a time (float64)."""
    base = np.array(base, np.float64)
    out = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[i] += FD_STEP
        minus[i] -= FD_STEP
        out[i] = (loss(plus) - loss(minus)) / (2 * FD_STEP)
    return out

# Against torch.nn.GRU (same dtype on both sides), max abs: the project's stated contract.
TORCH = {F32: Tol(atol=1e-5), F64: Tol(atol=1e-10)}

# A bf16 model (GRU.quantized("bf16")) against the float32 model it came from: weights and the
# inputs of every product are rounded to 8 significant bits (relative error 2^-9 each), so a
# pre-activation moves by ~2^-9 * sqrt(K) * |w||x| ~ 1e-3; through tens of steps of contracting
# recurrence, outputs in (-1, 1) moved by up to 6e-3 on the standard workloads (measured). 3e-2
# still fails a wrong gate order or a dropped term (errors of 0.1 and up).
BF16_VS_F32 = Tol(atol=3e-2)
# An int8 model (GRU.quantized("int8")) against its float32 model: weights and every product's
# input rows quantized to 255 levels of their row's max (relative steps of 2^-8 of the largest
# value): pre-activations move by ~1e-2, outputs by up to ~1.5e-2 on the standard workloads
# (measured). 5e-2 is the bound and still fails a wrong scale or offset (errors of 0.1+).
INT8_VS_F32 = Tol(atol=5e-2)

# Two results that must NOT agree (e.g. different dropout masks) differ by at least this much
# somewhere; a real difference here is O(0.1).
DIFFERENT = 1e-3


def assert_close(actual, expected, tol, what=""):
    """Shapes equal and max|actual - expected| <= tol.bound(expected); NaNs must coincide."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape} != expected {expected.shape}")
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert np.array_equal(nan_a, nan_e), (
        f"{what}: NaN at {np.argwhere(nan_a != nan_e)[:5].tolist()} differ")
    if a.size == 0:
        return
    a, e = np.where(nan_a, 0.0, a), np.where(nan_e, 0.0, e)
    err = np.abs(a - e)
    worst = float(err.max())
    bound = tol.bound(e)
    if not worst <= bound:
        idx = np.unravel_index(int(np.argmax(err)), err.shape)
        raise AssertionError(
            f"{what}: max abs error {worst:.3e} > {bound:.3e} ({tol}) at {idx}: "
            f"actual {a[idx]!r}, expected {e[idx]!r}")


def assert_differ(a, b, what=""):
    """The arrays differ by more than DIFFERENT somewhere."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} != {b.shape}"
    assert float(np.max(np.abs(a - b))) > DIFFERENT, f"{what}: arrays are (nearly) equal"
