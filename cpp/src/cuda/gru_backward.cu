// Backward pass through time on the device, mirroring gru_backward.cpp: the loop runs only the
// recurrent chain per step (one fused gate-gradient kernel, which also adds the step's output
// gradient, and dh_prev += dG · W_hh); the gradients of W_ih, W_hh, the biases and the layer
// input are GEMMs / column sums over all steps after the loop.
#include "cache_layout.h"
#include "cuda/cuda_impl.h"

namespace fastgru::cuda {
namespace {

template <class T>
struct BackwardBuffers {
  T* grad_io[2];  // packed gradients of layer outputs / inputs, ping-pong
  T* dgx;         // [rows, 3H] gradients of the input pre-activations, all steps
  T* dgh;         // [rows, 3H] gradients of the recurrent pre-activations, all steps
  T* dstate;      // [batch, H] dL/dh in slot order
  T* drh;         // [batch, H] dL/d(r ⊙ h_prev) (reset-before)
  int64_t* idx;
  double* bn;     // [2, 2H] batch norm column sums
  size_t bytes;

  BackwardBuffers(const GruConfig& c, int64_t steps, int64_t batch, void* base) {
    DeviceCarver w{static_cast<char*>(base)};
    const size_t rows = static_cast<size_t>(steps * batch), H = static_cast<size_t>(c.hidden_size);
    const size_t io_width = static_cast<size_t>(max_io_width(c));
    grad_io[0] = w.take<T>(rows * io_width);
    grad_io[1] = w.take<T>(rows * io_width);
    dgx = w.take<T>(rows * 3 * H);
    dgh = w.take<T>(rows * 3 * H);
    dstate = w.take<T>(static_cast<size_t>(batch) * H);
    drh = w.take<T>(static_cast<size_t>(batch) * H);
    idx = w.take<int64_t>(layout_index_count(steps, batch));
    bn = w.take<double>(4 * H);
    bytes = w.used;
  }
};

// C (=|+=) A · B, all row-major.
template <class T>
ops::Gemm<T> nn(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
                bool accumulate) {
  return ops::Gemm<T>{m, n, k, a, lda, false, b, ldb, false, c, ldc, nullptr, accumulate};
}

// C = Aᵀ · B with A stored [k, m] row-major: weight gradients over all rows.
template <class T>
ops::Gemm<T> tn(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                int64_t ldc) {
  return ops::Gemm<T>{m, n, k, a, lda, true, b, ldb, false, c, ldc, nullptr, false};
}

}  // namespace

template <class T>
size_t CudaGru<T>::backward_workspace_size(const SequenceBatch& b) const {
  return DeviceCarver{nullptr, BackwardBuffers<T>(impl_->cfg, b.steps, b.batch, nullptr).bytes}.elements<T>();
}

template <class T>
void CudaGru<T>::backward(const SequenceBatch& batch, const T* cache, const T* dy, const T* dh_n, T* dx, T* dh0,
                          const LayerGrads<T>* grads, const TrainingMode& mode, T* workspace, Stream stream) const {
  const Impl& m = *impl_;
  const GruConfig& c = m.cfg;
  DeviceGuard guard(m.dev.device);
  cudaStream_t s = stream;
  const SequenceLayout lay = SequenceLayout::make(batch);
  const CacheLayout cl{c, batch.steps * batch.batch};
  BackwardBuffers<T> buf(c, batch.steps, batch.batch, workspace);
  const LayoutIndices ix = upload_layout(lay, buf.idx, s);
  const int64_t B = batch.batch, H = c.hidden_size, dirs = c.directions(), out_width = dirs * H, N = lay.rows;
  const int64_t rw = c.record_width();

  // Gradient of the last layer's packed output.
  T* dout = buf.grad_io[0];
  if (!dy)
    FASTGRU_CUDA_CHECK(cudaMemsetAsync(dout, 0, sizeof(T) * N * out_width, s));
  else if (lay.identity)
    FASTGRU_CUDA_CHECK(cudaMemcpyAsync(dout, dy, sizeof(T) * N * out_width, cudaMemcpyDeviceToDevice, s));
  else
    ops::gather_rows(dy, ix.row_src, N, out_width, dout, s);

  for (int64_t l = c.num_layers - 1; l >= 0; --l) {
    const int64_t din = c.layer_input_size(l);
    const T* in = cache + cl.input_offset(l);
    T* din_grad = (l == 0 && lay.identity) ? dx : buf.grad_io[(c.num_layers - l) % 2];
    for (int64_t d = 0; d < dirs; ++d) {
      const size_t i = static_cast<size_t>(l * dirs + d);
      const T* w_hh = m.weight_hh[i].data();
      const T* records = cache + cl.records_offset(l, d);
      ops::to_slots(dh_n ? dh_n + i * B * H : nullptr, ix.order, B, H, buf.dstate, s);
      // Steps in the reverse of the forward order.
      for (int64_t st = 0; st < batch.steps; ++st) {
        const int64_t t = d == 0 ? batch.steps - 1 - st : st;
        const int64_t rows = lay.batch_sizes[t], base = lay.offsets[t];
        T* dgh = buf.dgh + base * 3 * H;
        ops::GateBackward<T> g{rows,           H,        records + base * rw,    rw,  buf.dstate,
                               dout + base * out_width + d * H, out_width, buf.drh, buf.dgx + base * 3 * H,
                               dgh,            m.general(), c.math};
        if (c.reset_after) {
          ops::gates_backward_after(g, s);
          ops::gemm(nn(rows, H, 3 * H, dgh, 3 * H, w_hh, H, buf.dstate, H, true), m.dev, s);
        } else {
          ops::gates_backward_before_n(g, s);
          ops::gemm(nn(rows, H, H, dgh + 2 * H, 3 * H, w_hh + 2 * H * H, H, buf.drh, H, false), m.dev, s);
          ops::gates_backward_before_r(g, s);
          ops::gemm(nn(rows, H, 2 * H, dgh, 3 * H, w_hh, H, buf.dstate, H, true), m.dev, s);
        }
      }
      ops::scatter_rows(buf.dstate, ix.order, B, H, dh0 + i * B * H, 0, s);

      const LayerGrads<T>& G = grads[i];
      if (c.batch_norm) {
        const T* x_hat = cache + cl.batch_norm_offset(l, d);
        ops::batch_norm_backward(N, H, buf.dgx, x_hat, x_hat + cl.max_rows * 2 * H, m.bn_weight[i].data(),
                                 mode.batch_statistics, G.bn_weight, G.bn_bias, buf.bn, s);
      }
      ops::gemm(tn(3 * H, din, N, buf.dgx, 3 * H, in, din, G.weight_ih, din), m.dev, s);
      if (c.reset_after) {
        ops::gemm(tn(3 * H, H, N, buf.dgh, 3 * H, records + 4 * H, rw, G.weight_hh, H), m.dev, s);
      } else {
        // r, z rows multiply h_prev; n rows multiply r ⊙ h_prev (the aux column).
        ops::gemm(tn(2 * H, H, N, buf.dgh, 3 * H, records + 4 * H, rw, G.weight_hh, H), m.dev, s);
        ops::gemm(tn(H, H, N, buf.dgh + 2 * H, 3 * H, records + 3 * H, rw, G.weight_hh + 2 * H * H, H), m.dev, s);
      }
      if (G.bias_ih) ops::column_sums(buf.dgx, N, 3 * H, 3 * H, G.bias_ih, s);
      if (G.bias_hh) ops::column_sums(buf.dgh, N, 3 * H, 3 * H, G.bias_hh, s);
      ops::gemm(nn(N, din, 3 * H, buf.dgx, 3 * H, m.weight_ih[i].data(), din, din_grad, din, d > 0), m.dev, s);
    }
    if (l > 0 && mode.dropout > 0)
      ops::apply_dropout(din_grad, N, din, ix.row_src, B, mode.seed, l, mode.dropout, s);
    dout = din_grad;
  }
  if (!lay.identity) ops::scatter_rows(dout, ix.row_src, N, c.input_size, dx, batch.steps * B, s);
}

#define FASTGRU_INSTANTIATE(T)                                                                                   \
  template size_t CudaGru<T>::backward_workspace_size(const SequenceBatch&) const;                               \
  template void CudaGru<T>::backward(const SequenceBatch&, const T*, const T*, const T*, T*, T*,                  \
                                     const LayerGrads<T>*, const TrainingMode&, T*, Stream) const;
FASTGRU_INSTANTIATE(float)
FASTGRU_INSTANTIATE(double)
#undef FASTGRU_INSTANTIATE

}  // namespace fastgru::cuda
