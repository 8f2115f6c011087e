#include "chat/chat-template.h"

#include "chat/jinja/builtins.h"

namespace parley::chat {

using jinja::Value;

json::Value Capabilities::to_json() const {
  json::Value j = json::Value::object();
  j["system_role"] = system_role;
  j["tools"] = tools;
  j["tool_calls"] = tool_calls;
  j["parallel_tool_calls"] = parallel_tool_calls;
  j["tool_results"] = tool_results;
  j["tool_call_ids"] = tool_call_ids;
  j["reasoning"] = reasoning;
  j["enable_thinking"] = enable_thinking;
  j["string_content"] = string_content;
  j["typed_content"] = typed_content;
  j["flat_tools"] = flat_tools;
  j["arguments_as_string"] = arguments_as_string;
  return j;
}

Result<ChatTemplate> ChatTemplate::parse(std::string source, SpecialTokens tokens,
                                         const jinja::TemplateOptions& options) {
  PARLEY_TRY(jinja::Template t, jinja::Template::parse(source, options));
  ChatTemplate ct;
  ct.source_ = std::move(source);
  ct.tokens_ = std::move(tokens);
  ct.template_ = std::move(t);
  ct.caps_ = probe_capabilities(ct);
  return ct;
}

Result<std::string> ChatTemplate::render_vars(const jinja::Variables& vars,
                                              const jinja::RenderOptions& options,
                                              jinja::TemplateError* detail) const {
  jinja::Variables all;
  all.reserve(vars.size() + 2 + tokens_.extra.size());
  all.emplace_back("bos_token", Value::string(tokens_.bos_token));
  all.emplace_back("eos_token", Value::string(tokens_.eos_token));
  for (const auto& [k, v] : tokens_.extra) all.emplace_back(k, Value::string(v));
  all.insert(all.end(), vars.begin(), vars.end());
  return template_.render(all, options, detail);
}

Result<std::string> ChatTemplate::render(const Conversation& conv, const ChatRenderOptions& options,
                                         jinja::TemplateError* detail) const {
  if (options.continue_final_message) {
    if (options.add_generation_prompt) {
      return Error{"continue_final_message and add_generation_prompt cannot both be set"};
    }
    if (conv.messages.empty()) return Error{"continue_final_message needs a final message"};
  }
  HfFormatOptions fmt;
  fmt.typed_content = options.typed_content.value_or(caps_.requires_typed_content());
  fmt.flat_tools = options.flat_tools.value_or(caps_.flat_tools);
  fmt.arguments_as_string = options.arguments_as_string.value_or(caps_.arguments_as_string);
  jinja::Variables vars;
  vars.reserve(6 + options.extra_vars.size());
  vars.emplace_back("messages", messages_value(conv.messages, fmt));
  vars.emplace_back("tools", tools_value(conv.tools, fmt));
  vars.emplace_back("documents", jinja::from_json(options.documents));
  vars.emplace_back("add_generation_prompt", Value::boolean(options.add_generation_prompt));
  if (options.enable_thinking) {
    vars.emplace_back("enable_thinking", Value::boolean(*options.enable_thinking));
  }
  for (const auto& [k, v] : options.extra_vars) vars.emplace_back(k, jinja::from_json(v));
  jinja::RenderOptions ropt;
  ropt.limits = options.limits;
  ropt.now_unix_seconds = options.now_unix_seconds;
  // Prompts are a little larger than their text plus the tools' JSON: reserve that once.
  size_t hint = 4096;
  for (const auto& m : conv.messages) {
    hint += 64 + m.reasoning.size();
    for (const auto& p : m.content) hint += p.text.size();
    for (const auto& tc : m.tool_calls) hint += 128 + tc.name.size();
  }
  hint += conv.tools.size() * 3072;
  ropt.output_size_hint = hint;
  PARLEY_TRY(std::string out, render_vars(vars, ropt, detail));
  if (!options.continue_final_message || conv.messages.empty()) return out;
  return cut_after_final_message(std::move(out), conv.messages.back().text());
}

Result<std::string> cut_after_final_message(std::string rendered, const std::string& final_text) {
  // transformers: final_message.strip() must occur; cut after its last occurrence, keeping
  // trailing whitespace only when the template kept it.
  std::string stripped = jinja::py_strip(final_text, nullptr, true, true);
  std::string lstripped = jinja::py_strip(final_text, nullptr, true, false);
  size_t loc = rendered.rfind(stripped);
  if (loc == std::string::npos) {
    return Error{"continue_final_message: the final message does not appear in the rendered prompt"};
  }
  if (rendered.compare(loc, lstripped.size(), final_text) == 0 && lstripped.size() == final_text.size()) {
    rendered.resize(loc + lstripped.size());
  } else {
    rendered.resize(loc + stripped.size());
  }
  return rendered;
}

}  // namespace parley::chat
