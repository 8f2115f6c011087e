#include "upstream/openai-chat-request.h"

#include "base/strings.h"

namespace parley::upstream {
namespace {

using api::ChatRequest;
using api::ToolChoiceMode;
using chat::Message;
using chat::Role;
using json::Value;

Value message_json(const Message& m) {
  Value v = Value::object();
  switch (m.role) {
    case Role::system:
      v["role"] = "system";
      v["content"] = m.text();
      break;
    case Role::user:
      v["role"] = "user";
      v["content"] = m.text();
      break;
    case Role::assistant: {
      v["role"] = "assistant";
      const std::string text = m.text();
      // As OpenAI: content null when the turn is only tool calls.
      v["content"] = text.empty() && !m.tool_calls.empty() ? Value() : Value(text);
      // llama-server and parley read it back into the template; vLLM ignores it.
      if (!m.reasoning.empty()) v["reasoning_content"] = m.reasoning;
      if (!m.tool_calls.empty()) {
        Value calls = Value::array();
        for (const chat::ToolCall& c : m.tool_calls) {
          Value fn = Value::object();
          fn["name"] = c.name;
          fn["arguments"] = json::write(c.arguments);
          Value call = Value::object();
          // The client's ids (toolu_...) go upstream as they are: OpenAI chat is stateless and
          // only needs each tool message to name a call of the same request.
          call["id"] = c.id;
          call["type"] = "function";
          call["function"] = std::move(fn);
          calls.push_back(std::move(call));
        }
        v["tool_calls"] = std::move(calls);
      }
      break;
    }
    case Role::tool:
      v["role"] = "tool";
      v["tool_call_id"] = m.tool_call_id;
      // OpenAI tool messages have no error flag: the fact is kept in the text the model sees.
      v["content"] = m.is_error ? "[tool error] " + m.text() : m.text();
      break;
  }
  return v;
}

Value tool_choice_json(const api::ToolChoice& c) {
  switch (c.mode) {
    case ToolChoiceMode::auto_: return "auto";
    case ToolChoiceMode::any: return "required";
    case ToolChoiceMode::none: return "none";
    case ToolChoiceMode::tool: {
      Value fn = Value::object();
      fn["name"] = c.name;
      Value v = Value::object();
      v["type"] = "function";
      v["function"] = std::move(fn);
      return v;
    }
  }
  return "auto";
}

}  // namespace

bool to_openai_chat(const ChatRequest& req, const OpenAIChatOptions& options, Value& body,
                    api::ApiError& err) {
  if (!req.media.empty()) {
    const api::MediaRef& m = req.media.front();
    err = api::ApiError::invalid(
        str_printf("%s: %s is not translated to openai-chat upstreams yet (model %s): send "
                   "text, or text documents",
                   m.path.c_str(), m.what.c_str(), quote_for_message(req.model, 100).c_str()),
        m.path);
    return false;
  }
  body = Value::object();
  body["model"] = req.model;
  Value messages = Value::array();
  for (const Message& m : req.conversation.messages) messages.push_back(message_json(m));
  body["messages"] = std::move(messages);
  if (req.continue_final_message) {
    // Prefill: vLLM and SGLang continue the last assistant message with these; llama-server
    // and parley do it for a final assistant message anyway.
    body["continue_final_message"] = true;
    body["add_generation_prompt"] = false;
  }
  if (!req.conversation.tools.empty()) {
    Value tools = Value::array();
    for (const chat::Tool& t : req.conversation.tools) {
      Value fn = Value::object();
      fn["name"] = t.name;
      if (!t.description.empty()) fn["description"] = t.description;
      fn["parameters"] = t.parameters.is_null() ? Value::object() : t.parameters;
      if (t.strict) fn["strict"] = true;
      Value tool = Value::object();
      tool["type"] = "function";
      tool["function"] = std::move(fn);
      tools.push_back(std::move(tool));
    }
    body["tools"] = std::move(tools);
  }
  if (req.has_tool_choice || !req.conversation.tools.empty()) {
    if (req.tool_choice.mode != ToolChoiceMode::auto_ || req.has_tool_choice) {
      body["tool_choice"] = tool_choice_json(req.tool_choice);
    }
  }
  if (req.tool_choice.disable_parallel_tool_use) body["parallel_tool_calls"] = false;

  std::optional<int64_t> max_tokens = req.max_tokens;
  if (options.max_output_tokens > 0 && (!max_tokens || *max_tokens > options.max_output_tokens)) {
    max_tokens = options.max_output_tokens;
  }
  if (max_tokens) body["max_tokens"] = *max_tokens;
  if (req.temperature) body["temperature"] = *req.temperature;
  if (req.top_p) body["top_p"] = *req.top_p;
  // Not OpenAI's, but vLLM, SGLang, llama-server and parley all read them.
  if (req.top_k) body["top_k"] = *req.top_k;
  if (req.min_p) body["min_p"] = *req.min_p;
  if (req.seed) body["seed"] = static_cast<int64_t>(*req.seed);
  if (!req.stop_sequences.empty()) {
    Value stop = Value::array();
    for (const auto& s : req.stop_sequences) stop.push_back(s);
    body["stop"] = std::move(stop);
    // vLLM: the stop string stays in the output, so the gateway's own matcher sees it, cuts it
    // and reports stop_sequence (upstreams that strip it report vLLM's choice.stop_reason).
    body["include_stop_str_in_output"] = true;
  }
  if (req.enable_thinking) {
    Value kwargs = Value::object();
    kwargs["enable_thinking"] = *req.enable_thinking;
    body["chat_template_kwargs"] = std::move(kwargs);
  }
  if (!req.effort.empty()) {
    // OpenAI's scale has no "max"; "xhigh" is the closest it has.
    body["reasoning_effort"] = req.effort == "max" ? "xhigh" : req.effort;
  }
  if (!req.output_schema.is_null()) {
    Value js = Value::object();
    js["name"] = "output";
    js["schema"] = req.output_schema;
    if (req.output_schema_strict) js["strict"] = true;
    Value rf = Value::object();
    rf["type"] = "json_schema";
    rf["json_schema"] = std::move(js);
    body["response_format"] = std::move(rf);
  }
  if (!req.user_id.empty()) body["user"] = req.user_id;
  body["stream"] = true;
  Value so = Value::object();
  so["include_usage"] = true;
  body["stream_options"] = std::move(so);
  return true;
}

}  // namespace parley::upstream
