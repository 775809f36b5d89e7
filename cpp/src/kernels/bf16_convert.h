// float <-> bfloat16 conversion, the one rounding every bf16 path uses (weights when packed,
// GEMM inputs per call), so all ISAs round alike: to nearest even, NaN kept quiet, and results
// below the smallest normal flushed to a signed zero (what vdpbf16ps would do with them anyway).
// static: each translation unit keeps its own copy, so the ISA kernel objects (compiled with
// -m flags) never share one with baseline code (tools/check_isa_symbols.sh).
#pragma once

#include <cstdint>
#include <cstring>

namespace fastgru::kernels {

static inline uint16_t to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  uint16_t r = static_cast<uint16_t>(u >> 16);
  if ((r & 0x7f80u) == 0) r &= 0x8000u;  // subnormal -> signed zero
  return r;
}

static inline float from_bf16(uint16_t b) {
  const uint32_t u = uint32_t{b} << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Two consecutive k of one row as vdpbf16ps reads them: k even in the low half.
static inline uint32_t bf16_pair(float even, float odd) {
  return uint32_t{to_bf16(even)} | (uint32_t{to_bf16(odd)} << 16);
}

}  // namespace fastgru::kernels
