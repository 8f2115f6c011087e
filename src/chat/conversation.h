// The typed chat IR: what both the Anthropic and the OpenAI parsers produce and what chat
// templates render. It holds only what reaches the prompt (no sampling, no transport details).
#pragma once

#include <string>
#include <vector>

#include "base/json.h"

namespace parley::chat {

enum class Role { system, user, assistant, tool };
const char* role_name(Role r);  // "system", "user", "assistant", "tool"

struct ContentPart {
  enum class Kind { text, image, document };
  Kind kind = Kind::text;
  std::string text;        // text, or extracted document text
  std::string media_type;  // image/document: "image/png", "application/pdf", ...
  std::string data;        // image/document bytes (decoded from base64), or a URL when is_url
  bool is_url = false;
  // A cache_control breakpoint ends here: the prompt up to the end of this part is what the
  // client asked to cache (usage reports what of it was newly written).
  bool cache_breakpoint = false;
  bool cache_ttl_1h = false;  // the breakpoint's TTL is "1h" (not the default "5m")
  // The Anthropic content block this part came from when it is more than its text (image,
  // document, search_result), as validated, without cache_control: an upstream that speaks
  // Anthropic gets it as sent. Templates never read it.
  json::Value block;
};

struct ToolCall {
  std::string id;          // "toolu_..." / "call_..."
  std::string name;
  json::Value arguments;   // a JSON object
  bool cache_breakpoint = false;  // a cache_control breakpoint ends after this call
  bool cache_ttl_1h = false;      // ... with the "1h" TTL
};

struct Message {
  Role role = Role::user;
  std::vector<ContentPart> content;
  std::string reasoning;             // assistant: thinking text (templates: reasoning_content)
  // assistant: the thinking and redacted_thinking blocks as sent (Anthropic JSON, with their
  // signatures), in order: an upstream that speaks Anthropic gets them back unchanged, since it
  // verifies the signatures. Templates read `reasoning`.
  std::vector<json::Value> thinking_blocks;
  std::vector<ToolCall> tool_calls;  // assistant
  std::string tool_call_id;          // tool: the call this result answers
  std::string name;                  // tool: name of the tool that produced it
  bool is_error = false;             // tool: the result is an error

  // The text parts joined with no separator.
  std::string text() const;
};

struct Tool {
  std::string name;
  std::string description;
  json::Value parameters;  // JSON schema object
  bool strict = false;     // the schema must be honoured exactly (else the request is refused)
  bool cache_breakpoint = false;  // a cache_control breakpoint ends after this definition
  bool cache_ttl_1h = false;      // ... with the "1h" TTL
};

struct Conversation {
  std::vector<Message> messages;
  std::vector<Tool> tools;
};

}  // namespace parley::chat
