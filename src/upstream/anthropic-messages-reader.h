// An `anthropic` (or `parley`) upstream's streamed Messages events → GenerationSink calls, so
// the client-facing emitters stay the single source of the client's events (Anthropic or
// OpenAI shaped, streamed or folded):
//
//   message_start (usage incl. cache reads/writes)  → on_started with the prompt's numbers
//   content_block_start text / thinking /           → on_block_start (tool_use with the
//     redacted_thinking / tool_use                     upstream's id; redacted_thinking whole)
//   text_delta / thinking_delta / input_json_delta  → on_delta
//   signature_delta                                 → kept; on_block_stop relays it unchanged
//   content_block_stop                              → on_block_stop
//   message_delta (stop_reason, stop_sequence,      → the finish (cumulative usage: last wins)
//     usage)
//   message_stop                                    → on_finished
//   error                                           → the answer ends with that error
//   ping, unknown events and delta types            → ignored (the API's versioning policy)
//
// Nothing is re-signed or re-numbered: the upstream verifies its own thinking signatures and
// pairs tool_result blocks with its own tool_use ids on the next turn, so both go back to the
// client exactly as the upstream made them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "api/generation.h"
#include "base/json.h"
#include "upstream/stream-reader.h"

namespace parley::upstream {

struct AnthropicReaderOptions {
  std::string upstream;  // its name, for messages
  // The operator's cap (--max-output) was applied and is configured to end the turn.
  bool length_ends_turn = false;
  // Applied to every message relayed from the upstream (hides the gateway's key).
  std::function<std::string(std::string)> scrub;
};

class AnthropicMessagesReader final : public StreamReader {
 public:
  explicit AnthropicMessagesReader(AnthropicReaderOptions options) : options_(std::move(options)) {}

  void chunk(const json::Value& event, api::GenerationSink& sink) override;
  // The body ended: an answer without message_stop broke off.
  void end(api::GenerationSink& sink) override;
  void fail(api::ErrorKind kind, const std::string& message, api::GenerationSink& sink) override;
  bool finished() const override { return finished_; }

 private:
  void start(api::GenerationSink& sink);
  void usage(const json::Value& u);
  void block_start(const json::Value& block, api::GenerationSink& sink);
  void block_delta(const json::Value& delta, api::GenerationSink& sink);
  void block_stop(api::GenerationSink& sink);
  void message_delta(const json::Value& event);
  void finish(api::GenerationSink& sink);
  void error_event(const json::Value& event, api::GenerationSink& sink);

  AnthropicReaderOptions options_;
  bool started_ = false, finished_ = false;
  std::optional<api::BlockKind> open_block_;
  std::string signature_;  // the open thinking block's, from its signature_delta
  json::Value tool_input_;  // the open tool_use block's input as given at its start
  bool tool_input_streamed_ = false;  // input_json_delta fragments came for it
  std::string stop_reason_;
  std::optional<std::string> stop_sequence_;
  api::PromptUsage prompt_;
  int32_t n_output_ = 0;
};

}  // namespace parley::upstream
