#include "tensor/thread-pool.h"

#include <sched.h>

#include "base/cpu.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace parley {
namespace {

TEST(ThreadPool, CoversTheRangeOnceInEvenContiguousChunks) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> chunks{0};
      std::atomic<int64_t> shortest{n}, longest{0};
      pool.parallel_for(n, [&](int64_t begin, int64_t end, int thread) {
        ASSERT_LT(begin, end);
        ASSERT_GE(thread, 0);
        ASSERT_LT(thread, threads);
        chunks++;
        int64_t len = end - begin;
        for (int64_t v = shortest.load(); len < v && !shortest.compare_exchange_weak(v, len);) {}
        for (int64_t v = longest.load(); len > v && !longest.compare_exchange_weak(v, len);) {}
        for (int64_t i = begin; i < end; i++) hits[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < n; i++) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << i;
      EXPECT_EQ(chunks.load(), std::min<int64_t>(n, threads));
      if (n > 0) {
        EXPECT_LE(longest.load() - shortest.load(), 1);
      }
    }
  }
}

TEST(ThreadPool, ChunksOfAGrain) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(103);
  pool.parallel_for_chunks(103, 10, [&](int64_t begin, int64_t end, int) {
    EXPECT_EQ(begin % 10, 0);
    EXPECT_EQ(end, std::min<int64_t>(begin + 10, 103));
    for (int64_t i = begin; i < end; i++) hits[static_cast<size_t>(i)]++;
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, CountsJobsAndMeasuresTheCallersWait) {
  ThreadPool pool(2);
  pool.parallel_for(1, [](int64_t, int64_t, int) {});  // one chunk: runs inline, not a job
  EXPECT_EQ(pool.stats().jobs, 0u);
  pool.set_measure(true);
  // The worker's chunk takes ~20 ms while the caller's is empty: the caller waits for it.
  pool.parallel_for(2, [](int64_t begin, int64_t, int) {
    if (begin == 1) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  EXPECT_EQ(pool.stats().jobs, 1u);
  // Either thread may claim either chunk; whichever runs the sleep, the other waits ~20 ms
  // unless the caller ran both (then it waited 0 but spent the time in its own chunks).
  EXPECT_LT(pool.stats().wait_seconds, 1.0);
  pool.set_measure(false);
  pool.parallel_for(4, [](int64_t, int64_t, int) {});
  EXPECT_EQ(pool.stats().jobs, 2u);
  pool.reset_stats();
  EXPECT_EQ(pool.stats().jobs, 0u);
  EXPECT_EQ(pool.stats().wait_seconds, 0.0);
}

TEST(ThreadPool, PinnedThreadsRunWhereTheyWerePut) {
  const std::vector<int> cpus = pin_cpus_for(std::min(2, default_threads()));
  if (cpus.empty()) GTEST_SKIP() << "no physical cores to pin to";
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
  ThreadPool pool(static_cast<int>(cpus.size()), cpus);
  EXPECT_TRUE(pool.pinned());
  std::vector<std::atomic<int>> seen(cpus.size());
  for (auto& s : seen) s = -1;
  for (int iter = 0; iter < 200; iter++) {
    pool.parallel_for(static_cast<int64_t>(cpus.size()), [&](int64_t, int64_t, int thread) {
      seen[static_cast<size_t>(thread)] = sched_getcpu();
    });
  }
  for (size_t i = 0; i < cpus.size(); i++) {
    if (seen[i] >= 0) {
      EXPECT_EQ(seen[i].load(), cpus[i]) << "thread " << i;
    }
  }
  EXPECT_EQ(seen[0].load(), cpus[0]);  // the caller always runs a chunk
  sched_setaffinity(0, sizeof before, &before);  // the test's main thread, pinned by the pool
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

TEST(ThreadPool, OtherThreadsTakeTheChunksOfAStuckOne) {
  // The thread running chunk 0 waits until the last chunk has run. That only finishes because
  // the other threads claim every remaining chunk instead of each waiting for its own share.
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::atomic<bool> last_done{false};
    std::atomic<int> ran{0};
    bool timed_out = false;
    pool.parallel_for_chunks(50, 1, [&](int64_t begin, int64_t, int) {
      if (begin == 0) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!last_done.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
        timed_out = !last_done.load();
      }
      if (begin == 49) last_done = true;
      ran++;
    });
    EXPECT_FALSE(timed_out);
    EXPECT_EQ(ran.load(), 50);
  }
}

TEST(ThreadPool, WakesWorkersThatWentToSleep) {
  ThreadPool pool(2);
  // Long enough idle that the worker stops spinning and sleeps; then a job whose two chunks
  // each wait for the other proves both threads take part.
  for (int round = 0; round < 2; round++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::atomic<int> arrived{0};
    bool timed_out = false;
    pool.parallel_for(2, [&](int64_t, int64_t, int) {
      arrived++;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (arrived.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      if (arrived.load() < 2) timed_out = true;
    });
    EXPECT_FALSE(timed_out);
  }
}

}  // namespace
}  // namespace parley
