#include "api/openai-request.h"

#include <limits>

#include "api/json-fields.h"
#include "api/media.h"
#include "base/strings.h"

namespace parley::api {
namespace {

using chat::ContentPart;
using chat::Message;
using chat::Role;
using json::Value;

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

ContentPart text_part(std::string s) {
  ContentPart p;
  p.text = std::move(s);
  return p;
}

class Parser {
 public:
  Result<ChatRequest> run(const Value& body);

 private:
  Status parse_message(const Value& m, const FieldPath& path);
  // Content as a string, null, or an array of parts; text parts are appended to `out`.
  Status parse_content(const Value* content, const FieldPath& path, Message& out,
                       bool allow_media);
  Status parse_tools(const Value& body, const FieldPath& root);
  Status parse_tool_choice(const Value& body, const FieldPath& root);
  Status parse_controls(const Value& body, const FieldPath& root);

  ChatRequest req_;
  Message system_;
  std::vector<std::string> tool_names_;
};

Status Parser::parse_content(const Value* content, const FieldPath& path, Message& out,
                             bool allow_media) {
  if (content == nullptr) return {};
  if (content->is_string()) {
    out.content.push_back(text_part(content->as_string()));
    return {};
  }
  if (!content->is_array()) {
    return path.error(str_printf("expected a string or an array of content parts, got %s",
                                 type_phrase(content->type()).data()));
  }
  const auto& parts = content->as_array();
  for (size_t i = 0; i < parts.size(); i++) {
    FieldPath p = path.index(i);
    PARLEY_TRY(auto obj, require_object(&parts[i], p));
    PARLEY_TRY(std::string_view type,
               read_enum(*obj, "type", p, true,
                         {"text", "image_url", "input_audio", "file", "refusal"}));
    if (type == "text") {
      PARLEY_TRY(std::string_view t, read_string(*obj, "text", p, true));
      out.content.push_back(text_part(std::string(t)));
      continue;
    }
    if (type == "refusal") {
      PARLEY_TRY(std::string_view t, read_string(*obj, "refusal", p, true));
      out.content.push_back(text_part(std::string(t)));
      continue;
    }
    if (!allow_media) {
      return p.key("type").error(str_printf("%s parts are only allowed in user messages",
                                            quote_for_message(type).c_str()));
    }
    if (type == "image_url") {
      PARLEY_TRY(const Value* iu, member(*obj, "image_url", p, true));
      FieldPath ip = p.key("image_url");
      PARLEY_TRY(auto iu_obj, require_object(iu, ip));
      PARLEY_TRY(std::string_view url, read_string(*iu_obj, "url", ip, true));
      PARLEY_TRY(auto detail, read_enum(*iu_obj, "detail", ip, false, {"auto", "low", "high"}));
      (void)detail;
      PARLEY_TRY(MediaRef ref, parse_image_url(url, ip.key("url")));
      ref.path = p.str();
      req_.media.push_back(std::move(ref));
      ContentPart image;
      image.kind = ContentPart::Kind::image;  // kept in place; refused before rendering
      image.block = anthropic_image_block(url);  // for upstreams that speak Anthropic
      out.content.push_back(std::move(image));
    } else if (type == "input_audio") {
      PARLEY_TRY(const Value* ia, member(*obj, "input_audio", p, true));
      FieldPath ap = p.key("input_audio");
      PARLEY_TRY(auto ia_obj, require_object(ia, ap));
      PARLEY_TRY(std::string_view data, read_string(*ia_obj, "data", ap, true));
      PARLEY_TRY(auto fmt, read_enum(*ia_obj, "format", ap, true, {"wav", "mp3"}));
      (void)fmt;
      if (!is_base64(data)) return ap.key("data").error("invalid base64 data");
      req_.media.push_back(MediaRef{p.str(), "audio"});
      req_.folded.push_back(MediaRef{p.str(), "audio"});
    } else {
      PARLEY_TRY(const Value* f, member(*obj, "file", p, true));
      FieldPath fp = p.key("file");
      PARLEY_TRY(auto f_obj, require_object(f, fp));
      PARLEY_TRY(std::string_view data, read_string(*f_obj, "file_data", fp, false));
      PARLEY_TRY(std::string_view file_id, read_string(*f_obj, "file_id", fp, false));
      PARLEY_TRY(std::string_view filename, read_string(*f_obj, "filename", fp, false));
      (void)filename;
      if (data.empty() && file_id.empty()) return fp.error("file_data or file_id is required");
      req_.media.push_back(MediaRef{p.str(), "a file"});
      req_.folded.push_back(MediaRef{p.str(), "a file"});
    }
  }
  return {};
}

Status Parser::parse_message(const Value& m, const FieldPath& path) {
  PARLEY_TRY(auto _, require_object(&m, path));
  (void)_;
  PARLEY_TRY(std::string_view role,
             read_enum(m, "role", path, true,
                       {"system", "developer", "user", "assistant", "tool", "function"}));
  PARLEY_TRY(std::string_view name, read_string(m, "name", path, false));
  PARLEY_TRY(const Value* content, member(m, "content", path, false));
  FieldPath cp = path.key("content");
  auto& msgs = req_.conversation.messages;

  if (role == "system" || role == "developer") {
    // Folded into one system prompt, as for Anthropic system-role messages.
    if (content == nullptr) return path.key("content").error("field required");
    Message tmp;
    PARLEY_CHECK_OK(parse_content(content, cp, tmp, false));
    std::string text = tmp.text();
    if (!text.empty()) {
      if (!system_.content.empty()) system_.content.push_back(text_part("\n\n"));
      system_.content.push_back(text_part(std::move(text)));
    }
    return {};
  }
  Message msg;
  if (role == "user") {
    if (content == nullptr) return path.key("content").error("field required");
    msg.role = Role::user;
    PARLEY_CHECK_OK(parse_content(content, cp, msg, true));
  } else if (role == "assistant") {
    msg.role = Role::assistant;
    PARLEY_CHECK_OK(parse_content(content, cp, msg, false));
    PARLEY_TRY(std::string_view reasoning, read_string(m, "reasoning_content", path, false));
    msg.reasoning = std::string(reasoning);
    if (!reasoning.empty()) {
      // OpenAI chat has no thinking signatures: an Anthropic upstream cannot take it back.
      req_.folded.push_back(MediaRef{path.key("reasoning_content").str(), "reasoning_content (thinking "
                                                                          "without a signature)"});
    }
    PARLEY_TRY(const Value* calls, member(m, "tool_calls", path, false));
    if (calls != nullptr) {
      FieldPath tp = path.key("tool_calls");
      if (!calls->is_array()) {
        return tp.error(str_printf("expected an array, got %s", type_phrase(calls->type()).data()));
      }
      for (size_t i = 0; i < calls->as_array().size(); i++) {
        FieldPath p = tp.index(i);
        const Value& c = calls->as_array()[i];
        PARLEY_TRY(auto obj, require_object(&c, p));
        PARLEY_TRY(std::string_view id, read_string(*obj, "id", p, true));
        PARLEY_TRY(auto type, read_enum(*obj, "type", p, false, {"function"}));
        (void)type;
        PARLEY_TRY(const Value* fn, member(*obj, "function", p, true));
        FieldPath fp = p.key("function");
        PARLEY_TRY(auto fn_obj, require_object(fn, fp));
        PARLEY_TRY(std::string_view fname, read_string(*fn_obj, "name", fp, true));
        PARLEY_TRY(std::string_view args, read_string(*fn_obj, "arguments", fp, true));
        chat::ToolCall call;
        call.id = std::string(id);
        call.name = std::string(fname);
        // arguments is a JSON string; the template wants the object.
        auto parsed = json::parse(args.empty() ? std::string_view("{}") : args);
        if (!parsed.ok()) {
          return fp.key("arguments").error("not valid JSON: " + parsed.error().message);
        }
        if (!parsed->is_object()) return fp.key("arguments").error("must encode a JSON object");
        call.arguments = std::move(parsed).value();
        msg.tool_calls.push_back(std::move(call));
      }
    }
  } else {  // tool / function (legacy)
    msg.role = Role::tool;
    if (role == "tool") {
      PARLEY_TRY(std::string_view id, read_string(m, "tool_call_id", path, true));
      msg.tool_call_id = std::string(id);
      for (const auto& prev : msgs) {
        for (const auto& c : prev.tool_calls) {
          if (c.id == id) msg.name = c.name;
        }
      }
    } else {
      if (name.empty()) return path.key("name").error("field required");
      msg.name = std::string(name);
    }
    PARLEY_CHECK_OK(parse_content(content, cp, msg, false));
  }
  msgs.push_back(std::move(msg));
  return {};
}

Status Parser::parse_tools(const Value& body, const FieldPath& root) {
  PARLEY_TRY(const Value* tools, member(body, "tools", root, false));
  if (tools == nullptr) return {};
  FieldPath path = root.key("tools");
  if (!tools->is_array()) {
    return path.error(str_printf("expected an array, got %s", type_phrase(tools->type()).data()));
  }
  for (size_t i = 0; i < tools->as_array().size(); i++) {
    FieldPath p = path.index(i);
    const Value& t = tools->as_array()[i];
    PARLEY_TRY(auto obj, require_object(&t, p));
    PARLEY_TRY(auto type, read_enum(*obj, "type", p, true, {"function"}));
    (void)type;
    PARLEY_TRY(const Value* fn, member(*obj, "function", p, true));
    FieldPath fp = p.key("function");
    PARLEY_TRY(auto fn_obj, require_object(fn, fp));
    PARLEY_TRY(std::string_view name, read_string(*fn_obj, "name", fp, true));
    if (name.empty()) return fp.key("name").error("must not be empty");
    PARLEY_TRY(std::string_view description, read_string(*fn_obj, "description", fp, false));
    PARLEY_TRY(const Value* params, member(*fn_obj, "parameters", fp, false));
    if (params != nullptr && !params->is_object()) {
      return fp.key("parameters")
          .error(str_printf("expected an object, got %s", type_phrase(params->type()).data()));
    }
    PARLEY_TRY(auto strict, read_bool(*fn_obj, "strict", fp));
    chat::Tool tool;
    tool.strict = strict.value_or(false);
    tool.name = std::string(name);
    tool.description = std::string(description);
    if (params != nullptr) {
      tool.parameters = *params;
    } else {
      tool.parameters = Value::object();
      tool.parameters["type"] = "object";
      tool.parameters["properties"] = Value::object();
    }
    tool_names_.emplace_back(name);
    req_.conversation.tools.push_back(std::move(tool));
  }
  return {};
}

Status Parser::parse_tool_choice(const Value& body, const FieldPath& root) {
  PARLEY_TRY(const Value* tc, member(body, "tool_choice", root, false));
  PARLEY_TRY(auto parallel, read_bool(body, "parallel_tool_calls", root));
  req_.tool_choice.disable_parallel_tool_use = parallel.has_value() && !*parallel;
  if (tc == nullptr) return {};
  FieldPath p = root.key("tool_choice");
  req_.has_tool_choice = true;
  if (tc->is_string()) {
    const std::string& s = tc->as_string();
    if (s == "auto") req_.tool_choice.mode = ToolChoiceMode::auto_;
    else if (s == "none") req_.tool_choice.mode = ToolChoiceMode::none;
    else if (s == "required") req_.tool_choice.mode = ToolChoiceMode::any;
    else
      return p.error(str_printf("expected 'none', 'auto', 'required' or an object, got %s",
                                quote_for_message(s).c_str()));
  } else {
    PARLEY_TRY(auto obj, require_object(tc, p));
    PARLEY_TRY(auto type, read_enum(*obj, "type", p, true, {"function"}));
    (void)type;
    PARLEY_TRY(const Value* fn, member(*obj, "function", p, true));
    FieldPath fp = p.key("function");
    PARLEY_TRY(auto fn_obj, require_object(fn, fp));
    PARLEY_TRY(std::string_view name, read_string(*fn_obj, "name", fp, true));
    bool known = false;
    for (const auto& n : tool_names_) known = known || n == name;
    if (!known) {
      return fp.key("name").error(str_printf("no function named %s in tools",
                                             quote_for_message(name).c_str()));
    }
    req_.tool_choice.mode = ToolChoiceMode::tool;
    req_.tool_choice.name = std::string(name);
  }
  if (req_.tool_choice.mode != ToolChoiceMode::auto_ &&
      req_.tool_choice.mode != ToolChoiceMode::none && tool_names_.empty()) {
    return p.error("tool use is forced but no tools are given");
  }
  return {};
}

Status Parser::parse_controls(const Value& body, const FieldPath& root) {
  PARLEY_TRY(auto max_completion, read_int(body, "max_completion_tokens", root, false, 1, kMaxInt));
  PARLEY_TRY(auto max_tokens, read_int(body, "max_tokens", root, false, 1, kMaxInt));
  req_.max_tokens = max_completion ? max_completion : max_tokens;
  PARLEY_TRY(req_.temperature, read_number(body, "temperature", root, 0.0, 2.0));
  PARLEY_TRY(req_.top_p, read_number(body, "top_p", root, 0.0, 1.0));
  PARLEY_TRY(req_.top_k, read_int(body, "top_k", root, false, 0, kMaxInt));  // extension
  PARLEY_TRY(req_.min_p, read_number(body, "min_p", root, 0.0, 1.0));       // extension
  PARLEY_TRY(auto seed, read_int(body, "seed", root, false, std::numeric_limits<int64_t>::min(),
                                 kMaxInt));
  if (seed) req_.seed = static_cast<uint64_t>(*seed);
  PARLEY_TRY(auto n, read_int(body, "n", root, false, 1, 128));
  if (n && *n != 1) return root.key("n").error("only n = 1 is supported");
  PARLEY_TRY(auto fp, read_number(body, "frequency_penalty", root, -2.0, 2.0));
  PARLEY_TRY(auto pp, read_number(body, "presence_penalty", root, -2.0, 2.0));
  if ((fp && *fp != 0.0) || (pp && *pp != 0.0)) {
    // Refused rather than ignored: a caller asking for a penalty would get different text.
    return root.key(fp && *fp != 0.0 ? "frequency_penalty" : "presence_penalty")
        .error("penalties are not supported yet (only 0)");
  }
  PARLEY_TRY(auto logprobs, read_bool(body, "logprobs", root));
  if (logprobs.value_or(false)) return root.key("logprobs").error("logprobs are not supported yet");
  PARLEY_TRY(auto stream, read_bool(body, "stream", root));
  req_.stream = stream.value_or(false);
  PARLEY_TRY(const Value* so, member(body, "stream_options", root, false));
  if (so != nullptr) {
    FieldPath sp = root.key("stream_options");
    PARLEY_TRY(auto so_obj, require_object(so, sp));
    PARLEY_TRY(auto include_usage, read_bool(*so_obj, "include_usage", sp));
    req_.stream_include_usage = include_usage.value_or(false);
  }
  PARLEY_TRY(const Value* stop, member(body, "stop", root, false));
  if (stop != nullptr) {
    FieldPath sp = root.key("stop");
    if (stop->is_string()) {
      if (!stop->as_string().empty()) req_.stop_sequences.push_back(stop->as_string());
    } else if (stop->is_array()) {
      for (size_t i = 0; i < stop->as_array().size(); i++) {
        const Value& s = stop->as_array()[i];
        if (!s.is_string()) {
          return sp.index(i).error(
              str_printf("expected a string, got %s", type_phrase(s.type()).data()));
        }
        if (s.as_string().empty()) return sp.index(i).error("must not be empty");
        req_.stop_sequences.push_back(s.as_string());
      }
    } else {
      return sp.error(str_printf("expected a string or an array of strings, got %s",
                                 type_phrase(stop->type()).data()));
    }
  }
  PARLEY_TRY(std::string_view effort,
             read_enum(body, "reasoning_effort", root, false,
                       {"none", "minimal", "low", "medium", "high", "xhigh"}));
  req_.effort = std::string(effort);
  if (effort == "none") req_.enable_thinking = false;
  PARLEY_TRY(std::string_view user, read_string(body, "user", root, false));
  req_.user_id = std::string(user);
  PARLEY_TRY(const Value* rf, member(body, "response_format", root, false));
  if (rf != nullptr) {
    FieldPath rp = root.key("response_format");
    PARLEY_TRY(auto rf_obj, require_object(rf, rp));
    PARLEY_TRY(std::string_view type,
               read_enum(*rf_obj, "type", rp, true, {"text", "json_object", "json_schema"}));
    if (type == "json_object") {
      req_.output_schema = Value::object();
      req_.output_schema["type"] = "object";
    } else if (type == "json_schema") {
      PARLEY_TRY(const Value* js, member(*rf_obj, "json_schema", rp, true));
      FieldPath jp = rp.key("json_schema");
      PARLEY_TRY(auto js_obj, require_object(js, jp));
      PARLEY_TRY(std::string_view name, read_string(*js_obj, "name", jp, true));
      (void)name;
      PARLEY_TRY(const Value* schema, member(*js_obj, "schema", jp, false));
      if (schema != nullptr && !schema->is_object()) {
        return jp.key("schema").error(
            str_printf("expected an object, got %s", type_phrase(schema->type()).data()));
      }
      req_.output_schema = schema ? *schema : Value::object();
      PARLEY_TRY(auto strict, read_bool(*js_obj, "strict", jp));
      req_.output_schema_strict = strict.value_or(false);
    }
  }
  return {};
}

Result<ChatRequest> Parser::run(const Value& body) {
  FieldPath root(FieldPath::Style::bracketed);
  if (!body.is_object()) {
    return root.error(str_printf("request body must be a JSON object, got %s",
                                 type_phrase(body.type()).data()));
  }
  PARLEY_TRY(std::string_view model, read_string(body, "model", root, true));
  if (model.empty()) return root.key("model").error("must not be empty");
  req_.model = std::string(model);
  system_.role = Role::system;

  PARLEY_CHECK_OK(parse_tools(body, root));
  PARLEY_TRY(const Value* messages, member(body, "messages", root, true));
  FieldPath mp = root.key("messages");
  if (!messages->is_array()) {
    return mp.error(str_printf("expected an array, got %s", type_phrase(messages->type()).data()));
  }
  if (messages->as_array().empty()) return mp.error("at least one message is required");
  for (size_t i = 0; i < messages->as_array().size(); i++) {
    PARLEY_CHECK_OK(parse_message(messages->as_array()[i], mp.index(i)));
  }
  PARLEY_CHECK_OK(parse_tool_choice(body, root));
  PARLEY_CHECK_OK(parse_controls(body, root));

  auto& msgs = req_.conversation.messages;
  if (!system_.content.empty()) msgs.insert(msgs.begin(), std::move(system_));
  // A final assistant message is continued, as with Anthropic prefill.
  if (msgs.empty()) return mp.error("the messages hold no content (only empty system messages)");
  if (msgs.back().role == Role::assistant) req_.continue_final_message = true;
  return std::move(req_);
}

}  // namespace

Result<ChatRequest> parse_openai_request(const json::Value& body) {
  Parser parser;
  return parser.run(body);
}

}  // namespace parley::api
