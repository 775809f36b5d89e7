// What this CPU (and its OS) can run. Compiled at baseline flags.
#pragma once

#include <cstdint>

namespace fastgru::dispatch {

enum : uint32_t {
  kFeatureAvx2Fma = 1u << 0,  // AVX2 + FMA, YMM state enabled by the OS
  kFeatureAvx512 = 1u << 1,   // AVX-512 F/VL/DQ/BW, ZMM + opmask state enabled by the OS
  kFeatureAvx512Bf16 = 1u << 2,  // kFeatureAvx512 + AVX512_BF16 (vdpbf16ps)
  kFeatureAvx512Vnni = 1u << 3,  // kFeatureAvx512 + AVX512_VNNI (vpdpbusd)
};

// Bitmask of kFeature*; detected once (cpuid + xgetbv).
uint32_t cpu_features();

}  // namespace fastgru::dispatch
