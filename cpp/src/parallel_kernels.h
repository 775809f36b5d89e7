// Runs one kernel call across the thread pool. Splits never cut a reduction: a GEMM is split by
// output rows or output columns (whole packed panels), a gate kernel by rows or gate columns, so
// results are bit-identical whatever the thread count.
#pragma once

#include <algorithm>

#include "fastgru/runtime.h"
#include "kernels/kernel_table.h"
#include "threading/thread_pool.h"

namespace fastgru {

// Below this many multiply-adds a fork costs more than it saves.
constexpr int64_t kMinParallelFlops = 1 << 15;

template <class T>
void parallel_gemm(void (*gemm)(const kernels::GemmArgs<T>&), const kernels::GemmArgs<T>& g, bool packed,
                   int nr) {
  const int64_t threads = num_threads();
  if (threads == 1 || g.m * g.n * g.k < kMinParallelFlops) {
    gemm(g);
    return;
  }
  const bool by_rows = g.m >= g.n;
  const int64_t grain = by_rows ? 8 : nr;
  const int64_t parts = std::min<int64_t>(threads, ((by_rows ? g.m : g.n) + grain - 1) / grain);
  threading::parallel_for(parts, [&](int64_t part) {
    kernels::GemmArgs<T> s = g;
    const threading::Range r = threading::chunk(by_rows ? g.m : g.n, parts, part, grain);
    if (r.begin >= r.end) return;
    if (by_rows) {
      s.m = r.end - r.begin;
      s.a = g.a + r.begin * g.a_row_stride;
      s.c = g.c + r.begin * g.ldc;
    } else {
      s.n = r.end - r.begin;
      s.b = packed ? g.b + r.begin * g.k : g.b + r.begin;
      s.c = g.c + r.begin;
      if (g.bias) s.bias = g.bias + r.begin;
    }
    gemm(s);
  });
}

// Sequences are independent through the recurrence, so a batch of enough of them is split
// across threads by sequence for many steps at once (forward: a chunk of steps, backward: all
// of them), with no hand-off or wait per step. Smaller batches split each step's columns.
constexpr int64_t kSequenceGrain = 8, kMinSequencesPerThread = 16;

inline int64_t sequence_parts(int64_t batch) {
  const int64_t parts = std::min<int64_t>(num_threads(), batch / kMinSequencesPerThread);
  return parts >= 2 ? parts : 1;
}

// Args is GateArgs or GateGradArgs: both carry rows and [col_begin, col_end).
template <class Args>
void parallel_gates(void (*kernel)(const Args&), const Args& g) {
  const int64_t threads = num_threads();
  const int64_t cols = g.col_end - g.col_begin;
  if (threads == 1 || g.rows * cols < 4096) {
    kernel(g);
    return;
  }
  const bool by_rows = g.rows >= threads;
  const int64_t grain = by_rows ? 1 : 16;  // 16 columns: a whole register on every ISA
  const int64_t parts = std::min<int64_t>(threads, by_rows ? g.rows : (cols + grain - 1) / grain);
  threading::parallel_for(parts, [&](int64_t part) {
    Args s = g;
    const threading::Range r = threading::chunk(by_rows ? g.rows : cols, parts, part, grain);
    if (r.begin >= r.end) return;
    if (by_rows) {
      s.rows = r.end - r.begin;
      s.shift_rows(r.begin);
    } else {
      s.col_begin = g.col_begin + r.begin;
      s.col_end = g.col_begin + r.end;
    }
    kernel(s);
  });
}

}  // namespace fastgru
