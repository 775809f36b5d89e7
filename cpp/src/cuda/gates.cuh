// Fused gate kernels, forward and backward, for both formulations, and the per-element cell
// arithmetic they share with the persistent recurrent kernel. The arithmetic mirrors the CPU
// core's gate kernels (kernels/generic/gates.h) operation for operation — the same fused
// multiply-adds, the rarer activations in double — so results differ only by the rounding of
// sigmoid / tanh and of the GEMMs' summation order.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/ops.h"
#include "fastgru/activation.h"

namespace fastgru::cuda::dev {

// Standard activations in T (the hot path): libdevice's accurate expf / tanhf, never fast math.
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
__device__ __forceinline__ float tanh_(float x) { return tanhf(x); }
__device__ __forceinline__ double tanh_(double x) { return tanh(x); }

// ONNX's activations in double, the CPU core's own code (as it evaluates the rarer ones).
#define FASTGRU_HD __host__ __device__
#include "kernels/activation_scalar.h"
#undef FASTGRU_HD

template <class T>
__device__ __forceinline__ T act(const ActivationSpec& s, T x) {
  if (s.kind == Activation::sigmoid) return sigmoid(x);
  if (s.kind == Activation::tanh) return tanh_(x);
  if (s.kind == Activation::relu) return x < T(0) ? T(0) : x;  // the Light GRU's candidate; NaN kept
  return static_cast<T>(act_scalar(s, static_cast<double>(x)));
}

// ONNX clip of a pre-activation (NaN kept).
template <class T>
__device__ __forceinline__ T clip_pre(const CellMath& m, T a) {
  if (m.clip <= 0) return a;
  const T c = static_cast<T>(m.clip);
  return a < -c ? -c : (a > c ? c : a);
}

// d act(clip(a)) / da from the raw pre-activation: zero where the clip cut it.
template <class T>
__device__ __forceinline__ T act_grad(const CellMath& m, const ActivationSpec& s, T a) {
  const double v = static_cast<double>(a);
  if (m.clip > 0 && (v > m.clip || v < -m.clip)) return T(0);
  return static_cast<T>(act_grad_scalar(s, v));
}

template <class T, bool GENERAL>
__device__ __forceinline__ T gate_act(const CellMath& m, T a) {
  if constexpr (GENERAL) {
    return act(m.gate, clip_pre(m, a));
  } else {
    return sigmoid(a);
  }
}

template <class T, bool GENERAL>
__device__ __forceinline__ T candidate_act(const CellMath& m, T a) {
  if constexpr (GENERAL) {
    return act(m.candidate, clip_pre(m, a));
  } else {
    return tanh_(a);
  }
}

// reset-after, one element: gx_* input projections, gh_* recurrent ones (biases included).
// Writes the record when rec is given (stride H between its fields) and returns h'.
template <class T, bool GENERAL>
__device__ __forceinline__ T cell_after(const CellMath& m, T gx_r, T gx_z, T gx_n, T gh_r, T gh_z, T gh_n, T hp,
                                        T* rec, int64_t H) {
  const T a_r = gx_r + gh_r, a_z = gx_z + gh_z;
  const T r = gate_act<T, GENERAL>(m, a_r);
  const T z = gate_act<T, GENERAL>(m, a_z);
  const T a_n = fma(r, gh_n, gx_n);
  const T n = candidate_act<T, GENERAL>(m, a_n);
  const T hn = fma(z, hp - n, n);  // n + z (h - n), PyTorch's rounding order
  if (rec) {
    rec[0] = r;
    rec[H] = z;
    rec[2 * H] = n;
    rec[3 * H] = gh_n;
    rec[4 * H] = hp;
    if constexpr (GENERAL) {
      rec[5 * H] = a_r;
      rec[6 * H] = a_z;
      rec[7 * H] = a_n;
    }
  }
  return hn;
}

// reset-before stage 1: r, z (records, when given) and r ⊙ h_prev (returned; the W_hn product's
// input); z through z_out.
template <class T, bool GENERAL>
__device__ __forceinline__ T cell_before_rz(const CellMath& m, T gx_r, T gx_z, T gh_r, T gh_z, T hp, T* rec,
                                            int64_t H, T* z_out) {
  const T a_r = gx_r + gh_r, a_z = gx_z + gh_z;
  const T r = gate_act<T, GENERAL>(m, a_r);
  const T z = gate_act<T, GENERAL>(m, a_z);
  const T rh = r * hp;
  if (rec) {  // null only in the persistent kernel without a cache
    rec[0] = r;
    rec[H] = z;
    rec[3 * H] = rh;
    rec[4 * H] = hp;
    if constexpr (GENERAL) {
      rec[5 * H] = a_r;
      rec[6 * H] = a_z;
    }
  }
  *z_out = z;
  return rh;
}

// reset-before stage 2: n from W_hn (r ⊙ h) + b_hn, then h'.
template <class T, bool GENERAL>
__device__ __forceinline__ T cell_before_n(const CellMath& m, T gx_n, T gh_n, T z, T hp, T* rec, int64_t H) {
  const T a_n = gx_n + gh_n;
  const T n = candidate_act<T, GENERAL>(m, a_n);
  const T hn = fma(z, hp - n, n);
  if (rec) {
    rec[2 * H] = n;
    if constexpr (GENERAL) rec[7 * H] = a_n;
  }
  return hn;
}

// ----------------------------------------------------------------------------------------------
// Element-wise kernels: one thread per (row, column) of the batch × H state.

template <class T>
__device__ __forceinline__ bool element_of(const ops::GateForward<T>& g, int64_t total, int64_t* i, int64_t* c) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= total) return false;
  *i = e / g.hidden;
  *c = e % g.hidden;
  return true;
}

template <class T, bool GENERAL>
__global__ void gates_forward_after_kernel(const ops::GateForward<T> g) {
  int64_t i, c;
  if (!element_of(g, g.batch * g.hidden, &i, &c)) return;
  const int64_t H = g.hidden;
  const T hp = g.h[i * H + c];
  if (i >= g.rows) {  // ended sequence: keeps its state
    g.h_out[i * H + c] = hp;
    return;
  }
  const T* gx = g.gx + i * 3 * H + c;
  const T* gh = g.gh + i * 3 * H + c;
  T* rec = g.rec ? g.rec + i * g.rec_ld + c : nullptr;
  const T hn = cell_after<T, GENERAL>(g.math, gx[0], gx[H], gx[2 * H], gh[0], gh[H], gh[2 * H], hp, rec, H);
  g.h_out[i * H + c] = hn;
  if (g.y) g.y[i * g.ld_y + c] = hn;
}

template <class T, bool GENERAL>
__global__ void gates_forward_before_rz_kernel(const ops::GateForward<T> g) {
  int64_t i, c;
  if (!element_of(g, g.rows * g.hidden, &i, &c)) return;
  const int64_t H = g.hidden;
  const T* gx = g.gx + i * 3 * H + c;
  const T* gh = g.gh + i * 3 * H + c;
  T z;
  cell_before_rz<T, GENERAL>(g.math, gx[0], gx[H], gh[0], gh[H], g.h[i * H + c], g.rec + i * g.rec_ld + c, H, &z);
}

template <class T, bool GENERAL>
__global__ void gates_forward_before_n_kernel(const ops::GateForward<T> g) {
  int64_t i, c;
  if (!element_of(g, g.batch * g.hidden, &i, &c)) return;
  const int64_t H = g.hidden;
  if (i >= g.rows) {
    g.h_out[i * H + c] = g.h[i * H + c];
    return;
  }
  T* rec = g.rec + i * g.rec_ld + c;
  const T hn = cell_before_n<T, GENERAL>(g.math, g.gx[i * 3 * H + 2 * H + c], g.gh[i * 3 * H + c], rec[H],
                                         rec[4 * H], rec, H);
  g.h_out[i * H + c] = hn;
  if (g.y) g.y[i * g.ld_y + c] = hn;
}

// Shared by both formulations: dn = dh (1 - z), dz = dh (h_prev - n); da_n = dn g'(a_n),
// da_z = dz f'(a_z) (standard cell: g' = 1 - n², f' = z (1 - z), from the outputs).
template <class T, bool GENERAL>
__device__ __forceinline__ void update_grads(const CellMath& m, const T* rec, int64_t H, T dh, T* da_n, T* da_z) {
  const T z = rec[H], n = rec[2 * H], hp = rec[4 * H];
  const T dn = fma(-dh, z, dh);
  const T dz = dh * (hp - n);
  if constexpr (GENERAL) {
    *da_n = dn * act_grad(m, m.candidate, rec[7 * H]);
    *da_z = dz * act_grad(m, m.gate, rec[6 * H]);
  } else {
    *da_n = dn * fma(-n, n, T(1));
    *da_z = dz * (z * (T(1) - z));
  }
}

template <class T, bool GENERAL>
__device__ __forceinline__ T reset_grad(const CellMath& m, const T* rec, int64_t H, T dr) {
  if constexpr (GENERAL) {
    return dr * act_grad(m, m.gate, rec[5 * H]);
  } else {
    const T r = rec[0];
    return dr * (r * (T(1) - r));
  }
}

template <class T>
__device__ __forceinline__ bool element_of(const ops::GateBackward<T>& g, int64_t* i, int64_t* c) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= g.rows * g.hidden) return false;
  *i = e / g.hidden;
  *c = e % g.hidden;
  return true;
}

// dL/dh' of element (i, c): the carried state gradient plus this step's output gradient.
template <class T>
__device__ __forceinline__ T incoming(const ops::GateBackward<T>& g, int64_t i, int64_t c) {
  T dh = g.dh[i * g.hidden + c];
  if (g.dy) dh += g.dy[i * g.ld_dy + c];
  return dh;
}

template <class T, bool GENERAL>
__global__ void gates_backward_after_kernel(const ops::GateBackward<T> g) {
  int64_t i, c;
  if (!element_of(g, &i, &c)) return;
  const int64_t H = g.hidden;
  const T* rec = g.rec + i * g.rec_ld + c;
  const T dh = incoming(g, i, c);
  T da_n, da_z;
  update_grads<T, GENERAL>(g.math, rec, H, dh, &da_n, &da_z);
  const T r = rec[0];
  // a_n = x_n + r ⊙ ghn: dr = da_n ghn; dghn = da_n r.
  const T da_r = reset_grad<T, GENERAL>(g.math, rec, H, da_n * rec[3 * H]);
  T* dgx = g.dgx + i * 3 * H + c;
  T* dgh = g.dgh + i * 3 * H + c;
  dgx[0] = da_r;
  dgx[H] = da_z;
  dgx[2 * H] = da_n;
  dgh[0] = da_r;
  dgh[H] = da_z;
  dgh[2 * H] = da_n * r;
  g.dh[i * H + c] = dh * rec[H];
}

template <class T, bool GENERAL>
__global__ void gates_backward_before_n_kernel(const ops::GateBackward<T> g) {
  int64_t i, c;
  if (!element_of(g, &i, &c)) return;
  const int64_t H = g.hidden;
  const T* rec = g.rec + i * g.rec_ld + c;
  const T dh = incoming(g, i, c);
  T da_n, da_z;
  update_grads<T, GENERAL>(g.math, rec, H, dh, &da_n, &da_z);
  g.dgx[i * 3 * H + H + c] = da_z;
  g.dgx[i * 3 * H + 2 * H + c] = da_n;
  g.dgh[i * 3 * H + H + c] = da_z;
  g.dgh[i * 3 * H + 2 * H + c] = da_n;
  g.dh[i * H + c] = dh * rec[H];
}

template <class T, bool GENERAL>
__global__ void gates_backward_before_r_kernel(const ops::GateBackward<T> g) {
  int64_t i, c;
  if (!element_of(g, &i, &c)) return;
  const int64_t H = g.hidden;
  const T* rec = g.rec + i * g.rec_ld + c;
  const T r = rec[0];
  const T drh = g.drh[i * H + c];
  const T da_r = reset_grad<T, GENERAL>(g.math, rec, H, drh * rec[4 * H]);
  g.dgx[i * 3 * H + c] = da_r;
  g.dgh[i * 3 * H + c] = da_r;
  g.dh[i * H + c] = fma(drh, r, g.dh[i * H + c]);
}

}  // namespace fastgru::cuda::dev
