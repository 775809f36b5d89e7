// The kernel table: every kernel one ISA provides, for both dtypes. The dispatcher picks a whole
// table, never single functions, because weight packing, GEMM tiles and gate kernels must agree on
// the packed layout (panel width `nr`).
#pragma once

#include <cstdint>

#include "fastgru/activation.h"

namespace fastgru::kernels {

// Every product over k runs in slices of this many k: each output is the sum of one FMA chain
// per slice, in slice order. Kernels that compute a product (the GEMMs, small_step) all cut k
// this way, which is what makes their results bit-identical to each other.
constexpr int64_t kGemmKc = 256;

// C[m, n] (=|+=) A[m, k] · B[k, n] (+ bias[n]).
// A[i, p] = a[i * a_row_stride + p * a_col_stride]: any strides, so A can be a transposed view.
// B is either packed panels (pack_weights) or row-major with row stride b_row_stride and its
// columns contiguous. For packed B, `b` points at the panel holding column 0 of this call.
template <class T>
struct GemmArgs {
  int64_t m, n, k;
  const T* a;
  int64_t a_row_stride, a_col_stride;
  const T* b;
  int64_t b_row_stride;  // ignored for packed B
  T* c;
  int64_t ldc;
  const T* bias;    // (n,) or nullptr; only with accumulate == false
  bool accumulate;  // C += A·B
};

// C[i, g*hidden + j] = A[i, :] · W_g[j, :] + bias[g*hidden + j] for gates g < `gates` and
// columns j in [col_begin, col_end) (col_begin a multiple of nr), with gate g's packed panels
// block_stride elements after gate g-1's. Any number of rows; 1-2 rows (streaming steps) run all
// gates in one tile.
template <class T>
struct GateGemmArgs {
  int64_t rows, gates, k, col_begin, col_end;
  const T* a;  // [rows, k], row stride lda
  int64_t lda;
  const T* b;  // gate 0's packed panels
  int64_t block_stride;
  const T* bias;  // gate 0's bias
  T* c;           // gate 0's column 0, row stride ldc
  int64_t ldc;
  int64_t hidden;  // distance between gates in bias and C
};

// One time step of the gate non-linearities for `rows` rows and gate columns
// [col_begin, col_end) of each gate block (hidden size H = `hidden`).
// Record layout per row (ld rec_ld): [r | z | n | aux | h_prev], aux = W_hn h + b_hn
// (reset-after) or r ⊙ h_prev (reset-before); with other activations or a clip (math != null)
// also the raw pre-activations [a_r | a_z | a_n]. Backward reads these, never recomputes them.
template <class T>
struct GateArgs {
  int64_t rows, hidden, col_begin, col_end;
  const T* gx;  // [rows, 3H] input projections incl. b_ih, ld ld_gx
  int64_t ld_gx;
  const T* gh;  // recurrent projections incl. b_hh: [r|z|n] (after), [r|z] (before_rz), [n] (before_n)
  int64_t ld_gh;
  T* rec;       // [rows, 5H] records (reset-after: may be null when no backward follows)
  const T* h;   // [rows, H] h_prev (ld H)
  T* h_out;     // [rows, H] h' (ld H); a different buffer, as other threads may still read h
  T* y;         // [rows, *] copy of h' (layer output), ld ld_y, or nullptr
  int64_t ld_y;
  int64_t rec_ld;        // 5H, or 8H with math
  const CellMath* math;  // nullptr: sigmoid gates, tanh candidate, no clip

  // Moves every row pointer down by i rows (for a split across threads; not used by kernels).
  void shift_rows(int64_t i) {
    gx += i * ld_gx;
    gh += i * ld_gh;
    if (rec) rec += i * rec_ld;
    h += i * hidden;
    h_out += i * hidden;
    if (y) y += i * ld_y;
  }
};

template <class T>
struct GateGradArgs {
  int64_t rows, hidden, col_begin, col_end;
  const T* rec;  // [rows, 5H] records from the forward pass
  T* dh;         // [rows, H]: in: dL/dh'; out: the direct part of dL/dh_prev (ld H)
  const T* drh;  // [rows, H] dL/d(r ⊙ h_prev) (reset-before stage 2 only)
  T* dgx;        // [rows, 3H] gradient of the input pre-activations (ld 3H)
  T* dgh;        // [rows, 3H] gradient of the recurrent pre-activations (ld 3H)
  int64_t rec_ld;
  const CellMath* math;

  void shift_rows(int64_t i) {
    rec += i * rec_ld;
    dh += i * hidden;
    if (drh) drh += i * hidden;
    dgx += i * 3 * hidden;
    dgh += i * 3 * hidden;
  }
};

// A streaming step of one small layer at batch 1 (reset-after, standard cell, hidden <= nr: one
// packed panel per gate): both products, the gates and h' without leaving registers.
// Bit-identical to gemm_gates for x and for h followed by gates_forward_after.
template <class T>
struct SmallStepArgs {
  int64_t hidden, din, nr;
  const T* x;        // [din]
  const T* h;        // [H]
  const T* w_ih;     // gate 0's packed panel of W_ih (gate g at + g * ih_stride)
  int64_t ih_stride;
  const T* w_hh;     // the same for W_hh
  int64_t hh_stride;
  const T* bias_ih;  // (3H)
  const T* bias_hh;  // (3H)
  T* h_out;          // [H]
};

// C = A · W^T + bias as GateGemmArgs, with W stored as bfloat16 (inference models with bf16
// weights): gate g's panels of nr columns hold k in pairs, element (kk, column c) of a panel at
// [(kk / 2) * 2 * nr + 2 * c + kk % 2], k zero-padded to even (packed_bf16_size). A is rounded to
// bfloat16 too; every pair of products is accumulated in float32 as AVX512_BF16's vdpbf16ps
// does (odd k first, then even, denormals flushed), natively or emulated bit for bit.
struct Bf16GateGemmArgs {
  int64_t rows, gates, k, col_begin, col_end;
  const float* a;  // [rows, k], row stride lda
  int64_t lda;
  const uint16_t* b;  // gate 0's packed panels
  int64_t block_stride;
  const float* bias;  // gate 0's bias
  float* c;           // gate 0's column 0, row stride ldc
  int64_t ldc;
  int64_t hidden;
};

// C = A · W^T + bias as GateGemmArgs, with W stored as int8 (inference models with int8
// weights): output row j of W is w_q[j] * scale[j] (symmetric, scale = max|w[j]| / 127); panels
// of nr columns hold k in quads, element (kk, column c) at [(kk / 4) * 4 * nr + 4 * c + kk % 4],
// k zero-padded to a multiple of 4 (packed_int8_size). Each row of A is quantized the same way
// (its own scale, max|a[i]| / 127, values rounded to nearest even) and offset by 128 to bytes;
// the products are summed exactly in int32 (vpdpbusd), then
//   C[i, j] = float(sum - 128 * colsum[j]) * (a_scale[i] * scale[j]) + bias[j],
// the same on every ISA. A row of A holding NaN or infinity gives NaN.
struct Int8GateGemmArgs {
  int64_t rows, gates, k, col_begin, col_end;
  const float* a;  // [rows, k], row stride lda
  int64_t lda;
  const int8_t* b;  // gate 0's packed panels
  int64_t block_stride;
  const float* scale;   // gate 0's per-column weight scales (gate g's at + g * hidden)
  const int32_t* sum;   // gate 0's per-column sums of the int8 weights (likewise)
  const float* bias;    // gate 0's bias
  float* c;             // gate 0's column 0, row stride ldc
  int64_t ldc;
  int64_t hidden;
};

template <class T>
struct TypedKernels {
  int nr;  // packed panel width (columns)
  // Packs w (n rows, k cols, row-major), i.e. B = w^T, into panels of nr columns, zero-padded.
  void (*pack_weights)(const T* w, int64_t n, int64_t k, T* out);
  // The same panels from B itself: k rows of n columns, row-major with row stride ldb.
  void (*pack_rows)(const T* b, int64_t ldb, int64_t k, int64_t n, T* out);
  void (*gemm_packed)(const GemmArgs<T>& args);
  void (*gemm_rowmajor)(const GemmArgs<T>& args);
  void (*gemm_gates)(const GateGemmArgs<T>& args);
  void (*gates_forward_after)(const GateArgs<T>& args);
  void (*gates_forward_before_rz)(const GateArgs<T>& args);
  void (*gates_forward_before_n)(const GateArgs<T>& args);
  void (*gates_backward_after)(const GateGradArgs<T>& args);
  void (*gates_backward_before_n)(const GateGradArgs<T>& args);
  void (*gates_backward_before_r)(const GateGradArgs<T>& args);
  // The LiBRU's update (GruConfig::cell == CellKind::libru) on the reset-after products; records
  // as generic/libru_gates.h says.
  void (*gates_forward_libru)(const GateArgs<T>& args);
  void (*gates_backward_libru)(const GateGradArgs<T>& args);
  void (*small_step)(const SmallStepArgs<T>& args);
  // out[i] = act(x[i]) with the gate kernels' vector code (for testing its error bounds).
  void (*activate)(const ActivationSpec& act, int64_t n, const T* x, T* out);
  // out[i] = act'(x[i]) with the backward kernels' code (for testing it).
  void (*activate_grad)(const ActivationSpec& act, int64_t n, const T* x, T* out);
  // bf16 weights (float tables only; null in the double ones). Same panel width nr.
  void (*pack_weights_bf16)(const float* w, int64_t n, int64_t k, uint16_t* out);
  void (*gemm_gates_bf16)(const Bf16GateGemmArgs& args);
  // int8 weights (float tables only): packs and returns each output row's scale and int8 sum.
  void (*pack_weights_int8)(const float* w, int64_t n, int64_t k, int8_t* out, float* scale, int32_t* sum);
  void (*gemm_gates_int8)(const Int8GateGemmArgs& args);
};

struct KernelTable {
  const char* name;
  uint32_t required_features;  // cpu_features bits that must all be present
  TypedKernels<float> f32;
  TypedKernels<double> f64;

  template <class T>
  const TypedKernels<T>& get() const {
    if constexpr (sizeof(T) == 4) {
      return f32;
    } else {
      return f64;
    }
  }
};

// Every table's packed panel width divides this (AVX-512 float, the widest: two registers of 16),
// so buffers sized with it fit whichever table runs.
constexpr int kMaxPanelWidth = 32;

// Packed size in elements of an (n x k) weight for panel width nr.
inline int64_t packed_weight_size(int64_t n, int64_t k, int nr) {
  return (n + nr - 1) / nr * nr * k;
}

// Packed size in bfloat16 elements of an (n x k) weight for panel width nr (k rounded up to even).
inline int64_t packed_bf16_size(int64_t n, int64_t k, int nr) {
  return (n + nr - 1) / nr * nr * ((k + 1) / 2 * 2);
}

// Packed size in int8 elements of an (n x k) weight for panel width nr (k rounded up to 4).
inline int64_t packed_int8_size(int64_t n, int64_t k, int nr) {
  return (n + nr - 1) / nr * nr * ((k + 3) / 4 * 4);
}

}  // namespace fastgru::kernels
