#include "tensor/thread-pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace parley {
namespace {

TEST(ThreadPool, CoversTheRangeOnceInContiguousChunks) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::vector<int> thread_of(static_cast<size_t>(n), -1);
      pool.parallel_for(n, [&](int64_t begin, int64_t end, int thread) {
        ASSERT_LT(begin, end);
        ASSERT_GE(thread, 0);
        ASSERT_LT(thread, threads);
        for (int64_t i = begin; i < end; i++) {
          hits[static_cast<size_t>(i)]++;
          thread_of[static_cast<size_t>(i)] = thread;
        }
      });
      for (int64_t i = 0; i < n; i++) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << i;
      // Chunks are in thread order.
      for (int64_t i = 1; i < n; i++) ASSERT_LE(thread_of[static_cast<size_t>(i - 1)], thread_of[static_cast<size_t>(i)]);
    }
  }
}

TEST(ThreadPool, ManyQuickCallsAndStdFunction) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  for (int iter = 0; iter < 20000; iter++) {
    pool.parallel_for(6, [&](int64_t b, int64_t e, int) { total += e - b; });
  }
  EXPECT_EQ(total.load(), 6 * 20000);
  ThreadPool::RangeFn fn = [&](int64_t b, int64_t e, int) { total += e - b; };
  pool.parallel_for(10, fn);
  EXPECT_EQ(total.load(), 6 * 20000 + 10);
}

TEST(ThreadPool, WakesWorkersThatWentToSleep) {
  ThreadPool pool(2);
  std::atomic<int> used_worker{0};
  // Long enough idle that the worker stops spinning and sleeps.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  pool.parallel_for(2, [&](int64_t, int64_t, int thread) {
    if (thread == 1) used_worker++;
  });
  EXPECT_EQ(used_worker.load(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  pool.parallel_for(2, [&](int64_t, int64_t, int thread) {
    if (thread == 1) used_worker++;
  });
  EXPECT_EQ(used_worker.load(), 2);
}

}  // namespace
}  // namespace parley
