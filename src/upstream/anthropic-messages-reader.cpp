#include "upstream/anthropic-messages-reader.h"

#include <algorithm>

#include "api/anthropic-stream.h"
#include "base/log.h"
#include "base/strings.h"

namespace parley::upstream {
namespace {

using api::BlockKind;
using api::GenerationSink;
using json::Value;

const std::string* string_of(const Value& obj, std::string_view key) {
  const Value* v = obj.is_object() ? obj.find(key) : nullptr;
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

// A usage counter; null (the API sends null cache fields) and absent are 0.
std::optional<int32_t> count_of(const Value& u, std::string_view key) {
  const Value* v = u.find(key);
  if (v == nullptr || !v->is_int()) return std::nullopt;
  return static_cast<int32_t>(std::clamp<int64_t>(v->as_int(), 0, INT32_MAX));
}

}  // namespace

void AnthropicMessagesReader::start(GenerationSink& sink) {
  if (started_) return;
  started_ = true;
  sink.on_started(prompt_);
}

// The API's arithmetic: input_tokens counts only what was neither read from nor written to the
// cache, so the prompt is their sum. message_start has the prompt's numbers; message_delta's
// usage is cumulative and overwrites what it carries.
void AnthropicMessagesReader::usage(const Value& u) {
  if (!u.is_object()) return;
  const auto input = count_of(u, "input_tokens");
  const auto read = count_of(u, "cache_read_input_tokens");
  const auto written = count_of(u, "cache_creation_input_tokens");
  if (input || read || written) {
    const int32_t uncached = input.value_or(prompt_.n_prompt - prompt_.n_cache_read - prompt_.n_cache_written);
    if (read) prompt_.n_cache_read = *read;
    if (written) prompt_.n_cache_written = *written;
    prompt_.n_prompt = uncached + prompt_.n_cache_read + prompt_.n_cache_written;
  }
  if (const Value* c = u.find("cache_creation"); c != nullptr && c->is_object()) {
    prompt_.cache_ttl_1h = count_of(*c, "ephemeral_1h_input_tokens").value_or(0) > 0;
  }
  if (const auto out = count_of(u, "output_tokens")) n_output_ = *out;
}

void AnthropicMessagesReader::block_start(const Value& block, GenerationSink& sink) {
  block_stop(sink);  // blocks never overlap; a missing stop is not worth failing the answer
  const std::string* type = string_of(block, "type");
  api::BlockStart b;
  std::string initial;  // text a block may start with
  if (type != nullptr && *type == "text") {
    b.kind = BlockKind::text;
    if (const std::string* t = string_of(block, "text")) initial = *t;
  } else if (type != nullptr && *type == "thinking") {
    b.kind = BlockKind::thinking;
    if (const std::string* t = string_of(block, "thinking")) initial = *t;
    const std::string* sig = string_of(block, "signature");
    signature_ = sig != nullptr ? *sig : "";
  } else if (type != nullptr && *type == "redacted_thinking") {
    b.kind = BlockKind::redacted_thinking;
    const std::string* data = string_of(block, "data");
    b.data = data != nullptr ? *data : "";
  } else if (type != nullptr && *type == "tool_use") {
    b.kind = BlockKind::tool_use;
    const std::string* id = string_of(block, "id");
    const std::string* name = string_of(block, "name");
    // The upstream's id, kept: the next turn's tool_result names it, and the upstream checks
    // that it answers one of its own tool_use blocks.
    b.id = id != nullptr ? *id : "";
    b.name = name != nullptr ? *name : "";
    const Value* input = block.find("input");
    tool_input_ = input != nullptr && input->is_object() ? *input : Value::object();
    tool_input_streamed_ = false;
  } else {
    // Server tools are refused before the request is sent, so this is a block nothing here can
    // carry to the client: the answer fails rather than losing it.
    return fail(api::ErrorKind::api_error,
                str_printf("upstream %s sent a %s content block, which the gateway does not relay",
                           options_.upstream.c_str(), quote_for_message(type ? *type : "(untyped)", 60).c_str()),
                sink);
  }
  sink.on_block_start(b);
  open_block_ = b.kind;
  if (!initial.empty()) sink.on_delta(initial);
}

void AnthropicMessagesReader::block_delta(const Value& delta, GenerationSink& sink) {
  const std::string* type = string_of(delta, "type");
  if (!open_block_ || type == nullptr) return;
  const std::string* piece = nullptr;
  if (*type == "text_delta" && *open_block_ == BlockKind::text) piece = string_of(delta, "text");
  if (*type == "thinking_delta" && *open_block_ == BlockKind::thinking) piece = string_of(delta, "thinking");
  if (*type == "input_json_delta" && *open_block_ == BlockKind::tool_use) {
    piece = string_of(delta, "partial_json");
    if (piece != nullptr && !piece->empty()) tool_input_streamed_ = true;
  }
  if (*type == "signature_delta") {
    if (const std::string* sig = string_of(delta, "signature")) signature_ = *sig;
    return;
  }
  if (*type == "citations_delta") {
    // Citations are refused in the request; one here could not reach the client.
    return fail(api::ErrorKind::api_error,
                "upstream " + options_.upstream + " sent citations, which the gateway does not relay", sink);
  }
  if (piece != nullptr && !piece->empty()) sink.on_delta(*piece);
}

void AnthropicMessagesReader::block_stop(GenerationSink& sink) {
  if (!open_block_) return;
  // A tool_use whose input came whole at its start, or empty (no fragments, or only ""), still
  // reaches the client as one JSON object: OpenAI clients parse the arguments string.
  if (*open_block_ == BlockKind::tool_use && !tool_input_streamed_) {
    sink.on_delta(json::write(tool_input_));
  }
  // The upstream's signature, unchanged (empty for anything but thinking).
  const std::string signature = *open_block_ == BlockKind::thinking ? std::move(signature_) : std::string();
  signature_.clear();
  open_block_.reset();
  sink.on_block_stop(signature);
}

void AnthropicMessagesReader::message_delta(const Value& event) {
  if (const Value* d = event.find("delta"); d != nullptr && d->is_object()) {
    if (const std::string* r = string_of(*d, "stop_reason")) stop_reason_ = *r;
    if (const std::string* s = string_of(*d, "stop_sequence")) stop_sequence_ = *s;
  }
  if (const Value* u = event.find("usage")) usage(*u);
}

void AnthropicMessagesReader::finish(GenerationSink& sink) {
  start(sink);
  block_stop(sink);
  api::Finish f;
  using api::StopReason;
  if (stop_reason_ == "end_turn") {
    f.reason = StopReason::end_turn;
  } else if (stop_reason_ == "max_tokens") {
    f.reason = options_.length_ends_turn ? StopReason::end_turn : StopReason::max_tokens;
  } else if (stop_reason_ == "stop_sequence") {
    f.reason = StopReason::stop_sequence;
    f.stop_sequence = stop_sequence_;
  } else if (stop_reason_ == "tool_use") {
    f.reason = StopReason::tool_use;
  } else if (stop_reason_ == "refusal") {
    f.reason = StopReason::refusal;
  } else if (stop_reason_ == "pause_turn") {
    f.reason = StopReason::pause_turn;
  } else if (stop_reason_ == "model_context_window_exceeded") {
    f.reason = StopReason::context_window;
  } else if (stop_reason_.empty()) {
    return fail(api::ErrorKind::api_error,
                "upstream " + options_.upstream + "'s answer ended without a stop_reason", sink);
  } else {
    // A stop reason newer than this server: the answer is complete, so it is kept.
    log_warn("upstream %s: unknown stop_reason %s, reported as end_turn", options_.upstream.c_str(),
             quote_for_message(stop_reason_, 60).c_str());
    f.reason = StopReason::end_turn;
  }
  f.prompt = prompt_;
  f.n_generated = n_output_;
  finished_ = true;
  sink.on_finished(f);
}

void AnthropicMessagesReader::error_event(const Value& event, GenerationSink& sink) {
  const Value* e = event.find("error");
  const std::string* type = e != nullptr ? string_of(*e, "type") : nullptr;
  const std::string* message = e != nullptr ? string_of(*e, "message") : nullptr;
  std::string text = message != nullptr ? *message : "upstream error";
  if (options_.scrub) text = options_.scrub(std::move(text));
  const api::ErrorKind kind = type != nullptr ? api::error_kind_from_anthropic_type(*type) : api::ErrorKind::api_error;
  // The request's own faults keep the upstream's words (Claude Code matches "prompt is too
  // long" on the text); the rest say where they came from.
  if (kind != api::ErrorKind::invalid_request) text = "upstream " + options_.upstream + ": " + text;
  fail(kind, text, sink);
}

void AnthropicMessagesReader::chunk(const Value& event, GenerationSink& sink) {
  if (finished_) return;
  const std::string* type = string_of(event, "type");
  if (type == nullptr) return fail(api::ErrorKind::api_error, "upstream " + options_.upstream + " sent an event without a type", sink);
  if (*type == "error") return error_event(event, sink);
  if (*type == "message_start") {
    if (const Value* m = event.find("message"); m != nullptr && m->is_object()) {
      if (const Value* u = m->find("usage")) usage(*u);
    }
    return start(sink);
  }
  if (*type == "message_stop") return finish(sink);
  if (*type == "message_delta") return message_delta(event);
  if (*type != "content_block_start" && *type != "content_block_delta" && *type != "content_block_stop") return;
  start(sink);
  if (*type == "content_block_start") {
    const Value* block = event.find("content_block");
    return block_start(block != nullptr ? *block : Value::object(), sink);
  }
  if (*type == "content_block_delta") {
    const Value* delta = event.find("delta");
    if (delta != nullptr) block_delta(*delta, sink);
    return;
  }
  block_stop(sink);
}

void AnthropicMessagesReader::end(GenerationSink& sink) {
  if (finished_) return;
  fail(api::ErrorKind::api_error, "upstream " + options_.upstream + "'s stream ended before message_stop", sink);
}

void AnthropicMessagesReader::fail(api::ErrorKind kind, const std::string& message, GenerationSink& sink) {
  if (finished_) return;
  finished_ = true;
  api::Finish f;
  f.reason = api::StopReason::error;
  f.error_kind = kind;
  f.error = message;
  sink.on_finished(f);
}

}  // namespace parley::upstream
