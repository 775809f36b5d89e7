// int8-weight gate GEMM for the avx512 table on CPUs with AVX512_VNNI: one vpdpbusd per quad of
// k (the table picks it when cpuid reports the extension). Compiled with -mavx512vnni.
#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <math.h>

#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::avx512 {
#include "kernels/avx512/ops.h"

void gemm_gates_int8_native(const Int8GateGemmArgs& g);

namespace {
#include "kernels/avx512/int8_ops.h"

constexpr int kMrF32 = 8, kNvF32 = 2;  // as gemm.cpp: the same panel width

struct Int8Vnni {
  using Acc = __m512i;
  using A = __m512i;
  using B = __m512i;
  static Acc zero() { return _mm512_setzero_si512(); }
  static B load_b(const int8_t* p) { return _mm512_loadu_si512(p); }
  using Quad = uint32_t;  // the four offset bytes as they are
  static Quad quad(uint32_t bits) { return bits; }
  static A broadcast_a(Quad quad) { return _mm512_set1_epi32(static_cast<int>(quad)); }
  static Acc dot(Acc acc, A a, B b) { return _mm512_dpbusd_epi32(acc, a, b); }  // a unsigned, b signed
  static __m512 fused_madd(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
  static __m512 minus_offset(Acc acc, const int32_t* sum, int lanes) { return int8_minus_offset(acc, sum, lanes); }
};

#include "kernels/generic/gemm.h"
#include "kernels/generic/gemm_int8.h"
}  // namespace

void gemm_gates_int8_native(const Int8GateGemmArgs& g) { gemm_gates_int8_body<OpsF32, Int8Vnni, kMrF32, kNvF32, 3>(g); }
}  // namespace fastgru::kernels::avx512
