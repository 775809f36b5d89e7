#include "dispatch/cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace fastgru::dispatch {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
void cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]) {
#if defined(_MSC_VER)
  int r[4];
  __cpuidex(r, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint32_t>(r[i]);
#else
  __cpuid_count(leaf, sub, out[0], out[1], out[2], out[3]);
#endif
}

uint64_t xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#endif
}

uint32_t detect() {
  uint32_t r[4];
  cpuid(0, 0, r);
  const uint32_t max_leaf = r[0];
  if (max_leaf < 7) return 0;
  cpuid(1, 0, r);
  const bool osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
  if (!osxsave || !avx) return 0;
  // The OS must save the registers we use, or a context switch corrupts them.
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;
  cpuid(7, 0, r);
  const uint32_t ebx = r[1], ecx = r[2], max_subleaf = r[0];
  const bool avx2 = (ebx >> 5) & 1;
  const bool f = (ebx >> 16) & 1, dq = (ebx >> 17) & 1, bw = (ebx >> 30) & 1, vl = (ebx >> 31) & 1;
  uint32_t features = 0;
  if (ymm_state && avx2 && fma) features |= kFeatureAvx2Fma;
  if ((features & kFeatureAvx2Fma) && zmm_state && f && dq && bw && vl) features |= kFeatureAvx512;
  if ((features & kFeatureAvx512) && ((ecx >> 11) & 1)) features |= kFeatureAvx512Vnni;
  if ((features & kFeatureAvx512) && max_subleaf >= 1) {
    cpuid(7, 1, r);
    if ((r[0] >> 5) & 1) features |= kFeatureAvx512Bf16;
  }
  return features;
}
#else
uint32_t detect() { return 0; }
#endif

}  // namespace

uint32_t cpu_features() {
  static const uint32_t features = detect();
  return features;
}

}  // namespace fastgru::dispatch
