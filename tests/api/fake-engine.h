// A scripted engine::Client for unit tests of the API layer only (integration tests use the real
// engine). It answers every request with the same token script, honouring max_tokens, the
// context length and the stop tokens like the engine contract says; events are delivered
// synchronously from submit() (the API side only queues them, as with the engine thread).
#pragma once

#include <string>
#include <vector>

#include "engine/client.h"

namespace parley::test {

class FakeEngine final : public engine::Client {
 public:
  explicit FakeEngine(int32_t n_ctx) {
    info_.name = "fake";
    info_.architecture = "llama";
    info_.n_ctx = n_ctx;
  }

  std::vector<engine::TokenId> script;  // generated tokens, in order
  int32_t n_cached = 0;                 // reported prefix-cache hit
  bool overloaded = false;              // submit() answers "overloaded"
  bool fail_after_script = false;       // finish with an error instead of running out
  // What the last request asked for.
  engine::GenerateRequest last;
  std::vector<engine::RequestId> cancelled;
  // What stats() answers; the token counters grow with every request like the engine's.
  engine::EngineStats engine_stats;

  Result<engine::RequestId> submit(engine::GenerateRequest r) override {
    if (overloaded) return Error{"overloaded: 4 requests are waiting", ErrorCode::overloaded};
    const int32_t n_prompt = static_cast<int32_t>(r.prompt.size());
    if (n_prompt + 1 > info_.n_ctx) return Error{"prompt does not fit the context", ErrorCode::invalid};
    engine::RequestId id = next_id_++;
    auto send = [&](engine::Event ev) {
      ev.n_prompt_tokens = n_prompt;
      if (ev.kind == engine::Event::Kind::token) engine_stats.n_tokens_generated++;
      r.on_event(ev);
    };
    engine_stats.n_tokens_prompt += n_prompt;
    engine_stats.n_tokens_cached += n_cached;
    engine::Event started;
    started.kind = engine::Event::Kind::started;
    started.n_cached_tokens = n_cached;
    started.n_cache_written_tokens = std::max(0, std::min(r.cache_breakpoint, n_prompt) - n_cached);
    send(started);
    engine::Event progress;
    progress.kind = engine::Event::Kind::progress;
    progress.n_prefilled = n_prompt;
    send(progress);
    engine::Event done;
    done.kind = engine::Event::Kind::finished;
    done.reason = engine::FinishReason::stop_token;  // a script that runs out ends the turn
    int32_t n = 0;
    for (engine::TokenId t : script) {
      if (n >= r.max_tokens) {
        done.reason = engine::FinishReason::max_tokens;
        break;
      }
      if (n_prompt + n >= info_.n_ctx) {
        done.reason = engine::FinishReason::context_full;
        break;
      }
      bool eog = false;
      for (auto s : r.stop_tokens) eog = eog || s == t;
      if (eog) {
        done.reason = engine::FinishReason::stop_token;
        break;
      }
      engine::Event tok;
      tok.kind = engine::Event::Kind::token;
      tok.token = t;
      tok.n_generated = ++n;
      send(tok);
    }
    if (n == static_cast<int32_t>(script.size()) && fail_after_script) {
      done.reason = engine::FinishReason::error;
      done.error = "scripted failure";
    }
    done.n_generated = n;
    send(done);
    last = std::move(r);
    return id;
  }
  void cancel(engine::RequestId id) override { cancelled.push_back(id); }
  const engine::ModelInfo& model_info() const override { return info_; }
  engine::EngineStats stats() const override { return engine_stats; }

 private:
  engine::ModelInfo info_;
  engine::RequestId next_id_ = 1;
};

}  // namespace parley::test
