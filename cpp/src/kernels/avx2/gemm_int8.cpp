// int8-weight gate GEMM for the avx2 table: vpdpbusd's sums from vpmaddwd, exactly.
#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <math.h>

#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx2 {
#include "kernels/isa_kernels.h"
#include "kernels/avx2/ops.h"

// The panel width of gemm.cpp (2 registers). 3 rows: 6 accumulators + 4 registers of B pairs
// + 2 of A pairs + 2 products fit in the 16 ymm registers; with 4 rows GCC spilled accumulators
// and the loop ran slower.
constexpr int kMrInt8 = 3, kNvF32 = 2;

// vpdpbusd's sums from vpmaddwd: a 32-bit lane's four bytes, widened to 16 bits as the pairs
// (byte 0, byte 2) and (byte 1, byte 3), multiply pairwise into two exact int32 sums. Every
// product (0..255 times -128..127) and pair sum fits, so the total is the same integer.
struct Int8Emulated {
  using Acc = __m256i;
  struct Pairs {
    __m256i even, odd;  // bytes 0 and 2, bytes 1 and 3 of each lane, as int16
  };
  using A = Pairs;
  using B = Pairs;
  static Acc zero() { return _mm256_setzero_si256(); }
  static B load_b(const int8_t* p) {  // signed: shifts that keep the sign
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {_mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8), _mm256_srai_epi16(v, 8)};
  }
  // Batches split each B panel once (widen_b) and read the halves back (load_b).
  static void widen_b(const int8_t* p, int16_t* out) {
    const B b = load_b(p);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), b.even);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16), b.odd);
  }
  static B load_b(const int16_t* p) {
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16))};
  }
  // A's quads wait in memory already split (once, when A is quantized), so each half is one
  // broadcast from memory.
  struct Quad {
    uint32_t even, odd;
  };
  static Quad quad(uint32_t bits) { return {bits & 0x00FF00FFu, (bits >> 8) & 0x00FF00FFu}; }
  static A broadcast_a(const Quad& q) {
    return {_mm256_set1_epi32(static_cast<int>(q.even)), _mm256_set1_epi32(static_cast<int>(q.odd))};
  }
  static Acc dot(Acc acc, const A& a, const B& b) {
    return _mm256_add_epi32(_mm256_add_epi32(acc, _mm256_madd_epi16(a.even, b.even)), _mm256_madd_epi16(a.odd, b.odd));
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
// 1-2 rows (batch-1 steps) take all three gates at once: more independent chains per load of A.
// Batches widen B's bytes to int16 halves once per row block instead of in every row tile.
void gemm_gates_int8(const Int8GateGemmArgs& g) {
  gemm_gates_int8_body<OpsF32, Int8Emulated, kMrInt8, kNvF32, 3, true>(g);
}
}  // namespace fastgru::kernels::avx2
