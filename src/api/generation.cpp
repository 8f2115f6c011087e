#include "api/generation.h"

#include "base/log.h"

namespace parley::api {

Generation::Generation(engine::Client& engine, const tokenizer::Tokenizer& tokenizer,
                       GenerationSpec spec)
    : engine_(engine),
      tokenizer_(tokenizer),
      spec_(std::move(spec)),
      inbox_(std::make_shared<Inbox>()),
      decoder_(tokenizer, false),
      stops_(spec_.stop_sequences) {}

Generation::~Generation() { cancel(); }

Status Generation::submit() {
  if (spec_.max_tokens <= 0) {
    // max_tokens 0 (allowed by the current API: "only warm the prompt"): nothing to generate,
    // so the engine is not involved; the answer is still a proper message.
    engine::Event started;
    started.kind = engine::Event::Kind::started;
    started.n_prompt_tokens = n_prompt();
    engine::Event done;
    done.kind = engine::Event::Kind::finished;
    done.reason = engine::FinishReason::max_tokens;
    std::lock_guard lock(inbox_->mu);
    inbox_->events.push_back(started);
    inbox_->events.push_back(done);
    return {};
  }
  engine::GenerateRequest req;
  req.prompt = spec_.prompt;
  req.max_tokens = spec_.max_tokens;
  req.sampling = spec_.sampling;
  req.stop_tokens = tokenizer_.eog_ids();
  req.cache_namespace = spec_.cache_namespace;
  // The engine thread only queues; all work happens in poll() on the caller's thread. The
  // inbox outlives this object if the engine still holds the callback.
  req.on_event = [inbox = inbox_](const engine::Event& ev) {
    std::function<void()> wake;
    {
      std::lock_guard lock(inbox->mu);
      inbox->events.push_back(ev);
      wake = inbox->wake;
    }
    if (wake) wake();
  };
  PARLEY_TRY(engine::RequestId id, engine_.submit(std::move(req)));
  id_ = id;
  return {};
}

void Generation::set_wake(std::function<void()> wake) {
  bool pending;
  {
    std::lock_guard lock(inbox_->mu);
    inbox_->wake = wake;
    pending = !inbox_->events.empty();
  }
  if (pending && wake) wake();
}

bool Generation::poll(GenerationSink& sink) {
  std::deque<engine::Event> events;
  {
    std::lock_guard lock(inbox_->mu);
    events.swap(inbox_->events);
  }
  for (const auto& ev : events) {
    if (finished_) break;
    handle(ev, sink);
  }
  return finished_;
}

void Generation::cancel() {
  if (id_ && !finished_) engine_.cancel(*id_);
  finished_ = true;
  std::lock_guard lock(inbox_->mu);
  inbox_->wake = nullptr;  // the transport's wake target may be going away
}

void Generation::block_delta(BlockKind kind, std::string_view delta, GenerationSink& sink) {
  if (delta.empty()) return;
  if (open_block_ != kind) {
    close_block(sink);
    BlockStart b;
    b.kind = kind;
    sink.on_block_start(b);
    open_block_ = kind;
  }
  sink.on_delta(delta);
}

void Generation::close_block(GenerationSink& sink) {
  if (!open_block_) return;
  open_block_.reset();
  sink.on_block_stop({});
}

void Generation::emit_text(std::string text, GenerationSink& sink) {
  StopMatcher::Output out = stops_.push(text);
  block_delta(BlockKind::text, out.text, sink);
  if (out.match) {
    Finish f;
    f.reason = StopReason::stop_sequence;
    f.stop_sequence = std::move(out.match);
    if (id_) engine_.cancel(*id_);  // the rest of the generation is not wanted
    finish(std::move(f), sink);
  }
}

void Generation::finish(Finish f, GenerationSink& sink) {
  f.n_prompt = n_prompt();
  f.n_cached = n_cached_;
  f.n_generated = n_generated_;
  finished_ = true;
  if (f.reason != StopReason::error && f.reason != StopReason::cancelled) close_block(sink);
  sink.on_finished(f);
}

void Generation::handle(const engine::Event& ev, GenerationSink& sink) {
  using Kind = engine::Event::Kind;
  if (!started_ && ev.kind != Kind::progress) {
    // `started` comes first from the engine; a finished-with-error may come without it.
    started_ = true;
    n_cached_ = ev.kind == Kind::started ? ev.n_cached_tokens : 0;
    sink.on_started(n_prompt(), n_cached_);
    if (ev.kind == Kind::started) return;
  }
  switch (ev.kind) {
    case Kind::started:
    case Kind::progress:
      return;
    case Kind::token: {
      n_generated_++;
      std::string text = decoder_.push(ev.token);
      if (!text.empty()) emit_text(std::move(text), sink);
      return;
    }
    case Kind::finished: {
      // What the decoder and the stop matcher still hold is output after all.
      std::string tail = decoder_.flush();
      if (!tail.empty()) emit_text(std::move(tail), sink);
      if (finished_) return;  // the tail completed a stop string
      std::string held = stops_.flush();
      block_delta(BlockKind::text, held, sink);
      Finish f;
      switch (ev.reason) {
        case engine::FinishReason::stop_token: f.reason = StopReason::end_turn; break;
        case engine::FinishReason::max_tokens:
          f.reason = spec_.budget_reason;
          break;
        case engine::FinishReason::context_full: f.reason = StopReason::context_window; break;
        case engine::FinishReason::cancelled: f.reason = StopReason::cancelled; break;
        case engine::FinishReason::error:
          f.reason = StopReason::error;
          f.error = ev.error.empty() ? "generation failed" : ev.error;
          log_error("generation failed: %s", f.error.c_str());
          break;
      }
      finish(std::move(f), sink);
      return;
    }
  }
}

}  // namespace parley::api
