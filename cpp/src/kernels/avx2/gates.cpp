// Fused gate kernels (forward and backward) for the avx2 table.
#include <math.h>

#include <cfloat>
#include <cstdint>
#include <immintrin.h>

#include "fastgru/activation.h"
#include "kernels/kernel_table.h"

namespace fastgru::kernels::avx2 {
#include "kernels/isa_kernels.h"
#include "kernels/avx2/ops.h"
#include "kernels/generic/vmath.h"
#include "kernels/generic/activations.h"
#include "kernels/generic/gates.h"
#include "kernels/generic/libru_gates.h"
#include "kernels/generic/small_step.h"
#include "kernels/generic/define_gates.h"
}  // namespace fastgru::kernels::avx2
