// The OpenAI chat-completions event emitter: chat.completion.chunk objects (role chunk, content
// chunks: content, reasoning_content (thinking) and tool_calls with streamed arguments; a
// finish chunk, a usage chunk), encoded as "data: {...}" frames ending with
// "data: [DONE]", or folded into one chat.completion object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/event-sink.h"

namespace parley::api {

const char* openai_finish_reason(StopReason r);  // "stop", "length", "tool_calls"

class OpenAIEmitter final : public Emitter {
 public:
  // include_usage: send the final usage chunk (always for the fold; stream_options otherwise).
  OpenAIEmitter(std::string id, std::string model, int64_t created, bool include_usage,
                EventSink& sink);

  void on_started(const PromptUsage& prompt) override;
  void on_block_start(const BlockStart& block) override;
  void on_delta(std::string_view delta) override;
  void on_block_stop(const std::string&) override { open_.reset(); }
  void on_finished(const Finish& finish) override;
  void heartbeat() override;
  void fail(ErrorKind kind, const std::string& message) override;
  bool done() const override { return done_; }

 private:
  json::Value chunk(json::Value delta, json::Value finish_reason) const;
  void send_role();

  std::string id_, model_;
  int64_t created_;
  bool include_usage_;
  EventSink& sink_;
  bool role_sent_ = false, done_ = false;
  std::optional<BlockKind> open_;
  int n_tool_calls_ = 0;  // tool_calls[].index of the next call
};

class OpenAISseEncoder final : public SseEncoder {
 public:
  void event(const json::Value& ev) override;
  void keepalive() override { buffer_ += ": keep-alive\n\n"; }
  void end() override { buffer_ += "data: [DONE]\n\n"; }
};

class OpenAIFold final : public EventFold {
 public:
  void event(const json::Value& ev) override;
  HttpResponse response(const std::string& request_id) override;

 private:
  json::Value completion_;
  std::string content_;
  std::string reasoning_;
  json::Value tool_calls_ = json::Value::array();
  json::Value finish_reason_;
  json::Value usage_;
  json::Value error_;
};

}  // namespace parley::api
