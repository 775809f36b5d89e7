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

// The float kernels, with vdpbf16ps for bf16 weights where the CPU has AVX512_BF16 (the
// emulation gives the same bits; FASTGRU_BF16_EMULATE=1 picks it, for testing that).
TypedKernels<float> float_kernels() {
  TypedKernels<float> k = typed_kernels<float>(kPanelWidthF32);
#if defined(FASTGRU_HAVE_AVX512BF16)
  const char* emulate = std::getenv("FASTGRU_BF16_EMULATE");
  if ((dispatch::cpu_features() & dispatch::kFeatureAvx512Bf16) && !(emulate && std::strcmp(emulate, "1") == 0))
    k.gemm_gates_bf16 = &gemm_gates_bf16_native;
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
