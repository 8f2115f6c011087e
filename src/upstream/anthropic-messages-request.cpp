#include "upstream/anthropic-messages-request.h"

#include <optional>

#include "base/strings.h"

namespace parley::upstream {
namespace {

using api::ChatRequest;
using api::ToolChoiceMode;
using chat::ContentPart;
using chat::Message;
using chat::Role;
using json::Value;

Value cache_control(bool ttl_1h) {
  Value cc = Value::object();
  cc["type"] = "ephemeral";
  if (ttl_1h) cc["ttl"] = "1h";
  return cc;
}

bool is_blank(std::string_view s) { return trim(s).empty(); }

// The content blocks of one message, built from IR parts. A blank text part (the "\n\n" the
// parsers put between turns or system prompts they fold together) joins the text block before
// it, or the next one, instead of being a block of its own: the API refuses blank text blocks.
class Blocks {
 public:
  void add_part(const ContentPart& p) {
    if (!p.block.is_null()) {
      // An image / document / search_result as the client sent it.
      add(p.block, p.cache_breakpoint, p.cache_ttl_1h);
      return;
    }
    if (is_blank(p.text)) {
      Value* last = last_text();
      if (last != nullptr) {
        (*last)["text"].as_string() += p.text;
        if (p.cache_breakpoint) (*last)["cache_control"] = cache_control(p.cache_ttl_1h);
      } else {
        pending_ += p.text;
        if (p.cache_breakpoint) pending_breakpoint_ = p.cache_ttl_1h;
      }
      return;
    }
    Value b = Value::object();
    b["type"] = "text";
    b["text"] = pending_ + p.text;
    pending_.clear();
    add(std::move(b), p.cache_breakpoint, p.cache_ttl_1h);
  }

  void add(Value block, bool breakpoint, bool ttl_1h) {
    if (breakpoint) {
      block["cache_control"] = cache_control(ttl_1h);
    } else if (pending_breakpoint_) {
      block["cache_control"] = cache_control(*pending_breakpoint_);
    }
    pending_breakpoint_.reset();
    blocks_.push_back(std::move(block));
  }

  bool empty() const { return blocks_.as_array().empty(); }
  Value take() { return std::exchange(blocks_, Value::array()); }
  const Value& get() const { return blocks_; }

 private:
  Value* last_text() {
    auto& a = blocks_.as_array();
    if (a.empty()) return nullptr;
    const Value* type = a.back().find("type");
    return type != nullptr && type->is_string() && type->as_string() == "text" ? &a.back() : nullptr;
  }
  Value blocks_ = Value::array();
  std::string pending_;
  std::optional<bool> pending_breakpoint_;  // a blank part's breakpoint (its TTL is 1h)
};

Value tool_result(const Message& m) {
  Value r = Value::object();
  r["type"] = "tool_result";
  r["tool_use_id"] = m.tool_call_id;
  Blocks inner;
  const bool breakpoint = !m.content.empty() && m.content.back().cache_breakpoint;
  for (size_t i = 0; i < m.content.size(); i++) {
    ContentPart p = m.content[i];
    // The result's own breakpoint (the parser put it on its last part) goes on the result.
    if (i + 1 == m.content.size()) p.cache_breakpoint = false;
    inner.add_part(p);
  }
  const Value& blocks = inner.get();
  const bool one_plain_text = blocks.as_array().size() == 1 && blocks.as_array()[0].find("cache_control") == nullptr &&
                              blocks.as_array()[0].find("type")->as_string() == "text";
  if (one_plain_text) {
    r["content"] = blocks.as_array()[0].find("text")->as_string();
  } else if (!inner.empty()) {
    r["content"] = inner.take();
  }
  if (m.is_error) r["is_error"] = true;
  if (breakpoint) r["cache_control"] = cache_control(m.content.back().cache_ttl_1h);
  return r;
}

// Assistant blocks in the order the Messages API produces them: thinking (as sent, signatures
// and all), text, tool_use. The IR keeps no other order within one turn.
Value assistant_content(const Message& m) {
  Blocks blocks;
  for (const Value& t : m.thinking_blocks) blocks.add(t, false, false);
  for (const ContentPart& p : m.content) blocks.add_part(p);
  for (const chat::ToolCall& c : m.tool_calls) {
    Value b = Value::object();
    b["type"] = "tool_use";
    // The client's ids as they are: on an Anthropic upstream they are the upstream's own ids
    // (relayed unchanged), which its tool_result pairing checks.
    b["id"] = c.id;
    b["name"] = c.name;
    b["input"] = c.arguments.is_object() ? c.arguments : Value::object();
    blocks.add(std::move(b), c.cache_breakpoint, c.cache_ttl_1h);
  }
  return blocks.take();
}

Value message(const char* role, Value content) {
  Value v = Value::object();
  v["role"] = role;
  v["content"] = std::move(content);
  return v;
}

// system + messages. User text and tool results between two assistant turns are one user
// message (tool_result blocks first, as the client sent them: the IR keeps their order).
void conversation_json(const ChatRequest& req, Value& body) {
  Blocks system;
  Value messages = Value::array();
  Blocks user;
  auto flush_user = [&] {
    if (!user.empty()) messages.push_back(message("user", user.take()));
  };
  for (const Message& m : req.conversation.messages) {
    switch (m.role) {
      case Role::system:
        for (const ContentPart& p : m.content) system.add_part(p);
        break;
      case Role::user:
        for (const ContentPart& p : m.content) user.add_part(p);
        break;
      case Role::tool: user.add(tool_result(m), false, false); break;
      case Role::assistant:
        flush_user();
        messages.push_back(message("assistant", assistant_content(m)));
        break;
    }
  }
  flush_user();
  if (!system.empty()) body["system"] = system.take();
  body["messages"] = std::move(messages);
}

void tools_json(const ChatRequest& req, Value& body) {
  if (req.conversation.tools.empty()) return;
  Value tools = Value::array();
  for (const chat::Tool& t : req.conversation.tools) {
    Value tool = Value::object();
    tool["name"] = t.name;
    if (!t.description.empty()) tool["description"] = t.description;
    tool["input_schema"] = t.parameters.is_null() ? Value::object() : t.parameters;
    if (t.strict) tool["strict"] = true;
    if (t.cache_breakpoint) tool["cache_control"] = cache_control(t.cache_ttl_1h);
    tools.push_back(std::move(tool));
  }
  body["tools"] = std::move(tools);
  // Without tools a tool_choice says nothing (the parsers refuse a forced one with no tools).
  if (!req.has_tool_choice && !req.tool_choice.disable_parallel_tool_use) return;
  Value tc = Value::object();
  switch (req.tool_choice.mode) {
    case ToolChoiceMode::auto_: tc["type"] = "auto"; break;
    case ToolChoiceMode::any: tc["type"] = "any"; break;
    case ToolChoiceMode::none: tc["type"] = "none"; break;
    case ToolChoiceMode::tool:
      tc["type"] = "tool";
      tc["name"] = req.tool_choice.name;
      break;
  }
  if (req.tool_choice.disable_parallel_tool_use) tc["disable_parallel_tool_use"] = true;
  body["tool_choice"] = std::move(tc);
}

bool refuse(api::ApiError& err, const std::string& param, const std::string& why) {
  err = api::ApiError::invalid(param + ": " + why, param);
  return false;
}

// Sampling, limits and thinking: what Anthropic has no field for is refused by name.
bool controls_json(const ChatRequest& req, const AnthropicMessagesOptions& options, Value& body,
                   api::ApiError& err) {
  const std::string model = quote_for_message(req.model, 100);
  std::optional<int64_t> max_tokens = req.max_tokens;
  if (options.max_output_tokens > 0 && (!max_tokens || *max_tokens > options.max_output_tokens)) {
    max_tokens = options.max_output_tokens;
  }
  if (!max_tokens) {
    return refuse(err, "max_tokens",
                  "required for model " + model + " (served by an anthropic upstream, whose API requires it)");
  }
  body["max_tokens"] = *max_tokens;
  if (req.temperature) {
    if (*req.temperature > 1.0) {
      return refuse(err, "temperature",
                    str_printf("%g is above 1, the most the anthropic upstream of model %s accepts", *req.temperature,
                               model.c_str()));
    }
    body["temperature"] = *req.temperature;
  }
  if (req.top_p) body["top_p"] = *req.top_p;
  if (req.top_k) body["top_k"] = *req.top_k;
  if (req.min_p) return refuse(err, "min_p", "has no equivalent on the anthropic upstream of model " + model);
  if (req.seed) {
    if (!options.parley_extensions) {
      return refuse(err, "seed", "has no equivalent on the anthropic upstream of model " + model +
                                     " (a parley upstream takes it: --upstream-protocol NAME=parley)");
    }
    body["seed"] = static_cast<int64_t>(*req.seed);
  }
  if (!req.stop_sequences.empty()) {
    Value stop = Value::array();
    for (const auto& s : req.stop_sequences) stop.push_back(s);
    body["stop_sequences"] = std::move(stop);
  }
  if (req.enable_thinking.value_or(false)) {
    Value th = Value::object();
    // No budget (Anthropic's adaptive, or an OpenAI client's switch): the model decides.
    th["type"] = req.thinking_budget > 0 ? "enabled" : "adaptive";
    if (req.thinking_budget > 0) th["budget_tokens"] = req.thinking_budget;
    body["thinking"] = std::move(th);
  }
  Value oc = Value::object();
  if (req.effort == "minimal") {
    return refuse(err, "reasoning_effort",
                  "'minimal' has no equivalent on the anthropic upstream of model " + model +
                      " (its efforts: low, medium, high, xhigh, max; 'none' turns thinking off)");
  }
  if (!req.effort.empty() && req.effort != "none") oc["effort"] = req.effort;
  if (!req.output_schema.is_null()) {
    Value fmt = Value::object();
    fmt["type"] = "json_schema";
    fmt["schema"] = req.output_schema;
    oc["format"] = std::move(fmt);
  }
  if (!oc.as_object().empty()) body["output_config"] = std::move(oc);
  if (!req.user_id.empty()) {
    Value md = Value::object();
    md["user_id"] = req.user_id;
    body["metadata"] = std::move(md);
  }
  return true;
}

}  // namespace

bool to_anthropic_messages(const ChatRequest& req, const AnthropicMessagesOptions& options, Value& body,
                           api::ApiError& err) {
  if (!req.folded.empty()) {
    const api::MediaRef& f = req.folded.front();
    return refuse(err, f.path,
                  str_printf("%s is not relayed to the anthropic upstream of model %s: this server only "
                             "holds it folded into text (or hides it), and a lossy copy is not sent",
                             f.what.c_str(), quote_for_message(req.model, 100).c_str()));
  }
  body = Value::object();
  body["model"] = req.model;
  conversation_json(req, body);
  tools_json(req, body);
  if (!controls_json(req, options, body, err)) return false;
  body["stream"] = true;
  return true;
}

}  // namespace parley::upstream
