#include "tensor/thread-pool.h"

#include <chrono>

#include "base/check.h"
#include "tensor/matmul.h"

namespace parley {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spin-wait step. Every so often it yields the core: when more threads than cores are runnable
// (other processes, or a pool larger than the machine) the thread we wait for may need our core.
inline void relax(int spin) {
  if (spin % 64 == 0) {
    std::this_thread::yield();
  } else {
    cpu_relax();
  }
}

// How long a worker spins after its last job before it sleeps. Decode calls parallel_for every
// few tens of microseconds, so this keeps workers awake for the whole step loop while letting
// an idle server's threads sleep.
constexpr auto kSpinTime = std::chrono::milliseconds(2);

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; i++) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

MatmulScratch& ThreadPool::matmul_scratch() {
  if (!matmul_scratch_) matmul_scratch_ = std::make_unique<MatmulScratch>();
  return *matmul_scratch_;
}

void ThreadPool::run_chunk(int index) {
  int64_t begin = n_ * index / n_threads_;
  int64_t end = n_ * (index + 1) / n_threads_;
  if (begin < end) invoke_(ctx_, begin, end, index);
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  while (true) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen == seen) {
      // Spin (checking the clock only every so often), then sleep.
      auto deadline = std::chrono::steady_clock::now() + kSpinTime;
      for (int spin = 1; gen == seen; spin++) {
        relax(spin);
        gen = generation_.load(std::memory_order_acquire);
        if (gen == seen && spin % 1024 == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
        gen = generation_.load(std::memory_order_acquire);
      }
    }
    seen = gen;
    if (stop_) return;
    run_chunk(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(int64_t n, Invoke invoke, void* ctx) {
  if (n_threads_ == 1 || n <= 1) {
    if (n > 0) invoke(ctx, 0, n, 0);
    return;
  }
  invoke_ = invoke;
  ctx_ = ctx;
  n_ = n;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  // A worker that is about to sleep increments sleeping_ under the mutex before it checks the
  // generation; taking the mutex here when any is (about to be) asleep closes the race.
  if (sleeping_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
  }
  run_chunk(0);
  for (int spin = 1; pending_.load(std::memory_order_acquire) != 0; spin++) relax(spin);
  invoke_ = nullptr;
  ctx_ = nullptr;
}

}  // namespace parley
