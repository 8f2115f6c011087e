// The engine end to end through engine::Client: a real model on the engine thread, requests
// submitted from the test thread, events collected from the callbacks.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include "base/check.h"
#include "base/json.h"
#include "modelgen/modelgen.h"
#include "support/test-support.h"

namespace parley::engine {
namespace {

// Collects events of many requests; wait() blocks until a request has finished.
class Collector {
 public:
  std::function<void(const Event&)> sink(int key) {
    return [this, key](const Event& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_[key].push_back(e);
      if (e.kind == Event::Kind::finished) done_.notify_all();
    };
  }
  const Event& wait(int key) {
    std::unique_lock<std::mutex> lock(mutex_);
    bool ok = done_.wait_for(lock, std::chrono::seconds(60), [&] {
      return !events_[key].empty() && events_[key].back().kind == Event::Kind::finished;
    });
    PARLEY_CHECK(ok);
    return events_[key].back();
  }
  std::vector<TokenId> tokens(int key) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<TokenId> t;
    for (const Event& e : events_[key]) {
      if (e.kind == Event::Kind::token) t.push_back(e.token);
    }
    return t;
  }
  std::vector<Event> events(int key) {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_[key];
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::map<int, std::vector<Event>> events_;
};

// Blocks the engine thread inside a callback until released (to hold the engine still).
class Gate {
 public:
  void block() {
    std::unique_lock<std::mutex> lock(mutex_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void wait_entered() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

std::shared_ptr<const model::Model> stories() {
  auto m = model::Model::load((test::shared_dir() / "models" / "stories260K.gguf").string());
  PARLEY_CHECK(m.ok());
  return std::shared_ptr<const model::Model>(std::move(*m));
}

// n_head 2: heads of 16; 1: one head of 32 (what a Q8_0 KV cache needs).
std::shared_ptr<const model::Model> tiny(const test::TempDir& dir, uint32_t n_head = 2) {
  modelgen::Options o;
  o.shape.n_layer = 1;
  o.shape.n_embd = 32;
  o.shape.n_head = n_head;
  o.shape.n_head_kv = 1;
  o.shape.n_ff = 32;
  o.shape.n_ctx = 64;
  for (int i = 0; i < 64; i++) o.vocab.tokens.push_back("t" + std::to_string(i));
  o.vocab.model = "llama";
  std::string path = (dir / "tiny.gguf").string();
  PARLEY_CHECK(modelgen::write_model(o, path).ok());
  auto m = model::Model::load(path);
  PARLEY_CHECK(m.ok());
  return std::shared_ptr<const model::Model>(std::move(*m));
}

GenerateRequest request(std::vector<TokenId> prompt, int32_t max_tokens, std::function<void(const Event&)> sink,
                        float temperature = 0.0f, uint64_t seed = 0) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  r.on_event = std::move(sink);
  return r;
}

TEST(Engine, StoriesGreedyThroughTheEngineMatchesLlamaCpp) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto ref = json::parse(test::read_file(test::source_dir() / "tests/data/engine/stories260K-greedy.json"));
  ASSERT_TRUE(ref.ok());
  std::vector<TokenId> expected;
  for (const auto& t : (*ref)["tokens"].as_array()) expected.push_back(static_cast<TokenId>(t.as_int()));
  auto engine = Engine::start(stories(), EngineOptions{2, 512});
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  Collector c;
  ASSERT_TRUE((*engine)->submit(request({1}, static_cast<int32_t>(expected.size()), c.sink(0))).ok());
  EXPECT_EQ(c.wait(0).reason, FinishReason::max_tokens);
  EXPECT_EQ(c.tokens(0), expected);
  auto ev = c.events(0);
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[0].kind, Event::Kind::started);
  EXPECT_EQ(ev[0].n_prompt_tokens, 1);
  EXPECT_EQ(ev[1].kind, Event::Kind::progress);
  EXPECT_EQ(ev[1].n_prefilled, 1);
  EXPECT_EQ(ev.back().n_generated, static_cast<int32_t>(expected.size()));
}

TEST(Engine, ConcurrentRequestsGetWhatEachGetsAlone) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto model = stories();
  std::vector<std::vector<TokenId>> prompts = {
      {1}, {1, 403, 428}, {1, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 360}, {1, 200, 201, 202, 203}};
  std::vector<std::vector<TokenId>> alone;
  {
    auto engine = Engine::start(model, EngineOptions{1, 256});
    ASSERT_TRUE(engine.ok());
    Collector c;
    for (size_t i = 0; i < prompts.size(); i++) {
      ASSERT_TRUE((*engine)->submit(request(prompts[i], 40, c.sink(static_cast<int>(i)))).ok());
      c.wait(static_cast<int>(i));  // one at a time
      alone.push_back(c.tokens(static_cast<int>(i)));
    }
  }
  // All at once, small prefill chunks (budget 5) so prefills and decodes mix in every step.
  EngineOptions o{2, 256};
  o.max_seqs = 4;
  o.max_batch_tokens = 5;
  o.kv_positions = 1024;
  auto engine = Engine::start(model, o);
  ASSERT_TRUE(engine.ok());
  Collector c;
  for (size_t i = 0; i < prompts.size(); i++) {
    ASSERT_TRUE((*engine)->submit(request(prompts[i], 40, c.sink(static_cast<int>(i)))).ok());
  }
  for (size_t i = 0; i < prompts.size(); i++) {
    EXPECT_EQ(c.wait(static_cast<int>(i)).reason, FinishReason::max_tokens);
    EXPECT_EQ(c.tokens(static_cast<int>(i)), alone[i]) << "request " << i;
  }
}

TEST(Engine, SameSeedSameTokens) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto engine = Engine::start(stories(), EngineOptions{2, 256});
  ASSERT_TRUE(engine.ok());
  Collector c;
  ASSERT_TRUE((*engine)->submit(request({1}, 60, c.sink(0), 1.0f, 42)).ok());
  ASSERT_TRUE((*engine)->submit(request({1}, 60, c.sink(1), 1.0f, 42)).ok());
  ASSERT_TRUE((*engine)->submit(request({1}, 60, c.sink(2), 1.0f, 43)).ok());
  c.wait(0);
  c.wait(1);
  c.wait(2);
  EXPECT_EQ(c.tokens(0), c.tokens(1));
  EXPECT_NE(c.tokens(0), c.tokens(2));
}

TEST(Engine, ConstraintsMaskTheLogitsOfEachSequence) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto engine = Engine::start(stories(), EngineOptions{2, 128});
  ASSERT_TRUE(engine.ok());
  Collector c;
  ASSERT_TRUE((*engine)->submit(request({1}, 12, c.sink(0))).ok());
  c.wait(0);
  const auto greedy = c.tokens(0);
  // Banning the greedy choices changes the output and none of them comes out; a request
  // beside it without constraints is unchanged.
  GenerateRequest banned = request({1}, 12, c.sink(1));
  banned.constraints.push_back(sampling::ban_tokens(greedy));
  ASSERT_TRUE((*engine)->submit(std::move(banned)).ok());
  ASSERT_TRUE((*engine)->submit(request({1}, 12, c.sink(2))).ok());
  c.wait(1);
  c.wait(2);
  for (TokenId t : c.tokens(1)) EXPECT_EQ(std::count(greedy.begin(), greedy.end(), t), 0) << t;
  EXPECT_EQ(c.tokens(2), greedy);
  // Banning every token ends the request with an error, not a crash or a garbage token.
  std::vector<int32_t> all((*engine)->model_info().n_vocab);
  for (size_t i = 0; i < all.size(); i++) all[i] = static_cast<int32_t>(i);
  GenerateRequest none = request({1}, 12, c.sink(3));
  none.constraints.push_back(sampling::ban_tokens(all));
  ASSERT_TRUE((*engine)->submit(std::move(none)).ok());
  const Event& end = c.wait(3);
  EXPECT_EQ(end.reason, FinishReason::error);
  EXPECT_TRUE(c.tokens(3).empty());
}

TEST(Engine, StopTokensAndContextFull) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto engine = Engine::start(stories(), EngineOptions{2, 24});
  ASSERT_TRUE(engine.ok());
  Collector c;
  ASSERT_TRUE((*engine)->submit(request({1}, 10, c.sink(0))).ok());
  c.wait(0);
  auto greedy = c.tokens(0);
  ASSERT_EQ(greedy.size(), 10u);
  // Stop at the third greedy token: two tokens come out, the stop token does not.
  GenerateRequest r = request({1}, 10, c.sink(1));
  r.stop_tokens = {greedy[2]};
  ASSERT_TRUE((*engine)->submit(std::move(r)).ok());
  EXPECT_EQ(c.wait(1).reason, FinishReason::stop_token);
  EXPECT_EQ(c.tokens(1), std::vector<TokenId>(greedy.begin(), greedy.begin() + 2));
  // n_ctx 24: a 20-token prompt gets 4 tokens.
  std::vector<TokenId> prompt(20, 30);
  prompt[0] = 1;
  ASSERT_TRUE((*engine)->submit(request(prompt, 100, c.sink(2))).ok());
  EXPECT_EQ(c.wait(2).reason, FinishReason::context_full);
  EXPECT_EQ(c.tokens(2).size(), 4u);
}

TEST(Engine, RejectsRequestsThatCannotRun) {
  test::TempDir dir;
  auto engine = Engine::start(tiny(dir), EngineOptions{1, 16});
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  Collector c;
  auto err = [&](GenerateRequest r) {
    auto res = (*engine)->submit(std::move(r));
    return res.ok() ? std::string("(accepted)") : res.error().message;
  };
  EXPECT_EQ(err(request({}, 4, c.sink(0))), "the prompt is empty");
  EXPECT_EQ(err(request(std::vector<TokenId>(16, 3), 4, c.sink(0))),
            "prompt of 16 tokens does not fit the context of 16 tokens (prompt + at least one generated token)");
  EXPECT_EQ(err(request({1, 64}, 4, c.sink(0))), "prompt token 1 is 64, outside the vocabulary [0, 64)");
  EXPECT_EQ(err(request({1}, 0, c.sink(0))), "max_tokens must be at least 1, got 0");
  EXPECT_EQ(err(request({1}, 4, c.sink(0), -1.0f)), "temperature must be >= 0, got -1");
  GenerateRequest bad_p = request({1}, 4, c.sink(0));
  bad_p.sampling.top_p = 0;
  EXPECT_EQ(err(std::move(bad_p)), "top_p must be in (0, 1], got 0");
  EXPECT_EQ(err(request({1}, 4, nullptr)), "request has no event callback");
  EXPECT_EQ((*engine)->model_info().n_ctx, 16);
  EXPECT_EQ((*engine)->model_info().n_vocab, 64);
  EXPECT_EQ((*engine)->model_info().architecture, "llama");
}

TEST(Engine, BoundedQueueSaysOverloaded) {
  test::TempDir dir;
  EngineOptions o{1, 64};
  o.max_seqs = 1;
  o.queue_capacity = 2;
  auto engine = Engine::start(tiny(dir), o);
  ASSERT_TRUE(engine.ok());
  Collector c;
  Gate gate;
  // Request 0 holds the engine thread in its first token event.
  auto sink0 = c.sink(0);
  bool first = true;
  ASSERT_TRUE((*engine)->submit(request({1, 2}, 3, [&](const Event& e) {
                  sink0(e);
                  if (e.kind == Event::Kind::token && first) {
                    first = false;
                    gate.block();
                  }
                })).ok());
  gate.wait_entered();
  ASSERT_TRUE((*engine)->submit(request({1}, 2, c.sink(1))).ok());
  ASSERT_TRUE((*engine)->submit(request({1}, 2, c.sink(2))).ok());
  auto third = (*engine)->submit(request({1}, 2, c.sink(3)));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::overloaded) << third.error().message;
  gate.open();
  for (int k = 0; k < 3; k++) EXPECT_EQ(c.wait(k).reason, FinishReason::max_tokens);
  // The queue drained: submitting works again.
  ASSERT_TRUE((*engine)->submit(request({1}, 2, c.sink(4))).ok());
  c.wait(4);
}

TEST(Engine, CancelEndsWithinOneStep) {
  test::TempDir dir;
  EngineOptions o{1, 64};
  o.max_seqs = 1;
  auto engine = Engine::start(tiny(dir), o);
  ASSERT_TRUE(engine.ok());
  Collector c;
  Gate gate;
  auto sink0 = c.sink(0);
  bool first = true;
  auto id0 = (*engine)->submit(request({1, 2, 3}, 50, [&](const Event& e) {
    sink0(e);
    if (e.kind == Event::Kind::token && first) {
      first = false;
      gate.block();
    }
  }));
  ASSERT_TRUE(id0.ok());
  gate.wait_entered();
  auto id1 = (*engine)->submit(request({1}, 50, c.sink(1)));  // waiting behind request 0
  ASSERT_TRUE(id1.ok());
  (*engine)->cancel(*id0);
  (*engine)->cancel(*id1);
  (*engine)->cancel(12345);  // unknown: ignored
  gate.open();
  EXPECT_EQ(c.wait(0).reason, FinishReason::cancelled);
  EXPECT_EQ(c.tokens(0).size(), 1u);  // nothing after the step that was running
  EXPECT_EQ(c.wait(1).reason, FinishReason::cancelled);
  EXPECT_EQ(c.events(1).size(), 1u);  // never started
}

// Five requests one after another, greedy: a first prompt (21 tokens), the next turn (history,
// the answer, a new message), the first prompt again, one that diverges inside the fourth block,
// the second turn again. Returns each output and its started event's n_cached_tokens.
std::vector<std::vector<TokenId>> five_turns(std::shared_ptr<const model::Model> model, TokenId vocab, bool prefix_cache,
                                             std::vector<int32_t>* n_cached) {
  EngineOptions o{1, 64};
  o.block_size = 4;
  o.max_batch_tokens = 8;  // chunked prefill: hits and misses mix chunk boundaries
  o.kv_positions = 512;
  o.prefix_cache = prefix_cache;
  auto engine = Engine::start(std::move(model), o);
  PARLEY_CHECK(engine.ok());
  Collector c;
  std::vector<std::vector<TokenId>> out;
  auto one = [&](std::vector<TokenId> prompt, int key) {
    PARLEY_CHECK((*engine)->submit(request(std::move(prompt), 8, c.sink(key))).ok());
    c.wait(key);
    out.push_back(c.tokens(key));
    n_cached->push_back(c.events(key)[0].n_cached_tokens);
    return out.back();
  };
  std::vector<TokenId> p1{1};
  for (int i = 1; i < 21; i++) p1.push_back(2 + (i * 37) % (vocab - 2));
  std::vector<TokenId> a1 = one(p1, 0);
  std::vector<TokenId> p2 = p1;
  p2.insert(p2.end(), a1.begin(), a1.end());
  p2.insert(p2.end(), {5, 6, 7});
  one(p2, 1);
  one(p1, 2);
  std::vector<TokenId> p4(p1.begin(), p1.begin() + 14);
  p4.insert(p4.end(), {9, 9, 9, 9, 9});
  one(p4, 3);
  one(p2, 4);
  return out;
}

void expect_cache_changes_nothing(std::shared_ptr<const model::Model> model, TokenId vocab) {
  std::vector<int32_t> cached_off, cached_on;
  auto off = five_turns(model, vocab, false, &cached_off);
  auto on = five_turns(model, vocab, true, &cached_on);
  ASSERT_EQ(off.size(), on.size());
  for (size_t i = 0; i < off.size(); i++) EXPECT_EQ(on[i], off[i]) << "request " << i;
  EXPECT_EQ(cached_off, (std::vector<int32_t>{0, 0, 0, 0, 0}));
  // Blocks of 4. The first run computed 21 + 7 fed answer tokens = 7 full blocks; the second
  // turn (32 tokens) takes all 28 (its last token is computed). The first prompt again: 20 of 21
  // (whole blocks, one token left). The diverging one: 3 blocks. The second turn again: 28.
  EXPECT_EQ(cached_on, (std::vector<int32_t>{0, 28, 20, 12, 28}));
}

TEST(Engine, PrefixCacheHitsGiveTheSameGreedyTokens) {
  test::TempDir dir;
  expect_cache_changes_nothing(tiny(dir), 64);
}

TEST(Engine, PrefixCacheHitsGiveTheSameGreedyTokensOnStories) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  expect_cache_changes_nothing(stories(), 512);
}

// Concurrent requests with a common prefix in a KV pool of one context: identical prompts
// computed at once (their duplicate blocks merge), preemption, readmission hits, eviction. The
// cache changes which blocks hold the K/V, never the tokens.
TEST(Engine, PrefixCacheUnderPressureChangesNoTokens) {
  test::TempDir dir;
  auto model = tiny(dir);
  std::vector<std::vector<TokenId>> prompts;
  for (int r = 0; r < 6; r++) {
    std::vector<TokenId> p{1};
    for (int i = 1; i < 13; i++) p.push_back(2 + i);
    for (int i = 0; i < r % 3; i++) p.push_back(40 + r + i);  // requests r and r + 3 are the same
    prompts.push_back(p);
  }
  auto run = [&](bool prefix_cache, int32_t* n_cached_total) {
    EngineOptions o{1, 64};
    o.block_size = 4;
    o.max_seqs = 3;
    o.max_batch_tokens = 8;
    o.kv_positions = 64;  // one context: three sequences of up to 13 + 30 tokens must preempt
    o.prefix_cache = prefix_cache;
    auto engine = Engine::start(model, o);
    PARLEY_CHECK(engine.ok());
    Collector c;
    for (size_t i = 0; i < prompts.size(); i++) {
      PARLEY_CHECK((*engine)->submit(request(prompts[i], 30, c.sink(static_cast<int>(i)))).ok());
    }
    std::vector<std::vector<TokenId>> out;
    *n_cached_total = 0;
    for (size_t i = 0; i < prompts.size(); i++) {
      EXPECT_EQ(c.wait(static_cast<int>(i)).reason, FinishReason::max_tokens);
      out.push_back(c.tokens(static_cast<int>(i)));
      *n_cached_total += c.events(static_cast<int>(i))[0].n_cached_tokens;
    }
    return out;
  };
  int32_t cached_off = 0, cached_on = 0;
  auto off = run(false, &cached_off);
  auto on = run(true, &cached_on);
  for (size_t i = 0; i < off.size(); i++) EXPECT_EQ(on[i], off[i]) << "request " << i;
  EXPECT_EQ(off[0], off[3]);
  EXPECT_EQ(cached_off, 0);
  EXPECT_GT(cached_on, 0);  // the later requests start from the shared prefix
}

TEST(Engine, ShutdownFinishesRunningRequests) {
  test::TempDir dir;
  Collector c;
  {
    auto engine = Engine::start(tiny(dir), EngineOptions{1, 64});
    ASSERT_TRUE(engine.ok());
    ASSERT_TRUE((*engine)->submit(request({1}, 60, c.sink(0))).ok());
    ASSERT_TRUE((*engine)->submit(request({1}, 60, c.sink(1))).ok());
  }
  for (int k = 0; k < 2; k++) {
    auto ev = c.events(k);
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(ev.back().kind, Event::Kind::finished);
  }
}

TEST(Engine, StatsCountTokensAndBlocks) {
  test::TempDir dir;
  EngineOptions o;
  o.n_threads = 1;
  o.n_ctx = 64;
  auto engine = Engine::start(tiny(dir), o);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  std::vector<TokenId> prompt;
  for (int i = 0; i < 20; i++) prompt.push_back(static_cast<TokenId>(1 + i % 60));
  Collector c;
  for (int k = 0; k < 2; k++) {
    ASSERT_TRUE((*engine)->submit(request(prompt, 4, c.sink(k))).ok());
    c.wait(k);
  }
  EngineStats s = (*engine)->stats();
  EXPECT_EQ(s.n_tokens_prompt, 40);
  EXPECT_EQ(s.n_tokens_cached, 16);  // the second request reused one full block
  EXPECT_EQ(s.n_tokens_generated, 8);
  // The gauges are published after the step that finished the request.
  for (int i = 0; i < 1000 && (s.n_running != 0 || s.n_kv_blocks_used != 0); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    s = (*engine)->stats();
  }
  EXPECT_EQ(s.n_running, 0);
  EXPECT_EQ(s.n_waiting, 0);
  EXPECT_EQ(s.n_kv_blocks_used, 0);
  EXPECT_GT(s.n_kv_blocks_cached, 0);
  EXPECT_EQ(s.n_kv_blocks_used + s.n_kv_blocks_cached + s.n_kv_blocks_free, 4);  // 64 positions / 16
  EXPECT_EQ(s.n_preempted, 0);
}

// Every KV cache type through the engine: the pool is the size kv_bytes_per_position says and
// greedy decoding of a tiny model gives F32's tokens; Q8_0 on heads of 16 is refused at start.
TEST(Engine, EveryKvTypeGeneratesAndSizesItsPool) {
  test::TempDir dir, dir16;
  auto model = tiny(dir, 1);
  ASSERT_EQ(model->config().head_dim, 32);
  const std::vector<TokenId> prompt{1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61, 3, 7, 11};
  std::map<DType, std::vector<TokenId>> out;
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0}) {
    EngineOptions o{1, 64};
    o.kv_type = t;
    auto engine = Engine::start(model, o);
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    const EngineInfo& info = (*engine)->engine_info();
    EXPECT_EQ(info.kv_bytes, model::kv_bytes_per_position(model->config(), t) * static_cast<uint64_t>(info.kv_positions))
        << dtype_name(t);
    Collector c;
    ASSERT_TRUE((*engine)->submit(request(prompt, 12, c.sink(0))).ok());
    EXPECT_EQ(c.wait(0).reason, FinishReason::max_tokens);
    out[t] = c.tokens(0);
  }
  for (DType t : {DType::f16, DType::bf16, DType::q8_0}) EXPECT_EQ(out[t], out[DType::f32]) << dtype_name(t);

  EngineOptions o{1, 64};
  o.kv_type = DType::q8_0;
  auto refused = Engine::start(tiny(dir16), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("head size is 16 (not a multiple of 32)"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace parley::engine
