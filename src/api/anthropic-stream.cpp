#include "api/anthropic-stream.h"

#include "base/check.h"
#include "base/log.h"

namespace parley::api {

const char* anthropic_stop_reason(StopReason r) {
  switch (r) {
    case StopReason::end_turn: return "end_turn";
    case StopReason::tool_use: return "tool_use";
    case StopReason::max_tokens: return "max_tokens";
    case StopReason::stop_sequence: return "stop_sequence";
    case StopReason::context_window: return "model_context_window_exceeded";
    case StopReason::refusal: return "refusal";
    case StopReason::pause_turn: return "pause_turn";
    case StopReason::cancelled:
    case StopReason::error: return "end_turn";  // never sent: these end with an error event
  }
  return "end_turn";
}

AnthropicEmitter::AnthropicEmitter(std::string message_id, std::string model,
                                   std::string request_id, int32_t n_prompt, EventSink& sink)
    : message_id_(std::move(message_id)),
      model_(std::move(model)),
      request_id_(std::move(request_id)),
      sink_(sink) {
  prompt_.n_prompt = n_prompt;
}

// Anthropic's arithmetic: input + cache_creation + cache_read = prompt tokens. Every prompt
// prefix is cached automatically and reads are counted wherever they come from; creation counts
// what was newly cached at or before the request's cache_control breakpoint (none: 0).
json::Value AnthropicEmitter::usage(int32_t n_output, bool with_creation_detail) const {
  json::Value u = json::Value::object();
  u["input_tokens"] = prompt_.n_prompt - prompt_.n_cache_read - prompt_.n_cache_written;
  u["cache_creation_input_tokens"] = prompt_.n_cache_written;
  u["cache_read_input_tokens"] = prompt_.n_cache_read;
  u["output_tokens"] = n_output;
  if (with_creation_detail) {
    json::Value creation = json::Value::object();
    creation["ephemeral_5m_input_tokens"] = prompt_.cache_ttl_1h ? 0 : prompt_.n_cache_written;
    creation["ephemeral_1h_input_tokens"] = prompt_.cache_ttl_1h ? prompt_.n_cache_written : 0;
    u["cache_creation"] = std::move(creation);
  }
  return u;
}

void AnthropicEmitter::start_message() {
  if (started_) return;
  started_ = true;
  json::Value msg = json::Value::object();
  msg["id"] = message_id_;
  msg["type"] = "message";
  msg["role"] = "assistant";
  msg["model"] = model_;
  msg["content"] = json::Value::array();
  msg["stop_reason"] = nullptr;
  msg["stop_sequence"] = nullptr;
  json::Value u = usage(0, true);
  u["service_tier"] = "standard";
  msg["usage"] = std::move(u);
  json::Value ev = json::Value::object();
  ev["type"] = "message_start";
  ev["message"] = std::move(msg);
  sink_.event(ev);
  // Like the real API, a ping right away: clients see a live stream before the first token.
  heartbeat();
}

void AnthropicEmitter::on_started(const PromptUsage& prompt) {
  if (done_) return;
  // If a heartbeat already sent message_start with best-known numbers (no cache hit known),
  // the real ones follow in message_delta's cumulative usage.
  prompt_ = prompt;
  start_message();
}

void AnthropicEmitter::on_block_start(const BlockStart& block) {
  if (done_) return;
  start_message();
  PARLEY_CHECK_MSG(!open_, "a block starts while another is open");
  json::Value b = json::Value::object();
  switch (block.kind) {
    case BlockKind::text:
      b["type"] = "text";
      b["text"] = "";
      break;
    case BlockKind::thinking:
      b["type"] = "thinking";
      b["thinking"] = "";
      b["signature"] = "";
      break;
    case BlockKind::tool_use:
      b["type"] = "tool_use";
      b["id"] = block.id;
      b["name"] = block.name;
      b["input"] = json::Value::object();
      break;
    case BlockKind::redacted_thinking:
      b["type"] = "redacted_thinking";
      b["data"] = block.data;
      break;
  }
  json::Value ev = json::Value::object();
  ev["type"] = "content_block_start";
  ev["index"] = block_count_;
  ev["content_block"] = std::move(b);
  sink_.event(ev);
  open_ = block.kind;
  block_count_++;
}

void AnthropicEmitter::on_delta(std::string_view text) {
  if (done_ || text.empty()) return;
  PARLEY_CHECK_MSG(open_.has_value(), "a delta without an open block");
  json::Value delta = json::Value::object();
  switch (*open_) {
    case BlockKind::text:
      delta["type"] = "text_delta";
      delta["text"] = std::string(text);
      break;
    case BlockKind::thinking:
      delta["type"] = "thinking_delta";
      delta["thinking"] = std::string(text);
      break;
    case BlockKind::tool_use:
      delta["type"] = "input_json_delta";
      delta["partial_json"] = std::string(text);
      break;
    case BlockKind::redacted_thinking: return;  // complete at its start
  }
  json::Value ev = json::Value::object();
  ev["type"] = "content_block_delta";
  ev["index"] = block_count_ - 1;
  ev["delta"] = std::move(delta);
  sink_.event(ev);
}

void AnthropicEmitter::on_block_stop(const std::string& signature) {
  if (done_ || !open_) return;
  if (*open_ == BlockKind::thinking) {
    // As the API: the signature arrives as the block's last delta.
    json::Value delta = json::Value::object();
    delta["type"] = "signature_delta";
    delta["signature"] = signature;
    json::Value ev = json::Value::object();
    ev["type"] = "content_block_delta";
    ev["index"] = block_count_ - 1;
    ev["delta"] = std::move(delta);
    sink_.event(ev);
  }
  json::Value ev = json::Value::object();
  ev["type"] = "content_block_stop";
  ev["index"] = block_count_ - 1;
  sink_.event(ev);
  open_.reset();
}

void AnthropicEmitter::on_finished(const Finish& finish) {
  if (done_) return;
  if (finish.reason == StopReason::error) {
    fail(finish.error_kind, finish.error);
    return;
  }
  if (finish.reason == StopReason::cancelled) {
    fail(ErrorKind::overloaded, "the request was cancelled by the server");
    return;
  }
  prompt_ = finish.prompt;
  start_message();
  on_block_stop({});
  json::Value delta = json::Value::object();
  delta["stop_reason"] = anthropic_stop_reason(finish.reason);
  delta["stop_sequence"] = finish.stop_sequence ? json::Value(*finish.stop_sequence) : json::Value();
  json::Value ev = json::Value::object();
  ev["type"] = "message_delta";
  ev["delta"] = std::move(delta);
  ev["usage"] = usage(finish.n_generated, true);
  sink_.event(ev);
  json::Value stop = json::Value::object();
  stop["type"] = "message_stop";
  sink_.event(stop);
  done_ = true;
  sink_.end();
}

void AnthropicEmitter::heartbeat() {
  if (done_) return;
  if (!started_) {
    start_message();  // sends its own ping
    return;
  }
  json::Value ev = json::Value::object();
  ev["type"] = "ping";
  sink_.event(ev);
}

void AnthropicEmitter::fail(ErrorKind kind, const std::string& message) {
  if (done_) return;
  ApiError e{kind, message, {}};
  sink_.event(anthropic_error_json(e, request_id_));
  done_ = true;
  sink_.end();
}

// ---------------------------------------------------------------------------------------------

void AnthropicSseEncoder::event(const json::Value& ev) {
  const json::Value* type = ev.find("type");
  PARLEY_CHECK(type != nullptr && type->is_string());
  buffer_ += "event: ";
  buffer_ += type->as_string();
  buffer_ += "\ndata: ";
  json::write(buffer_, ev);  // compact JSON is one line: strings escape their newlines
  buffer_ += "\n\n";
}

// ---------------------------------------------------------------------------------------------

void AnthropicFold::event(const json::Value& ev) {
  const std::string& type = ev.find("type")->as_string();
  if (type == "message_start") {
    message_ = *ev.find("message");
  } else if (type == "content_block_start") {
    message_["content"].push_back(*ev.find("content_block"));
    partial_json_.emplace_back();
  } else if (type == "content_block_delta") {
    size_t i = static_cast<size_t>(ev.find("index")->as_int());
    json::Value& block = message_["content"].as_array().at(i);
    const json::Value& delta = *ev.find("delta");
    const std::string& dt = delta.find("type")->as_string();
    if (dt == "text_delta") block["text"].as_string() += delta.find("text")->as_string();
    if (dt == "thinking_delta") block["thinking"].as_string() += delta.find("thinking")->as_string();
    if (dt == "signature_delta") block["signature"] = *delta.find("signature");
    if (dt == "input_json_delta") partial_json_.at(i) += delta.find("partial_json")->as_string();
  } else if (type == "content_block_stop") {
    size_t i = static_cast<size_t>(ev.find("index")->as_int());
    if (!partial_json_.at(i).empty()) {
      auto input = json::parse(partial_json_[i]);
      if (input.ok()) {
        message_["content"].as_array().at(i)["input"] = std::move(input).value();
      } else {
        // The output parser promises valid JSON; if it ever breaks that, one answer has an
        // empty input (and the log says why) rather than the server going down.
        log_error("tool input is not valid JSON (%s): %s", input.error().message.c_str(),
                  partial_json_[i].c_str());
      }
    }
  } else if (type == "message_delta") {
    const json::Value& delta = *ev.find("delta");
    for (const auto& [k, v] : delta.as_object()) message_[k] = v;
    if (const json::Value* u = ev.find("usage")) {
      for (const auto& [k, v] : u->as_object()) message_["usage"][k] = v;
    }
  } else if (type == "error") {
    error_ = ev;
  }
}

ErrorKind error_kind_from_anthropic_type(std::string_view type) {
  if (type == "invalid_request_error") return ErrorKind::invalid_request;
  if (type == "authentication_error") return ErrorKind::authentication;
  if (type == "permission_error") return ErrorKind::permission;
  if (type == "not_found_error") return ErrorKind::not_found;
  if (type == "request_too_large") return ErrorKind::request_too_large;
  if (type == "rate_limit_error") return ErrorKind::rate_limit;
  if (type == "timeout_error") return ErrorKind::request_timeout;
  if (type == "overloaded_error") return ErrorKind::overloaded;
  return ErrorKind::api_error;
}

HttpResponse AnthropicFold::response(const std::string& request_id) {
  HttpResponse r;
  if (!error_.is_null()) {
    const json::Value& e = *error_.find("error");
    ApiError err{error_kind_from_anthropic_type(e.find("type")->as_string()),
                 e.find("message")->as_string(), {}};
    r.status = error_status(err.kind);
    r.body = json::write(anthropic_error_json(err, request_id));
    return r;
  }
  r.body = json::write(message_);
  return r;
}

}  // namespace parley::api
