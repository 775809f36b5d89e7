// Backward pass through time. The loop runs only the recurrent chain per step (gate gradients
// and dh_prev = dG · W_hh); the gradients of W_ih, W_hh, the biases and the layer input are
// GEMMs over many steps' rows: after each chunk of steps, while its gate gradients are still in
// cache (step_chunks.h).
#include <cstring>
#include <stdexcept>

#include "batch_norm.h"
#include "cache_layout.h"
#include "dropout.h"
#include "gru_impl.h"
#include "interrupt.h"
#include "layer_norm.h"
#include "parallel_kernels.h"
#include "recurrent_noise.h"
#include "sequence_layout.h"
#include "step_chunks.h"

namespace fastgru {
namespace {

// Steps per chunk: dgx and dgh (6H values per row) stay in cache between the steps that write
// them and the GEMMs that read them. Batch norm's backward needs every row of dgx at once.
template <class T>
int64_t gradient_chunk_steps(const GruConfig& c, int64_t steps, int64_t batch) {
  return chunk_steps(steps, batch, 6 * c.hidden_size * static_cast<int64_t>(sizeof(T)), c.batch_norm);
}

template <class T>
struct BackwardBuffers {
  T* grad_io[2];  // packed gradients of layer outputs / inputs, ping-pong
  T* dgx;         // [chunk rows, 3H] gradients of the input pre-activations of one chunk of steps
  T* dgh;         // [chunk rows, 3H] gradients of the recurrent pre-activations, likewise
  T* dstate;      // [batch, H] dL/dh in slot order
  T* drh;         // [batch, H] dL/d(r ⊙ h_prev) (reset-before)
  T* w_hh_panels;  // W_hh [3H, H] as packed panels for dh_prev = dG · W_hh (see hh_panels)
  // Recurrent dropout and zoneout (RecurrentNoise): masks [batch, 3H]; per slot [batch, H] the
  // gradient zoneout passes to h_prev, a copy of dL/dĥ and one gate's dh_prev product; a chunk's
  // masked states [chunk rows, H] for a gate's dW_hh.
  T* masks;
  T* kept;
  T* dh_hat;
  T* gate_dh;
  T* h_masked;

  BackwardBuffers(const GruConfig& c, int64_t steps, int64_t batch, T* base, size_t* size) {
    Carver<T> w{base};
    const size_t rows = static_cast<size_t>(steps * batch), H = static_cast<size_t>(c.hidden_size);
    const size_t io_width = static_cast<size_t>(max_io_width(c));
    grad_io[0] = w.take(rows * io_width);
    grad_io[1] = w.take(rows * io_width);
    const size_t chunk_rows = static_cast<size_t>(gradient_chunk_steps<T>(c, steps, batch) * batch);
    dgx = w.take(chunk_rows * 3 * H);
    dgh = w.take(chunk_rows * 3 * H);
    dstate = w.take(static_cast<size_t>(batch) * H);
    drh = w.take(static_cast<size_t>(batch) * H);
    w_hh_panels = w.take(static_cast<size_t>(kernels::packed_weight_size(c.hidden_size, 3 * c.hidden_size,
                                                                          kernels::kMaxPanelWidth)));
    const bool dropout = c.recurrent_dropout > 0, state = dropout && c.recurrent_dropout_form == RecurrentDropout::state;
    masks = w.take(dropout ? static_cast<size_t>(batch) * 3 * H : 0);
    kept = w.take(c.zoneout > 0 ? static_cast<size_t>(batch) * H : 0);
    dh_hat = w.take(dropout && !state ? static_cast<size_t>(batch) * H : 0);
    gate_dh = w.take(state ? static_cast<size_t>(batch) * H : 0);
    h_masked = w.take(state ? chunk_rows * H : 0);
    if (size) *size = w.used;
  }
};

// C (=|+=) A · B with A, B, C row-major (B row stride ldb).
template <class T>
kernels::GemmArgs<T> nn(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                        int64_t ldc, bool accumulate) {
  return kernels::GemmArgs<T>{m, n, k, a, lda, 1, b, ldb, c, ldc, nullptr, accumulate};
}

// C (=|+=) Aᵀ · B, A stored [k, m] row-major (lda), B [k, n] (ldb): weight gradients, summed
// over rows.
template <class T>
kernels::GemmArgs<T> tn(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                        int64_t ldc, bool accumulate) {
  return kernels::GemmArgs<T>{m, n, k, a, 1, lda, b, ldb, c, ldc, nullptr, accumulate};
}

// Packs W_hh's gate rows [g0, g1) (the k of dh_prev += dG[:, g0*H : g1*H] · W_hh[g0*H : g1*H])
// into panels, once per backward call: read in place, its rows lie H apart and every step
// would stream the whole matrix through a few cache sets (and, for large H, a page per row).
// Returns the panels, placed after those of earlier gate rows.
template <class T>
const T* hh_panels(const kernels::TypedKernels<T>& K, const T* w_hh, int64_t H, int64_t g0, int64_t g1, T* out) {
  T* dst = out + kernels::packed_weight_size(H, g0 * H, K.nr);
  K.pack_rows(w_hh + g0 * H * H, H, (g1 - g0) * H, H, dst);
  return dst;
}

// out (=|+=) the column sums of a [rows, cols].
template <class T>
void column_sums(const T* a, int64_t rows, int64_t cols, int64_t lda, T* out, bool accumulate) {
  if (!accumulate) std::memset(out, 0, sizeof(T) * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) out[j] += a[r * lda + j];
}

}  // namespace

template <class T>
size_t Gru<T>::backward_workspace_size(const SequenceBatch& b) const {
  size_t n = 0;
  BackwardBuffers<T>(impl_->cfg, b.steps, b.batch, nullptr, &n);
  return n;
}

template <class T>
void Gru<T>::backward(const SequenceBatch& batch, const T* cache, const T* dy, const T* dh_n, T* dx, T* dh0,
                      const LayerGrads<T>* grads, const TrainingMode& mode, T* workspace) const {
  const GruConfig& c = impl_->cfg;
  if (c.weight_format != WeightFormat::f32)
    throw std::invalid_argument("backward: a model with bf16 or int8 weights is for inference only");
  const kernels::TypedKernels<T>& K = dispatch::active_table().get<T>();
  const SequenceLayout lay = SequenceLayout::make(batch);
  const CacheLayout cl{c, batch.steps * batch.batch};
  BackwardBuffers<T> buf(c, batch.steps, batch.batch, workspace, nullptr);
  const int64_t H = c.hidden_size, dirs = c.directions(), out_width = dirs * H, N = lay.rows;
  CallInterrupt interrupt;
  unsigned ticks = 0;  // the calling thread's interrupt polls
  const int64_t rw = c.record_width();
  const CellMath* math = c.standard_math() ? nullptr : &c.math;
  if (kernels::kMaxPanelWidth % K.nr != 0)
    throw std::logic_error("backward: the panel width does not divide kMaxPanelWidth");

  // Gradient of the last layer's packed output.
  T* dout = buf.grad_io[0];
  if (!dy)
    std::memset(dout, 0, sizeof(T) * N * out_width);
  else if (lay.identity)
    std::memcpy(dout, dy, sizeof(T) * N * out_width);
  else
    lay.pack(dy, out_width, dout);

  for (int64_t l = c.num_layers - 1; l >= 0; --l) {
    const int64_t din = c.layer_input_size(l);
    const T* in = cache + cl.input_offset(l);
    T* din_grad = (l == 0 && lay.identity) ? dx : buf.grad_io[(c.num_layers - l) % 2];
    for (int64_t d = 0; d < dirs; ++d) {
      const size_t i = static_cast<size_t>(l * dirs + d);
      const T* w_hh = impl_->weight_hh[i].data();
      const RecurrentNoise<T> noise(c, lay, mode, static_cast<int64_t>(i), buf.masks);
      // W_hh's panels: every gate at once, r and z then n (reset-before), or (state-form
      // recurrent dropout: each gate's product takes its own masked state) one gate at a time.
      const bool per_gate = noise.state_form();
      const T* hh_all = c.reset_after && !per_gate ? hh_panels(K, w_hh, H, 0, 3, buf.w_hh_panels) : nullptr;
      const T* hh_rz = c.reset_after || per_gate ? nullptr : hh_panels(K, w_hh, H, 0, 2, buf.w_hh_panels);
      const T* hh_n = c.reset_after ? nullptr : hh_panels(K, w_hh, H, 2, 3, buf.w_hh_panels);
      const T* hh_gate[3] = {};
      if (per_gate)
        for (int g = 0; g < (c.reset_after ? 3 : 2); ++g) hh_gate[g] = hh_panels(K, w_hh, H, g, g + 1, buf.w_hh_panels);
      const T* records = cache + cl.records_offset(l, d);
      lay.to_slots(dh_n ? dh_n + i * batch.batch * H : nullptr, H, buf.dstate);
      const LayerGrads<T>& G = grads[i];
      const int64_t chunk = gradient_chunk_steps<T>(c, batch.steps, batch.batch);
      const int64_t row_parts = sequence_parts(batch.batch);
      for (int64_t s0 = 0; s0 < batch.steps; s0 += chunk) {
        const int64_t s_end = std::min(batch.steps, s0 + chunk);
        const StepChunk ch(lay, s0, s_end, d == 0);  // steps run in the reverse of the forward order
        // Step s for the sequences in slots [r0, r1); its gate gradients go to buf.dgx/dgh at
        // its packed rows less the chunk's first.
        auto step_slots = [&](int64_t s, int64_t r0, int64_t r1, bool single_thread) {
          const int64_t t = d == 0 ? batch.steps - 1 - s : s;
          const int64_t live_end = std::min(r1, lay.batch_sizes[t]), base = lay.offsets[t] + r0;
          const int64_t rows = live_end - r0;
          if (rows <= 0) return;
          for (int64_t j = 0; j < rows; ++j) {
            const T* g = dout + (base + j) * out_width + d * H;
            T* ds = buf.dstate + (r0 + j) * H;
            for (int64_t f = 0; f < H; ++f) ds[f] += g[f];
          }
          T* dgx = buf.dgx + (base - ch.row_lo) * 3 * H;
          T* dgh = buf.dgh + (base - ch.row_lo) * 3 * H;
          T* dstate = buf.dstate + r0 * H;
          T* drh = buf.drh + r0 * H;
          const T* rec = records + base * rw;
          kernels::GateGradArgs<T> g{rows, H, 0, H, rec, dstate, drh, dgx, dgh, rw, math};
          auto gates = [&](void (*kernel)(const kernels::GateGradArgs<T>&)) {
            single_thread ? kernel(g) : parallel_gates(kernel, g);
          };
          auto gemm = [&](const kernels::GemmArgs<T>& a) {
            single_thread ? K.gemm_packed(a) : parallel_gemm(K.gemm_packed, a, true, K.nr);
          };
          // dh_prev += the gates [g0, g1) part of dG · W_hh (through each gate's mask, per_gate).
          auto recurrent_grad = [&](int g0, int g1, const T* panels) {
            if (!per_gate) return gemm(nn(rows, H, (g1 - g0) * H, dgh + g0 * H, 3 * H, panels, 0, dstate, H, true));
            for (int gate = g0; gate < g1; ++gate) {
              T* part = buf.gate_dh + r0 * H;
              gemm(nn(rows, H, H, dgh + gate * H, 3 * H, hh_gate[gate], 0, part, H, false));
              noise.add_masked(r0, live_end, gate, part, dstate);
            }
          };
          const bool split = noise.zoneout() || noise.candidate_form();
          if (split) noise.split_gradient(t, r0, live_end, dstate, buf.kept + r0 * H, buf.dh_hat + r0 * H);
          if (c.reset_after) {
            gates(c.cell == CellKind::libru ? K.gates_backward_libru : K.gates_backward_after);
            if (noise.candidate_form()) noise.correct_gate_grads(r0, live_end, rec, buf.dh_hat + r0 * H, dgx, dgh);
            if (c.recurrent_layer_norm)
              recurrent_layer_norm_backward(rows, H, dgh, 3 * H, rec + c.recurrent_norm_offset(), rw);
            recurrent_grad(0, 3, hh_all);
          } else {
            gates(K.gates_backward_before_n);
            if (noise.candidate_form()) noise.correct_gate_grads(r0, live_end, rec, buf.dh_hat + r0 * H, dgx, dgh);
            gemm(nn(rows, H, H, dgh + 2 * H, 3 * H, hh_n, 0, drh, H, false));
            if (per_gate) noise.scale(r0, live_end, 2, drh);  // d(m_n ⊙ h) from d(r ⊙ m_n ⊙ h)
            gates(K.gates_backward_before_r);
            recurrent_grad(0, 2, hh_rz);
          }
          if (noise.zoneout())
            for (int64_t e = 0; e < rows * H; ++e) dstate[e] += buf.kept[r0 * H + e];
        };
        if (row_parts == 1) {
          for (int64_t s = s0; s < s_end; ++s) {
            interrupt.poll(ticks);
            step_slots(s, 0, batch.batch, false);
          }
        } else {
          threading::parallel_for(row_parts, [&](int64_t part) {
            const threading::Range r = threading::chunk(batch.batch, row_parts, part, kSequenceGrain);
            unsigned part_ticks = 0;
            for (int64_t s = s0; s < s_end; ++s) {
              interrupt.poll(part_ticks);
              step_slots(s, r.begin, r.end, true);
            }
          });
        }

        // The chunk's share of the gradients summed over rows, and its rows of the input gradient.
        const int64_t n = ch.rows(), r = ch.row_lo;
        const bool more = s0 > 0;  // add to the earlier chunks' sums
        // SLiGRU: b_hh is added after the recurrent layer norm, so its gradient is the one the gate
        // kernel wrote (dgx holds it in every block until the input normalization's backward).
        if (c.recurrent_layer_norm && G.bias_hh) column_sums(buf.dgx, n, 3 * H, 3 * H, G.bias_hh, more);
        if (c.batch_norm) {        // one chunk: every row
          const T* x_hat = cache + cl.batch_norm_offset(l, d);
          batch_norm_backward(N, H, buf.dgx, x_hat, x_hat + cl.max_rows * 2 * H, impl_->bn_weight[i].data(),
                              mode.batch_statistics, G.bn_weight, G.bn_bias);
        }
        if (c.layer_norm) {
          const T* x_hat = cache + cl.batch_norm_offset(l, d);
          layer_norm_backward(n, H, buf.dgx, x_hat + r * 2 * H, x_hat + cl.max_rows * 2 * H + r,
                              impl_->bn_weight[i].data(), G.bn_weight, G.bn_bias, more);
        }
        const T* rec = records + r * rw;
        parallel_gemm(K.gemm_rowmajor, tn(3 * H, din, n, buf.dgx, 3 * H, in + r * din, din, G.weight_ih, din, more),
                      false, K.nr);
        if (per_gate) {
          // Each gate's rows multiply its own masked h_prev (the n rows of reset-before: the aux
          // column, already r ⊙ m_n ⊙ h).
          for (int gate = 0; gate < (c.reset_after ? 3 : 2); ++gate) {
            for (int64_t t = ch.t_lo; t < ch.t_hi; ++t)
              for (int64_t j = 0; j < lay.batch_sizes[t]; ++j) {
                const int64_t row = lay.offsets[t] + j - r;
                const T* m = noise.mask(j, gate);
                const T* h = rec + row * rw + 4 * H;
                for (int64_t f = 0; f < H; ++f) buf.h_masked[row * H + f] = m[f] * h[f];
              }
            parallel_gemm(K.gemm_rowmajor,
                          tn(H, H, n, buf.dgh + gate * H, 3 * H, buf.h_masked, H, G.weight_hh + gate * H * H, H, more),
                          false, K.nr);
          }
          if (!c.reset_after)
            parallel_gemm(K.gemm_rowmajor,
                          tn(H, H, n, buf.dgh + 2 * H, 3 * H, rec + 3 * H, rw, G.weight_hh + 2 * H * H, H, more),
                          false, K.nr);
        } else if (c.reset_after) {
          parallel_gemm(K.gemm_rowmajor, tn(3 * H, H, n, buf.dgh, 3 * H, rec + 4 * H, rw, G.weight_hh, H, more),
                        false, K.nr);
        } else {
          // r, z rows multiply h_prev; n rows multiply r ⊙ h_prev (the aux column).
          parallel_gemm(K.gemm_rowmajor, tn(2 * H, H, n, buf.dgh, 3 * H, rec + 4 * H, rw, G.weight_hh, H, more),
                        false, K.nr);
          parallel_gemm(K.gemm_rowmajor,
                        tn(H, H, n, buf.dgh + 2 * H, 3 * H, rec + 3 * H, rw, G.weight_hh + 2 * H * H, H, more),
                        false, K.nr);
        }
        if (G.bias_ih) column_sums(buf.dgx, n, 3 * H, 3 * H, G.bias_ih, more);
        if (G.bias_hh && !c.recurrent_layer_norm) column_sums(buf.dgh, n, 3 * H, 3 * H, G.bias_hh, more);
        const T* w_ih = impl_->weight_ih[i].data();
        parallel_gemm(K.gemm_rowmajor, nn(n, din, 3 * H, buf.dgx, 3 * H, w_ih, din, din_grad + r * din, din, d > 0),
                      false, K.nr);
      }
      lay.from_slots(buf.dstate, H, dh0 + i * batch.batch * H);
    }
    if (l > 0 && mode.dropout > 0) {
      for (int64_t t = 0; t < batch.steps; ++t)
        for (int64_t j = 0; j < lay.batch_sizes[t]; ++j) {
          T* row = din_grad + (lay.offsets[t] + j) * din;
          for (int64_t f = 0; f < din; ++f) row[f] *= dropout_scale<T>(mode.seed, l, t, lay.order[j], f, mode.dropout);
        }
    }
    dout = din_grad;
  }
  if (!lay.identity) lay.unpack(dout, c.input_size, dx);
}

template size_t Gru<float>::backward_workspace_size(const SequenceBatch&) const;
template size_t Gru<double>::backward_workspace_size(const SequenceBatch&) const;
template void Gru<float>::backward(const SequenceBatch&, const float*, const float*, const float*, float*, float*,
                                   const LayerGrads<float>*, const TrainingMode&, float*) const;
template void Gru<double>::backward(const SequenceBatch&, const double*, const double*, const double*, double*,
                                    double*, const LayerGrads<double>*, const TrainingMode&, double*) const;

}  // namespace fastgru
