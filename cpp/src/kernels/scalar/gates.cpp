// Fused gate kernels (forward and backward) for the scalar table.
#include <math.h>

#include <cfloat>
#include <cstdint>
#include <limits>
#include <cmath>

#include "fastgru/activation.h"
#include "kernels/kernel_table.h"

namespace fastgru::kernels::scalar {
#include "kernels/isa_kernels.h"
#include "kernels/scalar/ops.h"
#include "kernels/generic/vmath.h"
#include "kernels/generic/activations.h"
#include "kernels/generic/gates.h"
#include "kernels/generic/libru_gates.h"
#include "kernels/generic/small_step.h"
#include "kernels/generic/define_gates.h"
}  // namespace fastgru::kernels::scalar
