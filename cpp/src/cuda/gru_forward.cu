// Forward pass and streaming step on the device, mirroring gru_forward.cpp / gru_step.cpp: per
// layer and direction, one GEMM projects the inputs of all steps; the time loop is either the
// persistent kernel (one launch, W_hh on chip) or, per step, the recurrent GEMM and one fused
// gate kernel on the live prefix of the packed batch.
#include <stdexcept>
#include <string>

#include "cache_layout.h"
#include "cuda/cuda_impl.h"

namespace fastgru::cuda {
namespace {

template <class T>
struct ForwardBuffers {
  T* io[2];      // packed layer inputs/outputs, ping-pong (inference)
  T* gx;         // [rows, 3H] input projections of all steps
  T* gh;         // [batch, 3H] recurrent projections of one step
  T* state[2];   // [batch, H] hidden state in slot order, ping-pong
  T* rec;        // [batch, record width] one step's records when no cache is kept
  T* y;          // [rows, dirs*H] last layer's packed output (variable-length batches)
  int64_t* idx;  // packing indices (layout_index_count)
  double* bn;    // [2, 2H] batch norm mean and 1/std
  size_t bytes;

  ForwardBuffers(const GruConfig& c, int64_t steps, int64_t batch, void* base) {
    DeviceCarver w{static_cast<char*>(base)};
    const size_t rows = static_cast<size_t>(steps * batch), H = static_cast<size_t>(c.hidden_size);
    const size_t io_width = static_cast<size_t>(max_io_width(c));
    io[0] = w.take<T>(rows * io_width);
    io[1] = w.take<T>(rows * io_width);
    gx = w.take<T>(rows * 3 * H);
    gh = w.take<T>(static_cast<size_t>(batch) * 3 * H);
    state[0] = w.take<T>(static_cast<size_t>(batch) * H);
    state[1] = w.take<T>(static_cast<size_t>(batch) * H);
    rec = w.take<T>(static_cast<size_t>(batch * c.record_width()));
    y = w.take<T>(rows * static_cast<size_t>(c.directions()) * H);
    idx = w.take<int64_t>(layout_index_count(steps, batch));
    bn = w.take<double>(4 * H);
    bytes = w.used;
  }
};

template <class T>
ops::Gemm<T> times_weight_t(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* w, int64_t ldw, T* c,
                            int64_t ldc, const T* bias) {
  // C = A · Wᵀ + bias with W [n, k] row-major (PyTorch's weight layout).
  return ops::Gemm<T>{m, n, k, a, lda, false, w, ldw, true, c, ldc, bias, false};
}

}  // namespace

template <class T>
void CudaGru<T>::Impl::recurrent_step(size_t i, int64_t rows, int64_t batch, const T* gx, T* gh, const T* h_prev,
                                      T* h_next, T* rec, T* y, int64_t ld_y, cudaStream_t s) const {
  const int64_t H = cfg.hidden_size, rw = cfg.record_width();
  const T* w_hh = weight_hh[i].data();
  const T* b_hh = bias_hh[i].data();
  ops::GateForward<T> g{rows, batch, H, gx, gh, rec, rw, h_prev, h_next, y, ld_y, general(), cfg.math};
  if (cfg.reset_after) {
    ops::gemm(times_weight_t(rows, 3 * H, H, h_prev, H, w_hh, H, gh, 3 * H, b_hh), dev, s);
    ops::gates_forward_after(g, s);
    return;
  }
  // reset-before: W_hn multiplies r ⊙ h, which needs every column of r first.
  ops::gemm(times_weight_t(rows, 2 * H, H, h_prev, H, w_hh, H, gh, 3 * H, b_hh), dev, s);
  ops::gates_forward_before_rz(g, s);
  ops::gemm(times_weight_t(rows, H, H, rec + 3 * H, rw, w_hh + 2 * H * H, H, gh + 2 * H, 3 * H, b_hh + 2 * H), dev,
            s);
  g.gh = gh + 2 * H;
  ops::gates_forward_before_n(g, s);
}

template <class T>
size_t CudaGru<T>::forward_workspace_size(const SequenceBatch& b) const {
  return DeviceCarver{nullptr, ForwardBuffers<T>(impl_->cfg, b.steps, b.batch, nullptr).bytes}.elements<T>();
}

template <class T>
void CudaGru<T>::forward(const SequenceBatch& batch, const T* x, const T* h0, T* y, T* h_n, T* cache,
                         const TrainingMode& mode, T* workspace, T* bn_stats, Stream stream) const {
  const Impl& m = *impl_;
  const GruConfig& c = m.cfg;
  DeviceGuard guard(m.dev.device);
  cudaStream_t s = stream;
  const SequenceLayout lay = SequenceLayout::make(batch);
  const CacheLayout cl{c, batch.steps * batch.batch};
  ForwardBuffers<T> buf(c, batch.steps, batch.batch, workspace);
  const LayoutIndices ix = upload_layout(lay, buf.idx, s);
  const int64_t B = batch.batch, H = c.hidden_size, dirs = c.directions(), out_width = dirs * H;
  const int64_t rw = c.record_width();
  const bool persistent = m.persistent(B);

  // Layer 0 input, packed (the caller's array itself when the batch is full and no cache is kept).
  const T* in = x;
  if (cache) {
    T* dst = cache + cl.input_offset(0);
    if (lay.identity)
      FASTGRU_CUDA_CHECK(cudaMemcpyAsync(dst, x, sizeof(T) * lay.rows * c.input_size, cudaMemcpyDeviceToDevice, s));
    else
      ops::gather_rows(x, ix.row_src, lay.rows, c.input_size, dst, s);
    in = dst;
  } else if (!lay.identity) {
    ops::gather_rows(x, ix.row_src, lay.rows, c.input_size, buf.io[0], s);
    in = buf.io[0];
  }

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const int64_t din = c.layer_input_size(l);
    const bool last = l == c.num_layers - 1;
    T* out = last ? (lay.identity ? y : buf.y) : (cache ? cache + cl.input_offset(l + 1) : buf.io[(l + 1) % 2]);
    for (int64_t d = 0; d < dirs; ++d) {
      const size_t i = static_cast<size_t>(l * dirs + d);
      ops::gemm(times_weight_t(lay.rows, 3 * H, din, in, din, m.weight_ih[i].data(), din, buf.gx, 3 * H,
                               m.bias_ih[i].data()),
                m.dev, s);
      if (c.batch_norm) {
        T* x_hat = cache ? cache + cl.batch_norm_offset(l, d) : nullptr;
        ops::batch_norm_forward(lay.rows, H, buf.gx, m.bn_weight[i].data(), m.bn_bias[i].data(), m.bn_mean[i].data(),
                                m.bn_var[i].data(), c.batch_norm_eps, mode.batch_statistics, x_hat,
                                x_hat ? x_hat + cl.max_rows * 2 * H : nullptr,
                                bn_stats && mode.batch_statistics ? bn_stats + i * 4 * H : nullptr, buf.bn, s);
      }
      ops::to_slots(h0 ? h0 + i * B * H : nullptr, ix.order, B, H, buf.state[0], s);
      T* records = cache ? cache + cl.records_offset(l, d) : nullptr;
      const T* final_state;
      if (persistent) {
        ops::Persistent<T> p{H,
                             B,
                             batch.steps,
                             d == 1,
                             ix.batch_sizes,
                             ix.offsets,
                             m.weight_hh[i].data(),
                             m.bias_hh[i].data(),
                             buf.gx,
                             {buf.state[0], buf.state[1]},
                             records,
                             rw,
                             buf.rec,
                             out + d * H,
                             out_width,
                             c.reset_after,
                             m.general(),
                             c.math};
        ops::persistent_forward(p, m.dev, s);
        final_state = buf.state[batch.steps % 2];
      } else {
        int cur = 0;  // buf.state[cur] holds the state before this step
        for (int64_t st = 0; st < batch.steps; ++st) {
          const int64_t t = d == 0 ? st : batch.steps - 1 - st;
          const int64_t rows = lay.batch_sizes[t], base = lay.offsets[t];
          T* rec = records ? records + base * rw : (c.reset_after ? nullptr : buf.rec);
          m.recurrent_step(i, rows, B, buf.gx + base * 3 * H, buf.gh, buf.state[cur], buf.state[1 - cur], rec,
                           out + base * out_width + d * H, out_width, s);
          cur = 1 - cur;
        }
        final_state = buf.state[cur];
      }
      ops::scatter_rows(final_state, ix.order, B, H, h_n + i * B * H, 0, s);
    }
    if (!last && mode.dropout > 0)
      ops::apply_dropout(out, lay.rows, out_width, ix.row_src, B, mode.seed, l + 1, mode.dropout, s);
    in = out;
  }
  if (!lay.identity) ops::scatter_rows(buf.y, ix.row_src, lay.rows, out_width, y, batch.steps * B, s);
}

template <class T>
size_t CudaGru<T>::step_workspace_size(int64_t batch) const {
  const int64_t H = impl_->cfg.hidden_size;
  DeviceCarver w{nullptr};
  w.take<T>(static_cast<size_t>(batch * 3 * H));                    // gx
  w.take<T>(static_cast<size_t>(batch * 3 * H));                    // gh
  w.take<T>(static_cast<size_t>(batch * impl_->cfg.record_width()));  // records (reset-before)
  w.take<double>(static_cast<size_t>(4 * H));                       // batch norm
  return w.elements<T>();
}

template <class T>
void CudaGru<T>::step(int64_t batch, const T* x, const T* h, T* h_out, T* workspace, Stream stream) const {
  const Impl& m = *impl_;
  const GruConfig& c = m.cfg;
  if (c.bidirectional)
    throw std::invalid_argument(
        "step() needs a unidirectional GRU: the reverse direction of a bidirectional one needs the whole sequence");
  if (batch < 1) throw std::invalid_argument("batch size must be >= 1, got " + std::to_string(batch));
  DeviceGuard guard(m.dev.device);
  cudaStream_t s = stream;
  const int64_t H = c.hidden_size;
  DeviceCarver w{reinterpret_cast<char*>(workspace)};
  T* gx = w.take<T>(static_cast<size_t>(batch * 3 * H));
  T* gh = w.take<T>(static_cast<size_t>(batch * 3 * H));
  T* rec = w.take<T>(static_cast<size_t>(batch * c.record_width()));
  double* bn = w.take<double>(static_cast<size_t>(4 * H));
  const T* in = x;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const size_t i = static_cast<size_t>(l);
    const int64_t din = c.layer_input_size(l);
    T* h_next = h_out + l * batch * H;
    ops::gemm(times_weight_t(batch, 3 * H, din, in, din, m.weight_ih[i].data(), din, gx, 3 * H, m.bias_ih[i].data()),
              m.dev, s);
    if (c.batch_norm)  // streaming is inference: the running statistics
      ops::batch_norm_forward<T>(batch, H, gx, m.bn_weight[i].data(), m.bn_bias[i].data(), m.bn_mean[i].data(),
                                 m.bn_var[i].data(), c.batch_norm_eps, false, nullptr, nullptr, nullptr, bn, s);
    m.recurrent_step(i, batch, batch, gx, gh, h + l * batch * H, h_next, c.reset_after ? nullptr : rec, nullptr, 0, s);
    in = h_next;
  }
}

#define FASTGRU_INSTANTIATE(T)                                                                                   \
  template size_t CudaGru<T>::forward_workspace_size(const SequenceBatch&) const;                                \
  template void CudaGru<T>::forward(const SequenceBatch&, const T*, const T*, T*, T*, T*, const TrainingMode&, T*, \
                                    T*, Stream) const;                                                           \
  template size_t CudaGru<T>::step_workspace_size(int64_t) const;                                                \
  template void CudaGru<T>::step(int64_t, const T*, const T*, T*, T*, Stream) const;
FASTGRU_INSTANTIATE(float)
FASTGRU_INSTANTIATE(double)
#undef FASTGRU_INSTANTIATE

}  // namespace fastgru::cuda
