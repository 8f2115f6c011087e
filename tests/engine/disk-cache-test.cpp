// The engine with --cache-dir: a server that stops and starts again finds the prefixes of
// before on disk (kv/disk-cache.h), and what it loads changes no token.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/check.h"
#include "engine/engine.h"
#include "modelgen/modelgen.h"
#include "support/test-support.h"

namespace parley::engine {
namespace {

// The events of one request; wait() blocks until it finished.
class Events {
 public:
  std::function<void(const Event&)> sink() {
    return [this](const Event& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(e);
      if (e.kind == Event::Kind::finished) done_.notify_all();
    };
  }
  std::vector<Event> wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    PARLEY_CHECK(done_.wait_for(lock, std::chrono::seconds(60), [&] {
      return !events_.empty() && events_.back().kind == Event::Kind::finished;
    }));
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<Event> events_;
};

std::shared_ptr<const model::Model> tiny_model(const test::TempDir& dir, uint64_t seed) {
  modelgen::Options o;
  o.seed = seed;
  o.shape.n_layer = 2;
  o.shape.n_embd = 32;
  o.shape.n_head = 2;
  o.shape.n_head_kv = 1;
  o.shape.n_ff = 32;
  o.shape.n_ctx = 64;
  for (int i = 0; i < 64; i++) o.vocab.tokens.push_back("t" + std::to_string(i));
  o.vocab.model = "llama";
  const std::string path = (dir / ("tiny-" + std::to_string(seed) + ".gguf")).string();
  PARLEY_CHECK(modelgen::write_model(o, path).ok());
  auto m = model::Model::load(path);
  PARLEY_CHECK(m.ok());
  return std::shared_ptr<const model::Model>(std::move(*m));
}

EngineOptions disk_options(const std::string& dir) {
  EngineOptions o{1, 64};
  o.block_size = 4;
  o.max_batch_tokens = 8;  // chunked prefill: a load and prefill chunks mix
  o.kv_positions = 256;
  o.cache_dir = dir;
  o.cache_dir_min_tokens = 8;
  return o;
}

GenerateRequest greedy(std::vector<TokenId> prompt, Events& ev) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = 8;
  r.sampling.temperature = 0;
  r.on_event = ev.sink();
  return r;
}

struct Outcome {
  std::vector<TokenId> tokens;
  int32_t n_cached = -1;
};

// One request on a fresh engine, which is then destroyed (a server lifetime).
Outcome run_once(std::shared_ptr<const model::Model> model, const EngineOptions& o,
                 const std::vector<TokenId>& prompt) {
  auto engine = Engine::start(std::move(model), o);
  PARLEY_CHECK(engine.ok());
  Events ev;
  PARLEY_CHECK((*engine)->submit(greedy(prompt, ev)).ok());
  Outcome out;
  for (const Event& e : ev.wait()) {
    if (e.kind == Event::Kind::started) out.n_cached = e.n_cached_tokens;
    if (e.kind == Event::Kind::token) out.tokens.push_back(e.token);
  }
  return out;
}

TEST(EngineDiskCache, APrefixSurvivesARestartAndChangesNoToken) {
  test::TempDir dir;
  auto model = tiny_model(dir, 1);
  const std::string cache_dir = (dir / "kv").string();
  std::vector<TokenId> p1{1};
  for (int i = 1; i < 30; i++) p1.push_back(2 + (i * 37) % 62);
  std::vector<TokenId> p2 = p1;  // the next turn: the same history and something new
  for (int i = 0; i < 10; i++) p2.push_back(3 + i);
  const Outcome first = run_once(model, disk_options(cache_dir), p1);
  EXPECT_EQ(first.n_cached, 0);
  ASSERT_FALSE(std::filesystem::is_empty(cache_dir));  // written at shutdown
  // A new engine on the same directory: p2's first 7 blocks (28 of p1's 30 tokens) come from
  // disk, and its tokens are those of an engine that computed everything.
  const Outcome restarted = run_once(model, disk_options(cache_dir), p2);
  EXPECT_EQ(restarted.n_cached, 28);
  EngineOptions plain = disk_options("");
  plain.prefix_cache = false;
  const Outcome computed = run_once(model, plain, p2);
  EXPECT_EQ(computed.n_cached, 0);
  EXPECT_EQ(restarted.tokens, computed.tokens);
  // The first prompt again after another restart: 28 of its 30 (whole blocks, one left).
  const Outcome again = run_once(model, disk_options(cache_dir), p1);
  EXPECT_EQ(again.n_cached, 28);
  EXPECT_EQ(again.tokens, first.tokens);
  // Another model of the same shape (other weights) never takes these files...
  EXPECT_EQ(run_once(tiny_model(dir, 2), disk_options(cache_dir), p2).n_cached, 0);
  // ...nor another KV type of the same model.
  EngineOptions f32 = disk_options(cache_dir);
  f32.kv_type = DType::f32;
  EXPECT_EQ(run_once(model, f32, p2).n_cached, 0);
}

// A LongRoPE model (phi3) ropes with the factor set of its context (model.h rope_factors), so
// K/V written under one context length are kept from an engine whose context takes the other set.
TEST(EngineDiskCache, LongRopeFilesAreForTheirFactorSet) {
  test::TempDir dir;
  modelgen::Options o;
  o.shape.arch = "phi3";
  o.shape.n_layer = 2;
  o.shape.n_embd = 32;
  o.shape.n_head = 2;
  o.shape.n_head_kv = 1;
  o.shape.n_ff = 32;
  o.shape.n_ctx = 64;
  o.shape.longrope_orig_ctx = 40;
  for (int i = 0; i < 64; i++) o.vocab.tokens.push_back("t" + std::to_string(i));
  o.vocab.model = "llama";
  const std::string path = (dir / "phi3.gguf").string();
  ASSERT_TRUE(modelgen::write_model(o, path).ok());
  auto loaded = model::Model::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  std::shared_ptr<const model::Model> model(std::move(*loaded));
  const std::string cache_dir = (dir / "kv").string();
  std::vector<TokenId> p{1};
  for (int i = 1; i < 30; i++) p.push_back(2 + (i * 37) % 62);
  EngineOptions short_ctx = disk_options(cache_dir), long_ctx = disk_options(cache_dir);
  short_ctx.n_ctx = 40;  // <= the original context: the short factors
  long_ctx.n_ctx = 64;
  EXPECT_EQ(run_once(model, short_ctx, p).n_cached, 0);
  EXPECT_EQ(run_once(model, long_ctx, p).n_cached, 0);
  EXPECT_EQ(run_once(model, short_ctx, p).n_cached, 28);
  EXPECT_EQ(run_once(model, long_ctx, p).n_cached, 28);
}

TEST(EngineDiskCache, SnapshotsRunPeriodicallyAndReleaseTheirPins) {
  test::TempDir dir;
  const std::string cache_dir = (dir / "kv").string();
  EngineOptions o = disk_options(cache_dir);
  o.cache_dir_interval_s = 0.02;
  auto engine = Engine::start(tiny_model(dir, 1), o);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  std::vector<TokenId> prompt{1};
  for (int i = 1; i < 20; i++) prompt.push_back(2 + i);
  Events ev;
  ASSERT_TRUE((*engine)->submit(greedy(prompt, ev)).ok());
  ev.wait();
  // Written while the engine runs (not only at shutdown); the blocks pinned for the writer are
  // released afterwards, so nothing stays in use.
  bool written = false;
  EngineStats s;
  for (int i = 0; i < 2000 && !(written && s.n_kv_blocks_used == 0); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    written = std::filesystem::exists(cache_dir) && !std::filesystem::is_empty(cache_dir);
    s = (*engine)->stats();
  }
  EXPECT_TRUE(written);
  EXPECT_EQ(s.n_kv_blocks_used, 0);
  EXPECT_GT(s.n_kv_blocks_cached, 0);
}

TEST(EngineDiskCache, NeedsThePrefixCache) {
  test::TempDir dir;
  EngineOptions o = disk_options((dir / "kv").string());
  o.prefix_cache = false;
  auto engine = Engine::start(tiny_model(dir, 1), o);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.error().message, "a cache directory needs the prefix cache");
}

}  // namespace
}  // namespace parley::engine
