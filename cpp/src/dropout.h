// Inter-layer dropout masks from a counter-based hash: the mask of an element depends only on
// (seed, layer, step, original batch index, feature), so it needs no storage, backward recomputes
// it, and it does not depend on packing, thread count or batch order.
#pragma once

#include <cstdint>

namespace fastgru {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Scale (0 or 1/(1-p)) for element (step, sequence, feature) of layer `layer`'s input.
template <class T>
inline T dropout_scale(uint64_t seed, int64_t layer, int64_t step, int64_t sequence, int64_t feature,
                       double p) {
  uint64_t h = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(layer)));
  h = splitmix64(h ^ static_cast<uint64_t>(step));
  h = splitmix64(h ^ static_cast<uint64_t>(sequence));
  h = splitmix64(h ^ static_cast<uint64_t>(feature));
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  return u < p ? T(0) : static_cast<T>(1.0 / (1.0 - p));
}

}  // namespace fastgru
