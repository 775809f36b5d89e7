// One time step for streaming use. The same kernels and arithmetic as the forward pass at
// steps = 1 (so results are bit-identical to it), minus everything a sequence needs: no packing
// of lengths, no cache, no allocation, no lock once the weights are packed.
#include <stdexcept>
#include <string>

#include "gru_impl.h"
#include "layer_norm.h"
#include "recurrent_noise.h"
#include "recurrent_step.h"

namespace fastgru {

template <class T>
size_t Gru<T>::step_workspace_size(int64_t batch) const {
  const int64_t H = impl_->cfg.hidden_size;
  return static_cast<size_t>(batch * (3 * H + 3 * H + impl_->cfg.record_width()));  // gx, gh, records
}

template <class T>
void Gru<T>::step(int64_t batch, const T* x, const T* h, T* h_out, T* workspace) const {
  const GruConfig& c = impl_->cfg;
  if (c.bidirectional) throw std::invalid_argument(
        "step() needs a unidirectional GRU: the reverse direction of a bidirectional one needs the whole sequence");
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
    T* h_next = h_out + l * batch * H;
    StepArgs<T> args{batch, in, c.layer_input_size(l), impl_->bias_ih[i].data(), gx, gh, h + l * batch * H,
                     h_next, c.reset_after ? nullptr : rec, nullptr, 0};
    if (c.batch_norm) {  // streaming is inference: the running statistics
      args.bn_weight = impl_->bn_weight[i].data();
      args.bn_bias = impl_->bn_bias[i].data();
      args.bn_mean = impl_->bn_mean[i].data();
      args.bn_var = impl_->bn_var[i].data();
    }
    if (c.layer_norm) {  // the whole row's projection before its statistics
      project_inputs(K, packed.layers[i], impl_->bias_ih[i].data(), H, batch, in, c.layer_input_size(l), gx, 0, H);
      layer_norm_forward(batch, H, gx, impl_->bn_weight[i].data(), impl_->bn_bias[i].data(), c.layer_norm_eps,
                         static_cast<T*>(nullptr), static_cast<T*>(nullptr));
      args.x = nullptr;
    }
    recurrent_step(K, packed.layers[i], impl_->bias_hh[i].data(), c, args);
    if (c.zoneout > 0) {
      const T p = static_cast<T>(c.zoneout);
      const T* h_prev = h + l * batch * H;
      for (int64_t e = 0; e < batch * H; ++e) h_next[e] = zoneout_expectation(p, h_prev[e], h_next[e]);
    }
    in = h_next;
  }
}

template size_t Gru<float>::step_workspace_size(int64_t) const;
template size_t Gru<double>::step_workspace_size(int64_t) const;
template void Gru<float>::step(int64_t, const float*, const float*, float*, float*) const;
template void Gru<double>::step(int64_t, const double*, const double*, double*, double*) const;

}  // namespace fastgru
