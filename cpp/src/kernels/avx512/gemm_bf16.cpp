// bf16-weight gate GEMM for the avx512 table, vdpbf16ps emulated with FMAs (AVX-512 CPUs
// without AVX512_BF16); gemm_bf16_native.cpp has the instruction itself.
#include <cstdint>
#include <immintrin.h>

#include "kernels/bf16_convert.h"
#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx512 {
#include "kernels/isa_kernels.h"
#include "kernels/avx512/ops.h"
#include "kernels/x86_bf16_mode.h"

constexpr int kMrF32 = 8, kNvF32 = 2;  // as gemm.cpp: the same panel width

// A register of 16 bf16 pairs, as its odd (high) and even (low) halves widened to float.
struct Bf16Emulated {
  using Mode = Bf16FloatMode;
  struct Pairs {
    __m512 odd, even;
  };
  using A = Pairs;
  using B = Pairs;
  static B load_b(const uint16_t* p) {
    const __m512i v = _mm512_loadu_si512(p);
    return {_mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u)))),
            _mm512_castsi512_ps(_mm512_slli_epi32(v, 16))};
  }
  // A's pairs wait in memory as two floats, so each is one broadcast from memory.
  struct Pair {
    float odd, even;
  };
  static Pair pair(uint32_t bits) {
    return {from_bf16(static_cast<uint16_t>(bits >> 16)), from_bf16(static_cast<uint16_t>(bits))};
  }
  static A broadcast_a(const Pair& p) { return {_mm512_set1_ps(p.odd), _mm512_set1_ps(p.even)}; }
  static __m512 dot(__m512 acc, const A& a, const B& b) {
    return _mm512_fmadd_ps(a.even, b.even, _mm512_fmadd_ps(a.odd, b.odd, acc));
  }
};

#include "kernels/generic/gemm.h"
#include "kernels/generic/gemm_bf16.h"

void pack_weights_bf16(const float* w, int64_t n, int64_t k, uint16_t* out) {
  pack_weights_bf16_body<kNvF32 * OpsF32::W>(w, n, k, out);
}
void gemm_gates_bf16(const Bf16GateGemmArgs& g) { gemm_gates_bf16_body<OpsF32, Bf16Emulated, kMrF32, kNvF32, 3>(g); }
}  // namespace fastgru::kernels::avx512
