#include "tensor/thread-pool.h"

#include <chrono>

#include "base/check.h"
#include "base/cpu.h"
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

constexpr uint32_t job_of(uint64_t ticket) { return static_cast<uint32_t>(ticket >> 32); }
constexpr uint32_t chunk_of(uint64_t ticket) { return static_cast<uint32_t>(ticket); }

}  // namespace

ThreadPool::ThreadPool(int n_threads, std::vector<int> pin_cpus)
    : n_threads_(n_threads < 1 ? 1 : n_threads), pin_cpus_(std::move(pin_cpus)) {
  for (int i = 1; i < n_threads_; i++) {
    threads_.emplace_back([this, i] {
      if (!pin_cpus_.empty()) pin_current_thread(pin_cpus_[static_cast<size_t>(i) % pin_cpus_.size()]);
      worker(i);
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_seq_cst);
    // A new job id with no chunks wakes the spinners; they see stop_ and leave.
    ticket_.store(static_cast<uint64_t>(job_id_ + 1) << 32 | 0xFFFFFFFFu, std::memory_order_seq_cst);
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

MatmulScratch& ThreadPool::matmul_scratch() {
  if (!matmul_scratch_) matmul_scratch_ = std::make_unique<MatmulScratch>();
  return *matmul_scratch_;
}

void ThreadPool::work(uint64_t ticket, int thread) {
  const uint32_t job = job_of(ticket);
  Job& j = jobs_[job & 1];
  while (true) {
    // n_chunks was written before the ticket naming this job was published (and read with
    // acquire); if the job has moved on since, the claim below fails.
    const int64_t n_chunks = j.n_chunks.load(std::memory_order_relaxed);
    if (job_of(ticket) != job || chunk_of(ticket) >= n_chunks) return;
    if (!ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      continue;  // ticket now holds the current value
    }
    // The chunk is ours; the job cannot complete (and its slot cannot be reused) before we
    // report it done, so its fields are stable.
    const int64_t i = chunk_of(ticket);
    const int64_t n = j.n.load(std::memory_order_relaxed);
    const int64_t grain = j.grain.load(std::memory_order_relaxed);
    int64_t begin, end;
    if (grain > 0) {
      begin = i * grain;
      end = std::min(n, begin + grain);
    } else {
      begin = n * i / n_chunks;
      end = n * (i + 1) / n_chunks;
    }
    if (begin < end) j.invoke.load(std::memory_order_relaxed)(j.ctx.load(std::memory_order_relaxed), begin, end, thread);
    j.done.fetch_add(1, std::memory_order_release);
    ticket = ticket_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker(int index) {
  uint32_t finished = 0;  // the last job this worker found without chunks left
  while (true) {
    uint64_t ticket = ticket_.load(std::memory_order_acquire);
    if (job_of(ticket) == finished) {
      // Spin (checking the clock only every so often), then sleep.
      auto deadline = std::chrono::steady_clock::now() + kSpinTime;
      for (int spin = 1; job_of(ticket) == finished; spin++) {
        relax(spin);
        ticket = ticket_.load(std::memory_order_acquire);
        if (job_of(ticket) == finished && spin % 1024 == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
      if (job_of(ticket) == finished) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return job_of(ticket_.load(std::memory_order_seq_cst)) != finished; });
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
        ticket = ticket_.load(std::memory_order_acquire);
      }
    }
    if (stop_.load(std::memory_order_acquire)) return;
    work(ticket, index);
    finished = job_of(ticket);
  }
}

void ThreadPool::run(int64_t n, int64_t grain, Invoke invoke, void* ctx) {
  if (n <= 0) return;
  const int64_t n_chunks = grain > 0 ? (n + grain - 1) / grain : std::min<int64_t>(n, n_threads_);
  if (n_threads_ == 1 || n_chunks <= 1) {
    if (grain > 0) {
      for (int64_t b = 0; b < n; b += grain) invoke(ctx, b, std::min(n, b + grain), 0);
    } else {
      invoke(ctx, 0, n, 0);
    }
    return;
  }
  PARLEY_CHECK(n_chunks < 0xFFFFFFFFll);
  if (!pin_cpus_.empty() && pinned_caller_ != std::this_thread::get_id()) {
    pin_current_thread(pin_cpus_[0]);
    pinned_caller_ = std::this_thread::get_id();
  }
  stats_.jobs++;
  if (++job_id_ == 0) job_id_ = 1;  // 0 names "no job yet"
  Job& j = jobs_[job_id_ & 1];
  j.invoke.store(invoke, std::memory_order_relaxed);
  j.ctx.store(ctx, std::memory_order_relaxed);
  j.n.store(n, std::memory_order_relaxed);
  j.grain.store(grain, std::memory_order_relaxed);
  j.n_chunks.store(n_chunks, std::memory_order_relaxed);
  j.done.store(0, std::memory_order_relaxed);
  const uint64_t ticket = static_cast<uint64_t>(job_id_) << 32;
  ticket_.store(ticket, std::memory_order_seq_cst);
  // A worker about to sleep increments sleeping_ under the mutex before it checks the ticket;
  // taking the mutex here when any is (about to be) asleep closes the race.
  if (sleeping_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
  }
  work(ticket, 0);
  if (measure_) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int spin = 1; j.done.load(std::memory_order_acquire) < n_chunks; spin++) relax(spin);
    stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return;
  }
  for (int spin = 1; j.done.load(std::memory_order_acquire) < n_chunks; spin++) relax(spin);
}

}  // namespace parley
