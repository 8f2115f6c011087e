// OpenAI chat-completions request JSON → the same ChatRequest the Anthropic parser produces
// (parsed directly; no translation through another API's JSON). Errors name the field the
// OpenAI way: "messages[2].content[0].type: ...".
#pragma once

#include "api/chat-request.h"
#include "base/json.h"
#include "base/result.h"

namespace parley::api {

Result<ChatRequest> parse_openai_request(const json::Value& body);

}  // namespace parley::api
