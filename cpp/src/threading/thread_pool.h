// A small fork-join pool: the calling thread plus num_threads()-1 workers. The GRU time loop forks
// once or twice per step, so the hand-off must cost well under a microsecond on a quiet machine,
// and must never make the caller wait for a worker the kernel has descheduled on a busy one: a
// task nobody has started yet is run by whoever gets to it first, the caller included.
#pragma once

#include <cstdint>
#include <functional>

namespace fastgru::threading {

// Runs fn(task) for every task in [0, n_tasks) and returns when all are done. Task i is meant for
// thread i mod the pool size (so per-thread data stays in that core's cache), but a thread that
// is late loses its tasks to the others: callers make results independent of which thread runs
// which task. An exception thrown by a task is rethrown here (the first one, after every task has
// ended). A call made while another is running (another Python thread) runs on the caller alone.
void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn);

// Splits [0, n) into at most `parts` contiguous chunks whose boundaries are multiples of `grain`.
struct Range {
  int64_t begin, end;
};
Range chunk(int64_t n, int64_t parts, int64_t part, int64_t grain);

}  // namespace fastgru::threading
