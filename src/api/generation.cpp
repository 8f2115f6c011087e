#include "api/generation.h"

#include <algorithm>

#include "api/metrics.h"
#include "base/log.h"

namespace parley::api {

Generation::Generation(engine::Client& engine, const tokenizer::Tokenizer& tokenizer,
                       GenerationSpec spec)
    : engine_(engine),
      tokenizer_(tokenizer),
      spec_(std::move(spec)),
      inbox_(std::make_shared<Inbox>()),
      decoder_(tokenizer, false),
      stops_(spec_.stop_sequences) {
  if (spec_.format) {
    chat::ParserOptions opt;
    opt.starts_in_thinking = spec_.starts_in_thinking;
    opt.parse_tool_calls = spec_.parse_tool_calls;
    opt.tools = &spec_.tools;
    parser_ = chat::make_output_parser(*spec_.format, opt);
  }
}

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
  req.constraints = spec_.sampling_constraints;
  req.stop_tokens = tokenizer_.eog_ids();
  req.cache_namespace = spec_.cache_namespace;
  req.cache_breakpoint = spec_.n_tokens_cache_breakpoint;
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
  if (spec_.now) t_submit_ = spec_.now();
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
  if (kind == BlockKind::thinking) thinking_ += delta;
  sink.on_delta(delta);
}

void Generation::close_block(GenerationSink& sink) {
  if (!open_block_) return;
  std::string signature;
  if (*open_block_ == BlockKind::thinking && spec_.sign_thinking) signature = spec_.sign_thinking(thinking_);
  thinking_.clear();
  open_block_.reset();
  sink.on_block_stop(signature);
}

void Generation::route(std::vector<chat::OutputEvent>& events, GenerationSink& sink) {
  using Kind = chat::OutputEvent::Kind;
  for (chat::OutputEvent& ev : events) {
    if (finished_) break;
    switch (ev.kind) {
      case Kind::text: block_delta(BlockKind::text, ev.text, sink); break;
      case Kind::thinking: block_delta(BlockKind::thinking, ev.text, sink); break;
      case Kind::tool_call_start: {
        close_block(sink);
        BlockStart b;
        b.kind = BlockKind::tool_use;
        b.id = spec_.new_tool_id ? spec_.new_tool_id() : "toolu_" + std::to_string(n_tool_calls_);
        b.name = ev.name;
        sink.on_block_start(b);
        open_block_ = BlockKind::tool_use;
        break;
      }
      case Kind::tool_call_args:
        if (open_block_ == BlockKind::tool_use && !ev.text.empty()) sink.on_delta(ev.text);
        break;
      case Kind::tool_call_end:
        if (open_block_ != BlockKind::tool_use) break;
        close_block(sink);
        n_tool_calls_++;
        // disable_parallel_tool_use: the turn is over after one call; the rest is not wanted.
        if (spec_.stop_after_first_call) calls_done_ = true;
        break;
    }
    if (calls_done_) break;
  }
  events.clear();
  if (calls_done_ && !finished_) {
    if (id_) engine_.cancel(*id_);
    Finish f;
    f.reason = StopReason::tool_use;
    finish(std::move(f), sink);
  }
}

void Generation::emit_text(std::string text, GenerationSink& sink) {
  StopMatcher::Output out = stops_.push(text);
  if (parser_) {
    parser_->push(out.text, events_);
    route(events_, sink);
  } else {
    block_delta(BlockKind::text, out.text, sink);
  }
  if (out.match && !finished_) {
    Finish f;
    f.reason = StopReason::stop_sequence;
    f.stop_sequence = std::move(out.match);
    if (id_) engine_.cancel(*id_);  // the rest of the generation is not wanted
    finish(std::move(f), sink);
  }
}

void Generation::finish(Finish f, GenerationSink& sink) {
  const bool ok = f.reason != StopReason::error && f.reason != StopReason::cancelled;
  if (parser_ && ok && !calls_done_) {
    // What the parser still holds (a partial marker, an unterminated call) is output too.
    parser_->finish(events_);
    route(events_, sink);
    if (finished_) return;  // that completed the one call allowed
  }
  // The model called tools and then ended its turn: the client runs them.
  if (f.reason == StopReason::end_turn && n_tool_calls_ > 0) f.reason = StopReason::tool_use;
  f.prompt = usage_;
  f.prompt.n_prompt = n_prompt();
  f.n_generated = n_generated_;
  finished_ = true;
  if (ok) close_block(sink);
  sink.on_finished(f);
}

std::string Generation::token_text(engine::TokenId token) {
  if (spec_.format && !spec_.format->special_markers.empty() && tokenizer_.is_control(token)) {
    std::string_view t = tokenizer_.token_text(token);
    const auto& markers = spec_.format->special_markers;
    if (std::find(markers.begin(), markers.end(), t) != markers.end()) {
      // A marker the parser reads (harmony channels, [TOOL_CALLS]): whatever the decoder holds
      // comes first.
      std::string text = decoder_.flush();
      text += t;
      return text;
    }
  }
  return decoder_.push(token);
}

void Generation::handle(const engine::Event& ev, GenerationSink& sink) {
  using Kind = engine::Event::Kind;
  if (!started_ && ev.kind != Kind::progress) {
    // `started` comes first from the engine; a finished-with-error may come without it.
    started_ = true;
    usage_.n_prompt = n_prompt();
    usage_.cache_ttl_1h = spec_.cache_ttl_1h;
    if (ev.kind == Kind::started) {
      usage_.n_cache_read = ev.n_cached_tokens;
      usage_.n_cache_written = ev.n_cache_written_tokens;
    }
    sink.on_started(usage_);
    if (ev.kind == Kind::started) return;
  }
  switch (ev.kind) {
    case Kind::started:
    case Kind::progress:
      return;
    case Kind::token: {
      if (spec_.metrics && spec_.now) {
        const double t = spec_.now();
        if (n_generated_ == 0) {
          spec_.metrics->observe_time_to_first_token(t - t_submit_);
        } else {
          spec_.metrics->observe_inter_token_latency(t - t_last_token_);
        }
        t_last_token_ = t;
      }
      n_generated_++;
      std::string text = token_text(ev.token);
      if (!text.empty()) emit_text(std::move(text), sink);
      return;
    }
    case Kind::finished: {
      // What the decoder and the stop matcher still hold is output after all.
      std::string tail = decoder_.flush();
      if (!tail.empty()) emit_text(std::move(tail), sink);
      if (finished_) return;  // the tail completed a stop string
      std::string held = stops_.flush();
      if (parser_) {
        parser_->push(held, events_);
        route(events_, sink);
        if (finished_) return;
      } else {
        block_delta(BlockKind::text, held, sink);
      }
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
