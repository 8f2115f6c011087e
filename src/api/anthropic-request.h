// Anthropic Messages request JSON → ChatRequest, with errors naming the exact field
// ("messages.3.content.1.type: ..."). Accepts every field and block type of
// docs/anthropic-api.md §2-§4; unknown top-level fields are ignored (lenient, as a local server
// should be). See the README's endpoint section for how each block reaches the prompt.
#pragma once

#include "api/chat-request.h"
#include "base/json.h"
#include "base/result.h"

namespace parley::api {

enum class AnthropicEndpoint {
  messages,      // POST /v1/messages: max_tokens required
  count_tokens,  // POST /v1/messages/count_tokens: generation controls ignored
};

Result<ChatRequest> parse_anthropic_request(const json::Value& body, AnthropicEndpoint endpoint);

// Claude Code puts "x-anthropic-billing-header: cc_version=…; cch=…;" first in `system`. It
// differs between conversations and carries no instruction for the model, so it is left out of
// the prompt (it would defeat prefix caching across conversations).
bool is_claude_code_billing_block(std::string_view text);

}  // namespace parley::api
