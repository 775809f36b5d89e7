// Forward pass: per layer and direction, one GEMM projects the inputs of all steps; the time
// loop then does only the recurrent GEMM and the fused gate kernel per step, on the live prefix
// of the packed batch.
#include <cstring>

#include "cache_layout.h"
#include "dropout.h"
#include "gru_impl.h"
#include "parallel_kernels.h"
#include "sequence_layout.h"

namespace fastgru {
namespace {

template <class T>
struct ForwardBuffers {
  T* io[2];  // packed layer inputs/outputs, ping-pong (inference)
  T* gx;     // [rows, 3H] input projections of all steps
  T* gh;     // [batch, 3H] recurrent projections of one step
  T* state;  // [batch, H] hidden state in slot order
  T* rec;    // [batch, 5H] one step's records when no cache is kept
  T* y;      // [rows, dirs*H] last layer's packed output (variable-length batches)

  ForwardBuffers(const GruConfig& c, int64_t steps, int64_t batch, T* base, size_t* size) {
    Carver<T> w{base};
    const size_t rows = static_cast<size_t>(steps * batch), H = static_cast<size_t>(c.hidden_size);
    const size_t io_width = static_cast<size_t>(max_io_width(c));
    io[0] = w.take(rows * io_width);
    io[1] = w.take(rows * io_width);
    gx = w.take(rows * 3 * H);
    gh = w.take(static_cast<size_t>(batch) * 3 * H);
    state = w.take(static_cast<size_t>(batch) * H);
    rec = w.take(static_cast<size_t>(batch) * 5 * H);
    y = w.take(rows * static_cast<size_t>(c.directions()) * H);
    if (size) *size = w.used;
  }
};

template <class T>
kernels::GemmArgs<T> gemm_args(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, T* c,
                               int64_t ldc, const T* bias) {
  return kernels::GemmArgs<T>{m, n, k, a, lda, 1, b, 0, c, ldc, bias, false};
}

}  // namespace

template <class T>
size_t Gru<T>::forward_workspace_size(const SequenceBatch& b) const {
  size_t n = 0;
  ForwardBuffers<T>(impl_->cfg, b.steps, b.batch, nullptr, &n);
  return n;
}

template <class T>
void Gru<T>::forward(const SequenceBatch& batch, const T* x, const T* h0, T* y, T* h_n, T* cache,
                     double dropout, uint64_t seed, T* workspace) const {
  const GruConfig& c = impl_->cfg;
  const kernels::KernelTable& table = dispatch::active_table();
  const kernels::TypedKernels<T>& K = table.get<T>();
  const PackedWeights<T>& packed = impl_->packed_for(table);
  const SequenceLayout lay = SequenceLayout::make(batch);
  const CacheLayout cl{c, batch.steps * batch.batch};
  ForwardBuffers<T> buf(c, batch.steps, batch.batch, workspace, nullptr);
  const int64_t H = c.hidden_size, dirs = c.directions(), out_width = dirs * H;

  // Layer 0 input, packed (the caller's array itself when the batch is full).
  const T* in = x;
  if (cache) {
    T* dst = cache + cl.input_offset(0);
    if (lay.identity)
      std::memcpy(dst, x, sizeof(T) * lay.rows * c.input_size);
    else
      lay.pack(x, c.input_size, dst);
    in = dst;
  } else if (!lay.identity) {
    lay.pack(x, c.input_size, buf.io[0]);
    in = buf.io[0];
  }

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const int64_t din = c.layer_input_size(l);
    const bool last = l == c.num_layers - 1;
    T* out = last ? (lay.identity ? y : buf.y) : (cache ? cache + cl.input_offset(l + 1) : buf.io[(l + 1) % 2]);
    for (int64_t d = 0; d < dirs; ++d) {
      const size_t i = static_cast<size_t>(l * dirs + d);
      const PackedLayer<T>& P = packed.layers[i];
      const T* b_hh = impl_->bias_hh[i].data();
      parallel_gemm(K.gemm_packed, gemm_args(lay.rows, 3 * H, din, in, din, P.ih.data(), buf.gx, 3 * H,
                                             impl_->bias_ih[i].data()), true, K.nr);
      lay.to_slots(h0 ? h0 + i * batch.batch * H : nullptr, H, buf.state);
      T* records = cache ? cache + cl.records_offset(l, d) : nullptr;
      for (int64_t s = 0; s < batch.steps; ++s) {
        const int64_t t = d == 0 ? s : batch.steps - 1 - s;
        const int64_t rows = lay.batch_sizes[t], base = lay.offsets[t];
        kernels::GateArgs<T> g{rows, H, 0, H, buf.gx + base * 3 * H, 3 * H, buf.gh, 3 * H,
                               records ? records + base * 5 * H : buf.rec, buf.state,
                               out + base * out_width + d * H, out_width};
        if (c.reset_after) {
          parallel_gemm(K.gemm_packed, gemm_args(rows, 3 * H, H, buf.state, H, P.hh.data(), buf.gh, 3 * H, b_hh),
                        true, K.nr);
          parallel_gates(K.gates_forward_after, g);
        } else {
          g.ld_gh = 2 * H;
          parallel_gemm(K.gemm_packed, gemm_args(rows, 2 * H, H, buf.state, H, P.hh.data(), buf.gh, 2 * H, b_hh),
                        true, K.nr);
          parallel_gates(K.gates_forward_before_rz, g);
          // n's recurrent term: W_hn (r ⊙ h) + b_hn, from the aux column of the records.
          parallel_gemm(K.gemm_packed, gemm_args(rows, H, H, g.rec + 3 * H, 5 * H, P.hh_n.data(), buf.gh, H,
                                                 b_hh + 2 * H), true, K.nr);
          g.ld_gh = H;
          parallel_gates(K.gates_forward_before_n, g);
        }
      }
      lay.from_slots(buf.state, H, h_n + i * batch.batch * H);
    }
    if (!last && dropout > 0) {
      for (int64_t t = 0; t < batch.steps; ++t)
        for (int64_t j = 0; j < lay.batch_sizes[t]; ++j) {
          T* row = out + (lay.offsets[t] + j) * out_width;
          for (int64_t f = 0; f < out_width; ++f)
            row[f] *= dropout_scale<T>(seed, l + 1, t, lay.order[j], f, dropout);
        }
    }
    in = out;
  }
  if (!lay.identity) lay.unpack(buf.y, out_width, y);
}

template size_t Gru<float>::forward_workspace_size(const SequenceBatch&) const;
template size_t Gru<double>::forward_workspace_size(const SequenceBatch&) const;
template void Gru<float>::forward(const SequenceBatch&, const float*, const float*, float*, float*, float*,
                                  double, uint64_t, float*) const;
template void Gru<double>::forward(const SequenceBatch&, const double*, const double*, double*, double*,
                                   double*, double, uint64_t, double*) const;

}  // namespace fastgru
