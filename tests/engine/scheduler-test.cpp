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
  void make(int32_t budget, int32_t max_seqs, int32_t n_ctx, int32_t n_blocks, int32_t block_size = 4) {
    pool_ = std::move(kv::BlockPool::create(kv::PoolShape{1, 1, 8, block_size, n_blocks, DType::f32})).value();
    sched_ = std::make_unique<Scheduler>(*pool_, SchedulerOptions{budget, max_seqs, n_ctx});
  }
  void add(RequestId id, int32_t n_prompt, int32_t max_tokens, std::vector<TokenId> stops = {}) {
    GenerateRequest r;
    for (int32_t i = 0; i < n_prompt; i++) r.prompt.push_back(10 + i);
    r.max_tokens = max_tokens;
    r.stop_tokens = std::move(stops);
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
    pool_->check_invariants();
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
  pool_->check_invariants();
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
  add(2, 8, 10);
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

}  // namespace
}  // namespace parley::engine
