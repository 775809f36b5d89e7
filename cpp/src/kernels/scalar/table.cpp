// The scalar kernel table: always compiled, runs everywhere.
#include "dispatch/tables.h"

namespace fastgru::kernels::scalar {
#include "kernels/isa_kernels.h"
#include "kernels/generic/define_table.h"
}  // namespace fastgru::kernels::scalar

namespace fastgru::dispatch {
const kernels::KernelTable& scalar_table() {
  using namespace kernels::scalar;
  static const kernels::KernelTable table{"scalar", 0, typed_kernels<float>(kPanelWidthF32),
                                          typed_kernels<double>(kPanelWidthF64)};
  return table;
}
}  // namespace fastgru::dispatch
