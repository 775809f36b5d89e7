// One time step for streaming use. The same kernels and arithmetic as the forward pass at
// steps = 1 (so results are bit-identical to it), minus everything a sequence needs: no packing
// of lengths, no cache, no allocation, no lock once the weights are packed.
#include <cstring>
#include <stdexcept>
#include <string>

#include "gru_impl.h"
#include "parallel_kernels.h"

namespace fastgru {

template <class T>
size_t Gru<T>::step_workspace_size(int64_t batch) const {
  const int64_t H = impl_->cfg.hidden_size;
  return static_cast<size_t>(batch * (3 * H + 3 * H + 5 * H));  // gx, gh, records
}

template <class T>
void Gru<T>::step(int64_t batch, const T* x, const T* h, T* h_out, T* workspace) const {
  const GruConfig& c = impl_->cfg;
  if (c.bidirectional) throw std::invalid_argument("step() needs a unidirectional GRU");
  if (batch < 1) throw std::invalid_argument("batch size must be >= 1, got " + std::to_string(batch));
  const kernels::KernelTable& table = dispatch::active_table();
  const kernels::TypedKernels<T>& K = table.get<T>();
  const PackedWeights<T>& packed = impl_->packed_for(table);
  const int64_t H = c.hidden_size;
  T* gx = workspace;
  T* gh = gx + batch * 3 * H;
  T* rec = gh + batch * 3 * H;
  const T* in = x;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const size_t i = static_cast<size_t>(l);
    const PackedLayer<T>& P = packed.layers[i];
    const T* b_hh = impl_->bias_hh[i].data();
    T* state = h_out + l * batch * H;
    std::memcpy(state, h + l * batch * H, sizeof(T) * batch * H);
    const int64_t din = c.layer_input_size(l);
    parallel_gemm(K.gemm_packed, {batch, 3 * H, din, in, din, 1, P.ih.data(), 0, gx, 3 * H, impl_->bias_ih[i].data(), false},
                  true, K.nr);
    kernels::GateArgs<T> g{batch, H, 0, H, gx, 3 * H, gh, 3 * H, rec, state, nullptr, 0};
    if (c.reset_after) {
      parallel_gemm(K.gemm_packed, {batch, 3 * H, H, state, H, 1, P.hh.data(), 0, gh, 3 * H, b_hh, false}, true, K.nr);
      parallel_gates(K.gates_forward_after, g);
    } else {
      g.ld_gh = 2 * H;
      parallel_gemm(K.gemm_packed, {batch, 2 * H, H, state, H, 1, P.hh.data(), 0, gh, 2 * H, b_hh, false}, true, K.nr);
      parallel_gates(K.gates_forward_before_rz, g);
      parallel_gemm(K.gemm_packed, {batch, H, H, rec + 3 * H, 5 * H, 1, P.hh_n.data(), 0, gh, H, b_hh + 2 * H, false},
                    true, K.nr);
      g.ld_gh = H;
      parallel_gates(K.gates_forward_before_n, g);
    }
    in = state;
  }
}

template size_t Gru<float>::step_workspace_size(int64_t) const;
template size_t Gru<double>::step_workspace_size(int64_t) const;
template void Gru<float>::step(int64_t, const float*, const float*, float*, float*) const;
template void Gru<double>::step(int64_t, const double*, const double*, double*, double*) const;

}  // namespace fastgru
