// The Anthropic Messages event emitter (docs/anthropic-api.md §6) and its two sinks: SSE
// encoding and the fold into a Message object (§5, built exactly as the SDKs accumulate a
// stream, §6.7).
//
//   message_start → ping → (content_block_start(i) → content_block_delta(i)* →
//   content_block_stop(i))* → message_delta (cumulative usage) → message_stop
//
// or, after a failure, an `error` event that ends the stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/event-sink.h"

namespace parley::api {

const char* anthropic_stop_reason(StopReason r);  // "end_turn", ...

class AnthropicEmitter final : public Emitter {
 public:
  AnthropicEmitter(std::string message_id, std::string model, std::string request_id,
                   int32_t n_prompt, EventSink& sink);

  void on_started(const PromptUsage& prompt) override;
  void on_block_start(const BlockStart& block) override;
  void on_delta(std::string_view delta) override;
  void on_block_stop(const std::string& signature) override;
  void on_finished(const Finish& finish) override;
  void heartbeat() override;
  void fail(ErrorKind kind, const std::string& message) override;
  bool done() const override { return done_; }

 private:
  void start_message();
  json::Value usage(int32_t n_output, bool with_creation_detail = false) const;

  std::string message_id_, model_, request_id_;
  EventSink& sink_;
  PromptUsage prompt_;
  bool started_ = false, done_ = false;
  int block_count_ = 0;  // blocks started so far; the open one is block_count_ - 1
  std::optional<BlockKind> open_;
};

// "event: <type>\ndata: <json>\n\n" for each event.
class AnthropicSseEncoder final : public SseEncoder {
 public:
  void event(const json::Value& ev) override;
};

class AnthropicFold final : public EventFold {
 public:
  void event(const json::Value& ev) override;
  HttpResponse response(const std::string& request_id) override;
  const json::Value& message() const { return message_; }

 private:
  json::Value message_;
  json::Value error_;  // the error event, when one came
  std::vector<std::string> partial_json_;  // input_json_delta buffers per block
};

// Status for an Anthropic error type name (overloaded_error → 529, ...).
ErrorKind error_kind_from_anthropic_type(std::string_view type);

}  // namespace parley::api
