// The scheduler: a pure state machine over requests and the KV block pool, testable without a
// model. Each engine step it plans which tokens of which sequences go into one batch (plan),
// the engine runs the forward pass and samples, and the outcome is applied (commit).
//
// Policy: FCFS with continuous batching. Decoding sequences get one token each first (decode
// latency never waits behind a long prompt), then running prefills and newly admitted requests
// get prompt chunks from the remaining token budget (chunked prefill). When the KV pool runs
// out, the newest running sequence is preempted: its blocks are released and it goes back to
// the queue to be recomputed (prompt + what it generated so far) — the oldest always advances.
//
// Prefix cache (kv/radix-cache.h): at admission a sequence takes references on the longest
// cached prefix of its tokens (whole blocks, at least one token left to compute) and starts
// computing after it; as its blocks fill they enter the cache, so when it finishes, is cancelled
// or preempted they stay there (evictable) for the next turn or its own readmission.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "base/rng.h"
#include "engine/client.h"
#include "kv/block-pool.h"
#include "kv/disk-cache.h"
#include "kv/radix-cache.h"

namespace parley::engine {

enum class SeqState { waiting, prefilling, decoding };

struct Sequence {
  Sequence(RequestId id_, GenerateRequest request_, kv::BlockPool& pool)
      : id(id_), request(std::move(request_)), tokens(request.prompt),
        n_prompt(static_cast<int32_t>(request.prompt.size())), blocks(pool), rng(request.sampling.seed) {
    for (const auto& factory : request.constraints) constraints.push_back(factory->make());
  }

  RequestId id;
  GenerateRequest request;
  SeqState state = SeqState::waiting;
  std::vector<TokenId> tokens;  // prompt + generated; the last one is fed next step
  int32_t n_prompt;
  int32_t n_computed = 0;       // tokens whose K/V are in the cache (positions 0..n_computed-1)
  int32_t n_generated = 0;
  bool started = false;         // the started event went out
  int32_t n_prefilled_reported = 0;  // progress already reported (recompute reports nothing new)
  kv::BlockTable blocks;
  Rng rng;                      // per-request: same seed, same output
  // Per-sequence logits processor states (grammar, bans, forced end of thinking), in request
  // order. They have accepted every generated token; recomputation after preemption re-feeds
  // tokens to the model only, so they stay valid.
  std::vector<std::unique_ptr<sampling::TokenConstraint>> constraints;

  int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
};

struct SchedulerOptions {
  int32_t max_batch_tokens = 512;  // tokens per step (prefill chunk budget)
  int32_t max_seqs = 4;            // running sequences (each samples at most one row per step)
  int32_t n_ctx = 4096;            // tokens per sequence (prompt + generated)
  bool prefix_cache = true;        // share KV blocks of common prefixes (kv::RadixCache)
};

// One step: for each item, feed tokens[start, start + n) of the sequence at positions
// start.. and, when `sample`, sample a token from the last row's logits.
struct StepItem {
  Sequence* seq = nullptr;
  int32_t start = 0;
  int32_t n = 0;
  bool sample = false;
};

struct StepStats {
  int32_t n_preempted = 0;
  int64_t n_tokens_cached = 0;  // tokens admissions took from the prefix cache (readmissions too)
};

class Scheduler {
 public:
  Scheduler(kv::BlockPool& pool, const SchedulerOptions& options);

  // Queues a request (already validated).
  void add(std::unique_ptr<Sequence> seq);
  // Ends a request: a finished event with reason cancelled, blocks released. Unknown ids are
  // ignored. Returns whether the request was found.
  bool cancel(RequestId id);
  // Ends every request with `reason` (engine shutdown).
  void finish_all(FinishReason reason, const std::string& error = {});

  // Plans the next step into `items` (cleared first) and reserves the KV blocks it needs.
  // Empty when there is nothing to do.
  void plan(std::vector<StepItem>& items);
  // Applies a step's outcome: `sampled` has one token per item with sample set, in order.
  // Emits the requests' events (started/progress/token/finished) and retires finished ones.
  void commit(std::span<const StepItem> items, std::span<const TokenId> sampled);

  bool idle() const { return running_.empty() && waiting_.empty(); }
  int32_t n_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  int32_t n_running() const { return static_cast<int32_t>(running_.size()); }
  const StepStats& stats() const { return stats_; }
  const SchedulerOptions& options() const { return options_; }
  kv::BlockPool& pool() { return *pool_; }
  // Null when the prefix cache is off.
  kv::RadixCache* cache() { return cache_.get(); }
  // The prefix cache on disk (`--cache-dir`, owned by the engine): admission loads from it the
  // blocks of a prompt that it holds beyond the radix match. Null: none.
  void set_disk_cache(kv::DiskCache* disk) { disk_ = disk; }
  // Pool, cache and every running table (only blocks a sequence owns alone are writable).
  // Aborts on a broken invariant; tests call it after every step, debug builds after commit.
  void check_invariants() const;

 private:
  // Reserves blocks for positions [0, n_computed + n) of seq, shrinking n to what fits and
  // preempting newer running sequences when nothing fits. Returns the n granted (0 when seq
  // itself was preempted or nothing fits).
  int32_t reserve(Sequence& seq, int32_t n, std::vector<StepItem>& items, int32_t& budget, bool may_preempt);
  void preempt(Sequence& seq, std::vector<StepItem>& items, int32_t& budget);
  // Admission: takes the cached prefix of seq's tokens into its table; returns its length.
  int32_t match_prefix(Sequence& seq);
  int32_t n_cache_written(const Sequence& seq, int32_t n_cached) const;
  bool waits_for_shared_prefill(const Sequence& seq) const;
  void finish(Sequence& seq, FinishReason reason, const std::string& error = {});
  void emit(Sequence& seq, Event e);
  void retire_finished();

  kv::BlockPool* pool_;
  SchedulerOptions options_;
  std::unique_ptr<kv::RadixCache> cache_;           // before the sequences: outlives their tables
  kv::DiskCache* disk_ = nullptr;
  std::deque<std::unique_ptr<Sequence>> waiting_;   // arrival order
  std::vector<std::unique_ptr<Sequence>> running_;  // admission order (oldest first)
  std::vector<Sequence*> finished_;                 // finished during commit, retired after
  std::vector<Sequence*> order_;                    // plan()'s snapshot of running_
  StepStats stats_;
};

}  // namespace parley::engine
