#include "recurrent_step.h"

#include "batch_norm.h"
#include "layer_norm.h"

#include <algorithm>

#include "fastgru/runtime.h"
#include "threading/thread_pool.h"

namespace fastgru {
namespace {

// Gates [g0, g0 + gates) of C = A · W^T + b for gate columns [c0, c1) (C row stride ldc, gate g
// at column g*H), in one call: A is packed once for all the gates.
template <class T>
void gate_gemm(const kernels::TypedKernels<T>& K, const PackedGates<T>& W, int64_t k, int64_t H, int g0, int gates,
               int64_t rows, const T* a, int64_t lda, const T* bias, T* c, int64_t ldc, int64_t c0, int64_t c1) {
  if constexpr (sizeof(T) == 4) {
    if (!W.bf16.empty()) {
      K.gemm_gates_bf16({rows, gates, k, c0, c1, a, lda, W.bf16.data() + g0 * W.stride, W.stride, bias + g0 * H,
                         c + g0 * H, ldc, H});
      return;
    }
    if (!W.int8.empty()) {
      K.gemm_gates_int8({rows, gates, k, c0, c1, a, lda, W.int8.data() + g0 * W.stride, W.stride,
                         W.int8_scale.data() + g0 * H, W.int8_sum.data() + g0 * H, bias + g0 * H, c + g0 * H, ldc, H});
      return;
    }
  }
  K.gemm_gates({rows, gates, k, c0, c1, a, lda, W.gate(g0), W.stride, bias + g0 * H, c + g0 * H, ldc, H});
}

// Fork only when each thread gets enough multiply-adds to pay for the hand-off.
int64_t column_parts(int64_t rows, int64_t H, int64_t k, int nr) {
  const int64_t threads = num_threads();
  if (threads == 1 || rows * 3 * H * k < (int64_t{1} << 16)) return 1;
  return std::min<int64_t>(threads, (H + nr - 1) / nr);
}

}  // namespace

template <class T>
void project_inputs(const kernels::TypedKernels<T>& K, const PackedLayer<T>& P, const T* bias_ih, int64_t H,
                    int64_t rows, const T* x, int64_t din, T* gx, int64_t c0, int64_t c1) {
  gate_gemm(K, P.ih, din, H, 0, 3, rows, x, din, bias_ih, gx, 3 * H, c0, c1);
}

template <class T>
void recurrent_step(const kernels::TypedKernels<T>& K, const PackedLayer<T>& P, const T* bias_hh,
                    const GruConfig& cfg, const StepArgs<T>& s) {
  const int64_t H = cfg.hidden_size, rec_ld = cfg.record_width();
  if (s.x && s.rows == 1 && H <= K.nr && cfg.reset_after && cfg.standard_math() && !s.bn_weight && !s.rec &&
      !s.y && !cfg.recurrent_layer_norm && cfg.weight_format == WeightFormat::f32 && !s.h_masked) {
    K.small_step({H, s.din, K.nr, s.x, s.h_prev, P.ih.gate(0), P.ih.stride, P.hh.gate(0), P.hh.stride, s.bias_ih,
                  bias_hh, s.h_next});
    return;
  }
  const int64_t parts = s.single_thread ? 1 : column_parts(s.rows, H, H + (s.x ? s.din : 0), K.nr);
  kernels::GateArgs<T> gate{s.rows, H,      0,    H,      s.gx,   3 * H,
                            s.gh,   3 * H,  s.rec, s.h_prev, s.h_next, s.y,
                            s.ld_y, rec_ld, cfg.standard_math() ? nullptr : &cfg.math};
  // Runs stage(columns, gate args for them) on every column slice. One part runs inline: no
  // std::function, no hand-off (batch-1 steps of small layers).
  auto run = [&](auto&& stage) {
    auto body = [&](int64_t part) {
      const threading::Range r = threading::chunk(H, parts, part, K.nr);
      if (r.begin >= r.end) return;
      kernels::GateArgs<T> mine = gate;
      mine.col_begin = r.begin;
      mine.col_end = r.end;
      stage(r, mine);
    };
    if (parts == 1)
      body(0);
    else
      threading::parallel_for(parts, body);
  };
  // The input projection of a streaming step, for this thread's columns (then, for a batch-norm
  // model, its running-statistics batch norm on the z and n blocks).
  auto project = [&](threading::Range r) {
    if (!s.x) return;
    project_inputs(K, P, s.bias_ih, H, s.rows, s.x, s.din, s.gx, r.begin, r.end);
    if (!s.bn_weight) return;
    for (int64_t i = 0; i < s.rows; ++i)
      for (int64_t g = 1; g < 3; ++g)
        for (int64_t j = r.begin; j < r.end; ++j) {
          const int64_t k = (g - 1) * H + j;
          T& v = s.gx[i * 3 * H + g * H + j];
          v = batch_norm_running(v, s.bn_mean[k], s.bn_var[k], s.bn_weight[k], s.bn_bias[k], cfg.batch_norm_eps);
        }
  };
  // The recurrent products of gates [g0, g0 + gates) for columns r: one GEMM on h_prev, or one per
  // gate on its masked h.
  auto products = [&](threading::Range r, int g0, int gates) {
    if (!s.h_masked) {
      gate_gemm(K, P.hh, H, H, g0, gates, s.rows, s.h_prev, H, bias_hh, s.gh, 3 * H, r.begin, r.end);
      return;
    }
    for (int g = g0; g < g0 + gates; ++g)
      gate_gemm(K, P.hh, H, H, g, 1, s.rows, s.h_masked + g * H, 3 * H, bias_hh, s.gh, 3 * H, r.begin, r.end);
  };
  if (cfg.recurrent_layer_norm) {  // SLiGRU: every column of U h before its row's statistics
    run([&](threading::Range r, kernels::GateArgs<T>&) {
      project(r);
      products(r, 0, 3);
    });
    recurrent_layer_norm_forward(s.rows, H, s.gh, 3 * H, bias_hh, cfg.layer_norm_eps,
                                 s.rec ? s.rec + cfg.recurrent_norm_offset() : nullptr, rec_ld);
    run([&](threading::Range, kernels::GateArgs<T>& mine) { K.gates_forward_after(mine); });
    return;
  }
  if (cfg.reset_after) {
    run([&](threading::Range r, kernels::GateArgs<T>& mine) {
      project(r);
      products(r, 0, 3);
      if (cfg.cell == CellKind::libru)
        K.gates_forward_libru(mine);
      else
        K.gates_forward_after(mine);
    });
    return;
  }
  // reset-before: W_hn multiplies r ⊙ h, which needs every column of r first.
  run([&](threading::Range r, kernels::GateArgs<T>& mine) {
    project(r);
    products(r, 0, 2);
    K.gates_forward_before_rz(mine);
    if (s.h_masked)  // the n product takes r ⊙ (m_n ⊙ h): the aux column the kernel wrote as r ⊙ h
      for (int64_t i = 0; i < s.rows; ++i)
        for (int64_t j = r.begin; j < r.end; ++j)
          s.rec[i * rec_ld + 3 * H + j] = s.rec[i * rec_ld + j] * s.h_masked[i * 3 * H + 2 * H + j];
  });
  run([&](threading::Range r, kernels::GateArgs<T>& mine) {
    gate_gemm(K, P.hh, H, H, 2, 1, s.rows, s.rec + 3 * H, rec_ld, bias_hh, s.gh, 3 * H, r.begin, r.end);
    mine.gh = s.gh + 2 * H;
    K.gates_forward_before_n(mine);
  });
}

#define FASTGRU_INSTANTIATE(T)                                                                              \
  template void recurrent_step<T>(const kernels::TypedKernels<T>&, const PackedLayer<T>&, const T*, const GruConfig&, \
                                  const StepArgs<T>&);                                                \
  template void project_inputs<T>(const kernels::TypedKernels<T>&, const PackedLayer<T>&, const T*, int64_t,  \
                                  int64_t, const T*, int64_t, T*, int64_t, int64_t);
FASTGRU_INSTANTIATE(float)
FASTGRU_INSTANTIATE(double)
#undef FASTGRU_INSTANTIATE

}  // namespace fastgru
