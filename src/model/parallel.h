// Spreading an op's rows or tasks over the thread pool (ops.cpp, attention.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

#include "tensor/thread-pool.h"

namespace parley::model::ops {

// Runs fn(task) for tasks [0, n_tasks) with the tasks dealt round-robin to the threads, so
// uneven tasks (later causal rows cost more) stay balanced.
template <class Fn>
void for_tasks(ThreadPool& pool, int64_t n_tasks, const Fn& fn) {
  int64_t nt = std::min<int64_t>(pool.size(), n_tasks);
  if (nt <= 1) {
    for (int64_t i = 0; i < n_tasks; i++) fn(i, 0);
    return;
  }
  pool.parallel_for(nt, [&](int64_t begin, int64_t end, int) {
    for (int64_t th = begin; th < end; th++) {
      for (int64_t i = th; i < n_tasks; i += nt) fn(i, static_cast<int>(th));
    }
  });
}

// Rows split into contiguous chunks, for ops whose rows all cost the same.
template <class Fn>
void for_rows(ThreadPool& pool, int64_t n_rows, const Fn& fn) {
  if (n_rows < 2 || pool.size() == 1) {
    for (int64_t r = 0; r < n_rows; r++) fn(r);
    return;
  }
  pool.parallel_for(n_rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; r++) fn(r);
  });
}

}  // namespace parley::model::ops
