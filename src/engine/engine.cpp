#include "engine/engine.h"

#include "base/cpu.h"

#include <chrono>
#include <cmath>

#include "base/check.h"
#include "base/cpu.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/strings.h"
#include "engine/scheduler.h"
#include "gguf/identity.h"
#include "kv/block-pool.h"
#include "kv/disk-cache.h"
#include "kv/radix-cache.h"
#include "model/forward.h"
#include "sampling/sampler.h"
#include "tensor/thread-pool.h"

namespace parley::engine {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::stop_token: return "stop_token";
    case FinishReason::max_tokens: return "max_tokens";
    case FinishReason::context_full: return "context_full";
    case FinishReason::cancelled: return "cancelled";
    case FinishReason::error: return "error";
  }
  return "?";
}

// Engine-thread state: the model runner and the scheduler.
struct Engine::Impl {
  Impl(const model::Model& m, const EngineOptions& o, std::unique_ptr<kv::BlockPool> kv_pool)
      : pool(o.n_threads, o.pin_threads ? pin_cpus_for(o.n_threads) : std::vector<int>{}),
        kv(std::move(kv_pool)),
        forward(m, model::ForwardOptions{o.max_batch_tokens, o.max_seqs, o.n_ctx}, pool),
        scheduler(*kv, SchedulerOptions{o.max_batch_tokens, o.max_seqs, o.n_ctx, o.prefix_cache}),
        samplers(static_cast<size_t>(pool.size()), sampling::Sampler(m.config().n_vocab)),
        n_vocab(m.config().n_vocab) {
    view.type = kv->shape().type;
    view.block_size = kv->block_size();
    for (int32_t l = 0; l < m.config().n_layer; l++) {
      view.k.push_back(kv->k_layer(l));
      view.v.push_back(kv->v_layer(l));
    }
    batch.tokens.reserve(static_cast<size_t>(o.max_batch_tokens));
    batch.positions.reserve(static_cast<size_t>(o.max_batch_tokens));
    batch.seqs.reserve(static_cast<size_t>(o.max_batch_tokens));
    batch.want_logits.reserve(static_cast<size_t>(o.max_batch_tokens));
    items.reserve(static_cast<size_t>(o.max_seqs));
    seqs.reserve(static_cast<size_t>(o.max_seqs));
    sampled.reserve(static_cast<size_t>(o.max_seqs));
    sampling_seqs.reserve(static_cast<size_t>(o.max_seqs));
  }

  // One engine step: plan, forward, sample, commit. False when nothing could be planned.
  bool step() {
    scheduler.plan(items);
    if (items.empty()) return false;
    batch.clear();
    seqs.clear();
    for (size_t i = 0; i < items.size(); i++) {
      const StepItem& it = items[i];
      const auto& blocks = it.seq->blocks.blocks();
      seqs.push_back({blocks.data(), static_cast<int32_t>(blocks.size())});
      for (int32_t j = 0; j < it.n; j++) {
        int32_t p = it.start + j;
        batch.add(it.seq->tokens[static_cast<size_t>(p)], p, static_cast<int32_t>(i), it.sample && j == it.n - 1);
      }
    }
    forward.run(batch, view, seqs);
    sample();
    scheduler.commit(items, sampled);
    return true;
  }

  // One token for each item that samples, in item order. Constraints (which may share state
  // between requests) run on this thread; the draws, each over the whole vocabulary with the
  // sequence's own generator, run on the pool, one sampler per thread.
  void sample() {
    sampling_seqs.clear();
    for (const StepItem& it : items) {
      if (!it.sample) continue;
      Sequence& seq = *it.seq;
      sampling::apply_all(seq.constraints, forward.logits(static_cast<int32_t>(sampling_seqs.size())), n_vocab);
      sampling_seqs.push_back(&seq);
    }
    sampled.assign(sampling_seqs.size(), -1);
    pool.parallel_for(static_cast<int64_t>(sampling_seqs.size()), [&](int64_t begin, int64_t end, int thread) {
      for (int64_t r = begin; r < end; r++) {
        Sequence& seq = *sampling_seqs[static_cast<size_t>(r)];
        sampled[static_cast<size_t>(r)] =
            samplers[static_cast<size_t>(thread)].sample(forward.logits(static_cast<int32_t>(r)), seq.request.sampling, seq.rng);
      }
    });
    for (size_t r = 0; r < sampling_seqs.size(); r++) {
      // -1 (the constraints left no token) finishes the request with an error in commit().
      if (sampled[r] >= 0) sampling::accept_all(sampling_seqs[r]->constraints, sampled[r]);
    }
  }

  ThreadPool pool;
  std::unique_ptr<kv::BlockPool> kv;
  model::Forward forward;
  Scheduler scheduler;
  std::vector<sampling::Sampler> samplers;  // one per pool thread
  int32_t n_vocab;
  model::KvView view;
  model::Batch batch;
  std::vector<StepItem> items;
  std::vector<model::SeqKv> seqs;
  std::vector<Sequence*> sampling_seqs;  // the items that sample this step, in order
  std::vector<TokenId> sampled;
  // Last: destroyed first, while the scheduler's radix cache that its pins refer to lives.
  std::unique_ptr<kv::DiskCache> disk;
};

Result<std::unique_ptr<Engine>> Engine::start(std::shared_ptr<const model::Model> model, const EngineOptions& options) {
  const model::Config& c = model->config();
  EngineOptions o = options;
  if (o.n_threads == 0) o.n_threads = default_threads();
  if (o.pin_threads && pin_cpus_for(o.n_threads).empty()) {
    return Error::fmt("engine options: cannot pin %d threads to %d physical cores", o.n_threads, cpu_topology().physical());
  }
  if (o.n_threads < 1 || o.max_seqs < 1 || o.max_batch_tokens < 1 || o.block_size < 1 || o.queue_capacity < 1) {
    return Error{"engine options: threads, sequences, batch tokens, block size and queue capacity must be positive"};
  }
  // F32, F16, BF16 or Q8_0 (whose blocks of 32 need a head size that is a multiple of 32).
  PARLEY_CHECK_OK(kv::check_kv_type(o.kv_type, c.head_dim));
  if (o.n_ctx <= 0) {
    // The model's trained context, as far as an explicit KV capacity allows (the pool's pages
    // are touched only as they are used, so a long default costs address space, not memory).
    o.n_ctx = c.n_ctx_train > 0 ? c.n_ctx_train : 4096;
    if (o.kv_positions > 0) o.n_ctx = std::min(o.n_ctx, o.kv_positions);
  }
  if (o.n_ctx < 2) return Error::fmt("context length %d is too small", o.n_ctx);
  if (!o.cache_dir.empty() && !o.prefix_cache) return Error{"a cache directory needs the prefix cache"};
  if (!o.cache_dir.empty() && !(o.cache_dir_interval_s > 0)) {
    return Error{"the cache snapshot interval must be positive"};
  }
  if (o.kv_positions <= 0) o.kv_positions = o.n_ctx;
  if (o.kv_positions < o.n_ctx) {
    return Error::fmt("KV cache of %d positions cannot hold one context of %d", o.kv_positions, o.n_ctx);
  }
  int32_t n_blocks = (o.kv_positions + o.block_size - 1) / o.block_size;
  kv::PoolShape shape{c.n_layer, c.n_head_kv, c.head_dim, o.block_size, n_blocks, o.kv_type};
  PARLEY_TRY(std::unique_ptr<kv::BlockPool> kv_pool, kv::BlockPool::create(shape));

  std::unique_ptr<Engine> e(new Engine());
  e->model_ = std::move(model);
  e->options_ = o;
  e->info_.name = c.name;
  e->info_.architecture = model::arch_name(c.arch);
  e->info_.n_ctx = o.n_ctx;
  e->info_.n_vocab = c.n_vocab;
  e->engine_info_.n_ctx = o.n_ctx;
  e->engine_info_.kv_positions = n_blocks * o.block_size;
  e->engine_info_.kv_bytes = kv_pool->total_bytes();
  e->impl_ = std::make_unique<Impl>(*e->model_, o, std::move(kv_pool));
  e->engine_info_.scratch_bytes = e->impl_->forward.scratch_bytes();
  if (!o.cache_dir.empty()) {
    Impl& s = *e->impl_;
    const kv::DiskCacheOptions dco{o.cache_dir, o.cache_dir_max_bytes, o.cache_dir_min_tokens};
    Sha256Digest id = gguf::identity(e->model_->file());
    if (e->model_->weights().rope_long != nullptr) {
      // LongRoPE: the K/V depend on the factor set this context picks (model.h rope_factors).
      Sha256 h;
      h.update(std::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
      h.update(model::rope_factors(*e->model_, o.n_ctx) == e->model_->weights().rope_long ? "longrope long" : "longrope short");
      id = h.finish();
    }
    PARLEY_TRY(s.disk, kv::DiskCache::open(dco, id, *s.scheduler.cache()));
    s.scheduler.set_disk_cache(s.disk.get());
    // The writer finished a snapshot: wake the loop to release its pins (the lock orders the
    // notification after the loop's predicate check).
    s.disk->set_on_written([raw = e.get()] {
      { std::lock_guard<std::mutex> lock(raw->mutex_); }
      raw->wake_.notify_one();
    });
  }
  e->thread_ = std::thread([raw = e.get()] { raw->loop(); });
  return e;
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Before mutex_ and wake_ go: the disk cache's writer thread calls back into them.
  impl_.reset();
}

Status Engine::validate(const GenerateRequest& r) const {
  if (!r.on_event) return Error{"request has no event callback"};
  if (r.prompt.empty()) return Error{"the prompt is empty"};
  if (static_cast<int64_t>(r.prompt.size()) + 1 > options_.n_ctx) {
    return Error::fmt("prompt of %zu tokens does not fit the context of %d tokens (prompt + at least one generated token)",
                      r.prompt.size(), options_.n_ctx);
  }
  for (size_t i = 0; i < r.prompt.size(); i++) {
    if (r.prompt[i] < 0 || r.prompt[i] >= info_.n_vocab) {
      return Error::fmt("prompt token %zu is %d, outside the vocabulary [0, %d)", i, r.prompt[i], info_.n_vocab);
    }
  }
  if (r.max_tokens < 1) return Error::fmt("max_tokens must be at least 1, got %d", r.max_tokens);
  const SamplingParams& s = r.sampling;
  if (!std::isfinite(s.temperature) || s.temperature < 0) return Error::fmt("temperature must be >= 0, got %g", s.temperature);
  if (s.top_k < 0) return Error::fmt("top_k must be >= 0, got %d", s.top_k);
  if (!(s.top_p > 0 && s.top_p <= 1)) return Error::fmt("top_p must be in (0, 1], got %g", s.top_p);
  if (!(s.min_p >= 0 && s.min_p <= 1)) return Error::fmt("min_p must be in [0, 1], got %g", s.min_p);
  return {};
}

Result<RequestId> Engine::submit(GenerateRequest request) {
  if (Status s = validate(request); !s.ok()) return s.error().with_code(ErrorCode::invalid);
  // Count the request as queued until it starts (or finishes first); the wrapper runs on the
  // engine thread only.
  auto user = std::move(request.on_event);
  auto queued = std::make_shared<bool>(true);
  request.on_event = [this, user = std::move(user), queued](const Event& e) {
    if (e.kind == Event::Kind::started) {
      stats_.n_tokens_prompt.fetch_add(e.n_prompt_tokens, std::memory_order_relaxed);
      stats_.n_tokens_cached.fetch_add(e.n_cached_tokens, std::memory_order_relaxed);
    } else if (e.kind == Event::Kind::token) {
      stats_.n_tokens_generated.fetch_add(1, std::memory_order_relaxed);
    }
    if (*queued && (e.kind == Event::Kind::started || e.kind == Event::Kind::finished)) {
      *queued = false;
      n_queued_.fetch_sub(1);
    }
    user(e);
  };
  RequestId id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) return Error{"the engine is shutting down", ErrorCode::unavailable};
    if (n_queued_.load() >= options_.queue_capacity) {
      return Error::fmt("overloaded: %d requests are waiting to start (queue capacity %d)", n_queued_.load(),
                        options_.queue_capacity)
          .with_code(ErrorCode::overloaded);
    }
    n_queued_.fetch_add(1);
    id = next_id_++;
    incoming_.emplace_back(id, std::move(request));
  }
  wake_.notify_one();
  return id;
}

void Engine::cancel(RequestId id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancels_.push_back(id);
  }
  wake_.notify_one();
}

EngineStats Engine::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  EngineStats out;
  out.n_waiting = stats_.n_waiting.load(r);
  out.n_running = stats_.n_running.load(r);
  out.n_kv_blocks_used = stats_.n_kv_blocks_used.load(r);
  out.n_kv_blocks_cached = stats_.n_kv_blocks_cached.load(r);
  out.n_kv_blocks_free = stats_.n_kv_blocks_free.load(r);
  out.n_preempted = stats_.n_preempted.load(r);
  out.n_kv_evicted = stats_.n_kv_evicted.load(r);
  out.n_tokens_prompt = stats_.n_tokens_prompt.load(r);
  out.n_tokens_cached = stats_.n_tokens_cached.load(r);
  out.n_tokens_generated = stats_.n_tokens_generated.load(r);
  return out;
}

void Engine::publish_stats() {
  constexpr auto r = std::memory_order_relaxed;
  Impl& s = *impl_;
  stats_.n_waiting.store(s.scheduler.n_waiting(), r);
  stats_.n_running.store(s.scheduler.n_running(), r);
  stats_.n_kv_blocks_used.store(s.kv->n_used(), r);
  stats_.n_kv_blocks_cached.store(s.kv->n_cached(), r);
  stats_.n_kv_blocks_free.store(s.kv->n_free(), r);
  stats_.n_preempted.store(s.scheduler.stats().n_preempted, r);
  const kv::RadixCache* cache = s.scheduler.cache();
  stats_.n_kv_evicted.store(cache != nullptr ? cache->n_evicted() : 0, r);
}

void Engine::loop() {
  Impl& s = *impl_;
  std::vector<std::pair<RequestId, GenerateRequest>> incoming;
  std::vector<RequestId> cancels;
  bool stalled = false;  // the last plan was empty: wait for news instead of spinning
  publish_stats();       // the empty pool, before the first request
  using Clock = std::chrono::steady_clock;
  const auto snapshot_every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(s.disk ? options_.cache_dir_interval_s : 1.0));
  auto next_snapshot = Clock::now() + snapshot_every;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto ready = [&] {
        return stop_ || !incoming_.empty() || !cancels_.empty() || (!stalled && !s.scheduler.idle()) ||
               (s.disk && s.disk->written());
      };
      if (s.disk) {
        wake_.wait_until(lock, next_snapshot, ready);
      } else {
        wake_.wait(lock, ready);
      }
      incoming.swap(incoming_);
      cancels.swap(cancels_);
      if (stop_) break;
    }
    for (auto& [id, request] : incoming) s.scheduler.add(std::make_unique<Sequence>(id, std::move(request), *s.kv));
    incoming.clear();
    for (RequestId id : cancels) s.scheduler.cancel(id);
    cancels.clear();
    stalled = !s.step() && !s.scheduler.idle();
    if (s.disk) {
      // Between steps: apply a finished snapshot; start the next one when it is due.
      s.disk->poll();
      if (Clock::now() >= next_snapshot) {
        s.disk->snapshot(false);
        next_snapshot = Clock::now() + snapshot_every;
      }
    }
    publish_stats();
    if (stalled) log_warn("engine: %d requests wait but none could be scheduled", s.scheduler.n_waiting());
  }
  for (auto& [id, request] : incoming) s.scheduler.add(std::make_unique<Sequence>(id, std::move(request), *s.kv));
  s.scheduler.finish_all(FinishReason::cancelled);
  // What the cache holds goes to disk before the engine stops (blocking: shutdown).
  if (s.disk) s.disk->snapshot(true);
}

}  // namespace parley::engine
