// Capability probing: render small conversations carrying unique markers and look for the
// markers in the output. A template that raises, or drops a marker, does not support that part.
#include "chat/chat-template.h"

namespace parley::chat {
namespace {

using jinja::Value;

constexpr const char* kSys = "PARLEY_PROBE_SYSTEM_7q1";
constexpr const char* kUser = "PARLEY_PROBE_USER_7q2";
constexpr const char* kAnswer = "PARLEY_PROBE_ANSWER_7q3";
constexpr const char* kTool = "parley_probe_tool_7q4";
constexpr const char* kArg = "PARLEY_PROBE_ARG_7q5";
constexpr const char* kArg2 = "PARLEY_PROBE_ARG_7q6";
constexpr const char* kResult = "PARLEY_PROBE_RESULT_7q7";
constexpr const char* kCallId = "c7q8probe";  // 9 alphanumerics: Mistral templates insist
constexpr const char* kThought = "PARLEY_PROBE_THOUGHT_7q9";

Message text_message(Role role, std::string text) {
  Message m;
  m.role = role;
  m.content.push_back(ContentPart{ContentPart::Kind::text, std::move(text), "", "", false});
  return m;
}

Tool probe_tool() {
  Tool t;
  t.name = kTool;
  t.description = "Probe tool.";
  auto p = json::parse(R"({"type":"object","properties":{"arg":{"type":"string","description":"Probe argument."}},"required":["arg"]})");
  t.parameters = std::move(*p);
  return t;
}

ToolCall probe_call(const char* id, const char* arg) {
  ToolCall c;
  c.id = id;
  c.name = kTool;
  c.arguments = json::Value::object();
  c.arguments["arg"] = arg;
  return c;
}

// Renders and returns the text, or nothing when the template raised.
struct Shape {
  bool typed = false, flat_tools = false, string_args = false;
};

std::optional<std::string> try_render(const ChatTemplate& tpl, const Conversation& conv,
                                      bool add_generation_prompt, Shape shape,
                                      std::optional<bool> thinking = std::nullopt) {
  ChatRenderOptions opt;
  opt.add_generation_prompt = add_generation_prompt;
  opt.typed_content = shape.typed;
  opt.flat_tools = shape.flat_tools;
  opt.arguments_as_string = shape.string_args;
  opt.enable_thinking = thinking;
  // Probes must stay cheap even for a hostile template.
  opt.limits.max_steps = 2'000'000;
  opt.limits.max_output_bytes = 1u << 20;
  opt.limits.max_alloc_bytes = 64u << 20;
  auto out = tpl.render(conv, opt);
  if (out.ok()) return std::move(*out);
  // Some templates only render with tools (tool_use variants) or documents (RAG variants):
  // retry with them before concluding the probed part is unsupported.
  Conversation with_tools = conv;
  if (with_tools.tools.empty()) {
    with_tools.tools = {probe_tool()};
    out = tpl.render(with_tools, opt);
    if (out.ok()) return std::move(*out);
  }
  auto docs = json::parse(R"([{"title": "Probe", "text": "Probe document."}])");
  opt.documents = std::move(*docs);
  out = tpl.render(with_tools, opt);
  if (out.ok()) return std::move(*out);
  return std::nullopt;
}

bool has(const std::optional<std::string>& out, const char* marker) {
  return out && out->find(marker) != std::string::npos;
}

}  // namespace

Capabilities probe_capabilities(const ChatTemplate& tpl) {
  Capabilities caps;
  const Message user = text_message(Role::user, kUser);

  Conversation plain;
  plain.messages = {user};
  Shape shape;
  caps.string_content = has(try_render(tpl, plain, true, shape), kUser);
  auto typed_out = try_render(tpl, plain, true, Shape{true, false, false});
  // A template that prints the part list as a Python repr does not understand typed content.
  caps.typed_content = has(typed_out, kUser) && typed_out->find("'type': 'text'") == std::string::npos;
  shape.typed = !caps.string_content && caps.typed_content;

  Conversation sys;
  sys.messages = {text_message(Role::system, kSys), user};
  caps.system_role = has(try_render(tpl, sys, true, shape), kSys);

  Conversation tools = plain;
  tools.tools = {probe_tool()};
  caps.tools = has(try_render(tpl, tools, true, shape), kTool);
  if (!caps.tools) {
    Shape flat = shape;
    flat.flat_tools = true;
    caps.tools = caps.flat_tools = has(try_render(tpl, tools, true, flat), kTool);
    shape.flat_tools = caps.flat_tools;
  }

  // user -> assistant(call) -> tool(result) -> assistant(answer) -> user
  auto call_conv = [&](std::vector<ToolCall> calls) {
    Conversation c;
    c.tools = {probe_tool()};
    c.messages.push_back(user);
    Message a;
    a.role = Role::assistant;
    a.tool_calls = std::move(calls);
    c.messages.push_back(a);
    for (const auto& tc : c.messages.back().tool_calls) {
      Message r = text_message(Role::tool, kResult);
      r.tool_call_id = tc.id;
      r.name = kTool;
      c.messages.push_back(std::move(r));
    }
    c.messages.push_back(text_message(Role::assistant, kAnswer));
    c.messages.push_back(text_message(Role::user, "Thanks."));
    return c;
  };
  const Conversation single = call_conv({probe_call(kCallId, kArg)});
  auto one = try_render(tpl, single, true, shape);
  if (!(has(one, kTool) && has(one, kArg))) {
    Shape str_args = shape;
    str_args.string_args = true;
    auto alt = try_render(tpl, single, true, str_args);
    if (has(alt, kTool) && has(alt, kArg)) {
      caps.arguments_as_string = true;
      shape.string_args = true;
      one = std::move(alt);
    }
  }
  caps.tool_calls = has(one, kTool) && has(one, kArg);
  caps.tool_results = has(one, kResult);
  caps.tool_call_ids = caps.tool_calls && has(one, kCallId);
  auto two = try_render(tpl, call_conv({probe_call(kCallId, kArg), probe_call("c7q8prob2", kArg2)}),
                        true, shape);
  caps.parallel_tool_calls = caps.tool_calls && has(two, kArg) && has(two, kArg2);

  // Reasoning of the final assistant turn (templates like Qwen3 drop it from earlier turns).
  Conversation reasoning;
  reasoning.messages = {user, text_message(Role::assistant, kAnswer)};
  reasoning.messages.back().reasoning = kThought;
  caps.reasoning = has(try_render(tpl, reasoning, false, shape), kThought);

  if (tpl.jinja_template().references("enable_thinking")) {
    auto on = try_render(tpl, plain, true, shape, true);
    auto off = try_render(tpl, plain, true, shape, false);
    caps.enable_thinking = on && off && *on != *off;
  }
  return caps;
}

}  // namespace parley::chat
