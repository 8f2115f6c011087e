#include "upstream/openai-chat-reader.h"

#include <algorithm>

namespace parley::upstream {

using api::BlockKind;
using api::GenerationSink;
using json::Value;

OpenAIChatReader::OpenAIChatReader(ReaderOptions options)
    : options_(std::move(options)), stops_(options_.stop_sequences) {}

void OpenAIChatReader::start(GenerationSink& sink) {
  if (started_) return;
  started_ = true;
  // The prompt's numbers come with the usage at the end; message_delta carries them.
  sink.on_started(prompt_);
}

void OpenAIChatReader::block_delta(BlockKind kind, std::string_view delta, GenerationSink& sink) {
  if (delta.empty()) return;
  if (open_block_ != kind) {
    close_block(sink);
    api::BlockStart b;
    b.kind = kind;
    sink.on_block_start(b);
    open_block_ = kind;
  }
  if (kind == BlockKind::thinking) thinking_ += delta;
  sink.on_delta(delta);
}

void OpenAIChatReader::close_block(GenerationSink& sink) {
  if (!open_block_) return;
  std::string signature;
  if (*open_block_ == BlockKind::thinking && options_.sign_thinking) {
    signature = options_.sign_thinking(thinking_);
  }
  if (*open_block_ == BlockKind::tool_use) {
    n_tool_calls_++;
    open_call_index_ = -1;
    if (options_.stop_after_first_call) calls_done_ = true;
  }
  thinking_.clear();
  open_block_.reset();
  sink.on_block_stop(signature);
}

void OpenAIChatReader::text(std::string_view text, GenerationSink& sink) {
  if (stopped_ || text.empty()) return;
  api::StopMatcher::Output out = stops_.push(text);
  block_delta(BlockKind::text, out.text, sink);
  if (out.match) {
    // Whatever the upstream still sends is past the stop string; its usage is still wanted,
    // so the answer finishes at the end of the stream (which the upstream's own stop ends).
    stopped_ = true;
    stop_match_ = std::move(out.match);
  }
}

void OpenAIChatReader::tool_call_delta(const Value& call, GenerationSink& sink) {
  if (calls_done_) return;
  const Value* index_v = call.find("index");
  const int64_t index = index_v != nullptr && index_v->is_int() ? index_v->as_int() : 0;
  const Value* fn = call.find("function");
  const Value* name = fn != nullptr ? fn->find("name") : nullptr;
  const Value* args = fn != nullptr ? fn->find("arguments") : nullptr;
  const bool has_name = name != nullptr && name->is_string() && !name->as_string().empty();
  if (open_block_ != BlockKind::tool_use || index != open_call_index_) {
    // A new call (upstreams send its id and name first, then only argument fragments). The
    // id is this server's: the client sends it back with the result, and OpenAI chat is
    // stateless, so the upstream never needs its own id again.
    if (!has_name) {
      // Arguments before a name (seen from some servers): kept until the name comes.
      if (args != nullptr && args->is_string()) pending_args_ += args->as_string();
      return;
    }
    close_block(sink);
    if (calls_done_) return;
    api::BlockStart b;
    b.kind = BlockKind::tool_use;
    b.id = options_.new_tool_id ? options_.new_tool_id() : "toolu_" + std::to_string(n_tool_calls_);
    b.name = name->as_string();
    sink.on_block_start(b);
    open_block_ = BlockKind::tool_use;
    open_call_index_ = index;
    if (!pending_args_.empty()) {
      sink.on_delta(pending_args_);
      pending_args_.clear();
    }
  }
  if (args != nullptr && args->is_string() && !args->as_string().empty()) sink.on_delta(args->as_string());
}

void OpenAIChatReader::usage(const Value& u) {
  if (!u.is_object()) return;
  auto int_of = [](const Value* v) -> int32_t {
    return v != nullptr && v->is_int() ? static_cast<int32_t>(std::clamp<int64_t>(v->as_int(), 0, INT32_MAX)) : 0;
  };
  prompt_.n_prompt = int_of(u.find("prompt_tokens"));
  prompt_.n_cache_read = 0;
  if (const Value* d = u.find("prompt_tokens_details"); d != nullptr && d->is_object()) {
    prompt_.n_cache_read = std::min(int_of(d->find("cached_tokens")), prompt_.n_prompt);
  }
  n_completion_ = int_of(u.find("completion_tokens"));
}

void OpenAIChatReader::chunk(const Value& c, GenerationSink& sink) {
  if (finished_) return;
  if (!c.is_object()) return fail(api::ErrorKind::api_error, "upstream sent a chunk that is not an object", sink);
  if (const Value* e = c.find("error"); e != nullptr && !e->is_null()) {
    std::string message = "upstream error";
    if (const Value* m = e->is_object() ? e->find("message") : nullptr; m != nullptr && m->is_string()) {
      message = "upstream: " + m->as_string();
    }
    return fail(api::ErrorKind::api_error, message, sink);
  }
  start(sink);
  if (const Value* u = c.find("usage"); u != nullptr && !u->is_null()) usage(*u);
  const Value* choices = c.find("choices");
  if (choices == nullptr || !choices->is_array()) return;
  for (const Value& choice : choices->as_array()) {
    const Value* index = choice.find("index");
    if (index != nullptr && index->is_int() && index->as_int() != 0) continue;  // n == 1 only
    if (const Value* delta = choice.find("delta"); delta != nullptr && delta->is_object()) {
      bool content = false;
      for (const char* key : {"reasoning_content", "reasoning"}) {
        const Value* r = delta->find(key);
        if (r != nullptr && r->is_string() && !r->as_string().empty() && !stopped_ && !calls_done_) {
          block_delta(BlockKind::thinking, r->as_string(), sink);
          content = true;
          break;  // servers that send both send the same text
        }
      }
      if (const Value* t = delta->find("content"); t != nullptr && t->is_string() && !calls_done_) {
        content = content || !t->as_string().empty();
        text(t->as_string(), sink);
      }
      if (const Value* calls = delta->find("tool_calls"); calls != nullptr && calls->is_array() && !stopped_) {
        for (const Value& call : calls->as_array()) tool_call_delta(call, sink);
        content = true;
      }
      if (content) n_chunks_++;
    }
    if (const Value* fr = choice.find("finish_reason"); fr != nullptr && fr->is_string()) {
      finish_reason_ = fr->as_string();
    }
    if (const Value* sr = choice.find("stop_reason"); sr != nullptr && sr->is_string()) {
      upstream_stop_reason_ = sr->as_string();
    }
  }
}

void OpenAIChatReader::end(GenerationSink& sink) {
  if (finished_) return;
  start(sink);
  if (!stopped_) block_delta(BlockKind::text, stops_.flush(), sink);
  api::Finish f;
  if (stop_match_) {
    f.reason = api::StopReason::stop_sequence;
    f.stop_sequence = stop_match_;
  } else if (finish_reason_ == "length") {
    f.reason = options_.length_ends_turn ? api::StopReason::end_turn : api::StopReason::max_tokens;
  } else if (finish_reason_ == "tool_calls" || n_tool_calls_ > 0 || open_block_ == BlockKind::tool_use) {
    f.reason = api::StopReason::tool_use;
  } else if (upstream_stop_reason_ &&
             std::find(options_.stop_sequences.begin(), options_.stop_sequences.end(), *upstream_stop_reason_) !=
                 options_.stop_sequences.end()) {
    // The upstream stopped on a stop string and cut it (vLLM, parley): it says which.
    f.reason = api::StopReason::stop_sequence;
    f.stop_sequence = upstream_stop_reason_;
  } else if (finish_reason_.empty()) {
    return fail(api::ErrorKind::api_error, "the upstream's answer ended without a finish_reason", sink);
  } else {
    f.reason = api::StopReason::end_turn;
  }
  finish(std::move(f), sink);
}

void OpenAIChatReader::finish(api::Finish f, GenerationSink& sink) {
  close_block(sink);
  f.prompt = prompt_;
  f.n_generated = n_completion_ >= 0 ? n_completion_ : n_chunks_;
  finished_ = true;
  sink.on_finished(f);
}

void OpenAIChatReader::fail(api::ErrorKind kind, const std::string& message, GenerationSink& sink) {
  if (finished_) return;
  finished_ = true;
  api::Finish f;
  f.reason = api::StopReason::error;
  f.error_kind = kind;
  f.error = message;
  sink.on_finished(f);
}

}  // namespace parley::upstream
