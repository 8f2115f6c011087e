// The engine: one thread that owns the model runner (forward pass scratch, paged KV pool,
// sampler) and the scheduler, and serves engine::Client. Everything the step loop needs is
// allocated in start().
//
//   auto model = model::Model::load(path);                // Result<unique_ptr<Model>>
//   auto engine = engine::Engine::start(std::move(*model), options);
//   engine::Client& client = **engine;                    // submit / cancel / model_info
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/dtype.h"
#include "engine/client.h"
#include "model/model.h"

namespace parley::engine {

struct EngineOptions {
  int32_t n_threads = 0;          // compute threads (the engine thread is one of them); 0: one per physical core
  int32_t n_ctx = 0;              // tokens per sequence; 0: the model's trained context, at most kv_positions
  int32_t max_seqs = 4;           // sequences decoded together
  int32_t max_batch_tokens = 512; // tokens per step (prefill chunk budget)
  int32_t kv_positions = 0;       // KV pool capacity in positions, all sequences; 0: n_ctx
  int32_t block_size = 16;        // positions per KV block
  DType kv_type = DType::f16;     // F16 (llama.cpp's default), F32, BF16 or Q8_0 (kv::check_kv_type)
  int32_t queue_capacity = 64;    // requests waiting to start before submit says "overloaded"
  bool prefix_cache = true;       // reuse the KV blocks of prompt prefixes seen before
  // The prefix cache on disk (kv/disk-cache.h), surviving restarts; empty: none. Needs
  // prefix_cache. Snapshots every cache_dir_interval_s seconds and at shutdown.
  std::string cache_dir;
  uint64_t cache_dir_max_bytes = 20ull << 30;  // this model's files, all together
  int32_t cache_dir_min_tokens = 256;          // shorter cached paths are not written
  double cache_dir_interval_s = 60;
  bool pin_threads = false;  // bind each compute thread to its own physical core
};

// What start() set up, for logs and `parley run`.
struct EngineInfo {
  int32_t n_ctx = 0;
  int32_t kv_positions = 0;
  uint64_t kv_bytes = 0;       // whole KV pool
  uint64_t scratch_bytes = 0;  // forward pass buffers
};

class Engine final : public Client {
 public:
  static Result<std::unique_ptr<Engine>> start(std::shared_ptr<const model::Model> model, const EngineOptions& options);
  // Stops the thread; requests still running finish with reason cancelled.
  ~Engine() override;

  Result<RequestId> submit(GenerateRequest request) override;
  void cancel(RequestId id) override;
  const ModelInfo& model_info() const override { return info_; }
  EngineStats stats() const override;
  const EngineInfo& engine_info() const { return engine_info_; }
  const model::Model& model() const { return *model_; }

  struct Impl;  // engine-thread state (engine.cpp)

 private:
  Engine() = default;
  void loop();
  void publish_stats();  // engine thread, once per step
  Status validate(const GenerateRequest& r) const;

  std::shared_ptr<const model::Model> model_;
  EngineOptions options_;
  ModelInfo info_;
  EngineInfo engine_info_;
  std::unique_ptr<Impl> impl_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::pair<RequestId, GenerateRequest>> incoming_;  // guarded by mutex_
  std::vector<RequestId> cancels_;                               // guarded by mutex_
  bool stop_ = false;                                            // guarded by mutex_
  RequestId next_id_ = 1;                                        // guarded by mutex_
  std::atomic<int32_t> n_queued_{0};  // submitted, not yet started or finished
  // What stats() reads: stored by the engine thread with relaxed atomics so that a reader
  // never holds the step up (the token counters are bumped in the event wrapper).
  struct StatsCells {
    std::atomic<int32_t> n_waiting{0}, n_running{0};
    std::atomic<int32_t> n_kv_blocks_used{0}, n_kv_blocks_cached{0}, n_kv_blocks_free{0};
    std::atomic<int64_t> n_preempted{0}, n_kv_evicted{0};
    std::atomic<int64_t> n_tokens_prompt{0}, n_tokens_cached{0}, n_tokens_generated{0};
  };
  StatsCells stats_;
  std::thread thread_;
};

}  // namespace parley::engine
