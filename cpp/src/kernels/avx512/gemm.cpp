// GEMM and weight packing for the avx512 table.
#include <cstdint>
#include <immintrin.h>

#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx512 {
#include "kernels/isa_kernels.h"
#include "kernels/avx512/ops.h"

// 8 rows x 2 registers: 16 accumulators + 2 B registers + 1 broadcast of the 32 zmm registers.
constexpr int kMrF32 = 8, kNvF32 = 2;
constexpr int kMrF64 = 8, kNvF64 = 2;

#include "kernels/generic/gemm.h"
#include "kernels/generic/define_gemm.h"
}  // namespace fastgru::kernels::avx512
