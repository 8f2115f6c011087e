// A fixed pool of compute threads driven by one caller (the engine thread).
//
// A job is a range split into chunks; the caller and the workers claim chunks from a shared
// counter until none are left, so a thread the OS preempts (other processes on the machine)
// delays at most the chunk it holds, never the whole job: the others take its share and the
// caller returns as soon as every chunk is done, without waiting for idle workers to wake up.
//
// Decode issues hundreds of small jobs per token, so wake-up latency matters more than idle CPU:
// workers spin on the job counter for a while after each job (about two milliseconds) and only
// then sleep on a condition variable; the caller takes the mutex only when some worker sleeps.
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
  // n_threads counts the calling thread: 1 means no extra threads. With `pin_cpus`, thread i
  // (0 = whichever thread calls parallel_for) runs only on pin_cpus[i % size]: workers bind
  // themselves at start, a calling thread at its first job.
  explicit ThreadPool(int n_threads, std::vector<int> pin_cpus = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  bool pinned() const { return !pin_cpus_.empty(); }

  // What the pool did since the last reset: the jobs that ran on more than one thread, and
  // (while measuring) the time the caller spent waiting for other threads' chunks after its
  // own were done: load imbalance plus the workers' wake-up and completion latency.
  struct Stats {
    uint64_t jobs = 0;
    double wait_seconds = 0;
  };
  Stats stats() const { return stats_; }
  void reset_stats() { stats_ = Stats{}; }
  // Measuring reads the clock twice per job; off by default.
  void set_measure(bool on) { measure_ = on; }

  // fn(begin, end, thread) over [0, n) split into min(n, size()) contiguous chunks of (nearly)
  // equal length; returns when all are done. Each chunk runs on whichever thread claims it
  // first, usually one per thread; `thread` (0 = the caller) is the index of the thread running
  // it, so per-thread scratch indexed by it is never used by two chunks at once. Must not be
  // called concurrently or recursively.
  using RangeFn = std::function<void(int64_t begin, int64_t end, int thread)>;
  void parallel_for(int64_t n, const RangeFn& fn) { run(n, 0, &call<const RangeFn>, const_cast<RangeFn*>(&fn)); }
  // Same for any callable, without wrapping it in a std::function (no allocation).
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, RangeFn>>>
  void parallel_for(int64_t n, F&& fn) {
    run(n, 0, &call<std::remove_reference_t<F>>, const_cast<void*>(static_cast<const void*>(&fn)));
  }
  // Chunks of `grain` items ([0, grain), [grain, 2 * grain), ...): more chunks than threads
  // balance uneven work and preemption.
  template <class F>
  void parallel_for_chunks(int64_t n, int64_t grain, F&& fn) {
    run(n, grain < 1 ? 1 : grain, &call<std::remove_reference_t<F>>, const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Scratch for matmul calls that do not pass their own (matmul.h): the pool has one driver, so
  // one scratch per pool is never used by two calls at once.
  MatmulScratch& matmul_scratch();

 private:
  using Invoke = void (*)(void* ctx, int64_t begin, int64_t end, int thread);
  template <class Fn>
  static void call(void* ctx, int64_t begin, int64_t end, int thread) {
    (*static_cast<Fn*>(ctx))(begin, end, thread);
  }

  // Two job slots: a late worker still reading the previous job's slot never sees it
  // overwritten, because a slot is reused only after the job in the other slot completed.
  struct Job {
    std::atomic<Invoke> invoke{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<int64_t> n{0};
    std::atomic<int64_t> grain{0};  // 0: n_chunks equal parts
    std::atomic<int64_t> n_chunks{0};
    alignas(64) std::atomic<int64_t> done{0};
  };

  void run(int64_t n, int64_t grain, Invoke invoke, void* ctx);
  // Claims and runs chunks of the job named in `ticket` until none are left.
  void work(uint64_t ticket, int thread);
  void worker(int index);

  int n_threads_;
  std::vector<int> pin_cpus_;
  uint32_t job_id_ = 0;  // caller only
  Stats stats_;          // caller only
  bool measure_ = false;
  std::thread::id pinned_caller_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // job id << 32 | next unclaimed chunk. Its own cache line: every claim writes it.
  alignas(64) std::atomic<uint64_t> ticket_{0};
  alignas(64) std::atomic<int> sleeping_{0};
  std::atomic<bool> stop_{false};
  Job jobs_[2];
  std::unique_ptr<MatmulScratch> matmul_scratch_;
};

}  // namespace parley
