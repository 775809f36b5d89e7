// CudaGru<T>'s state and the helpers its orchestration files share (not part of the API).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/gru_cuda.h"
#include "cuda/ops.h"
#include "sequence_layout.h"

namespace fastgru::cuda {

// An owning device array (cudaMalloc / cudaFree).
template <class T>
class DeviceVector {
 public:
  DeviceVector() = default;
  explicit DeviceVector(size_t n) : n_(n) {
    if (n) FASTGRU_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)));
  }
  ~DeviceVector() {
    if (p_) cudaFree(p_);
  }
  DeviceVector(DeviceVector&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceVector& operator=(DeviceVector&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;

  T* data() const { return p_; }
  size_t size() const { return n_; }
  void upload(const T* host) { FASTGRU_CUDA_CHECK(cudaMemcpy(p_, host, n_ * sizeof(T), cudaMemcpyHostToDevice)); }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

// Makes `device` current for a scope (the caller's device is restored after).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    FASTGRU_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) FASTGRU_CUDA_CHECK(cudaSetDevice(device));
    changed_ = previous_ != device;
  }
  ~DeviceGuard() {
    if (changed_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

// Hands out consecutive pieces of a device workspace, each aligned to 256 bytes; the same code
// sizes the workspace (base null) and carves it.
struct DeviceCarver {
  char* base;
  size_t used = 0;
  template <class U>
  U* take(size_t n) {
    used = (used + 255) / 256 * 256;
    U* p = base ? reinterpret_cast<U*>(base + used) : nullptr;
    used += n * sizeof(U);
    return p;
  }
  template <class T>
  size_t elements() const {
    return (used + sizeof(T) - 1) / sizeof(T);
  }
};

// A SequenceLayout's indices on the device; all null for a full batch (the identity layout).
struct LayoutIndices {
  const int64_t* order = nullptr;        // [batch] slot j holds sequence order[j]
  const int64_t* row_src = nullptr;      // [rows] packed row -> time-major row t * batch + sequence
  const int64_t* batch_sizes = nullptr;  // [steps]
  const int64_t* offsets = nullptr;      // [steps]
};

// Elements of the index block carved for a call of `steps` x `batch`.
inline size_t layout_index_count(int64_t steps, int64_t batch) {
  return static_cast<size_t>(batch + steps * batch + 2 * steps);
}
LayoutIndices upload_layout(const SequenceLayout& lay, int64_t* block, cudaStream_t s);

ops::DeviceInfo query_device(int device);

template <class T>
struct CudaGru<T>::Impl {
  GruConfig cfg;
  ops::DeviceInfo dev;
  RecurrentPath path = RecurrentPath::automatic;
  // Per layer*dirs + direction, PyTorch's layout; biases zero-filled when cfg.bias is false.
  std::vector<DeviceVector<T>> weight_ih, weight_hh, bias_ih, bias_hh;
  std::vector<DeviceVector<T>> bn_weight, bn_bias, bn_mean, bn_var;  // (2H) each (batch_norm)

  bool general() const { return !cfg.standard_math(); }
  bool persistent(int64_t batch) const;  // the path forward() takes; throws when forced and unfit

  // One time step of layer/direction i by the per-step path: recurrent GEMM(s) and gate kernels
  // on rows [0, rows) of `batch` slots (rows past it keep their state).
  void recurrent_step(size_t i, int64_t rows, int64_t batch, const T* gx, T* gh, const T* h_prev, T* h_next,
                      T* rec, T* y, int64_t ld_y, cudaStream_t s) const;
};

}  // namespace fastgru::cuda
