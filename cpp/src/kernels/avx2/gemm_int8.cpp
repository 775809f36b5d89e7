// int8-weight gate GEMM for the avx2 table: vpdpbusd's sums with 32-bit multiplies, exactly.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <immintrin.h>
#include <limits>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx2 {
#include "kernels/isa_kernels.h"
#include "kernels/avx2/ops.h"

// The panel width of gemm.cpp (2 registers); 2 rows: 4 accumulators + 8 registers of B bytes
// + 4 of A bytes fill the 16 ymm registers.
constexpr int kMrInt8 = 2, kNvF32 = 2;

struct Int8Emulated {
  using Acc = __m256i;
  struct Bytes {
    __m256i byte[4];
  };
  using A = Bytes;
  using B = Bytes;
  static Acc zero() { return _mm256_setzero_si256(); }
  static B load_b(const int8_t* p) {  // signed
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {{_mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24), _mm256_srai_epi32(_mm256_slli_epi32(v, 16), 24),
             _mm256_srai_epi32(_mm256_slli_epi32(v, 8), 24), _mm256_srai_epi32(v, 24)}};
  }
  static A broadcast_a(uint32_t quad) {  // unsigned
    return {{_mm256_set1_epi32(static_cast<int>(quad & 255u)), _mm256_set1_epi32(static_cast<int>((quad >> 8) & 255u)),
             _mm256_set1_epi32(static_cast<int>((quad >> 16) & 255u)), _mm256_set1_epi32(static_cast<int>(quad >> 24))}};
  }
  static Acc dot(Acc acc, const A& a, const B& b) {
    for (int t = 0; t < 4; ++t) acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(a.byte[t], b.byte[t]));
    return acc;
  }
  static __m256 fused_madd(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
  static __m256 minus_offset(Acc acc, const int32_t* sum, int lanes) {
    const __m256i s = _mm256_maskload_epi32(sum, avx2_tail_mask32(lanes));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(acc, _mm256_slli_epi32(s, 7)));
  }
};

#include "kernels/generic/gemm.h"
#include "kernels/generic/gemm_int8.h"

void pack_weights_int8(const float* w, int64_t n, int64_t k, int8_t* out, float* scale, int32_t* sum) {
  pack_weights_int8_body<kNvF32 * OpsF32::W>(w, n, k, out, scale, sum);
}
void gemm_gates_int8(const Int8GateGemmArgs& g) { gemm_gates_int8_body<OpsF32, Int8Emulated, kMrInt8, kNvF32, 1>(g); }
}  // namespace fastgru::kernels::avx2
