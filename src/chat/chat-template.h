// A model's chat template: parsed once, probed for what it supports, rendered per request (from
// any number of threads) into the exact prompt text transformers' apply_chat_template gives.
//
//   auto tpl = chat::ChatTemplate::parse(source, {.bos_token = "<s>", .eos_token = "</s>"});
//   chat::ChatRenderOptions opt;              // add_generation_prompt = true
//   opt.enable_thinking = false;              // passed to the template when set
//   auto prompt = tpl->render(conversation, opt);
//   if (!tpl->capabilities().system_role) { /* fold the system text into the first user turn */ }
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "chat/conversation.h"
#include "chat/hf-format.h"
#include "chat/jinja/template.h"

namespace parley::chat {

// The special tokens a template sees as variables (transformers passes the tokenizer's
// special_tokens_map: bos_token, eos_token, unk_token, pad_token, ...).
struct SpecialTokens {
  std::string bos_token;
  std::string eos_token;
  std::vector<std::pair<std::string, std::string>> extra;  // e.g. {"pad_token", "<pad>"}
};

// What a template does with each part of a conversation, found by rendering probes.
struct Capabilities {
  bool system_role = false;          // a system message renders (no raise, text present)
  bool tools = false;                // tool definitions appear in the prompt
  bool tool_calls = false;           // an assistant tool call (name + arguments) appears
  bool parallel_tool_calls = false;  // two calls in one assistant turn both appear
  bool tool_results = false;         // a role "tool" message's content appears
  bool tool_call_ids = false;        // a tool call's id appears (some formats carry it)
  bool reasoning = false;            // reasoning_content of an assistant turn appears
  bool enable_thinking = false;      // the template reads enable_thinking and it changes output
  bool string_content = false;       // content as a plain string renders
  bool typed_content = false;        // content as [{"type": "text", "text": ...}] renders
  bool flat_tools = false;           // tools render only as bare {name, description, parameters}
  bool arguments_as_string = false;  // tool calls render only with arguments as a JSON string
  bool requires_typed_content() const { return typed_content && !string_content; }
  json::Value to_json() const;
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  // Prefill: the prompt ends inside the last (assistant) message, so the model continues it.
  // Done like transformers: render, then cut after the final message's text.
  bool continue_final_message = false;
  std::optional<bool> enable_thinking;  // the `enable_thinking` variable, when set
  json::Value documents;                // the `documents` variable (null: None)
  json::Object extra_vars;              // more template variables (e.g. reasoning_effort)
  // The shape of messages and tools; nullopt: what the template was found to need
  // (typed content only when string content does not render, flat tools and string
  // arguments only when the standard shapes do not).
  std::optional<bool> typed_content;
  std::optional<bool> flat_tools;
  std::optional<bool> arguments_as_string;
  int64_t now_unix_seconds = 0;         // what strftime_now formats (passed in, never read)
  jinja::RenderLimits limits;
};

class ChatTemplate {
 public:
  // Parses and probes. Errors: "template syntax error at line N: ...".
  static Result<ChatTemplate> parse(std::string source, SpecialTokens tokens,
                                    const jinja::TemplateOptions& options = {});

  Result<std::string> render(const Conversation& conv, const ChatRenderOptions& options,
                             jinja::TemplateError* detail = nullptr) const;

  // Renders explicit template variables (messages etc. already in HF form). The special
  // tokens are added first, so vars can override them.
  Result<std::string> render_vars(const jinja::Variables& vars, const jinja::RenderOptions& options,
                                  jinja::TemplateError* detail = nullptr) const;

  const Capabilities& capabilities() const { return caps_; }
  const std::string& source() const { return source_; }
  const SpecialTokens& special_tokens() const { return tokens_; }
  const jinja::Template& jinja_template() const { return template_; }

 private:
  std::string source_;
  SpecialTokens tokens_;
  jinja::Template template_;
  Capabilities caps_;
};

// Renders the probe conversations (used by parse; public for tests and `parley template`).
Capabilities probe_capabilities(const ChatTemplate& tpl);

// transformers' continue_final_message: cuts the rendered prompt right after the final
// message's text. Errors when that text does not appear in the prompt.
Result<std::string> cut_after_final_message(std::string rendered, const std::string& final_text);

}  // namespace parley::chat
