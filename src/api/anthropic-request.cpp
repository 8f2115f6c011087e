#include "api/anthropic-request.h"

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
  p.kind = ContentPart::Kind::text;
  p.text = std::move(s);
  return p;
}

// A block's cache_control: nullopt when absent, else whether its ttl is "1h".
Result<std::optional<bool>> read_cache_control(const Value& obj, const FieldPath& path) {
  PARLEY_TRY(const Value* cc, member(obj, "cache_control", path, false));
  if (cc == nullptr) return std::optional<bool>();
  FieldPath p = path.key("cache_control");
  PARLEY_TRY(auto _, require_object(cc, p));
  (void)_;
  PARLEY_TRY(auto type, read_enum(*cc, "type", p, true, {"ephemeral"}));
  (void)type;
  PARLEY_TRY(auto ttl, read_enum(*cc, "ttl", p, false, {"5m", "1h"}));
  return std::optional<bool>(ttl == "1h");
}

Status check_cache_control(const Value& obj, const FieldPath& path) {
  PARLEY_TRY(auto cc, read_cache_control(obj, path));
  (void)cc;
  return {};
}

Status check_optional_array(const Value& obj, std::string_view key, const FieldPath& path) {
  PARLEY_TRY(const Value* v, member(obj, key, path, false));
  if (v != nullptr && !v->is_array()) {
    return path.key(key).error(
        str_printf("expected an array, got %s", type_phrase(v->type()).data()));
  }
  return {};
}

// Where the blocks of one message go while it is being parsed.
struct Turn {
  Role role = Role::user;
  std::vector<Message> out;  // messages produced, in order (user text / tool results)
  Message current;           // the user or assistant message being filled
  bool current_used = false;

  void flush() {
    if (current_used) out.push_back(std::move(current));
    current = Message{};
    current.role = role;
    current_used = false;
  }
  void add_text(std::string s) {
    current.content.push_back(text_part(std::move(s)));
    current_used = true;
  }
  // An image or PDF: kept in place in the IR (the service refuses it before rendering while no
  // vision/PDF path exists); the block is kept for upstreams that speak Anthropic.
  void add_media(ContentPart::Kind kind, const Value& block) {
    ContentPart p;
    p.kind = kind;
    p.block = native_block(block);
    current.content.push_back(std::move(p));
    current_used = true;
  }
  // A block the model reads as text that an Anthropic upstream takes as it is (text documents,
  // search results).
  void add_text_of_block(std::string s, const Value& block) {
    add_text(std::move(s));
    current.content.back().block = native_block(block);
  }
  // The block as sent, less cache_control (the IR's breakpoint flags carry that).
  static Value native_block(const Value& block) {
    Value b = block;
    std::erase_if(b.as_object(), [](const json::Member& m) { return m.first == "cache_control"; });
    return b;
  }
};

class Parser {
 public:
  explicit Parser(AnthropicEndpoint endpoint) : endpoint_(endpoint) {}

  Result<ChatRequest> run(const Value& body);

 private:
  Status parse_system(const Value& body, const FieldPath& root);
  Status parse_messages(const Value& messages, const FieldPath& path);
  Status parse_block(const Value& block, const FieldPath& path, Turn& turn, bool in_tool_result);
  Status parse_block_content(const Value& block, const FieldPath& path, Turn& turn,
                             bool in_tool_result);
  // Sets a breakpoint flag; the request's TTL is the last breakpoint's.
  template <class Holder>  // ContentPart, ToolCall or Tool
  void note_breakpoint(Holder& holder, bool ttl_1h) {
    holder.cache_breakpoint = true;
    holder.cache_ttl_1h = ttl_1h;
    req_.cache_ttl_1h = ttl_1h;
  }
  void mark_automatic_breakpoint(bool ttl_1h);
  Status parse_tool_result(const Value& block, const FieldPath& path, Turn& turn);
  Status parse_tools(const Value& body, const FieldPath& root);
  Status parse_tool_choice(const Value& body, const FieldPath& root);
  Status parse_generation(const Value& body, const FieldPath& root);
  Status parse_thinking(const Value& body, const FieldPath& root);
  Status parse_output_config(const Value& body, const FieldPath& root);
  Result<std::string> text_of_blocks(const Value& v, const FieldPath& path, bool allow_images);
  void add_system_text(std::string text);
  void append_message(Message m);

  AnthropicEndpoint endpoint_;
  ChatRequest req_;
  Message system_;  // everything system-like, folded in order
  std::vector<std::string> tool_names_;
  // tool_use ids seen so far → tool name, for tool_result messages.
  std::vector<std::pair<std::string, std::string>> tool_use_names_;
};

void Parser::add_system_text(std::string text) {
  if (text.empty()) return;
  if (!system_.content.empty()) system_.content.push_back(text_part("\n\n"));
  system_.content.push_back(text_part(std::move(text)));
}

// Consecutive user or assistant turns are merged, as the real API does.
void Parser::append_message(Message m) {
  auto& msgs = req_.conversation.messages;
  if (!msgs.empty()) {
    Message& last = msgs.back();
    bool mergeable = last.role == m.role && (m.role == Role::user || m.role == Role::assistant);
    if (mergeable) {
      if (!last.content.empty() && !m.content.empty()) last.content.push_back(text_part("\n\n"));
      for (auto& p : m.content) last.content.push_back(std::move(p));
      last.reasoning += m.reasoning;
      for (auto& t : m.thinking_blocks) last.thinking_blocks.push_back(std::move(t));
      for (auto& c : m.tool_calls) last.tool_calls.push_back(std::move(c));
      return;
    }
  }
  msgs.push_back(std::move(m));
}

Result<std::string> Parser::text_of_blocks(const Value& v, const FieldPath& path,
                                           bool allow_images) {
  if (v.is_string()) return v.as_string();
  if (!v.is_array()) {
    return path.error(str_printf("expected a string or an array of content blocks, got %s",
                                 type_phrase(v.type()).data()));
  }
  std::string out;
  const auto& arr = v.as_array();
  for (size_t i = 0; i < arr.size(); i++) {
    FieldPath p = path.index(i);
    PARLEY_TRY(auto _, require_object(&arr[i], p));
    (void)_;
    std::initializer_list<std::string_view> text_only = {"text"};
    std::initializer_list<std::string_view> text_image = {"text", "image"};
    PARLEY_TRY(std::string_view type,
               read_enum(arr[i], "type", p, true, allow_images ? text_image : text_only));
    PARLEY_CHECK_OK(check_cache_control(arr[i], p));
    if (type == "text") {
      PARLEY_TRY(std::string_view t, read_string(arr[i], "text", p, true));
      PARLEY_CHECK_OK(check_optional_array(arr[i], "citations", p));
      out += t;
    } else {
      PARLEY_TRY(MediaRef ref, parse_image_source(arr[i], p));
      req_.media.push_back(std::move(ref));
    }
  }
  return out;
}

Status Parser::parse_system(const Value& body, const FieldPath& root) {
  PARLEY_TRY(const Value* sys, member(body, "system", root, false));
  if (sys == nullptr) return {};
  FieldPath path = root.key("system");
  if (sys->is_string()) {
    add_system_text(sys->as_string());
    return {};
  }
  if (!sys->is_array()) {
    return path.error(str_printf("expected a string or an array of text blocks, got %s",
                                 type_phrase(sys->type()).data()));
  }
  const auto& arr = sys->as_array();
  for (size_t i = 0; i < arr.size(); i++) {
    FieldPath p = path.index(i);
    PARLEY_TRY(auto _, require_object(&arr[i], p));
    (void)_;
    PARLEY_TRY(auto type, read_enum(arr[i], "type", p, true, {"text"}));
    (void)type;
    PARLEY_TRY(std::string_view t, read_string(arr[i], "text", p, true));
    PARLEY_TRY(auto cache, read_cache_control(arr[i], p));
    PARLEY_CHECK_OK(check_optional_array(arr[i], "citations", p));
    // Blocks are joined with no separator, as the API concatenates them (Claude Code's blocks
    // carry their own newlines).
    if (!t.empty() && !is_claude_code_billing_block(t)) system_.content.push_back(text_part(std::string(t)));
    // A breakpoint on a skipped block ends where the system text so far ends.
    if (cache && !system_.content.empty()) note_breakpoint(system_.content.back(), *cache);
  }
  return {};
}

Status Parser::parse_tool_result(const Value& block, const FieldPath& path, Turn& turn) {
  PARLEY_TRY(std::string_view id, read_string(block, "tool_use_id", path, true));
  PARLEY_TRY(auto is_error, read_bool(block, "is_error", path));
  PARLEY_TRY(const Value* content, member(block, "content", path, false));
  Message m;
  m.role = Role::tool;
  m.tool_call_id = std::string(id);
  m.is_error = is_error.value_or(false);
  for (const auto& [use_id, name] : tool_use_names_) {
    if (use_id == id) m.name = name;
  }
  if (content != nullptr) {
    FieldPath cp = path.key("content");
    if (content->is_string()) {
      m.content.push_back(text_part(content->as_string()));
    } else if (content->is_array()) {
      // Nested blocks go into a scratch turn whose text parts become the tool message.
      Turn inner;
      inner.role = Role::tool;
      inner.flush();
      const auto& arr = content->as_array();
      for (size_t i = 0; i < arr.size(); i++) {
        PARLEY_CHECK_OK(parse_block(arr[i], cp.index(i), inner, true));
      }
      inner.flush();
      for (auto& msg : inner.out) {
        for (auto& p : msg.content) m.content.push_back(std::move(p));
      }
    } else {
      return cp.error(str_printf("expected a string or an array of content blocks, got %s",
                                 type_phrase(content->type()).data()));
    }
  }
  turn.flush();
  turn.out.push_back(std::move(m));
  return {};
}

// One content block of a message (or of a tool_result's content when in_tool_result). A
// cache_control breakpoint marks the end of what the block added to the prompt.
Status Parser::parse_block(const Value& block, const FieldPath& path, Turn& turn,
                           bool in_tool_result) {
  PARLEY_TRY(auto _, require_object(&block, path));
  (void)_;
  PARLEY_TRY(auto cache, read_cache_control(block, path));
  const size_t n_parts = turn.current.content.size(), n_calls = turn.current.tool_calls.size();
  const size_t n_out = turn.out.size();
  PARLEY_CHECK_OK(parse_block_content(block, path, turn, in_tool_result));
  if (!cache) return {};
  if (turn.current.tool_calls.size() > n_calls) {
    note_breakpoint(turn.current.tool_calls.back(), *cache);
  } else if (turn.current.content.size() > n_parts) {
    note_breakpoint(turn.current.content.back(), *cache);
  } else if (turn.out.size() > n_out) {
    // A tool_result: its message ends at the breakpoint.
    auto& content = turn.out.back().content;
    if (content.empty()) content.push_back(text_part(""));
    note_breakpoint(content.back(), *cache);
  }
  return {};
}

Status Parser::parse_block_content(const Value& block, const FieldPath& path, Turn& turn,
                                   bool in_tool_result) {
  PARLEY_TRY(std::string_view type, read_string(block, "type", path, true));
  const bool assistant = turn.role == Role::assistant;

  if (type == "text") {
    PARLEY_TRY(std::string_view t, read_string(block, "text", path, true));
    PARLEY_CHECK_OK(check_optional_array(block, "citations", path));
    turn.add_text(std::string(t));
    return {};
  }
  if (type == "image") {
    PARLEY_TRY(MediaRef ref, parse_image_source(block, path));
    req_.media.push_back(std::move(ref));
    turn.add_media(ContentPart::Kind::image, block);
    return {};
  }
  if (type == "document") {
    PARLEY_TRY(DocumentContent doc, parse_document(block, path));
    if (const Value* c = block.find("citations"); c != nullptr && c->is_object()) {
      if (const Value* on = c->find("enabled"); on != nullptr && on->is_bool() && on->as_bool()) {
        // No citations are produced for it here; an upstream would send citations_delta events.
        req_.folded.push_back(MediaRef{path.key("citations").str(), "a document with citations enabled"});
      }
    }
    if (doc.media) {
      req_.media.push_back(std::move(*doc.media));
      turn.add_media(ContentPart::Kind::document, block);
    } else {
      // Nested image blocks of a custom-content document are refused like any image.
      for (auto& m : doc.nested_media) req_.media.push_back(std::move(m));
      turn.add_text_of_block(std::move(doc.text), block);
    }
    return {};
  }
  if (type == "search_result") {
    PARLEY_TRY(std::string text, parse_search_result(block, path));
    turn.add_text_of_block(std::move(text), block);
    return {};
  }
  if (type == "tool_reference") {
    PARLEY_TRY(std::string_view name, read_string(block, "tool_name", path, true));
    // Tool search asks to load a deferred tool; every tool is already in the prompt here.
    turn.add_text("Tool loaded: " + std::string(name));
    req_.folded.push_back(MediaRef{path.str(), "a 'tool_reference' block"});
    return {};
  }
  if (in_tool_result) {
    return path.key("type").error(
        str_printf("expected 'text', 'image', 'document', 'search_result' or 'tool_reference' "
                   "inside tool_result content, got %s",
                   quote_for_message(type).c_str()));
  }
  if (type == "tool_use") {
    PARLEY_TRY(std::string_view id, read_string(block, "id", path, true));
    PARLEY_TRY(std::string_view name, read_string(block, "name", path, true));
    PARLEY_TRY(const Value* input, member(block, "input", path, true));
    if (!input->is_object()) {
      return path.key("input").error(
          str_printf("expected an object, got %s", type_phrase(input->type()).data()));
    }
    if (!assistant) return path.key("type").error("tool_use blocks belong in assistant messages");
    chat::ToolCall call;
    call.id = std::string(id);
    call.name = std::string(name);
    call.arguments = *input;
    turn.current.tool_calls.push_back(std::move(call));
    turn.current_used = true;
    tool_use_names_.emplace_back(std::string(id), std::string(name));
    return {};
  }
  if (type == "tool_result") {
    if (assistant) return path.key("type").error("tool_result blocks belong in user messages");
    return parse_tool_result(block, path, turn);
  }
  if (type == "thinking") {
    PARLEY_TRY(std::string_view thinking, read_string(block, "thinking", path, true));
    PARLEY_TRY(std::string_view signature, read_string(block, "signature", path, true));
    req_.thinking_blocks.push_back({path.str(), std::string(thinking), std::string(signature)});
    // Thinking history goes back into the template (reasoning_content), which keeps the
    // rendered prefix identical to what was generated.
    if (assistant) {
      turn.current.reasoning += thinking;
      turn.current.thinking_blocks.push_back(Turn::native_block(block));
      turn.current_used = true;
    }
    return {};
  }
  if (type == "redacted_thinking") {
    PARLEY_TRY(std::string_view data, read_string(block, "data", path, true));
    (void)data;  // opaque (encrypted by the real API): nothing a local model can read
    if (assistant) {
      // Kept for an Anthropic upstream, which decrypts it.
      turn.current.thinking_blocks.push_back(Turn::native_block(block));
      turn.current_used = true;
    }
    return {};
  }
  if (type == "mid_conv_system") {
    PARLEY_TRY(const Value* content, member(block, "content", path, true));
    PARLEY_TRY(std::string text, text_of_blocks(*content, path.key("content"), false));
    add_system_text(std::move(text));
    return {};
  }
  if (type == "server_tool_use" || type == "mcp_tool_use") {
    PARLEY_TRY(std::string_view id, read_string(block, "id", path, true));
    PARLEY_TRY(std::string_view name, read_string(block, "name", path, true));
    PARLEY_TRY(const Value* input, member(block, "input", path, true));
    (void)id;
    // Server tools run at Anthropic; a replayed call is shown to the model as text.
    req_.folded.push_back(MediaRef{path.str(), str_printf("a '%s' block", std::string(type).c_str())});
    turn.add_text(str_printf("[%s %s: %s]", std::string(type).c_str(),
                             std::string(name).c_str(), json::write(*input).c_str()));
    return {};
  }
  if (type == "container_upload") {
    PARLEY_TRY(std::string_view file_id, read_string(block, "file_id", path, true));
    turn.add_text("[container_upload: " + std::string(file_id) + "]");
    req_.folded.push_back(MediaRef{path.str(), "a 'container_upload' block"});
    return {};
  }
  if (type == "compaction") {
    // Beta compaction summary: {type, content: string}
    req_.folded.push_back(MediaRef{path.str(), "a 'compaction' block"});
    PARLEY_TRY(const Value* content, member(block, "content", path, false));
    if (content != nullptr) {
      PARLEY_TRY(std::string text, text_of_blocks(*content, path.key("content"), false));
      turn.add_text(std::move(text));
    }
    return {};
  }
  if (ends_with(type, "_tool_result") || type == "fallback") {
    // web_search/web_fetch/code_execution/… results (and beta blocks) replayed from the real
    // API: the model sees their JSON, as nothing here can interpret them further.
    if (ends_with(type, "_tool_result")) {
      PARLEY_TRY(std::string_view id, read_string(block, "tool_use_id", path, true));
      (void)id;
    }
    req_.folded.push_back(MediaRef{path.str(), str_printf("a '%s' block", std::string(type).c_str())});
    const Value* content = block.find("content");
    turn.add_text(str_printf("[%s: %s]", std::string(type).c_str(),
                             content ? json::write(*content).c_str() : "{}"));
    return {};
  }
  return path.key("type").error(str_printf(
      "unknown content block type %s (expected 'text', 'image', 'document', 'search_result', "
      "'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'server_tool_use', a server "
      "tool result, 'container_upload' or 'mid_conv_system')",
      quote_for_message(type).c_str()));
}

Status Parser::parse_messages(const Value& messages, const FieldPath& path) {
  if (!messages.is_array()) {
    return path.error(
        str_printf("expected an array, got %s", type_phrase(messages.type()).data()));
  }
  const auto& arr = messages.as_array();
  if (arr.empty()) return path.error("at least one message is required");
  if (arr.size() > 100000) return path.error("at most 100000 messages are allowed");
  for (size_t i = 0; i < arr.size(); i++) {
    FieldPath mp = path.index(i);
    PARLEY_TRY(auto _, require_object(&arr[i], mp));
    (void)_;
    PARLEY_TRY(std::string_view role,
               read_enum(arr[i], "role", mp, true, {"user", "assistant", "system", "ctx", "msg"}));
    PARLEY_TRY(const Value* content, member(arr[i], "content", mp, true));
    FieldPath cp = mp.key("content");
    if (role == "system") {
      // Claude Code ≥ 2.1.154 sends these mid-conversation; they are folded into the system
      // prompt rather than rendered as a system turn the template may not allow there.
      PARLEY_TRY(std::string text, text_of_blocks(*content, cp, false));
      add_system_text(std::move(text));
      continue;
    }
    Turn turn;
    turn.role = role == "assistant" ? Role::assistant : Role::user;  // ctx/msg: user
    turn.flush();
    if (content->is_string()) {
      turn.add_text(content->as_string());
    } else if (content->is_array()) {
      const auto& blocks = content->as_array();
      for (size_t j = 0; j < blocks.size(); j++) {
        PARLEY_CHECK_OK(parse_block(blocks[j], cp.index(j), turn, false));
      }
    } else {
      return cp.error(str_printf("expected a string or an array of content blocks, got %s",
                                 type_phrase(content->type()).data()));
    }
    turn.flush();
    for (auto& m : turn.out) append_message(std::move(m));
  }
  return {};
}

Status Parser::parse_tools(const Value& body, const FieldPath& root) {
  PARLEY_TRY(const Value* tools, member(body, "tools", root, false));
  if (tools == nullptr) return {};
  FieldPath path = root.key("tools");
  if (!tools->is_array()) {
    return path.error(str_printf("expected an array, got %s", type_phrase(tools->type()).data()));
  }
  const auto& arr = tools->as_array();
  for (size_t i = 0; i < arr.size(); i++) {
    FieldPath p = path.index(i);
    PARLEY_TRY(auto _, require_object(&arr[i], p));
    (void)_;
    PARLEY_TRY(std::string_view type, read_string(arr[i], "type", p, false));
    PARLEY_TRY(std::string_view name, read_string(arr[i], "name", p, true));
    if (name.empty()) return p.key("name").error("must not be empty");
    PARLEY_TRY(auto cache, read_cache_control(arr[i], p));
    tool_names_.emplace_back(name);
    if (!type.empty() && type != "custom") {
      // Anthropic-defined tools (web_search_*, code_execution_*, bash_*, text_editor_*, …):
      // accepted; server tools cannot run here and are not shown to the model (a breakpoint
      // on one ends after the tools shown before it).
      auto& shown = req_.conversation.tools;
      if (cache && !shown.empty()) note_breakpoint(shown.back(), *cache);
      req_.folded.push_back(MediaRef{p.str(), str_printf("the Anthropic-defined tool %s",
                                                         quote_for_message(type).c_str())});
      continue;
    }
    PARLEY_TRY(std::string_view description, read_string(arr[i], "description", p, false));
    PARLEY_TRY(const Value* schema, member(arr[i], "input_schema", p, true));
    if (!schema->is_object()) {
      return p.key("input_schema")
          .error(str_printf("expected an object, got %s", type_phrase(schema->type()).data()));
    }
    PARLEY_TRY(auto strict, read_bool(arr[i], "strict", p));
    PARLEY_TRY(auto defer, read_bool(arr[i], "defer_loading", p));
    PARLEY_TRY(auto eager, read_bool(arr[i], "eager_input_streaming", p));
    (void)defer, (void)eager;
    PARLEY_CHECK_OK(check_optional_array(arr[i], "input_examples", p));
    PARLEY_CHECK_OK(check_optional_array(arr[i], "allowed_callers", p));
    chat::Tool tool;
    tool.name = std::string(name);
    tool.description = std::string(description);
    tool.parameters = *schema;
    tool.strict = strict.value_or(false);
    if (cache) note_breakpoint(tool, *cache);
    req_.conversation.tools.push_back(std::move(tool));
  }
  return {};
}

Status Parser::parse_tool_choice(const Value& body, const FieldPath& root) {
  PARLEY_TRY(const Value* tc, member(body, "tool_choice", root, false));
  if (tc == nullptr) return {};
  FieldPath p = root.key("tool_choice");
  PARLEY_TRY(auto _, require_object(tc, p));
  (void)_;
  PARLEY_TRY(std::string_view type, read_enum(*tc, "type", p, true, {"auto", "any", "tool", "none"}));
  PARLEY_TRY(auto disable_parallel, read_bool(*tc, "disable_parallel_tool_use", p));
  ToolChoice& choice = req_.tool_choice;
  req_.has_tool_choice = true;
  choice.disable_parallel_tool_use = disable_parallel.value_or(false);
  if (type == "auto") choice.mode = ToolChoiceMode::auto_;
  if (type == "any") choice.mode = ToolChoiceMode::any;
  if (type == "none") choice.mode = ToolChoiceMode::none;
  if (type == "tool") {
    choice.mode = ToolChoiceMode::tool;
    PARLEY_TRY(std::string_view name, read_string(*tc, "name", p, true));
    bool known = false;
    for (const auto& n : tool_names_) known = known || n == name;
    if (!known) {
      return p.key("name").error(str_printf("no tool named %s in tools",
                                            quote_for_message(name).c_str()));
    }
    choice.name = std::string(name);
  }
  if ((choice.mode == ToolChoiceMode::any || choice.mode == ToolChoiceMode::tool) &&
      tool_names_.empty()) {
    return p.key("type").error("tool use is forced but no tools are given");
  }
  return {};
}

Status Parser::parse_thinking(const Value& body, const FieldPath& root) {
  PARLEY_TRY(const Value* th, member(body, "thinking", root, false));
  if (th == nullptr) {
    req_.enable_thinking = false;  // an omitted `thinking` means no thinking
    return {};
  }
  FieldPath p = root.key("thinking");
  PARLEY_TRY(auto _, require_object(th, p));
  (void)_;
  PARLEY_TRY(std::string_view type,
             read_enum(*th, "type", p, true, {"enabled", "adaptive", "disabled"}));
  PARLEY_TRY(auto display, read_enum(*th, "display", p, false, {"summarized", "omitted"}));
  (void)display;
  req_.enable_thinking = type != "disabled";
  if (type == "enabled") {
    PARLEY_TRY(auto budget, read_int(*th, "budget_tokens", p, true, 1024, kMaxInt));
    req_.thinking_budget = *budget;
  }
  return {};
}

Status Parser::parse_output_config(const Value& body, const FieldPath& root) {
  auto read_format = [&](const Value& holder, std::string_view key,
                         const FieldPath& p) -> Status {
    PARLEY_TRY(const Value* fmt, member(holder, key, p, false));
    if (fmt == nullptr) return {};
    FieldPath fp = p.key(key);
    PARLEY_TRY(auto _, require_object(fmt, fp));
    (void)_;
    PARLEY_TRY(auto type, read_enum(*fmt, "type", fp, true, {"json_schema"}));
    (void)type;
    PARLEY_TRY(const Value* schema, member(*fmt, "schema", fp, true));
    if (!schema->is_object()) {
      return fp.key("schema").error(
          str_printf("expected an object, got %s", type_phrase(schema->type()).data()));
    }
    req_.output_schema = *schema;
    return {};
  };
  PARLEY_TRY(const Value* oc, member(body, "output_config", root, false));
  if (oc != nullptr) {
    FieldPath p = root.key("output_config");
    PARLEY_TRY(auto _, require_object(oc, p));
    (void)_;
    PARLEY_TRY(std::string_view effort,
               read_enum(*oc, "effort", p, false, {"low", "medium", "high", "xhigh", "max"}));
    req_.effort = std::string(effort);
    PARLEY_CHECK_OK(read_format(*oc, "format", p));
  }
  // Deprecated beta spelling of output_config.format.
  if (const Value* of = body.find("output_format"); of != nullptr && !of->is_null()) {
    Value holder = Value::object();
    holder["output_format"] = *of;
    PARLEY_CHECK_OK(read_format(holder, "output_format", root));
  }
  return {};
}

Status Parser::parse_generation(const Value& body, const FieldPath& root) {
  PARLEY_TRY(auto max_tokens, read_int(body, "max_tokens", root, true, 0, kMaxInt));
  req_.max_tokens = max_tokens;
  PARLEY_TRY(req_.temperature, read_number(body, "temperature", root, 0.0, 1.0));
  PARLEY_TRY(req_.top_p, read_number(body, "top_p", root, 0.0, 1.0));
  PARLEY_TRY(req_.top_k, read_int(body, "top_k", root, false, 0, kMaxInt));
  // Not an Anthropic field: a Parley extension for reproducible sampling.
  PARLEY_TRY(auto seed, read_int(body, "seed", root, false, 0, kMaxInt));
  if (seed) req_.seed = static_cast<uint64_t>(*seed);
  PARLEY_TRY(auto stream, read_bool(body, "stream", root));
  req_.stream = stream.value_or(false);

  PARLEY_TRY(const Value* stops, member(body, "stop_sequences", root, false));
  if (stops != nullptr) {
    FieldPath sp = root.key("stop_sequences");
    if (!stops->is_array()) {
      return sp.error(str_printf("expected an array of strings, got %s",
                                 type_phrase(stops->type()).data()));
    }
    const auto& arr = stops->as_array();
    for (size_t i = 0; i < arr.size(); i++) {
      if (!arr[i].is_string()) {
        return sp.index(i).error(
            str_printf("expected a string, got %s", type_phrase(arr[i].type()).data()));
      }
      if (arr[i].as_string().empty()) return sp.index(i).error("must not be empty");
      req_.stop_sequences.push_back(arr[i].as_string());
    }
  }

  PARLEY_TRY(const Value* metadata, member(body, "metadata", root, false));
  if (metadata != nullptr) {
    FieldPath mp = root.key("metadata");
    PARLEY_TRY(auto _, require_object(metadata, mp));
    (void)_;
    PARLEY_TRY(std::string_view user_id, read_string(*metadata, "user_id", mp, false));
    req_.user_id = std::string(user_id);
  }
  PARLEY_TRY(auto tier, read_enum(body, "service_tier", root, false, {"auto", "standard_only"}));
  (void)tier;
  return {};
}

// The top-level cache_control: the breakpoint goes on the last block of the last message.
void Parser::mark_automatic_breakpoint(bool ttl_1h) {
  auto& msgs = req_.conversation.messages;
  if (msgs.empty()) return;
  Message& last = msgs.back();
  if (!last.tool_calls.empty()) {
    note_breakpoint(last.tool_calls.back(), ttl_1h);
  } else if (!last.content.empty()) {
    note_breakpoint(last.content.back(), ttl_1h);
  }
}

Result<ChatRequest> Parser::run(const Value& body) {
  FieldPath root(FieldPath::Style::dotted);
  if (!body.is_object()) {
    return root.error(str_printf("request body must be a JSON object, got %s",
                                 type_phrase(body.type()).data()));
  }
  PARLEY_TRY(std::string_view model, read_string(body, "model", root, true));
  if (model.empty()) return root.key("model").error("must not be empty");
  req_.model = std::string(model);
  system_.role = Role::system;

  PARLEY_CHECK_OK(parse_system(body, root));
  PARLEY_CHECK_OK(parse_tools(body, root));  // before messages: tool names for tool_choice
  PARLEY_TRY(const Value* messages, member(body, "messages", root, true));
  PARLEY_CHECK_OK(parse_messages(*messages, root.key("messages")));
  PARLEY_CHECK_OK(parse_tool_choice(body, root));
  PARLEY_CHECK_OK(parse_thinking(body, root));
  PARLEY_CHECK_OK(parse_output_config(body, root));
  PARLEY_TRY(auto automatic_cache, read_cache_control(body, root));
  if (automatic_cache) mark_automatic_breakpoint(*automatic_cache);
  if (endpoint_ == AnthropicEndpoint::messages) PARLEY_CHECK_OK(parse_generation(body, root));

  auto& msgs = req_.conversation.messages;
  if (!system_.content.empty()) msgs.insert(msgs.begin(), std::move(system_));
  if (!msgs.empty() && msgs.back().role == Role::assistant) {
    const Message& last = msgs.back();
    if (last.content.empty() && last.tool_calls.empty() && last.reasoning.empty() &&
        last.thinking_blocks.empty()) {
      msgs.pop_back();  // an empty final assistant turn: nothing to continue
    } else {
      req_.continue_final_message = true;
    }
  }
  bool has_turn = false;
  for (const auto& m : msgs) has_turn = has_turn || m.role != Role::system;
  if (!has_turn) return root.key("messages").error("at least one user or assistant message is required");
  return std::move(req_);
}

}  // namespace

bool is_claude_code_billing_block(std::string_view text) {
  return starts_with(text, "x-anthropic-billing-header:");
}

Result<ChatRequest> parse_anthropic_request(const json::Value& body, AnthropicEndpoint endpoint) {
  Parser parser(endpoint);
  return parser.run(body);
}

}  // namespace parley::api
