// One time step of one layer/direction: recurrent products and gates, split across threads by
// gate columns. Thread p always takes the same column slice of all three gates, computes its
// slice of every product and then its gates, so it never waits for another thread (reset-after)
// and keeps reading the same weight rows, which stay in its core's cache from step to step.
#pragma once

#include <cstdint>

#include "gru_impl.h"
#include "kernels/kernel_table.h"

namespace fastgru {

template <class T>
struct StepArgs {
  int64_t rows;       // live sequences this step
  const T* x;         // [rows, din] inputs when the input projection is done here, else nullptr
  int64_t din;
  const T* bias_ih;   // (3H) with x
  T* gx;              // [rows, 3H] input projections: read, or written when x is given
  T* gh;              // [rows, 3H] scratch for the recurrent projections
  const T* h_prev;    // [rows, H]
  T* h_next;          // [rows, H]; must not overlap h_prev
  T* rec;             // [rows, cfg.record_width()] records (may be null: reset-after, no cache)
  T* y;               // [rows, *] layer output (ld ld_y), or nullptr
  int64_t ld_y;
  // With x and batch norm: running-statistics batch norm of the z, n projections (2H each).
  const T* bn_weight = nullptr;
  const T* bn_bias = nullptr;
  const T* bn_mean = nullptr;
  const T* bn_var = nullptr;
  // State-form recurrent dropout: [rows, 3H] rows [m_r ⊙ h | m_z ⊙ h | m_n ⊙ h], the inputs of the
  // gates' recurrent products (the mix still takes h_prev); null: every product takes h_prev.
  const T* h_masked = nullptr;
  // The caller already runs one of several threads, each on its own rows: split nothing here.
  bool single_thread = false;
};

template <class T>
void recurrent_step(const kernels::TypedKernels<T>& K, const PackedLayer<T>& P, const T* bias_hh,
                    const GruConfig& cfg, const StepArgs<T>& s);

// The input projection of `rows` rows for all three gates (no threading inside; the caller
// splits rows or columns): gx[:, g*H + c0 : g*H + c1] = x · W_g^T + b_g.
template <class T>
void project_inputs(const kernels::TypedKernels<T>& K, const PackedLayer<T>& P, const T* bias_ih, int64_t H,
                    int64_t rows, const T* x, int64_t din, T* gx, int64_t c0, int64_t c1);

}  // namespace fastgru
