// The backend's kernel launchers (defined in kernels.cu from gemm.cuh and gates.cuh, and in
// recurrent_persistent.cu): what the orchestration in gru_forward.cu / gru_backward.cu calls.
// Each kernel is compiled once, for float and double.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "fastgru/activation.h"

namespace fastgru::cuda::ops {

// What the launchers need to know about the device (queried once per model).
struct DeviceInfo {
  int device = 0;
  int sm_count = 1;
  int max_smem_optin = 48 * 1024;  // bytes of shared memory one block may opt in to
  bool cooperative = false;        // cooperative launches (grid-wide sync) supported
};

// C[m, n] (=|+=) A · B (+ bias[n]); A[i, p] = a[i*lda + p], or a[p*lda + i] when a_trans;
// B[p, j] = b[p*ldb + j], or b[j*ldb + p] when b_trans (a weight W[n, k] row-major is B = Wᵀ).
template <class T>
struct Gemm {
  int64_t m, n, k;
  const T* a;
  int64_t lda;
  bool a_trans;
  const T* b;
  int64_t ldb;
  bool b_trans;
  T* c;
  int64_t ldc;
  const T* bias;  // (n) or nullptr
  bool accumulate;
};

template <class T>
void gemm(const Gemm<T>& g, const DeviceInfo& dev, cudaStream_t s);

// One step of the gate non-linearities: rows [0, rows) are live; with copy_dead, rows
// [rows, batch) copy h to h_out (a sequence that has ended keeps its state). Record layout as
// the CPU core: [r | z | n | aux | h_prev] (+ [a_r | a_z | a_n] when general), ld rec_ld.
template <class T>
struct GateForward {
  int64_t rows, batch, hidden;
  const T* gx;  // [rows, 3H] input projections (incl. b_ih), ld 3H
  const T* gh;  // recurrent projections (incl. b_hh), ld 3H: [r|z|n] (after), [r|z] (before_rz), [n] (before_n)
  T* rec;       // records, or null (reset-after without backward)
  int64_t rec_ld;
  const T* h;   // [batch, H] h_prev
  T* h_out;     // [batch, H] h'
  T* y;         // [rows, *] layer output (ld ld_y) or null
  int64_t ld_y;
  bool general;  // math below instead of sigmoid / tanh / no clip
  CellMath math;
};

template <class T>
void gates_forward_after(const GateForward<T>& g, cudaStream_t s);
template <class T>
void gates_forward_before_rz(const GateForward<T>& g, cudaStream_t s);
template <class T>
void gates_forward_before_n(const GateForward<T>& g, cudaStream_t s);

template <class T>
struct GateBackward {
  int64_t rows, hidden;
  const T* rec;
  int64_t rec_ld;
  T* dh;         // [rows, H]: in dL/dh' (without dy), out the direct part of dL/dh_prev
  const T* dy;   // [rows, *] gradient of this step's layer output (ld ld_dy), added to dh; or null
  int64_t ld_dy;
  const T* drh;  // [rows, H] dL/d(r ⊙ h_prev) (reset-before stage 2)
  T* dgx;        // [rows, 3H]
  T* dgh;        // [rows, 3H]
  bool general;
  CellMath math;
};

template <class T>
void gates_backward_after(const GateBackward<T>& g, cudaStream_t s);
template <class T>
void gates_backward_before_n(const GateBackward<T>& g, cudaStream_t s);
template <class T>
void gates_backward_before_r(const GateBackward<T>& g, cudaStream_t s);

// dst[i, :] = src[index[i], :] for i < rows (index null: the identity).
template <class T>
void gather_rows(const T* src, const int64_t* index, int64_t rows, int64_t width, T* dst, cudaStream_t s);
// dst[index[i], :] = src[i, :]; with zero_rows > 0, dst's first zero_rows rows are zeroed first.
template <class T>
void scatter_rows(const T* src, const int64_t* index, int64_t rows, int64_t width, T* dst, int64_t zero_rows,
                  cudaStream_t s);
// dst[j, :] = src ? src[order[j], :] : 0 (to slot order).
template <class T>
void to_slots(const T* src, const int64_t* order, int64_t batch, int64_t width, T* dst, cudaStream_t s);

// rows × width packed rows scaled by their inter-layer dropout mask (the CPU core's hash of
// seed, layer, step, original sequence, feature). row_src[i] = t * batch + sequence of packed
// row i, or null when packed rows are time-major (row i is step i / batch).
template <class T>
void apply_dropout(T* a, int64_t rows, int64_t width, const int64_t* row_src, int64_t batch, uint64_t seed,
                   int64_t layer, double p, cudaStream_t s);

// out[j] = sum_i a[i*lda + j] for j < cols, a fixed summation order.
template <class T>
void column_sums(const T* a, int64_t rows, int64_t cols, int64_t lda, T* out, cudaStream_t s);

// Batch norm on columns [H, 3H) of gx [rows, 3H] (the CPU core's batch_norm_forward /
// batch_norm_backward, statistics in double). scratch: 2 * 2H doubles.
template <class T>
void batch_norm_forward(int64_t rows, int64_t H, T* gx, const T* gamma, const T* beta, const T* running_mean,
                        const T* running_var, double eps, bool batch_stats, T* x_hat, T* inv_std, T* stats_out,
                        double* scratch, cudaStream_t s);
template <class T>
void batch_norm_backward(int64_t rows, int64_t H, T* dgx, const T* x_hat, const T* inv_std, const T* gamma,
                         bool batch_stats, T* dgamma, T* dbeta, double* scratch, cudaStream_t s);

// The persistent recurrent kernel: every step of one layer/direction in one cooperative launch,
// each block keeping its slice of W_hh in shared memory across the steps.
template <class T>
struct Persistent {
  int64_t hidden, batch, steps;
  bool reverse;
  const int64_t* batch_sizes;  // [steps] live rows per step (device), or null: all rows live
  const int64_t* offsets;      // [steps] first packed row of each step (device), or null: t * batch
  const T* w_hh;               // [3H, H] row-major
  const T* b_hh;               // [3H]
  const T* gx;                 // [rows, 3H]
  T* state[2];                 // [batch, H] each; state[0] holds h0 (slot order)
  T* rec;                      // records or null
  int64_t rec_ld;
  T* rh;                       // reset-before without records: [batch, H] scratch for r ⊙ h
  T* y;                        // packed layer output, ld ld_y (already offset to the direction)
  int64_t ld_y;
  bool reset_after;
  bool general;
  CellMath math;
};

// Whether the persistent kernel fits this device (shared memory, co-residency, batch <= 8).
template <class T>
bool persistent_fits(const DeviceInfo& dev, int64_t hidden, int64_t batch);
// Runs it; the final state is in state[steps % 2].
template <class T>
void persistent_forward(const Persistent<T>& p, const DeviceInfo& dev, cudaStream_t s);

}  // namespace fastgru::cuda::ops
