// Per-thread packing buffers of the GEMMs. On the heap, grown on first need, rather than static
// thread_local arrays: those put every ISA's and dtype's buffers (megabytes) into each thread's
// TLS block, which glibc allocates whole when a thread first touches any of it and, when it
// cannot (many threads, a limited address space), aborts the process.
#pragma once

#include <cstddef>

namespace fastgru::kernels {

// b_widened: a B panel widened for the reduced-precision GEMMs' batch tiles (gemm_bf16.h,
// gemm_int8.h), alive while a_pack and b_pack are.
enum class ScratchSlot { a_pack, b_pack, b_widened, count };

// At least `bytes` bytes, 64-byte aligned, this thread's own for `slot` until the thread ends.
// Throws std::bad_alloc when it cannot be had. Compiled without ISA flags (thread_scratch.cpp).
void* thread_scratch(ScratchSlot slot, size_t bytes);

}  // namespace fastgru::kernels
