// bf16-weight gate GEMM for the avx2 table: vdpbf16ps emulated with FMAs, bit for bit.
#include <cstdint>
#include <immintrin.h>

#include "kernels/bf16_convert.h"
#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx2 {
#include "kernels/isa_kernels.h"
#include "kernels/avx2/ops.h"
#include "kernels/x86_bf16_mode.h"

// The panel width of gemm.cpp (2 registers); 4 rows, as each B register is two halves here:
// 8 accumulators + 4 halves of B + 2 of A fit the 16 ymm registers.
constexpr int kMrBf16 = 4, kNvF32 = 2;
constexpr int kMrF32 = 6;  // gemm.cpp's float32 tile, which batches run on widened B

// A register of 8 bf16 pairs, as its odd (high) and even (low) halves widened to float.
struct Bf16Emulated {
  using Mode = Bf16FloatMode;
  struct Pairs {
    __m256 odd, even;
  };
  using A = Pairs;
  using B = Pairs;
  static B load_b(const uint16_t* p) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {_mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0xffff0000u)))),
            _mm256_castsi256_ps(_mm256_slli_epi32(v, 16))};
  }
  // A's pairs wait in memory as two floats, so each is one broadcast from memory.
  struct Pair {
    float odd, even;
  };
  static Pair pair(uint32_t bits) {
    return {from_bf16(static_cast<uint16_t>(bits >> 16)), from_bf16(static_cast<uint16_t>(bits))};
  }
  static A broadcast_a(const Pair& p) { return {_mm256_set1_ps(p.odd), _mm256_set1_ps(p.even)}; }
  static __m256 dot(__m256 acc, const A& a, const B& b) {
    return _mm256_fmadd_ps(a.even, b.even, _mm256_fmadd_ps(a.odd, b.odd, acc));
  }
};

#include "kernels/generic/gemm.h"
#include "kernels/generic/gemm_bf16.h"

void pack_weights_bf16(const float* w, int64_t n, int64_t k, uint16_t* out) {
  pack_weights_bf16_body<kNvF32 * OpsF32::W>(w, n, k, out);
}
// 1-2 rows (batch-1 steps) take all three gates at once: a pair's two FMAs form one dependent
// chain, and the 2 accumulators of one gate left the loop waiting on FMA latency.
// Batches widen B once per k-slice and run gemm.cpp's float32 tile (kMrF32 rows): the pair
// tile re-split B in every row tile and, short of registers, kept accumulators on the stack.
void gemm_gates_bf16(const Bf16GateGemmArgs& g) {
  gemm_gates_bf16_body<OpsF32, Bf16Emulated, kMrBf16, kNvF32, 3, kMrF32>(g);
}
}  // namespace fastgru::kernels::avx2
