// The kernel tables this build contains and the one in use.
#pragma once

#include "dispatch/cpu_features.h"
#include "kernels/kernel_table.h"

namespace fastgru::dispatch {

const kernels::KernelTable& scalar_table();
#if FASTGRU_HAVE_AVX2
const kernels::KernelTable& avx2_table();
#endif
#if FASTGRU_HAVE_AVX512
const kernels::KernelTable& avx512_table();
#endif

// The table chosen (best supported, FASTGRU_ISA, or set_isa); resolved on first use.
const kernels::KernelTable& active_table();

}  // namespace fastgru::dispatch
