#include "api/template-renderer.h"

#include "base/json.h"

namespace parley::api {
namespace {

using chat::ContentPart;
using chat::Message;
using chat::Role;

ContentPart text_part(std::string s) {
  ContentPart p;
  p.text = std::move(s);
  return p;
}

void append_text(Message& m, std::string s) {
  if (!m.content.empty()) m.content.push_back(text_part("\n\n"));
  m.content.push_back(text_part(std::move(s)));
}

}  // namespace

chat::SpecialTokens special_tokens_of(const tokenizer::Tokenizer& tok) {
  chat::SpecialTokens t;
  if (tok.bos() >= 0) t.bos_token = std::string(tok.token_text(tok.bos()));
  if (tok.eos() >= 0) t.eos_token = std::string(tok.token_text(tok.eos()));
  if (tok.unk() >= 0) t.extra.emplace_back("unk_token", std::string(tok.token_text(tok.unk())));
  return t;
}

chat::Conversation TemplateRenderer::lower(const chat::Conversation& in) const {
  const chat::Capabilities& caps = tpl_.capabilities();
  chat::Conversation out;
  out.tools = in.tools;
  std::vector<ContentPart> pending_system;  // system text waiting for the first user turn
  for (const Message& src : in.messages) {
    Message m = src;
    if (m.role == Role::system && !caps.system_role) {
      for (auto& p : m.content) pending_system.push_back(std::move(p));
      continue;
    }
    if (m.role == Role::assistant && !m.tool_calls.empty() && !caps.tool_calls) {
      for (const auto& call : m.tool_calls) {
        append_text(m, "[tool call " + call.name + " " + call.id + ": " +
                           json::write(call.arguments) + "]");
      }
      m.tool_calls.clear();
    }
    if (m.role == Role::tool && !caps.tool_results) {
      std::string head = "[tool result" + (m.name.empty() ? "" : " from " + m.name) +
                         (m.tool_call_id.empty() ? "" : " for " + m.tool_call_id) +
                         (m.is_error ? " (error)" : "") + "]\n";
      Message u;
      u.role = Role::user;
      u.content.push_back(text_part(head + m.text()));
      m = std::move(u);
    }
    if (m.role == Role::user && !pending_system.empty()) {
      std::vector<ContentPart> parts = std::move(pending_system);
      pending_system.clear();
      parts.push_back(text_part("\n\n"));
      for (auto& p : m.content) parts.push_back(std::move(p));
      m.content = std::move(parts);
    }
    // Lowering can put two user turns side by side; templates often insist on alternation.
    if (!out.messages.empty() && m.role == Role::user && out.messages.back().role == Role::user) {
      Message& last = out.messages.back();
      last.content.push_back(text_part("\n\n"));
      for (auto& p : m.content) last.content.push_back(std::move(p));
      continue;
    }
    out.messages.push_back(std::move(m));
  }
  if (!pending_system.empty()) {
    // Only system text (no user turn to carry it): it becomes the user turn.
    Message u;
    u.role = Role::user;
    u.content = std::move(pending_system);
    out.messages.insert(out.messages.begin(), std::move(u));
  }
  return out;
}

Result<std::string> TemplateRenderer::render(const chat::Conversation& conversation,
                                             const RenderFlags& flags) const {
  chat::ChatRenderOptions opt;
  opt.add_generation_prompt = flags.add_generation_prompt;
  opt.continue_final_message = flags.continue_final_message;
  opt.enable_thinking = flags.enable_thinking;
  if (!flags.effort.empty()) opt.extra_vars.emplace_back("reasoning_effort", flags.effort);
  opt.now_unix_seconds = unix_time_ ? unix_time_() : 0;
  return tpl_.render(lower(conversation), opt);
}

}  // namespace parley::api
