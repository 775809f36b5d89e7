// int8-weight gate GEMM for the avx512 table, vpdpbusd emulated with 32-bit multiplies (AVX-512
// CPUs without AVX512_VNNI); gemm_int8_native.cpp has the instruction itself. Exact either way.
#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <math.h>

#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx512 {
#include "kernels/isa_kernels.h"
#include "kernels/avx512/ops.h"
#include "kernels/avx512/int8_ops.h"

constexpr int kMrF32 = 8, kNvF32 = 2;  // as gemm.cpp: the same panel width

// Each 32-bit lane's four bytes as four registers of 32-bit values.
struct Int8Emulated {
  using Acc = __m512i;
  struct Bytes {
    __m512i byte[4];
  };
  using A = Bytes;
  using B = Bytes;
  static Acc zero() { return _mm512_setzero_si512(); }
  static B load_b(const int8_t* p) {  // signed
    const __m512i v = _mm512_loadu_si512(p);
    return {{_mm512_srai_epi32(_mm512_slli_epi32(v, 24), 24), _mm512_srai_epi32(_mm512_slli_epi32(v, 16), 24),
             _mm512_srai_epi32(_mm512_slli_epi32(v, 8), 24), _mm512_srai_epi32(v, 24)}};
  }
  using Quad = uint32_t;  // the four offset bytes as they are
  static Quad quad(uint32_t bits) { return bits; }
  static A broadcast_a(Quad quad) {  // unsigned
    return {{_mm512_set1_epi32(static_cast<int>(quad & 255u)), _mm512_set1_epi32(static_cast<int>((quad >> 8) & 255u)),
             _mm512_set1_epi32(static_cast<int>((quad >> 16) & 255u)), _mm512_set1_epi32(static_cast<int>(quad >> 24))}};
  }
  static Acc dot(Acc acc, const A& a, const B& b) {
    for (int t = 0; t < 4; ++t) acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(a.byte[t], b.byte[t]));
    return acc;
  }
  static __m512 fused_madd(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
  static __m512 minus_offset(Acc acc, const int32_t* sum, int lanes) { return int8_minus_offset(acc, sum, lanes); }
};

#include "kernels/generic/gemm.h"
#include "kernels/generic/gemm_int8.h"

void pack_weights_int8(const float* w, int64_t n, int64_t k, int8_t* out, float* scale, int32_t* sum) {
  pack_weights_int8_body<kNvF32 * OpsF32::W>(w, n, k, out, scale, sum);
}
void gemm_gates_int8(const Int8GateGemmArgs& g) { gemm_gates_int8_body<OpsF32, Int8Emulated, kMrF32, kNvF32, 1>(g); }
}  // namespace fastgru::kernels::avx512
