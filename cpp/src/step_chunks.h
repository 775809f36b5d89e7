// Steps taken a chunk at a time, so per-row data made by a GEMM over many rows and used by the
// time loop (forward: input projections), or made by the time loop and used by GEMMs (backward:
// gate gradients), stays in cache between the two instead of going out to DRAM and back.
#pragma once

#include <algorithm>
#include <cstdint>

#include "sequence_layout.h"

namespace fastgru {

// Steps per chunk: about 4 MB of per-row data, but at least ~256 rows so the GEMMs keep their
// speed; whole = true (batch norm: statistics over all steps) makes one chunk of every step.
inline int64_t chunk_steps(int64_t steps, int64_t batch, int64_t bytes_per_row, bool whole) {
  if (whole) return steps;
  constexpr int64_t kMinRows = 256, kMaxBytes = int64_t{4} << 20;
  const int64_t chunk = std::max((kMinRows + batch - 1) / batch, kMaxBytes / (batch * bytes_per_row));
  return std::max<int64_t>(1, std::min(steps, chunk));
}

// The packed rows and time range of the steps [s0, s1) of a loop that visits time backwards
// (t = steps - 1 - s) or forwards (t = s). Packed rows of consecutive times are contiguous.
struct StepChunk {
  int64_t t_lo, t_hi;      // times [t_lo, t_hi)
  int64_t row_lo, row_hi;  // packed rows [row_lo, row_hi)

  StepChunk(const SequenceLayout& lay, int64_t s0, int64_t s1, bool backwards_in_time)
      : t_lo(backwards_in_time ? lay.steps - s1 : s0), t_hi(backwards_in_time ? lay.steps - s0 : s1) {
    row_lo = lay.offsets[t_lo];
    row_hi = lay.offsets[t_hi - 1] + lay.batch_sizes[t_hi - 1];
  }
  int64_t rows() const { return row_hi - row_lo; }
};

}  // namespace fastgru
