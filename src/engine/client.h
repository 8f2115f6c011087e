// The engine's only public surface. The API layer submits token-level generation requests and
// receives per-request events; it never sees model state. The engine never sees messages, JSON
// or HTTP (DESIGN.md).
//
// Threading: submit/cancel may be called from any thread. Events are delivered by calling the
// request's `on_event` on the engine thread: the callback must not block (post the event to
// your own executor/strand and return).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "sampling/constraint.h"
#include "sampling/sampler.h"

namespace parley::engine {

using TokenId = int32_t;
using RequestId = uint64_t;

// One type from the API to the sampler (seed: per-request RNG, same seed, same output).
using SamplingParams = sampling::Params;

enum class FinishReason {
  stop_token,     // an end-of-generation token was sampled (it is not emitted as a token event)
  max_tokens,     // max_tokens generated
  context_full,   // the sequence reached the model's context length
  cancelled,      // cancel() was called
  error,          // see Event::error
};
const char* finish_reason_name(FinishReason r);

struct Event {
  enum class Kind {
    started,   // prompt accepted and scheduled; n_prompt_tokens / n_cached_tokens are set
    progress,  // prefill progress (n_prefilled of n_prompt_tokens); also serves as a heartbeat
    token,     // one generated token
    finished,  // last event of a request: reason (and error when reason == error)
  };
  Kind kind = Kind::token;
  TokenId token = -1;
  int32_t n_prompt_tokens = 0;
  int32_t n_cached_tokens = 0;  // prompt tokens served from the prefix cache (honest count)
  // started: prompt tokens before the request's cache_breakpoint that it adds to the cache
  int32_t n_cache_written_tokens = 0;
  int32_t n_prefilled = 0;
  int32_t n_generated = 0;
  FinishReason reason = FinishReason::stop_token;
  std::string error;
};

struct GenerateRequest {
  std::vector<TokenId> prompt;          // full prompt, BOS included when the model wants it
  int32_t max_tokens = 256;             // generation budget
  SamplingParams sampling;
  // Logits processors applied before sampling, in order (grammar, banned tokens, a forced
  // end of thinking): the engine makes one state per sequence from each.
  std::vector<std::shared_ptr<const sampling::ConstraintFactory>> constraints;
  std::vector<TokenId> stop_tokens;     // end-of-generation ids (tokenizer's EOG set)
  std::string cache_namespace;          // prefix-cache isolation key
  // Prompt tokens [0, n) the client asked to cache (Anthropic cache_control; 0: none). The cache
  // keeps every prefix anyway; this only decides what the started event reports as written.
  int32_t cache_breakpoint = 0;
  std::function<void(const Event&)> on_event;
};

struct ModelInfo {
  std::string name;          // general.name or file stem
  std::string architecture;
  int32_t n_ctx = 0;         // context length the engine serves
  int32_t n_vocab = 0;
};

// A snapshot of the engine's state and cumulative counters, for /metrics. The engine thread
// publishes it once per step without waiting on readers, so the fields may be a step apart.
struct EngineStats {
  int32_t n_waiting = 0;             // requests queued (new or preempted), not running
  int32_t n_running = 0;             // sequences being prefilled or decoded
  int32_t n_kv_blocks_used = 0;      // KV blocks referenced by sequences
  int32_t n_kv_blocks_cached = 0;    // unreferenced blocks the prefix cache keeps (reusable)
  int32_t n_kv_blocks_free = 0;
  int64_t n_preempted = 0;           // preemptions so far
  int64_t n_kv_evicted = 0;          // prefix-cache blocks evicted so far
  int64_t n_tokens_prompt = 0;       // prompt tokens of the requests started so far
  int64_t n_tokens_cached = 0;       // of those, served from the prefix cache
  int64_t n_tokens_generated = 0;    // token events sent so far
};

class Client {
 public:
  virtual ~Client() = default;
  // Queues a request. Errors: the queue is full (ErrorCode::overloaded), the engine is shutting
  // down (ErrorCode::unavailable), or the request cannot run (ErrorCode::invalid: empty prompt,
  // prompt + 1 > n_ctx, ...). On success events follow.
  virtual Result<RequestId> submit(GenerateRequest request) = 0;
  // Ends a request within one engine step; a `finished` event with reason cancelled follows
  // unless the request had already finished. Unknown ids are ignored.
  virtual void cancel(RequestId id) = 0;
  virtual const ModelInfo& model_info() const = 0;
  // Never blocks on the engine thread (callable from any thread).
  virtual EngineStats stats() const = 0;
};

}  // namespace parley::engine
