// The CUDA backend's API: CudaGru<T> mirrors Gru<T> (same GruConfig, same semantics, same cache
// layout and record contents) with the weights and every buffer on one CUDA device. Plain C++:
// no CUDA header is needed to use it (streams are CUstream_st*, the type cudaStream_t names).
//
// Pointers passed to forward/backward/step are device pointers, except SequenceBatch::lengths,
// which stays on the host (the packing order is computed there). Workspaces must be aligned to
// 256 bytes (cudaMalloc's alignment). Every call is asynchronous on `stream` (nullptr: the legacy
// default stream) except where noted; errors throw std::runtime_error with CUDA's message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fastgru/gru.h"

struct CUstream_st;

namespace fastgru::cuda {

using Stream = CUstream_st*;

// Devices. Never throw: no driver, no device or any other failure reads as 0 / false.
int device_count() noexcept;
bool available() noexcept;
// Throws std::runtime_error when the device does not exist.
std::string device_name(int device);
int current_device();

// Which recurrent kernel a forward pass runs (tests force each; automatic is the default).
enum class RecurrentPath {
  automatic,   // persistent where it fits (small batch, W_hh fits on chip), else per step
  persistent,  // the persistent kernel; std::runtime_error where it does not fit
  per_step,    // one GEMM + one fused gate kernel per step
};

template <class T>
class CudaGru {
 public:
  // On the current device; throws std::runtime_error without one, std::invalid_argument for a
  // bad config (GruConfig::validate).
  explicit CudaGru(const GruConfig& config);
  ~CudaGru();
  CudaGru(const CudaGru&) = delete;
  CudaGru& operator=(const CudaGru&) = delete;

  const GruConfig& config() const;
  int device() const;

  // Host pointers, copied to the device (synchronous). Same contract as Gru<T>.
  void set_params(int64_t layer, int64_t direction, const LayerParams<T>& params);
  void set_batch_norm(int64_t layer, int64_t direction, const T* weight, const T* bias, const T* running_mean,
                      const T* running_var);

  // Sizes in elements of T. The cache has exactly the CPU core's layout and size.
  size_t forward_workspace_size(const SequenceBatch& batch) const;
  size_t cache_size(const SequenceBatch& batch) const;
  size_t backward_workspace_size(const SequenceBatch& batch) const;
  size_t step_workspace_size(int64_t batch) const;

  // As Gru<T>::forward / backward / step, on device pointers. With lengths (a variable-length
  // batch) the packing indices are copied from pageable host memory, which waits for `stream`.
  void forward(const SequenceBatch& batch, const T* x, const T* h0, T* y, T* h_n, T* cache,
               const TrainingMode& mode, T* workspace, T* bn_stats, Stream stream) const;
  void backward(const SequenceBatch& batch, const T* cache, const T* dy, const T* dh_n, T* dx, T* dh0,
                const LayerGrads<T>* grads, const TrainingMode& mode, T* workspace, Stream stream) const;
  void step(int64_t batch, const T* x, const T* h, T* h_out, T* workspace, Stream stream) const;

  void set_recurrent_path(RecurrentPath path);
  RecurrentPath recurrent_path() const;
  // Whether forward() with this batch size runs the persistent kernel under the current path.
  bool uses_persistent(int64_t batch) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

extern template class CudaGru<float>;
extern template class CudaGru<double>;

// Device memory and copies for the bindings (so they need no CUDA header). All throw
// std::runtime_error on failure.
void* device_malloc(size_t bytes);            // cudaMalloc on the current device
void device_free(void* p) noexcept;           // cudaFree; errors ignored (destructors)
void* device_malloc_async(size_t bytes, Stream s);  // stream-ordered (workspaces)
void device_free_async(void* p, Stream s) noexcept;
void copy_to_device(void* dst, const void* src, size_t bytes, Stream s);  // host -> device
void copy_to_host(void* dst, const void* src, size_t bytes, Stream s);    // device -> host; returns when done
void copy_on_device(void* dst, const void* src, size_t bytes, Stream s);
void synchronize(Stream s);
// Makes `waiter` wait for the work queued so far on `producer` (an event; no host wait).
void stream_wait(Stream waiter, Stream producer);
// The device a pointer's memory lives on, or -1 for host memory / an unknown pointer.
int pointer_device(const void* p);
void set_device(int device);
// The legacy and per-thread default streams (cudaStreamLegacy, cudaStreamPerThread).
Stream legacy_stream();
Stream per_thread_stream();

}  // namespace fastgru::cuda
