// Translation of a parsed request (the ChatRequest IR, from the Anthropic or the OpenAI parser)
// into the Messages request an `anthropic` (or `parley`) upstream is sent: Anthropic's own API,
// or any server that speaks it. From the IR, like the openai-chat translation: both client APIs
// are validated once with field-exact errors and share one translator. The IR keeps what this
// needs beyond the prompt text (image/document blocks as sent, thinking blocks with their
// signatures, redacted_thinking); what it only holds folded (server tools, replayed server-tool
// blocks, unsigned reasoning) is refused with the field named, never sent lossy.
//
// Always streamed: a non-streaming client answer is the fold of the relayed events, as for the
// local engine.
#pragma once

#include <cstdint>
#include <string>

#include "api/chat-request.h"
#include "api/errors.h"
#include "base/json.h"

namespace parley::upstream {

struct AnthropicMessagesOptions {
  int32_t max_output_tokens = 0;  // operator cap on max_tokens (0: none)
  // The `parley` protocol: Anthropic's wire protocol plus Parley's one request extension
  // (`seed`), which Anthropic's API refuses as an unknown field.
  bool parley_extensions = false;
};

// The request body; on failure false and `err` (400, the field in message and param).
bool to_anthropic_messages(const api::ChatRequest& req, const AnthropicMessagesOptions& options,
                           json::Value& body, api::ApiError& err);

}  // namespace parley::upstream
