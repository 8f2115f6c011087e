// The Hugging Face chat format that templates are written against, and its mapping to and from
// the typed chat IR (conversation.h):
//
//   {"role": "system"|"user"|"assistant"|"tool",
//    "reasoning_content": "...",                      assistant thinking, when present
//    "content": "text"  (or [{"type": "text", "text": "..."}, {"type": "image"}] when typed),
//    "tool_calls": [{"id": "...", "type": "function",
//                    "function": {"name": "...", "arguments": {...}}}],   arguments as a dict
//    "tool_call_id": "...", "name": "..."}            tool results
//
// and tools as [{"type": "function", "function": {"name", "description", "parameters"}}].
#pragma once

#include "base/json.h"
#include "base/result.h"
#include "chat/conversation.h"
#include "chat/jinja/value.h"

namespace parley::chat {

struct HfFormatOptions {
  // content as a list of typed parts instead of one string (for templates that want it).
  bool typed_content = false;
  // tools as the bare {"name", "description", "parameters"} (templates written that way).
  bool flat_tools = false;
  // tool-call arguments as a JSON string (OpenAI style), json.dumps(args, ensure_ascii=False).
  bool arguments_as_string = false;
};

// IR -> template values.
jinja::Value message_value(const Message& m, const HfFormatOptions& options = {});
jinja::Value messages_value(const std::vector<Message>& messages,
                            const HfFormatOptions& options = {});
jinja::Value tool_value(const Tool& t, const HfFormatOptions& options = {});
// An empty tool list becomes None, as transformers passes tools=None when there are none.
jinja::Value tools_value(const std::vector<Tool>& tools, const HfFormatOptions& options = {});

// HF JSON -> IR. Accepts content as a string, null or a list of parts; tool-call arguments as
// an object or a JSON string; tools wrapped in {"type": "function", "function": ...} or flat.
// Errors name the message index and field: "messages[2].tool_calls[0]: missing function.name".
Result<Conversation> conversation_from_hf_json(const json::Value& messages, const json::Value* tools);
Result<Role> role_from_name(std::string_view name);

}  // namespace parley::chat
