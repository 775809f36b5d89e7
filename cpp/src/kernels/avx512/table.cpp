// The AVX-512 kernel table. Compiled at baseline flags (it holds addresses only); the kernels it
// points to are in this folder's object library.
#include "dispatch/tables.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dispatch/cpu_features.h"

namespace fastgru::kernels::avx512 {
#include "kernels/isa_kernels.h"
#include "kernels/generic/define_table.h"
void gemm_gates_bf16_native(const Bf16GateGemmArgs& args);  // gemm_bf16_native.cpp
void gemm_gates_int8_native(const Int8GateGemmArgs& args);  // gemm_int8_native.cpp

// Whether the CPU has `feature` and the environment variable `emulate` is not "1".
bool use_native(uint32_t feature, const char* emulate) {
  const char* value = std::getenv(emulate);
  return (dispatch::cpu_features() & feature) && !(value && std::strcmp(value, "1") == 0);
}

// The faster of two bit-identical bf16 kernels on a batch-sized product, timed once (~1 ms).
// vdpbf16ps is not fast everywhere: on Zen 5 it does fewer multiply-adds per cycle than the
// FMA emulation (measured: batched S3/S5 0.63x of float32 native, 1.0x emulated), while on CPUs
// that double-pump or fuse it, it is about twice the emulation.
using Bf16Kernel = void (*)(const Bf16GateGemmArgs&);
Bf16Kernel faster_bf16_kernel(Bf16Kernel native, Bf16Kernel emulated) {
  constexpr int64_t m = 32, n = 64, k = 512;
  std::vector<float> a(m * k, 0.5f), c(m * 3 * n), bias(3 * n, 0.0f);
  std::vector<uint16_t> b(static_cast<size_t>(3 * packed_bf16_size(n, k, kPanelWidthF32)), 0x3f80);
  const Bf16GateGemmArgs args{m, 3, k, 0, n, a.data(), k, b.data(), packed_bf16_size(n, k, kPanelWidthF32),
                              bias.data(), c.data(), 3 * n, n};
  auto best_time = [&](Bf16Kernel kernel) {
    double best = 1e30;
    for (int round = 0; round < 5; ++round) {
      const auto start = std::chrono::steady_clock::now();
      for (int rep = 0; rep < 4; ++rep) kernel(args);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
  };
  const double t_emulated = best_time(emulated), t_native = best_time(native);
  return t_native <= t_emulated ? native : emulated;
}

// The float kernels, with vdpbf16ps for bf16 weights where the CPU has AVX512_BF16 and it is
// the faster, and vpdpbusd for int8 weights where it has AVX512_VNNI (the emulations give the
// same bits; FASTGRU_BF16_EMULATE=1 / FASTGRU_INT8_EMULATE=1 pick them, FASTGRU_BF16_EMULATE=0
// the instruction, for testing that).
TypedKernels<float> float_kernels() {
  TypedKernels<float> k = typed_kernels<float>(kPanelWidthF32);
#if defined(FASTGRU_HAVE_AVX512BF16)
  if (use_native(dispatch::kFeatureAvx512Bf16, "FASTGRU_BF16_EMULATE")) {
    const char* forced = std::getenv("FASTGRU_BF16_EMULATE");  // "0": the instruction, untimed
    k.gemm_gates_bf16 = forced && std::strcmp(forced, "0") == 0
                            ? &gemm_gates_bf16_native
                            : faster_bf16_kernel(&gemm_gates_bf16_native, k.gemm_gates_bf16);
  }
#endif
#if defined(FASTGRU_HAVE_AVX512VNNI)
  if (use_native(dispatch::kFeatureAvx512Vnni, "FASTGRU_INT8_EMULATE")) k.gemm_gates_int8 = &gemm_gates_int8_native;
#endif
  return k;
}
}  // namespace fastgru::kernels::avx512

namespace fastgru::dispatch {
const kernels::KernelTable& avx512_table() {
  using namespace kernels::avx512;
  static const kernels::KernelTable table{"avx512", kFeatureAvx512, float_kernels(),
                                          typed_kernels<double>(kPanelWidthF64)};
  return table;
}
}  // namespace fastgru::dispatch
