// Translation of a parsed request (the ChatRequest IR, from the Anthropic or the OpenAI parser)
// into the OpenAI chat-completions request an `openai-chat` upstream (vLLM, SGLang,
// llama-server, another parley) is sent. From the IR, not the raw JSON: both client APIs are
// validated once with field-exact errors and share one translator; what the IR folded (system
// blocks, consecutive turns) is what any template would see anyway.
//
// Always streamed with usage (`stream_options.include_usage`): a non-streaming client answer is
// the fold of the translated events, as for the local engine. What OpenAI chat cannot express
// is refused with the field named, never dropped.
#pragma once

#include <cstdint>
#include <string>

#include "api/chat-request.h"
#include "api/errors.h"
#include "base/json.h"

namespace parley::upstream {

struct OpenAIChatOptions {
  int32_t max_output_tokens = 0;  // operator cap on max_tokens (0: none)
};

// The request body; on failure false and `err` (400, the field in message and param).
bool to_openai_chat(const api::ChatRequest& req, const OpenAIChatOptions& options, json::Value& body,
                    api::ApiError& err);

}  // namespace parley::upstream
