// GEMM and weight packing for the avx2 table.
#include <cstdint>
#include <immintrin.h>

#include "kernels/kernel_table.h"

namespace fastgru::kernels::avx2 {
#include "kernels/isa_kernels.h"
#include "kernels/avx2/ops.h"

// 4 rows x 2 registers: 8 accumulators + 2 B registers + 1 broadcast of the 16 ymm registers.
constexpr int kMrF32 = 4, kNvF32 = 2;
constexpr int kMrF64 = 4, kNvF64 = 2;

#include "kernels/generic/gemm.h"
#include "kernels/generic/define_gemm.h"
}  // namespace fastgru::kernels::avx2
