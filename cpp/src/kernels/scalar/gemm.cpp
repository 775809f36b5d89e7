// GEMM and weight packing for the scalar table.
#include <cstdint>
#include <cmath>
#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>  // _mm_prefetch (generic/gemm.h)
#endif

#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::scalar {
#include "kernels/isa_kernels.h"
#include "kernels/scalar/ops.h"

// Four rows x four columns: enough independent chains to hide FMA latency without vectors.
constexpr int kMrF32 = 4, kNvF32 = 4;
constexpr int kMrF64 = 4, kNvF64 = 4;

#include "kernels/generic/gemm.h"
#include "kernels/generic/define_gemm.h"
}  // namespace fastgru::kernels::scalar
