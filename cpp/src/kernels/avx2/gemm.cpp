// GEMM and weight packing for the avx2 table.
#include <cstdint>
#include <immintrin.h>

#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx2 {
#include "kernels/isa_kernels.h"
#include "kernels/avx2/ops.h"

// 6 rows x 2 registers: 12 accumulators + 2 B registers + 1 broadcast of the 16 ymm registers.
// Two FMA pipes of 4-cycle latency need at least 8 independent chains; 8 left the tile at ~70%
// of the FMA peak, 12 reaches the avx512 tile's rate on the same core (measured).
constexpr int kMrF32 = 6, kNvF32 = 2;
constexpr int kMrF64 = 6, kNvF64 = 2;

#include "kernels/generic/gemm.h"
#include "kernels/generic/define_gemm.h"
}  // namespace fastgru::kernels::avx2
