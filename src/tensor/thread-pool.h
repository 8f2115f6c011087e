// A fixed pool of compute threads driven by one caller (the engine thread). parallel_for splits
// a range into one contiguous chunk per thread; the caller runs chunk 0 itself.
//
// Decode issues hundreds of small parallel_for calls per token, so wake-up latency matters more
// than idle CPU: workers spin on an atomic generation counter for a while after each job (about
// a millisecond) and only then sleep on a condition variable. The caller only takes the mutex
// when some worker is asleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace parley {

class MatmulScratch;

class ThreadPool {
 public:
  // n_threads counts the calling thread: 1 means no extra threads.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Scratch for matmul calls that do not pass their own (matmul.h): the pool has one driver, so
  // one scratch per pool is never used by two calls at once.
  MatmulScratch& matmul_scratch();

  // fn(begin, end, thread) over [0, n) in n_threads contiguous chunks (chunk i goes to thread
  // i; empty chunks are skipped); returns when all chunks are done. Must not be called
  // concurrently or recursively.
  using RangeFn = std::function<void(int64_t begin, int64_t end, int thread)>;
  void parallel_for(int64_t n, const RangeFn& fn) { run(n, &call<RangeFn>, const_cast<RangeFn*>(&fn)); }
  // Same for any callable, without wrapping it in a std::function (no allocation).
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, RangeFn>>>
  void parallel_for(int64_t n, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run(n, &call<Fn>, const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Invoke = void (*)(void* ctx, int64_t begin, int64_t end, int thread);
  template <class Fn>
  static void call(void* ctx, int64_t begin, int64_t end, int thread) {
    (*static_cast<Fn*>(ctx))(begin, end, thread);
  }

  void run(int64_t n, Invoke invoke, void* ctx);
  void worker(int index);
  void run_chunk(int index);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // Written by the caller, read by spinning workers; kept on its own cache line so the workers'
  // completion count does not bounce it.
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<int> sleeping_{0};
  bool stop_ = false;
  Invoke invoke_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  std::unique_ptr<MatmulScratch> matmul_scratch_;
};

}  // namespace parley
