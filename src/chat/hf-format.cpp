#include "chat/hf-format.h"

#include "chat/jinja/format.h"

namespace parley::chat {

using jinja::Value;

namespace {

Value str(std::string s) { return Value::string(std::move(s)); }

void put(jinja::Dict& d, const char* key, Value v) { d.items.emplace_back(str(key), std::move(v)); }

Value content_value(const Message& m, const HfFormatOptions& options) {
  if (!options.typed_content) return str(m.text());
  std::vector<Value> parts;
  for (const auto& p : m.content) {
    auto d = std::make_shared<jinja::Dict>();
    switch (p.kind) {
      case ContentPart::Kind::text:
        put(*d, "type", str("text"));
        put(*d, "text", str(p.text));
        break;
      case ContentPart::Kind::image:
        put(*d, "type", str("image"));
        break;
      case ContentPart::Kind::document:
        put(*d, "type", str("text"));
        put(*d, "text", str(p.text));
        break;
    }
    parts.push_back(Value::dict(std::move(d)));
  }
  return Value::list(std::move(parts));
}

}  // namespace

Value message_value(const Message& m, const HfFormatOptions& options) {
  auto d = std::make_shared<jinja::Dict>();
  put(*d, "role", str(role_name(m.role)));
  if (m.role == Role::tool) {
    if (!m.tool_call_id.empty()) put(*d, "tool_call_id", str(m.tool_call_id));
    if (!m.name.empty()) put(*d, "name", str(m.name));
  }
  if (!m.reasoning.empty()) put(*d, "reasoning_content", str(m.reasoning));
  put(*d, "content", content_value(m, options));
  if (!m.tool_calls.empty()) {
    std::vector<Value> calls;
    for (const auto& tc : m.tool_calls) {
      auto c = std::make_shared<jinja::Dict>();
      if (!tc.id.empty()) put(*c, "id", str(tc.id));
      put(*c, "type", str("function"));
      auto f = std::make_shared<jinja::Dict>();
      put(*f, "name", str(tc.name));
      Value args = tc.arguments.is_null() ? Value::dict(std::make_shared<jinja::Dict>())
                                          : jinja::from_json(tc.arguments);
      if (options.arguments_as_string) {
        std::string text;
        jinja::append_json(text, args, jinja::JsonStyle{}, SIZE_MAX);
        args = str(std::move(text));
      }
      put(*f, "arguments", std::move(args));
      put(*c, "function", Value::dict(std::move(f)));
      calls.push_back(Value::dict(std::move(c)));
    }
    put(*d, "tool_calls", Value::list(std::move(calls)));
  }
  return Value::dict(std::move(d));
}

Value messages_value(const std::vector<Message>& messages, const HfFormatOptions& options) {
  std::vector<Value> items;
  items.reserve(messages.size());
  for (const auto& m : messages) items.push_back(message_value(m, options));
  return Value::list(std::move(items));
}

Value tool_value(const Tool& t, const HfFormatOptions& options) {
  auto f = std::make_shared<jinja::Dict>();
  put(*f, "name", str(t.name));
  put(*f, "description", str(t.description));
  put(*f, "parameters", t.parameters.is_null() ? Value::dict(std::make_shared<jinja::Dict>())
                                               : jinja::from_json(t.parameters));
  if (options.flat_tools) return Value::dict(std::move(f));
  auto d = std::make_shared<jinja::Dict>();
  put(*d, "type", str("function"));
  put(*d, "function", Value::dict(std::move(f)));
  return Value::dict(std::move(d));
}

Value tools_value(const std::vector<Tool>& tools, const HfFormatOptions& options) {
  if (tools.empty()) return Value::none();
  std::vector<Value> items;
  items.reserve(tools.size());
  for (const auto& t : tools) items.push_back(tool_value(t, options));
  return Value::list(std::move(items));
}

Result<Role> role_from_name(std::string_view name) {
  if (name == "system") return Role::system;
  if (name == "user") return Role::user;
  if (name == "assistant") return Role::assistant;
  if (name == "tool") return Role::tool;
  return Error{"unknown role '" + std::string(name) + "' (expected system, user, assistant or tool)"};
}

namespace {

Result<std::string> opt_string(const json::Value& obj, const char* key, const std::string& where) {
  const json::Value* v = obj.find(key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return Error{where + "." + key + ": expected a string"};
  return v->as_string();
}

Result<std::vector<ContentPart>> parse_content(const json::Value* c, const std::string& where) {
  std::vector<ContentPart> parts;
  if (!c || c->is_null()) return parts;
  if (c->is_string()) {
    parts.push_back(ContentPart{ContentPart::Kind::text, c->as_string(), "", "", false});
    return parts;
  }
  if (!c->is_array()) return Error{where + ".content: expected a string, null or a list of parts"};
  for (size_t i = 0; i < c->as_array().size(); i++) {
    const json::Value& p = c->as_array()[i];
    std::string pw = where + ".content[" + std::to_string(i) + "]";
    if (!p.is_object()) return Error{pw + ": expected an object"};
    PARLEY_TRY(std::string type, opt_string(p, "type", pw));
    ContentPart part;
    if (type == "text") {
      PARLEY_TRY(part.text, opt_string(p, "text", pw));
    } else if (type == "image" || type == "image_url") {
      part.kind = ContentPart::Kind::image;
    } else {
      return Error{pw + ".type: unsupported part type '" + type + "'"};
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

Result<ToolCall> parse_tool_call(const json::Value& v, const std::string& where) {
  if (!v.is_object()) return Error{where + ": expected an object"};
  ToolCall tc;
  PARLEY_TRY(tc.id, opt_string(v, "id", where));
  const json::Value* f = v.find("function");
  const json::Value& fn = f && f->is_object() ? *f : v;
  PARLEY_TRY(tc.name, opt_string(fn, "name", where + ".function"));
  if (tc.name.empty()) return Error{where + ": missing function.name"};
  const json::Value* args = fn.find("arguments");
  if (!args || args->is_null()) {
    tc.arguments = json::Value::object();
  } else if (args->is_string()) {
    auto parsed = json::parse(args->as_string());
    if (!parsed.ok()) return Error{where + ".function.arguments: " + parsed.error().message};
    tc.arguments = std::move(*parsed);
  } else {
    tc.arguments = *args;
  }
  return tc;
}

}  // namespace

Result<Conversation> conversation_from_hf_json(const json::Value& messages, const json::Value* tools) {
  Conversation conv;
  if (!messages.is_array()) return Error{"messages: expected a list"};
  for (size_t i = 0; i < messages.as_array().size(); i++) {
    const json::Value& m = messages.as_array()[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return Error{where + ": expected an object"};
    PARLEY_TRY(std::string role, opt_string(m, "role", where));
    auto r = role_from_name(role);
    if (!r.ok()) return r.error().wrap(where + ".role");
    Message msg;
    msg.role = *r;
    PARLEY_TRY(msg.content, parse_content(m.find("content"), where));
    PARLEY_TRY(msg.reasoning, opt_string(m, "reasoning_content", where));
    if (msg.reasoning.empty()) {
      PARLEY_TRY(msg.reasoning, opt_string(m, "reasoning", where));
    }
    PARLEY_TRY(msg.tool_call_id, opt_string(m, "tool_call_id", where));
    PARLEY_TRY(msg.name, opt_string(m, "name", where));
    if (const json::Value* calls = m.find("tool_calls"); calls && !calls->is_null()) {
      if (!calls->is_array()) return Error{where + ".tool_calls: expected a list"};
      for (size_t k = 0; k < calls->as_array().size(); k++) {
        PARLEY_TRY(ToolCall tc, parse_tool_call(calls->as_array()[k],
                                                where + ".tool_calls[" + std::to_string(k) + "]"));
        msg.tool_calls.push_back(std::move(tc));
      }
    }
    conv.messages.push_back(std::move(msg));
  }
  if (tools && !tools->is_null()) {
    if (!tools->is_array()) return Error{"tools: expected a list"};
    for (size_t i = 0; i < tools->as_array().size(); i++) {
      const json::Value& t = tools->as_array()[i];
      std::string where = "tools[" + std::to_string(i) + "]";
      if (!t.is_object()) return Error{where + ": expected an object"};
      const json::Value* f = t.find("function");
      const json::Value& fn = f && f->is_object() ? *f : t;
      Tool tool;
      PARLEY_TRY(tool.name, opt_string(fn, "name", where));
      if (tool.name.empty()) return Error{where + ": missing name"};
      PARLEY_TRY(tool.description, opt_string(fn, "description", where));
      const json::Value* params = fn.find("parameters");
      tool.parameters = params ? *params : json::Value::object();
      conv.tools.push_back(std::move(tool));
    }
  }
  return conv;
}

}  // namespace parley::chat
