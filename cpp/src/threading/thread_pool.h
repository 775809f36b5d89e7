// A small fork-join pool: the calling thread plus num_threads()-1 workers. Workers spin briefly
// after each job before sleeping, because the GRU time loop forks once or twice per step and a
// condition-variable wake-up alone would cost several microseconds each time.
#pragma once

#include <cstdint>
#include <functional>

namespace fastgru::threading {

// Runs fn(task) for every task in [0, n_tasks) and returns when all are done. Task i always
// runs on the same thread (i mod the pool size), so per-thread data stays in that core's cache;
// callers still make results independent of which thread runs which task.
// A call made while another is running (another Python thread) runs on the caller alone.
void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn);

// Splits [0, n) into at most `parts` contiguous chunks whose boundaries are multiples of `grain`.
struct Range {
  int64_t begin, end;
};
Range chunk(int64_t n, int64_t parts, int64_t part, int64_t grain);

}  // namespace fastgru::threading
