// CudaGru<T>: configuration, device weights, workspace sizes and the recurrent path choice.
#include <stdexcept>
#include <string>

#include "cache_layout.h"
#include "cuda/cuda_impl.h"

namespace fastgru::cuda {

template <class T>
CudaGru<T>::CudaGru(const GruConfig& config) : impl_(std::make_unique<Impl>()) {
  config.validate();
  if (config.cell != CellKind::gru)
    throw std::invalid_argument("the CUDA backend has no LiBRU (cell libru) gate kernels; run this model on the CPU");
  if (config.layer_norm || config.recurrent_layer_norm)
    throw std::invalid_argument("the CUDA backend has no layer norm; run this model on the CPU");
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    if (e != cudaSuccess) cudaGetLastError();
    throw std::runtime_error(std::string("no CUDA device is available") +
                             (e != cudaSuccess ? std::string(": ") + cudaGetErrorString(e) : std::string()));
  }
  Impl& m = *impl_;
  m.cfg = config;
  m.dev = query_device(current_device());
  const int64_t H = config.hidden_size;
  const size_t count = static_cast<size_t>(config.num_layers * config.directions());
  const std::vector<T> zeros3(static_cast<size_t>(3 * H), T(0)), ones2(static_cast<size_t>(2 * H), T(1)),
      zeros2(static_cast<size_t>(2 * H), T(0));
  for (size_t i = 0; i < count; ++i) {
    const int64_t din = config.layer_input_size(static_cast<int64_t>(i) / config.directions());
    auto zeroed = [](size_t elems) {
      DeviceVector<T> v(elems);
      FASTGRU_CUDA_CHECK(cudaMemset(v.data(), 0, elems * sizeof(T)));
      return v;
    };
    m.weight_ih.push_back(zeroed(static_cast<size_t>(3 * H * din)));
    m.weight_hh.push_back(zeroed(static_cast<size_t>(3 * H * H)));
    m.bias_ih.push_back(zeroed(static_cast<size_t>(3 * H)));
    m.bias_hh.push_back(zeroed(static_cast<size_t>(3 * H)));
    if (config.batch_norm) {  // PyTorch's BatchNorm initial values, as the CPU core
      m.bn_weight.emplace_back(ones2.size());
      m.bn_weight.back().upload(ones2.data());
      m.bn_bias.emplace_back(zeros2.size());
      m.bn_bias.back().upload(zeros2.data());
      m.bn_mean.emplace_back(zeros2.size());
      m.bn_mean.back().upload(zeros2.data());
      m.bn_var.emplace_back(ones2.size());
      m.bn_var.back().upload(ones2.data());
    }
  }
}

template <class T>
CudaGru<T>::~CudaGru() = default;

template <class T>
const GruConfig& CudaGru<T>::config() const {
  return impl_->cfg;
}

template <class T>
int CudaGru<T>::device() const {
  return impl_->dev.device;
}

template <class T>
void CudaGru<T>::set_params(int64_t layer, int64_t direction, const LayerParams<T>& p) {
  const GruConfig& c = impl_->cfg;
  if (layer < 0 || layer >= c.num_layers || direction < 0 || direction >= c.directions())
    throw std::invalid_argument("no layer " + std::to_string(layer) + " direction " + std::to_string(direction));
  if (!p.weight_ih || !p.weight_hh) throw std::invalid_argument("weights must not be null");
  DeviceGuard guard(impl_->dev.device);
  const size_t i = static_cast<size_t>(layer * c.directions() + direction);
  impl_->weight_ih[i].upload(p.weight_ih);
  impl_->weight_hh[i].upload(p.weight_hh);
  auto bias = [&](const T* src, DeviceVector<T>& dst) {
    if (c.bias && src)
      dst.upload(src);
    else
      FASTGRU_CUDA_CHECK(cudaMemset(dst.data(), 0, dst.size() * sizeof(T)));
  };
  bias(p.bias_ih, impl_->bias_ih[i]);
  bias(p.bias_hh, impl_->bias_hh[i]);
}

template <class T>
void CudaGru<T>::set_batch_norm(int64_t layer, int64_t direction, const T* weight, const T* bias,
                                const T* running_mean, const T* running_var) {
  const GruConfig& c = impl_->cfg;
  if (!c.batch_norm) throw std::invalid_argument("this GRU has no batch norm");
  if (layer < 0 || layer >= c.num_layers || direction < 0 || direction >= c.directions())
    throw std::invalid_argument("no layer " + std::to_string(layer) + " direction " + std::to_string(direction));
  if (!weight || !bias || !running_mean || !running_var)
    throw std::invalid_argument("batch norm arrays must not be null");
  DeviceGuard guard(impl_->dev.device);
  const size_t i = static_cast<size_t>(layer * c.directions() + direction);
  impl_->bn_weight[i].upload(weight);
  impl_->bn_bias[i].upload(bias);
  impl_->bn_mean[i].upload(running_mean);
  impl_->bn_var[i].upload(running_var);
}

template <class T>
size_t CudaGru<T>::cache_size(const SequenceBatch& b) const {
  return static_cast<size_t>(CacheLayout{impl_->cfg, b.steps * b.batch}.total());
}

template <class T>
void CudaGru<T>::set_recurrent_path(RecurrentPath path) {
  impl_->path = path;
}

template <class T>
RecurrentPath CudaGru<T>::recurrent_path() const {
  return impl_->path;
}

template <class T>
bool CudaGru<T>::uses_persistent(int64_t batch) const {
  const Impl& m = *impl_;
  return m.path != RecurrentPath::per_step && ops::persistent_fits<T>(m.dev, m.cfg.hidden_size, batch);
}

template <class T>
bool CudaGru<T>::Impl::persistent(int64_t batch) const {
  if (path == RecurrentPath::per_step) return false;
  const bool fits = ops::persistent_fits<T>(dev, cfg.hidden_size, batch);
  if (!fits && path == RecurrentPath::persistent)
    throw std::runtime_error("the persistent recurrent kernel was requested but does not fit: hidden_size " +
                             std::to_string(cfg.hidden_size) + ", batch " + std::to_string(batch) +
                             " (it takes batch <= 8 and W_hh within the device's shared memory, "
                             "and needs cooperative launch)");
  return fits;
}

template class CudaGru<float>;
template class CudaGru<double>;

}  // namespace fastgru::cuda
