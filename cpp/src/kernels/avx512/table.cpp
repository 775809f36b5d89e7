// The AVX-512 kernel table. Compiled at baseline flags (it holds addresses only); the kernels it
// points to are in this folder's object library.
#include "dispatch/tables.h"

namespace fastgru::kernels::avx512 {
#include "kernels/isa_kernels.h"
#include "kernels/generic/define_table.h"
}  // namespace fastgru::kernels::avx512

namespace fastgru::dispatch {
const kernels::KernelTable& avx512_table() {
  using namespace kernels::avx512;
  static const kernels::KernelTable table{"avx512", kFeatureAvx512, typed_kernels<float>(kPanelWidthF32),
                                          typed_kernels<double>(kPanelWidthF64)};
  return table;
}
}  // namespace fastgru::dispatch
