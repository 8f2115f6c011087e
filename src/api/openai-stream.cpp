#include "api/openai-stream.h"

namespace parley::api {

const char* openai_finish_reason(StopReason r) {
  switch (r) {
    case StopReason::end_turn:
    case StopReason::stop_sequence: return "stop";
    case StopReason::tool_use: return "tool_calls";
    case StopReason::max_tokens:
    case StopReason::context_window: return "length";
    case StopReason::refusal: return "content_filter";
    case StopReason::pause_turn: return "stop";
    case StopReason::cancelled:
    case StopReason::error: return "stop";  // never sent: these end with an error
  }
  return "stop";
}

OpenAIEmitter::OpenAIEmitter(std::string id, std::string model, int64_t created,
                             bool include_usage, EventSink& sink)
    : id_(std::move(id)),
      model_(std::move(model)),
      created_(created),
      include_usage_(include_usage),
      sink_(sink) {}

json::Value OpenAIEmitter::chunk(json::Value delta, json::Value finish_reason) const {
  json::Value choice = json::Value::object();
  choice["index"] = 0;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = std::move(finish_reason);
  json::Value c = json::Value::object();
  c["id"] = id_;
  c["object"] = "chat.completion.chunk";
  c["created"] = created_;
  c["model"] = model_;
  c["system_fingerprint"] = nullptr;
  c["choices"] = json::Value::array();
  c["choices"].push_back(std::move(choice));
  if (include_usage_) c["usage"] = nullptr;  // as OpenAI: null on every chunk but the last
  return c;
}

void OpenAIEmitter::send_role() {
  if (role_sent_) return;
  role_sent_ = true;
  json::Value delta = json::Value::object();
  delta["role"] = "assistant";
  delta["content"] = "";
  sink_.event(chunk(std::move(delta), nullptr));
}

void OpenAIEmitter::on_started(const PromptUsage&) {
  if (!done_) send_role();
}

void OpenAIEmitter::on_block_start(const BlockStart& block) {
  if (done_) return;
  send_role();
  open_ = block.kind;
  if (block.kind != BlockKind::tool_use) return;
  // The call's first chunk names it; its arguments follow as string fragments.
  json::Value fn = json::Value::object();
  fn["name"] = block.name;
  fn["arguments"] = "";
  json::Value call = json::Value::object();
  call["index"] = n_tool_calls_++;
  call["id"] = block.id;
  call["type"] = "function";
  call["function"] = std::move(fn);
  json::Value delta = json::Value::object();
  delta["tool_calls"] = json::Value::array();
  delta["tool_calls"].push_back(std::move(call));
  sink_.event(chunk(std::move(delta), nullptr));
}

void OpenAIEmitter::on_delta(std::string_view text) {
  if (done_ || text.empty() || !open_) return;
  json::Value delta = json::Value::object();
  switch (*open_) {
    case BlockKind::text: delta["content"] = std::string(text); break;
    case BlockKind::thinking: delta["reasoning_content"] = std::string(text); break;
    case BlockKind::tool_use: {
      json::Value fn = json::Value::object();
      fn["arguments"] = std::string(text);
      json::Value call = json::Value::object();
      call["index"] = n_tool_calls_ - 1;
      call["function"] = std::move(fn);
      delta["tool_calls"] = json::Value::array();
      delta["tool_calls"].push_back(std::move(call));
      break;
    }
    case BlockKind::redacted_thinking: return;  // nothing an OpenAI client can show
  }
  sink_.event(chunk(std::move(delta), nullptr));
}

void OpenAIEmitter::on_finished(const Finish& finish) {
  if (done_) return;
  if (finish.reason == StopReason::error) return fail(finish.error_kind, finish.error);
  if (finish.reason == StopReason::cancelled) {
    return fail(ErrorKind::overloaded, "the request was cancelled by the server");
  }
  send_role();
  json::Value last = chunk(json::Value::object(), openai_finish_reason(finish.reason));
  // vLLM's extension: which stop string ended the answer, so a gateway in front of this server
  // can report it (finish_reason "stop" alone does not say).
  if (finish.stop_sequence) last["choices"].as_array()[0]["stop_reason"] = *finish.stop_sequence;
  sink_.event(last);
  if (include_usage_) {
    json::Value usage = json::Value::object();
    usage["prompt_tokens"] = finish.prompt.n_prompt;
    usage["completion_tokens"] = finish.n_generated;
    usage["total_tokens"] = finish.prompt.n_prompt + finish.n_generated;
    json::Value details = json::Value::object();
    details["cached_tokens"] = finish.prompt.n_cache_read;
    usage["prompt_tokens_details"] = std::move(details);
    json::Value c = chunk(json::Value::object(), nullptr);
    c["choices"] = json::Value::array();
    c["usage"] = std::move(usage);
    sink_.event(c);
  }
  done_ = true;
  sink_.end();
}

void OpenAIEmitter::heartbeat() {
  if (!done_) sink_.keepalive();
}

void OpenAIEmitter::fail(ErrorKind kind, const std::string& message) {
  if (done_) return;
  // What OpenAI sends when a stream fails; the SDK raises it as an APIError.
  sink_.event(openai_error_json(ApiError{kind, message, {}}));
  done_ = true;
}

// ---------------------------------------------------------------------------------------------

void OpenAISseEncoder::event(const json::Value& ev) {
  buffer_ += "data: ";
  json::write(buffer_, ev);
  buffer_ += "\n\n";
}

// ---------------------------------------------------------------------------------------------

void OpenAIFold::event(const json::Value& ev) {
  if (const json::Value* err = ev.find("error")) {
    error_ = *err;
    return;
  }
  if (completion_.is_null()) {
    completion_ = json::Value::object();
    completion_["id"] = *ev.find("id");
    completion_["object"] = "chat.completion";
    completion_["created"] = *ev.find("created");
    completion_["model"] = *ev.find("model");
  }
  if (const json::Value* u = ev.find("usage"); u != nullptr && !u->is_null()) usage_ = *u;
  for (const auto& choice : ev.find("choices")->as_array()) {
    const json::Value& delta = *choice.find("delta");
    if (const json::Value* c = delta.find("content"); c != nullptr && c->is_string()) {
      content_ += c->as_string();
    }
    if (const json::Value* r = delta.find("reasoning_content"); r != nullptr && r->is_string()) {
      reasoning_ += r->as_string();
    }
    if (const json::Value* calls = delta.find("tool_calls")) {
      for (const auto& c : calls->as_array()) {
        const auto index = static_cast<size_t>(c.find("index")->as_int());
        if (index == tool_calls_.as_array().size()) {
          json::Value call = json::Value::object();
          call["id"] = *c.find("id");
          call["type"] = "function";
          call["function"] = *c.find("function");
          tool_calls_.push_back(std::move(call));
        } else {
          tool_calls_.as_array().at(index)["function"]["arguments"].as_string() +=
              c.find("function")->find("arguments")->as_string();
        }
      }
    }
    if (const json::Value* fr = choice.find("finish_reason"); fr != nullptr && !fr->is_null()) {
      finish_reason_ = *fr;
    }
  }
}

HttpResponse OpenAIFold::response(const std::string&) {
  HttpResponse r;
  if (!error_.is_null()) {
    ErrorKind kind = error_.find("type")->as_string() == "server_overloaded" ? ErrorKind::overloaded
                                                                            : ErrorKind::api_error;
    r.status = error_status(kind);
    json::Value v = json::Value::object();
    v["error"] = error_;
    r.body = json::write(v);
    return r;
  }
  json::Value message = json::Value::object();
  message["role"] = "assistant";
  // As OpenAI: content is null when the answer is only tool calls.
  message["content"] = content_.empty() && !tool_calls_.as_array().empty() ? json::Value() : json::Value(content_);
  if (!reasoning_.empty()) message["reasoning_content"] = reasoning_;
  if (!tool_calls_.as_array().empty()) message["tool_calls"] = tool_calls_;
  message["refusal"] = nullptr;
  json::Value choice = json::Value::object();
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason_;
  json::Value out = completion_;
  out["choices"] = json::Value::array();
  out["choices"].push_back(std::move(choice));
  out["usage"] = usage_;
  out["system_fingerprint"] = nullptr;
  r.body = json::write(out);
  return r;
}

}  // namespace parley::api
