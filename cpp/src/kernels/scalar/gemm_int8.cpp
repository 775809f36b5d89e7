// int8-weight gate GEMM for the scalar table: vpdpbusd's sums in plain int32, exactly.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <math.h>

#include "kernels/kernel_table.h"
#include "kernels/thread_scratch.h"

namespace fastgru::kernels::scalar {
#include "kernels/isa_kernels.h"
#include "kernels/scalar/ops.h"

constexpr int kMrF32 = 4, kNvF32 = 4;  // as gemm.cpp: the same panel width

struct Int8Plain {
  using Acc = int32_t;
  struct Bytes {
    int32_t byte[4];
  };
  using A = Bytes;
  using B = Bytes;
  static Acc zero() { return 0; }
  static B load_b(const int8_t* p) { return {{p[0], p[1], p[2], p[3]}}; }
  using Quad = uint32_t;  // the four offset bytes as they are
  static Quad quad(uint32_t bits) { return bits; }
  static A broadcast_a(Quad quad) {
    return {{static_cast<int32_t>(quad & 255u), static_cast<int32_t>((quad >> 8) & 255u),
             static_cast<int32_t>((quad >> 16) & 255u), static_cast<int32_t>(quad >> 24)}};
  }
  static Acc dot(Acc acc, const A& a, const B& b) {
    for (int t = 0; t < 4; ++t) acc += a.byte[t] * b.byte[t];
    return acc;
  }
  static float fused_madd(float a, float b, float c) { return std::fma(a, b, c); }
  static float minus_offset(Acc acc, const int32_t* sum, int lanes) {
    return lanes > 0 ? static_cast<float>(acc - 128 * sum[0]) : 0.0f;
  }
};

#include "kernels/generic/gemm.h"
#include "kernels/generic/gemm_int8.h"

void pack_weights_int8(const float* w, int64_t n, int64_t k, int8_t* out, float* scale, int32_t* sum) {
  pack_weights_int8_body<kNvF32 * OpsF32::W>(w, n, k, out, scale, sum);
}
void gemm_gates_int8(const Int8GateGemmArgs& g) { gemm_gates_int8_body<OpsF32, Int8Plain, kMrF32, kNvF32, 3>(g); }
}  // namespace fastgru::kernels::scalar
