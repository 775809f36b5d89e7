// bf16-weight gate GEMM for the avx512 table on CPUs with AVX512_BF16: one vdpbf16ps per pair
// of k (the table picks it when cpuid reports the extension). Compiled with -mavx512bf16.
#include <cstdint>
#include <immintrin.h>

#include "kernels/bf16_convert.h"
#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx512 {
#include "kernels/avx512/ops.h"
#include "kernels/x86_bf16_mode.h"

void gemm_gates_bf16_native(const Bf16GateGemmArgs& g);

namespace {
constexpr int kMrF32 = 8, kNvF32 = 2;  // as gemm.cpp: the same panel width

struct Bf16Native {
  using Mode = Bf16FloatMode;  // the additions around the dot products flush as the emulation's do
  using A = __m512bh;
  using B = __m512bh;
  static B load_b(const uint16_t* p) { return reinterpret_cast<__m512bh>(_mm512_loadu_si512(p)); }
  using Pair = uint32_t;
  static Pair pair(uint32_t bits) { return bits; }
  static A broadcast_a(Pair pair) { return reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(pair))); }
  static __m512 dot(__m512 acc, A a, B b) { return _mm512_dpbf16_ps(acc, a, b); }
};

#include "kernels/generic/gemm.h"
#include "kernels/generic/gemm_bf16.h"
}  // namespace

void gemm_gates_bf16_native(const Bf16GateGemmArgs& g) { gemm_gates_bf16_body<OpsF32, Bf16Native, kMrF32, kNvF32, 3>(g); }
}  // namespace fastgru::kernels::avx512
