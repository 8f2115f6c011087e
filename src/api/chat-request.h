// What both the Anthropic and the OpenAI parsers produce: the chat IR (what reaches the prompt)
// plus the generation controls. Each API parses its JSON straight into this — never through the
// other API's JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "chat/conversation.h"

namespace parley::api {

enum class ToolChoiceMode { auto_, any, tool, none };

struct ToolChoice {
  ToolChoiceMode mode = ToolChoiceMode::auto_;
  std::string name;                        // mode == tool
  bool disable_parallel_tool_use = false;  // at most / exactly one call
};

// Content the loaded model cannot take (images, PDFs). Parsed and validated, then refused with
// a precise message by the service: never silently dropped.
struct MediaRef {
  std::string path;  // "messages.0.content.1"
  std::string what;  // "image", "PDF document"
};

// A thinking block sent back in the history, with the signature this server gave it.
struct SignedThinking {
  std::string path;  // "messages.1.content.0"
  std::string thinking;
  std::string signature;
};

struct ChatRequest {
  std::string model;  // as sent; echoed in the response
  chat::Conversation conversation;
  // The last message is an assistant turn to be continued (prefill): render without a
  // generation prompt and continue its text.
  bool continue_final_message = false;

  std::optional<int64_t> max_tokens;  // Anthropic: required; OpenAI: optional (to the context)
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> min_p;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop_sequences;
  bool stream = false;
  bool stream_include_usage = false;  // OpenAI stream_options.include_usage

  std::optional<bool> enable_thinking;  // unset: the template's default
  int64_t thinking_budget = 0;          // thinking.budget_tokens (0: none given)
  std::string effort;                   // output_config.effort / reasoning_effort
  ToolChoice tool_choice;
  bool has_tool_choice = false;
  json::Value output_schema;            // output_config.format / response_format (null: none)
  bool output_schema_strict = false;    // OpenAI json_schema.strict
  std::string user_id;                  // metadata.user_id / user

  // The TTL of the last cache_control breakpoint ("1h" or the default "5m"); the breakpoints
  // themselves are flags in the conversation (chat::ContentPart::cache_breakpoint, ...).
  bool cache_ttl_1h = false;
  std::vector<SignedThinking> thinking_blocks;  // verified by the service
  std::vector<MediaRef> media;          // images/documents that need a path we do not have yet
  // What the local engine is shown folded (as text) or not at all: Anthropic server tools,
  // replayed server-tool blocks, thinking without a signature (OpenAI reasoning_content). An
  // upstream that would take the original natively refuses the request naming these, rather
  // than getting a lossy version.
  std::vector<MediaRef> folded;
};

}  // namespace parley::api
