// The scheduler as a pure state machine: no model. A fake "model" samples token
// 100 + (number of tokens the sequence has), so every output is predictable.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <map>

namespace parley::engine {
namespace {

// What a step planned, copied before commit (finished sequences are freed by it).
struct Planned {
  RequestId id;
  int32_t start, n;
  bool sample;
};

struct Recorder {
  std::map<RequestId, std::vector<Event>> events;
  std::function<void(const Event&)> sink(RequestId id) {
    return [this, id](const Event& e) { events[id].push_back(e); };
  }
  std::vector<TokenId> tokens(RequestId id) {
    std::vector<TokenId> t;
    for (const Event& e : events[id]) {
      if (e.kind == Event::Kind::token) t.push_back(e.token);
    }
    return t;
  }
  const Event* finished(RequestId id) {
    for (const Event& e : events[id]) {
      if (e.kind == Event::Kind::finished) return &e;
    }
    return nullptr;
  }
};

class SchedulerTest : public ::testing::Test {
 protected:
  void make(int32_t budget, int32_t max_seqs, int32_t n_ctx, int32_t n_blocks, int32_t block_size = 4,
            bool prefix_cache = true) {
    sched_.reset();
    pool_ = std::move(kv::BlockPool::create(kv::PoolShape{1, 1, 8, block_size, n_blocks, DType::f32})).value();
    sched_ = std::make_unique<Scheduler>(*pool_, SchedulerOptions{budget, max_seqs, n_ctx, prefix_cache});
  }
  // A prompt of n_prompt tokens first, first + 1, ...
  void add(RequestId id, int32_t n_prompt, int32_t max_tokens, std::vector<TokenId> stops = {}, TokenId first = 10) {
    std::vector<TokenId> prompt;
    for (int32_t i = 0; i < n_prompt; i++) prompt.push_back(first + i);
    add_prompt(id, std::move(prompt), max_tokens, "", std::move(stops));
  }
  void add_prompt(RequestId id, std::vector<TokenId> prompt, int32_t max_tokens, std::string ns = "",
                  std::vector<TokenId> stops = {}, int32_t cache_breakpoint = 0) {
    GenerateRequest r;
    r.cache_breakpoint = cache_breakpoint;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.stop_tokens = std::move(stops);
    r.cache_namespace = std::move(ns);
    r.on_event = rec_.sink(id);
    sched_->add(std::make_unique<Sequence>(id, std::move(r), *pool_));
  }
  // One step with the fake model; returns the plan. Checks the KV invariants after it.
  std::vector<Planned> step() {
    std::vector<StepItem> items;
    sched_->plan(items);
    std::vector<TokenId> sampled;
    std::vector<Planned> planned;
    int32_t total = 0;
    for (const StepItem& it : items) {
      planned.push_back({it.seq->id, it.start, it.n, it.sample});
      total += it.n;
      EXPECT_LE(static_cast<int32_t>(it.seq->blocks.capacity()), it.seq->n_computed + it.n + pool_->block_size());
      EXPECT_GE(it.seq->blocks.capacity(), it.start + it.n);
      if (it.sample) sampled.push_back(100 + it.seq->n_tokens());
    }
    EXPECT_LE(total, sched_->options().max_batch_tokens);
    EXPECT_LE(static_cast<int32_t>(items.size()), sched_->options().max_seqs);
    sched_->commit(items, sampled);
    sched_->check_invariants();
    return planned;
  }
  void run_to_idle(int max_steps = 1000) {
    for (int i = 0; i < max_steps && !sched_->idle(); i++) step();
    EXPECT_TRUE(sched_->idle());
    EXPECT_EQ(pool_->n_used(), 0);
  }

  std::unique_ptr<kv::BlockPool> pool_;
  std::unique_ptr<Scheduler> sched_;
  Recorder rec_;
};

TEST_F(SchedulerTest, ChunkedPrefillThenContinuousBatching) {
  make(/*budget=*/8, /*max_seqs=*/2, /*n_ctx=*/64, /*n_blocks=*/32);
  add(1, 10, 3);
  add(2, 3, 2);
  add(3, 2, 1);
  // Step 1: the first prompt takes the whole budget.
  auto s1 = step();
  ASSERT_EQ(s1.size(), 1u);
  EXPECT_EQ(s1[0].id, 1u);
  EXPECT_EQ(s1[0].n, 8);
  EXPECT_FALSE(s1[0].sample);
  ASSERT_EQ(rec_.events[1].size(), 2u);
  EXPECT_EQ(rec_.events[1][0].kind, Event::Kind::started);
  EXPECT_EQ(rec_.events[1][0].n_prompt_tokens, 10);
  EXPECT_EQ(rec_.events[1][1].kind, Event::Kind::progress);
  EXPECT_EQ(rec_.events[1][1].n_prefilled, 8);
  EXPECT_TRUE(rec_.events[2].empty());
  // Step 2: the rest of prompt 1 (sampled) and all of prompt 2 join; request 3 waits for a slot.
  auto s2 = step();
  ASSERT_EQ(s2.size(), 2u);
  EXPECT_EQ(s2[0].n, 2);
  EXPECT_TRUE(s2[0].sample);
  EXPECT_EQ(s2[1].id, 2u);
  EXPECT_EQ(s2[1].n, 3);
  EXPECT_EQ(rec_.tokens(1), (std::vector<TokenId>{110}));
  EXPECT_EQ(rec_.tokens(2), (std::vector<TokenId>{103}));
  EXPECT_EQ(sched_->n_waiting(), 1);
  // Step 3: both decode one token; request 2 reaches max_tokens.
  auto s3 = step();
  ASSERT_EQ(s3.size(), 2u);
  EXPECT_EQ(s3[0].n, 1);
  EXPECT_EQ(s3[0].start, 10);
  EXPECT_EQ(rec_.tokens(2), (std::vector<TokenId>{103, 104}));
  ASSERT_NE(rec_.finished(2), nullptr);
  EXPECT_EQ(rec_.finished(2)->reason, FinishReason::max_tokens);
  // Step 4: request 3 joins the running request 1 (continuous batching).
  auto s4 = step();
  ASSERT_EQ(s4.size(), 2u);
  EXPECT_EQ(s4[0].id, 1u);
  EXPECT_EQ(s4[1].id, 3u);
  run_to_idle();
  EXPECT_EQ(rec_.tokens(1), (std::vector<TokenId>{110, 111, 112}));
  EXPECT_EQ(rec_.finished(3)->reason, FinishReason::max_tokens);
}

TEST_F(SchedulerTest, StopTokenIsNotEmittedAndContextFullEnds) {
  make(16, 4, /*n_ctx=*/8, 16);
  add(1, 3, 100, /*stops=*/{105});
  add(2, 5, 100);
  run_to_idle();
  EXPECT_EQ(rec_.tokens(1), (std::vector<TokenId>{103, 104}));
  EXPECT_EQ(rec_.finished(1)->reason, FinishReason::stop_token);
  EXPECT_EQ(rec_.finished(1)->n_generated, 2);
  // 5 prompt + 3 generated = n_ctx.
  EXPECT_EQ(rec_.tokens(2), (std::vector<TokenId>{105, 106, 107}));
  EXPECT_EQ(rec_.finished(2)->reason, FinishReason::context_full);
}

TEST_F(SchedulerTest, CancelReleasesBlocksAtOnce) {
  make(8, 2, 64, 32);
  add(1, 6, 50);
  add(2, 6, 50);
  add(3, 6, 50);
  step();
  step();
  EXPECT_GT(pool_->n_used(), 0);
  EXPECT_TRUE(sched_->cancel(1));  // running
  EXPECT_TRUE(sched_->cancel(3));  // waiting, never started
  EXPECT_FALSE(sched_->cancel(3));
  EXPECT_FALSE(sched_->cancel(99));
  sched_->check_invariants();
  EXPECT_EQ(rec_.finished(1)->reason, FinishReason::cancelled);
  EXPECT_EQ(rec_.finished(3)->reason, FinishReason::cancelled);
  ASSERT_EQ(rec_.events[3].size(), 1u);  // just finished: it never started
  EXPECT_EQ(sched_->n_running(), 1);
  // Only request 2's blocks are in use.
  EXPECT_EQ(pool_->n_used(), 2);
  sched_->finish_all(FinishReason::cancelled);
  EXPECT_TRUE(sched_->idle());
  EXPECT_EQ(pool_->n_used(), 0);
  EXPECT_EQ(rec_.finished(2)->reason, FinishReason::cancelled);
}

TEST_F(SchedulerTest, PreemptsTheNewestWhenKvRunsOutAndRecomputesIt) {
  // 6 blocks of 4 = 24 positions; n_ctx 20. Two requests of 8 + 10 generated need 36.
  make(32, 2, 20, 6);
  add(1, 8, 10);
  add(2, 8, 10, {}, /*first=*/50);  // another prompt: with the same one they would share blocks
  run_to_idle();
  EXPECT_GT(sched_->stats().n_preempted, 0);
  // Both got every token exactly once, in order, as if alone.
  std::vector<TokenId> want;
  for (int i = 0; i < 10; i++) want.push_back(108 + i);
  EXPECT_EQ(rec_.tokens(1), want);
  EXPECT_EQ(rec_.tokens(2), want);
  EXPECT_EQ(rec_.finished(1)->reason, FinishReason::max_tokens);
  EXPECT_EQ(rec_.finished(2)->reason, FinishReason::max_tokens);
  // Started once each; progress never goes backwards after a recompute.
  for (RequestId id : {1u, 2u}) {
    int started = 0, last = 0;
    for (const Event& e : rec_.events[id]) {
      started += e.kind == Event::Kind::started;
      if (e.kind == Event::Kind::progress) {
        EXPECT_GT(e.n_prefilled, last);
        last = e.n_prefilled;
      }
    }
    EXPECT_EQ(started, 1);
  }
}

TEST_F(SchedulerTest, OldestAlwaysAdvancesUnderPressure) {
  // Many requests, a pool that holds exactly one full context: everything still finishes.
  make(6, 4, 16, 4);
  for (RequestId id = 1; id <= 6; id++) add(id, 5 + static_cast<int32_t>(id), 20);
  run_to_idle(5000);
  for (RequestId id = 1; id <= 6; id++) {
    ASSERT_NE(rec_.finished(id), nullptr) << id;
    EXPECT_EQ(rec_.finished(id)->reason, FinishReason::context_full);
    EXPECT_EQ(static_cast<int32_t>(rec_.tokens(id).size()), 16 - (5 + static_cast<int32_t>(id)));
  }
}

TEST_F(SchedulerTest, AdmissionIsFirstComeFirstServed) {
  make(4, 1, 64, 32);
  add(1, 2, 2);
  add(2, 2, 2);
  add(3, 2, 2);
  std::vector<RequestId> order;
  for (int i = 0; i < 100 && !sched_->idle(); i++) {
    for (const Planned& it : step()) {
      if (order.empty() || order.back() != it.id) order.push_back(it.id);
    }
  }
  EXPECT_EQ(order, (std::vector<RequestId>{1, 2, 3}));
}

// --- Prefix cache -------------------------------------------------------------------------------

std::vector<TokenId> iota_tokens(TokenId first, int32_t n) {
  std::vector<TokenId> t;
  for (int32_t i = 0; i < n; i++) t.push_back(first + i);
  return t;
}

std::vector<TokenId> concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_F(SchedulerTest, SecondTurnReportsCachedTokensAndPrefillsOnlyTheSuffix) {
  make(64, 2, 64, 32);  // blocks of 4
  add(1, 10, 3);        // prompt 10..19; generates 110, 111, 112 (feeds 110, 111)
  run_to_idle();
  EXPECT_EQ(rec_.events[1][0].n_cached_tokens, 0);
  // Its 12 computed tokens are 3 full blocks, now cached and unreferenced.
  EXPECT_EQ(pool_->n_used(), 0);
  EXPECT_EQ(pool_->n_cached(), 3);
  // The next turn: the same 10 tokens, then new ones. Blocks 10..13, 14..17 match; the third
  // ([18, 19, 110, 111] cached, [18, 19, 200, 201] asked) does not.
  add_prompt(2, concat(iota_tokens(10, 10), iota_tokens(200, 6)), 2);
  auto s1 = step();
  ASSERT_EQ(s1.size(), 1u);
  EXPECT_EQ(s1[0].start, 8);
  EXPECT_EQ(s1[0].n, 8);  // only the suffix is prefilled
  EXPECT_TRUE(s1[0].sample);
  ASSERT_EQ(rec_.events[2][0].kind, Event::Kind::started);
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 8);
  EXPECT_EQ(rec_.events[2][0].n_prompt_tokens, 16);
  EXPECT_EQ(rec_.events[2][1].n_prefilled, 16);  // progress counts the cached part as done
  run_to_idle();
  // Output is what the fake model gives for the length: as without the cache.
  EXPECT_EQ(rec_.tokens(2), (std::vector<TokenId>{116, 117}));
  EXPECT_EQ(sched_->stats().n_tokens_cached, 8);
}

TEST_F(SchedulerTest, ResentHistoryWithTheAnswerHitsAllButTheLastToken) {
  make(64, 2, 64, 32);
  add(1, 10, 3);
  run_to_idle();
  // History resent with the answer's fed tokens: 12 tokens, 3 cached blocks; the last token must
  // be computed, so the match stops at 8 and 4 tokens are recomputed (no write to a shared block).
  add_prompt(2, concat(iota_tokens(10, 10), {110, 111}), 1);
  auto s = step();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].start, 8);
  EXPECT_EQ(s[0].n, 4);
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 8);
  // One more token after it: all 12 cached tokens serve, one token is prefilled.
  add_prompt(3, concat(iota_tokens(10, 10), {110, 111, 7}), 1);
  s = step();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].start, 12);
  EXPECT_EQ(s[0].n, 1);
  EXPECT_EQ(rec_.events[3][0].n_cached_tokens, 12);
  run_to_idle();
}

TEST_F(SchedulerTest, ConcurrentSequencesShareTheirCommonPrefix) {
  make(64, 4, 64, 32);
  add(1, 12, 1);
  step();  // request 1 prefilled and finished: 3 blocks cached
  add_prompt(2, concat(iota_tokens(10, 12), {1, 2, 3}), 20);
  add_prompt(3, concat(iota_tokens(10, 12), {4, 5, 6}), 20);
  step();
  // Both hold the same three cached blocks and one block each of their own.
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 12);
  EXPECT_EQ(rec_.events[3][0].n_cached_tokens, 12);
  EXPECT_EQ(pool_->n_used(), 5);
  run_to_idle();
}

// cache_creation: full prompt blocks up to the breakpoint that this request adds to the cache.
TEST_F(SchedulerTest, CacheWrittenCountsNewFullBlocksBeforeTheBreakpoint) {
  make(64, 2, 64, 32);  // blocks of 4
  add_prompt(1, iota_tokens(10, 14), 1, "", {}, /*cache_breakpoint=*/10);
  run_to_idle();
  // Blocks [0,4) and [4,8) are full and before 10; the block holding 8, 9 is full too (12 <= 14).
  EXPECT_EQ(rec_.events[1][0].n_cache_written_tokens, 10);
  // Same prefix, breakpoint further: 12 read, the new tokens up to the last full block written.
  add_prompt(2, concat(iota_tokens(10, 14), iota_tokens(300, 9)), 1, "", {}, /*cache_breakpoint=*/23);
  run_to_idle();
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 12);
  EXPECT_EQ(rec_.events[2][0].n_cache_written_tokens, 20 - 12);  // 23 tokens: 5 full blocks
  // No breakpoint: nothing is reported written (the cache keeps it anyway).
  add_prompt(3, concat(iota_tokens(10, 14), iota_tokens(400, 9)), 1);
  run_to_idle();
  EXPECT_EQ(rec_.events[3][0].n_cache_written_tokens, 0);
}

// Requests that arrive together with a shared prefix: the first prefills it, the others wait
// for its blocks instead of computing them again in the same steps.
TEST_F(SchedulerTest, ASharedPrefixBeingPrefilledIsComputedOnce) {
  make(8, 4, 64, 32);  // 8 tokens per step, blocks of 4
  const auto prefix = iota_tokens(10, 20);
  add_prompt(1, concat(prefix, {1, 2}), 1);
  add_prompt(2, concat(prefix, {3, 4}), 1);
  add_prompt(3, concat(prefix, {5, 6}), 1);
  add_prompt(4, iota_tokens(500, 6), 1, "other");  // behind them in the queue: waits too (FIFO)
  int32_t computed = 0;
  for (int i = 0; i < 20 && !sched_->idle(); i++) {
    for (const Planned& p : step()) computed += p.n;
  }
  ASSERT_TRUE(sched_->idle());
  // Request 1 computed all 22; 2 and 3 read the 20 shared tokens (5 blocks) and computed 2 each.
  EXPECT_EQ(rec_.events[1][0].n_cached_tokens, 0);
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 20);
  EXPECT_EQ(rec_.events[3][0].n_cached_tokens, 20);
  EXPECT_EQ(computed, 22 + 2 + 2 + 6);
}

TEST_F(SchedulerTest, NamespacesNeverShare) {
  make(64, 2, 64, 32);
  add_prompt(1, iota_tokens(10, 12), 1, "model-a");
  run_to_idle();
  add_prompt(2, concat(iota_tokens(10, 12), {1}), 1, "model-b");
  add_prompt(3, concat(iota_tokens(10, 12), {1}), 1, "model-a");
  step();
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 0);
  EXPECT_EQ(rec_.events[3][0].n_cached_tokens, 12);
  run_to_idle();
}

TEST_F(SchedulerTest, CacheOffNeverReportsCachedTokens) {
  make(64, 2, 64, 32, 4, /*prefix_cache=*/false);
  EXPECT_EQ(sched_->cache(), nullptr);
  add(1, 10, 3);
  run_to_idle();
  add(2, 16, 2);
  run_to_idle();
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 0);
  EXPECT_EQ(pool_->n_cached(), 0);
  EXPECT_EQ(pool_->n_free(), 32);
}

TEST_F(SchedulerTest, CancelledAndFinishedBlocksStayCachedUntilTheSpaceIsNeeded) {
  // 8 blocks of 4 = 32 positions, one context of 32.
  make(64, 2, 32, 8);
  add(1, 9, 50);
  step();
  step();
  EXPECT_TRUE(sched_->cancel(1));
  sched_->check_invariants();
  EXPECT_EQ(pool_->n_used(), 0);
  EXPECT_EQ(pool_->n_cached(), 2);  // 10 computed tokens: 2 full blocks
  // A prompt of 30 other tokens needs all 8 blocks: the cached ones are evicted for it.
  add(2, 30, 1, {}, 300);
  step();
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 0);
  EXPECT_EQ(pool_->n_free() + pool_->n_cached(), 8);
  EXPECT_EQ(sched_->cache()->n_nodes(), 7);  // request 1's blocks are gone, request 2's are in
  run_to_idle();
}

TEST_F(SchedulerTest, PreemptedSequenceRematchesOnReadmission) {
  // 8 blocks of 4; two sequences of 8 + 10 need 5 blocks each: one is preempted, and when it
  // comes back what is left of its cached blocks serves it.
  make(32, 2, 20, 8);
  add(1, 8, 10);
  add(2, 8, 10, {}, 50);
  run_to_idle();
  EXPECT_GT(sched_->stats().n_preempted, 0);
  EXPECT_GT(sched_->stats().n_tokens_cached, 0);
  std::vector<TokenId> want;
  for (int i = 0; i < 10; i++) want.push_back(108 + i);
  EXPECT_EQ(rec_.tokens(1), want);
  EXPECT_EQ(rec_.tokens(2), want);
  EXPECT_EQ(rec_.events[2][0].n_cached_tokens, 0);  // the started event counts the first admission
}

}  // namespace
}  // namespace parley::engine
