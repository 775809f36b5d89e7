// Device queries, memory and copies for the bindings, and the upload of packing indices.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/cuda_impl.h"
#include "cuda/gru_cuda.h"

namespace fastgru::cuda {

int device_count() noexcept {
  int n = 0;
  // No driver, no device, a driver older than the runtime: all read as "no CUDA here".
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear it: this is an answer, not a failure of a later call
    return 0;
  }
  return n;
}

bool available() noexcept { return device_count() > 0; }

std::string device_name(int device) {
  cudaDeviceProp prop{};
  FASTGRU_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

int current_device() {
  int d = 0;
  FASTGRU_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

ops::DeviceInfo query_device(int device) {
  ops::DeviceInfo info;
  info.device = device;
  int v = 0;
  FASTGRU_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, device));
  info.sm_count = v;
  FASTGRU_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  info.max_smem_optin = v;
  FASTGRU_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrCooperativeLaunch, device));
  info.cooperative = v != 0;
  return info;
}

LayoutIndices upload_layout(const SequenceLayout& lay, int64_t* block, cudaStream_t s) {
  LayoutIndices ix;
  if (lay.identity) return ix;
  const size_t B = static_cast<size_t>(lay.batch), S = static_cast<size_t>(lay.steps);
  std::vector<int64_t> host(B + static_cast<size_t>(lay.rows) + 2 * S);
  int64_t* order = host.data();
  int64_t* row_src = order + B;
  int64_t* sizes = row_src + lay.rows;
  int64_t* offsets = sizes + S;
  for (size_t j = 0; j < B; ++j) order[j] = lay.order[j];
  for (int64_t t = 0; t < lay.steps; ++t) {
    sizes[t] = lay.batch_sizes[t];
    offsets[t] = lay.offsets[t];
    for (int64_t j = 0; j < lay.batch_sizes[t]; ++j) row_src[lay.offsets[t] + j] = t * lay.batch + lay.order[j];
  }
  // From pageable memory: returns once the data is staged, so `host` may go out of scope.
  FASTGRU_CUDA_CHECK(cudaMemcpyAsync(block, host.data(), host.size() * sizeof(int64_t), cudaMemcpyHostToDevice, s));
  ix.order = block;
  ix.row_src = block + B;
  ix.batch_sizes = block + B + lay.rows;
  ix.offsets = ix.batch_sizes + S;
  return ix;
}

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  if (bytes) FASTGRU_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void device_free(void* p) noexcept {
  if (p) cudaFree(p);
}

void* device_malloc_async(size_t bytes, Stream s) {
  void* p = nullptr;
  if (bytes) FASTGRU_CUDA_CHECK(cudaMallocAsync(&p, bytes, s));
  return p;
}

void device_free_async(void* p, Stream s) noexcept {
  if (p) cudaFreeAsync(p, s);
}

void copy_to_device(void* dst, const void* src, size_t bytes, Stream s) {
  if (bytes) FASTGRU_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
}

void copy_to_host(void* dst, const void* src, size_t bytes, Stream s) {
  if (bytes) FASTGRU_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
  FASTGRU_CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_on_device(void* dst, const void* src, size_t bytes, Stream s) {
  if (bytes) FASTGRU_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
}

void synchronize(Stream s) { FASTGRU_CUDA_CHECK(cudaStreamSynchronize(s)); }

void stream_wait(Stream waiter, Stream producer) {
  if (waiter == producer) return;
  cudaEvent_t e;
  FASTGRU_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  const cudaError_t rec = cudaEventRecord(e, producer);
  const cudaError_t wait = rec == cudaSuccess ? cudaStreamWaitEvent(waiter, e, 0) : rec;
  cudaEventDestroy(e);  // released once the wait has been satisfied
  FASTGRU_CUDA_CHECK(wait);
}

int pointer_device(const void* p) {
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged) ? a.device : -1;
}

void set_device(int device) { FASTGRU_CUDA_CHECK(cudaSetDevice(device)); }

Stream legacy_stream() { return cudaStreamLegacy; }
Stream per_thread_stream() { return cudaStreamPerThread; }

}  // namespace fastgru::cuda
