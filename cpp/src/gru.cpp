// Gru<T>: configuration, parameters and their packed copies.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "cache_layout.h"
#include "gru_impl.h"

namespace fastgru {

void GruConfig::validate() const {
  auto positive = [](const char* what, int64_t v) {
    if (v < 1) throw std::invalid_argument(std::string(what) + " must be >= 1, got " + std::to_string(v));
  };
  positive("input_size", input_size);
  positive("hidden_size", hidden_size);
  positive("num_layers", num_layers);
  if (batch_norm && !(batch_norm_eps > 0 && std::isfinite(batch_norm_eps)))
    throw std::invalid_argument("batch_norm_eps must be a finite number > 0");
  const int64_t longest_input = std::max({input_size, hidden_size, num_layers > 1 ? directions() * hidden_size : 0});
  if (weight_format == WeightFormat::int8 && longest_input > kMaxInt8K)
    throw std::invalid_argument("int8 weights: the products' inputs (input_size, hidden_size and a deeper layer's "
                                "input) must be at most " + std::to_string(kMaxInt8K) + " long");
  if (layer_norm && !(layer_norm_eps > 0 && std::isfinite(layer_norm_eps)))
    throw std::invalid_argument("layer_norm_eps must be a finite number > 0");
  if (layer_norm && batch_norm) throw std::invalid_argument("batch_norm and layer_norm exclude each other");
  if (recurrent_layer_norm && !reset_after) throw std::invalid_argument("recurrent_layer_norm needs reset_after");
  if (recurrent_layer_norm && !(layer_norm_eps > 0 && std::isfinite(layer_norm_eps)))
    throw std::invalid_argument("layer_norm_eps must be a finite number > 0");
  for (const ActivationSpec* a : {&math.gate, &math.candidate}) {
    if (static_cast<int>(a->kind) < 0 || a->kind > Activation::last)
      throw std::invalid_argument("unknown activation kind " + std::to_string(static_cast<int>(a->kind)));
    if (!std::isfinite(a->alpha) || !std::isfinite(a->beta))
      throw std::invalid_argument("activation alpha and beta must be finite");
    if (a->kind == Activation::squareplus && !(a->alpha > 0))
      throw std::invalid_argument("squareplus needs alpha (Keras's b) > 0, got " + std::to_string(a->alpha));
    if ((a->kind == Activation::soft_shrink || a->kind == Activation::hard_shrink) && !(a->alpha >= 0))
      throw std::invalid_argument("soft_shrink / hard_shrink need alpha (the threshold) >= 0, got " +
                                  std::to_string(a->alpha));
  }
  if (cell != CellKind::gru && cell != CellKind::libru)
    throw std::invalid_argument("unknown cell kind " + std::to_string(static_cast<int>(cell)));
  // The LiBRU kernels compute sigmoid and softplus themselves, on the reset-after products.
  if (cell == CellKind::libru &&
      (!reset_after || math.gate.kind != Activation::sigmoid || math.candidate.kind != Activation::softplus ||
       math.clip != 0))
    throw std::invalid_argument("cell libru needs reset_after, a sigmoid gate, a softplus candidate and no clip");
  for (const auto& [name, p] : {std::pair<const char*, double>{"recurrent_dropout", recurrent_dropout}, {"zoneout", zoneout}})
    if (!(p >= 0 && p < 1)) throw std::invalid_argument(std::string(name) + " must be in [0, 1), got " + std::to_string(p));
  if (recurrent_dropout_form != RecurrentDropout::candidate && recurrent_dropout_form != RecurrentDropout::state)
    throw std::invalid_argument("unknown recurrent dropout form " + std::to_string(static_cast<int>(recurrent_dropout_form)));
  // The candidate form's passes take h' = z ⊙ h + (1 - z) ⊙ n apart, which the LiBRU's update is not.
  if (cell == CellKind::libru && recurrent_dropout > 0 && recurrent_dropout_form == RecurrentDropout::candidate)
    throw std::invalid_argument("cell libru: recurrent dropout on the candidate needs the linear update; use the state form");
  if (!(math.clip >= 0) || !std::isfinite(math.clip))
    throw std::invalid_argument("clip must be a finite number >= 0 (0: no clipping), got " + std::to_string(math.clip));
  // Every buffer index is an int64 product of at most a few of these; keep each well inside.
  const int64_t limit = int64_t{1} << 24;
  if (input_size > limit || hidden_size > limit || num_layers > 4096)
    throw std::invalid_argument("sizes too large: input_size=" + std::to_string(input_size) +
                                ", hidden_size=" + std::to_string(hidden_size) +
                                ", num_layers=" + std::to_string(num_layers));
}

template <class T>
const PackedWeights<T>& Gru<T>::Impl::packed_for(const kernels::KernelTable& table) {
  if (const PackedWeights<T>* hit = last_packed.load(std::memory_order_acquire); hit && hit->table == &table)
    return *hit;
  std::lock_guard<std::mutex> lock(pack_mutex);
  for (const auto& p : packed)
    if (p->table == &table) {
      last_packed.store(p.get(), std::memory_order_release);
      return *p;
    }
  const kernels::TypedKernels<T>& k = table.get<T>();
  const int64_t H = cfg.hidden_size;
  auto pw = std::make_unique<PackedWeights<T>>();
  pw->table = &table;
  pw->layers.resize(weight_ih.size());
  for (size_t i = 0; i < weight_ih.size(); ++i) {
    const int64_t din = cfg.layer_input_size(static_cast<int64_t>(i) / cfg.directions());
    PackedLayer<T>& L = pw->layers[i];
    auto pack = [&](const std::vector<T>& w, int64_t k_dim, PackedGates<T>& out) {
      if constexpr (sizeof(T) == 4) {
        if (cfg.weight_format == WeightFormat::bf16) {
          out.stride = kernels::packed_bf16_size(H, k_dim, k.nr);
          out.bf16.resize(static_cast<size_t>(3 * out.stride));
          for (int g = 0; g < 3; ++g)
            k.pack_weights_bf16(w.data() + g * H * k_dim, H, k_dim, out.bf16.data() + g * out.stride);
          return;
        }
        if (cfg.weight_format == WeightFormat::int8) {
          out.stride = kernels::packed_int8_size(H, k_dim, k.nr);
          out.int8.resize(static_cast<size_t>(3 * out.stride));
          out.int8_scale.resize(static_cast<size_t>(3 * H));
          out.int8_sum.resize(static_cast<size_t>(3 * H));
          for (int g = 0; g < 3; ++g)
            k.pack_weights_int8(w.data() + g * H * k_dim, H, k_dim, out.int8.data() + g * out.stride,
                                out.int8_scale.data() + g * H, out.int8_sum.data() + g * H);
          return;
        }
      }
      out.stride = kernels::packed_weight_size(H, k_dim, k.nr);
      out.data.resize(static_cast<size_t>(3 * out.stride));
      for (int g = 0; g < 3; ++g) k.pack_weights(w.data() + g * H * k_dim, H, k_dim, out.data.data() + g * out.stride);
    };
    pack(weight_ih[i], din, L.ih);
    pack(weight_hh[i], H, L.hh);
  }
  packed.push_back(std::move(pw));
  last_packed.store(packed.back().get(), std::memory_order_release);
  return *packed.back();
}

template <class T>
Gru<T>::Gru(const GruConfig& config) : impl_(std::make_unique<Impl>()) {
  config.validate();
  if (config.weight_format != WeightFormat::f32 && sizeof(T) != 4)
    throw std::invalid_argument("bf16 and int8 weights are formats of float32 models");
  impl_->cfg = config;
  const int64_t H = config.hidden_size;
  const size_t n = static_cast<size_t>(config.num_layers * config.directions());
  for (size_t i = 0; i < n; ++i) {
    const int64_t din = config.layer_input_size(static_cast<int64_t>(i) / config.directions());
    impl_->weight_ih.emplace_back(static_cast<size_t>(3 * H * din), T(0));
    impl_->weight_hh.emplace_back(static_cast<size_t>(3 * H * H), T(0));
    impl_->bias_ih.emplace_back(static_cast<size_t>(3 * H), T(0));
    impl_->bias_hh.emplace_back(static_cast<size_t>(3 * H), T(0));
    impl_->bn_weight.emplace_back(static_cast<size_t>(2 * H), T(1));
    impl_->bn_bias.emplace_back(static_cast<size_t>(2 * H), T(0));
    impl_->bn_mean.emplace_back(static_cast<size_t>(2 * H), T(0));
    impl_->bn_var.emplace_back(static_cast<size_t>(2 * H), T(1));
  }
}

template <class T>
Gru<T>::~Gru() = default;

template <class T>
const GruConfig& Gru<T>::config() const {
  return impl_->cfg;
}

template <class T>
void Gru<T>::set_params(int64_t layer, int64_t direction, const LayerParams<T>& p) {
  const GruConfig& c = impl_->cfg;
  if (layer < 0 || layer >= c.num_layers || direction < 0 || direction >= c.directions())
    throw std::invalid_argument("no layer " + std::to_string(layer) + " direction " + std::to_string(direction));
  if (!p.weight_ih || !p.weight_hh) throw std::invalid_argument("weights must not be null");
  const size_t i = static_cast<size_t>(layer * c.directions() + direction);
  auto copy = [](const T* src, std::vector<T>& dst) {
    if (src)
      std::copy(src, src + dst.size(), dst.begin());
    else
      std::fill(dst.begin(), dst.end(), T(0));
  };
  copy(p.weight_ih, impl_->weight_ih[i]);
  copy(p.weight_hh, impl_->weight_hh[i]);
  copy(c.bias ? p.bias_ih : nullptr, impl_->bias_ih[i]);
  copy(c.bias ? p.bias_hh : nullptr, impl_->bias_hh[i]);
  std::lock_guard<std::mutex> lock(impl_->pack_mutex);
  impl_->last_packed.store(nullptr, std::memory_order_release);
  impl_->packed.clear();
}

template <class T>
void Gru<T>::set_batch_norm(int64_t layer, int64_t direction, const T* weight, const T* bias, const T* running_mean,
                            const T* running_var) {
  const GruConfig& c = impl_->cfg;
  if (!c.batch_norm) throw std::invalid_argument("this GRU has no batch norm");
  if (layer < 0 || layer >= c.num_layers || direction < 0 || direction >= c.directions())
    throw std::invalid_argument("no layer " + std::to_string(layer) + " direction " + std::to_string(direction));
  if (!weight || !bias || !running_mean || !running_var) throw std::invalid_argument("batch norm arrays must not be null");
  const size_t i = static_cast<size_t>(layer * c.directions() + direction);
  const size_t n = static_cast<size_t>(2 * c.hidden_size);
  std::copy(weight, weight + n, impl_->bn_weight[i].begin());
  std::copy(bias, bias + n, impl_->bn_bias[i].begin());
  std::copy(running_mean, running_mean + n, impl_->bn_mean[i].begin());
  std::copy(running_var, running_var + n, impl_->bn_var[i].begin());
}

template <class T>
void Gru<T>::set_layer_norm(int64_t layer, int64_t direction, const T* weight, const T* bias) {
  const GruConfig& c = impl_->cfg;
  if (!c.layer_norm) throw std::invalid_argument("this GRU has no layer norm");
  if (layer < 0 || layer >= c.num_layers || direction < 0 || direction >= c.directions())
    throw std::invalid_argument("no layer " + std::to_string(layer) + " direction " + std::to_string(direction));
  if (!weight || !bias) throw std::invalid_argument("layer norm arrays must not be null");
  const size_t i = static_cast<size_t>(layer * c.directions() + direction);
  const size_t n = static_cast<size_t>(2 * c.hidden_size);
  std::copy(weight, weight + n, impl_->bn_weight[i].begin());
  std::copy(bias, bias + n, impl_->bn_bias[i].begin());
}

template <class T>
size_t Gru<T>::cache_size(const SequenceBatch& b) const {
  return static_cast<size_t>(CacheLayout{impl_->cfg, b.steps * b.batch}.total());
}

template class Gru<float>;
template class Gru<double>;

}  // namespace fastgru
