// bf16-weight gate GEMM for the scalar table: vdpbf16ps's arithmetic in plain float (each
// product of two bf16 is exact in float, so a multiply and an add round as its FMA does). On
// x86 the same flushing float environment as the vector tables; elsewhere the default one.
#include <cmath>
#include <cstdint>
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <xmmintrin.h>
#define FASTGRU_X86_FLOAT_MODE 1
#endif

#include "kernels/bf16_convert.h"
#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::scalar {
#include "kernels/isa_kernels.h"
#include "kernels/scalar/ops.h"
#if FASTGRU_X86_FLOAT_MODE
#include "kernels/x86_bf16_mode.h"
#else
struct Bf16FloatMode {};
#endif

constexpr int kMrF32 = 4, kNvF32 = 4;  // as gemm.cpp: the same panel width

struct Bf16Emulated {
  using Mode = Bf16FloatMode;
  struct Pairs {
    float odd, even;
  };
  using A = Pairs;
  using B = Pairs;
  static B load_b(const uint16_t* p) { return {from_bf16(p[1]), from_bf16(p[0])}; }
  // A's pairs wait in memory as two floats, so each is one broadcast from memory.
  struct Pair {
    float odd, even;
  };
  static Pair pair(uint32_t bits) {
    return {from_bf16(static_cast<uint16_t>(bits >> 16)), from_bf16(static_cast<uint16_t>(bits))};
  }
  static A broadcast_a(const Pair& p) { return {p.odd, p.even}; }
  static float dot(float acc, const A& a, const B& b) { return a.even * b.even + (a.odd * b.odd + acc); }
};

#include "kernels/generic/gemm.h"
#include "kernels/generic/gemm_bf16.h"

void pack_weights_bf16(const float* w, int64_t n, int64_t k, uint16_t* out) {
  pack_weights_bf16_body<kNvF32 * OpsF32::W>(w, n, k, out);
}
void gemm_gates_bf16(const Bf16GateGemmArgs& g) { gemm_gates_bf16_body<OpsF32, Bf16Emulated, kMrF32, kNvF32, 3>(g); }
}  // namespace fastgru::kernels::scalar
