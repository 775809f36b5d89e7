// The AVX2+FMA kernel table. Compiled at baseline flags (it holds addresses only); the kernels
// it points to are in this folder's object library.
#include "dispatch/tables.h"

namespace fastgru::kernels::avx2 {
#include "kernels/isa_kernels.h"
#include "kernels/generic/define_table.h"
}  // namespace fastgru::kernels::avx2

namespace fastgru::dispatch {
const kernels::KernelTable& avx2_table() {
  using namespace kernels::avx2;
  static const kernels::KernelTable table{"avx2", kFeatureAvx2Fma, typed_kernels<float>(kPanelWidthF32),
                                          typed_kernels<double>(kPanelWidthF64)};
  return table;
}
}  // namespace fastgru::dispatch
