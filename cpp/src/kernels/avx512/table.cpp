// The AVX-512 kernel table. Compiled at baseline flags (it holds addresses only); the kernels it
// points to are in this folder's object library.
#include "dispatch/tables.h"

#include <cstdlib>
#include <cstring>

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

// The float kernels, with vdpbf16ps for bf16 weights where the CPU has AVX512_BF16 and
// vpdpbusd for int8 weights where it has AVX512_VNNI (the emulations give the same bits;
// FASTGRU_BF16_EMULATE=1 / FASTGRU_INT8_EMULATE=1 pick them, for testing that).
TypedKernels<float> float_kernels() {
  TypedKernels<float> k = typed_kernels<float>(kPanelWidthF32);
#if defined(FASTGRU_HAVE_AVX512BF16)
  if (use_native(dispatch::kFeatureAvx512Bf16, "FASTGRU_BF16_EMULATE")) k.gemm_gates_bf16 = &gemm_gates_bf16_native;
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
