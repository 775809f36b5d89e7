// CUDA error checking: every runtime call and kernel launch of the backend goes through these,
// so a failure surfaces as std::runtime_error carrying CUDA's own error string (the bindings turn
// it into Python's RuntimeError) instead of a silent wrong answer.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace fastgru::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error: ") + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) +
                           ") in " + what + " at " + file + ":" + std::to_string(line));
}

inline void check(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess) throw_cuda_error(e, what, file, line);
}

}  // namespace fastgru::cuda

#define FASTGRU_CUDA_CHECK(expr) ::fastgru::cuda::check((expr), #expr, __FILE__, __LINE__)
// After a <<<...>>> launch: configuration errors are reported here, faults at the next sync.
#define FASTGRU_CUDA_CHECK_LAUNCH() ::fastgru::cuda::check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
