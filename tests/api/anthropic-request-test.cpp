#include "api/anthropic-request.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/json.h"
#include "support/test-support.h"

namespace parley::api {
namespace {

using chat::Role;

Result<ChatRequest> parse(const std::string& body,
                          AnthropicEndpoint endpoint = AnthropicEndpoint::messages) {
  auto v = json::parse(body);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  if (!v.ok()) return v.error();
  return parse_anthropic_request(*v, endpoint);
}

std::string error_of(const std::string& body,
                     AnthropicEndpoint endpoint = AnthropicEndpoint::messages) {
  auto r = parse(body, endpoint);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? "" : r.error().message;
}

TEST(AnthropicRequest, MinimalTextRequest) {
  auto r = parse(R"({"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "claude-x");
  EXPECT_EQ(*r->max_tokens, 16);
  ASSERT_EQ(r->conversation.messages.size(), 1u);
  EXPECT_EQ(r->conversation.messages[0].role, Role::user);
  EXPECT_EQ(r->conversation.messages[0].text(), "hi");
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->continue_final_message);
  EXPECT_EQ(r->enable_thinking, std::optional<bool>(false));  // omitted thinking: off
}

TEST(AnthropicRequest, SystemStringBlocksAndSystemRoleMessagesFold) {
  auto r = parse(R"({"model":"m","max_tokens":1,
    "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1; cch=abc;"},
              {"type":"text","text":"You are A.","cache_control":{"type":"ephemeral"}},
              {"type":"text","text":"\nBe brief."}],
    "messages":[{"role":"user","content":"q"},
                {"role":"system","content":"Agents: x"},
                {"role":"assistant","content":[{"type":"text","text":"a"}]},
                {"role":"user","content":[{"type":"mid_conv_system","content":[{"type":"text","text":"late"}]},
                                         {"type":"text","text":"q2"}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& msgs = r->conversation.messages;
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[0].role, Role::system);
  // Billing block dropped; blocks joined as sent; system-role messages appended.
  EXPECT_EQ(msgs[0].text(), "You are A.\nBe brief.\n\nAgents: x\n\nlate");
  EXPECT_EQ(msgs[1].role, Role::user);
  EXPECT_EQ(msgs[2].role, Role::assistant);
  EXPECT_EQ(msgs[3].text(), "q2");
}

TEST(AnthropicRequest, ConsecutiveTurnsMergeAndPrefillContinues) {
  auto r = parse(R"({"model":"m","max_tokens":1,"messages":[
    {"role":"user","content":"a"},{"role":"user","content":"b"},
    {"role":"assistant","content":"The answer is"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->conversation.messages.size(), 2u);
  EXPECT_EQ(r->conversation.messages[0].text(), "a\n\nb");
  EXPECT_TRUE(r->continue_final_message);
  EXPECT_EQ(r->conversation.messages[1].text(), "The answer is");
}

TEST(AnthropicRequest, ToolsToolUseAndToolResults) {
  auto r = parse(R"({"model":"m","max_tokens":1,
    "tools":[{"name":"Bash","description":"run","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}},
             {"type":"web_search_20250305","name":"web_search","max_uses":3}],
    "tool_choice":{"type":"tool","name":"Bash","disable_parallel_tool_use":true},
    "messages":[{"role":"user","content":"go"},
      {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"c2ln"},
                                     {"type":"text","text":"ok"},
                                     {"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"a.txt","is_error":false,"cache_control":{"type":"ephemeral"}},
                                {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"x"},{"type":"tool_reference","tool_name":"Read"}],"is_error":true},
                                {"type":"text","text":"thanks"}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->conversation.tools.size(), 1u);  // the server tool is not rendered
  EXPECT_EQ(r->conversation.tools[0].name, "Bash");
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceMode::tool);
  EXPECT_TRUE(r->tool_choice.disable_parallel_tool_use);
  const auto& msgs = r->conversation.messages;
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(msgs[1].reasoning, "hmm");
  EXPECT_EQ(msgs[1].text(), "ok");
  ASSERT_EQ(msgs[1].tool_calls.size(), 1u);
  EXPECT_EQ(msgs[1].tool_calls[0].arguments.find("command")->as_string(), "ls");
  EXPECT_EQ(msgs[2].role, Role::tool);
  EXPECT_EQ(msgs[2].tool_call_id, "toolu_1");
  EXPECT_EQ(msgs[2].name, "Bash");
  EXPECT_EQ(msgs[2].text(), "a.txt");
  EXPECT_TRUE(msgs[3].is_error);
  EXPECT_EQ(msgs[3].text(), "xTool loaded: Read");
  EXPECT_EQ(msgs[4].role, Role::user);
  EXPECT_EQ(msgs[4].text(), "thanks");
  EXPECT_FALSE(r->continue_final_message);
}

TEST(AnthropicRequest, EveryDocumentedFieldIsAccepted) {
  auto r = parse(R"({"model":"m","max_tokens":32000,"stream":true,"temperature":0.5,"top_p":0.9,"top_k":40,
    "stop_sequences":["END"],"metadata":{"user_id":"{\"session_id\":\"x\"}"},
    "thinking":{"type":"enabled","budget_tokens":31999,"display":"omitted"},
    "output_config":{"effort":"high","format":{"type":"json_schema","schema":{"type":"object"}}},
    "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
    "cache_control":{"type":"ephemeral","ttl":"1h"},"service_tier":"auto","container":null,
    "inference_geo":"us","mcp_servers":[],"speed":"fast","some_future_field":{"x":1},
    "messages":[{"role":"user","content":[
      {"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc body"},"title":"T","context":"C","citations":{"enabled":true}},
      {"type":"search_result","source":"https://x","title":"R","content":[{"type":"text","text":"snippet"}]},
      {"type":"text","text":"q","citations":[]}]},
      {"role":"assistant","content":[{"type":"redacted_thinking","data":"abc"},
        {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},
        {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},
        {"type":"text","text":"done"}]},
      {"role":"user","content":"next"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(r->enable_thinking, std::optional<bool>(true));
  EXPECT_EQ(r->thinking_budget, 31999);
  EXPECT_EQ(r->effort, "high");
  EXPECT_TRUE(r->output_schema.is_object());
  EXPECT_EQ(r->stop_sequences, std::vector<std::string>{"END"});
  EXPECT_TRUE(r->media.empty());
  const std::string user = r->conversation.messages[0].text();
  EXPECT_NE(user.find("Document: T\nContext: C\n\ndoc body"), std::string::npos) << user;
  EXPECT_NE(user.find("Search result: R\nSource: https://x\n\nsnippet"), std::string::npos) << user;
}

TEST(AnthropicRequest, ImagesAndPdfsAreValidatedAndReported) {
  auto r = parse(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
    {"type":"text","text":"see"},
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}},
    {"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->media.size(), 3u);
  EXPECT_EQ(r->media[0].path, "messages.0.content.1");
  EXPECT_EQ(r->media[0].what, "an image (image/png)");
  EXPECT_EQ(r->media[1].what, "a PDF document");
  EXPECT_EQ(r->media[2].path, "messages.0.content.3");
}

TEST(AnthropicRequest, ErrorsNameTheExactField) {
  const std::string head = R"({"model":"m","max_tokens":1,"messages":)";
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"user","content":"x"}]})"),
            "max_tokens: field required");
  EXPECT_EQ(error_of(R"({"max_tokens":1,"messages":[]})"), "model: field required");
  EXPECT_EQ(error_of(head + "[]}"), "messages: at least one message is required");
  EXPECT_EQ(error_of(head + R"([{"role":"user","content":"a"},{"role":"assistant","content":"b"},
      {"role":"user","content":"c"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"bogus"}]}]})"),
            "messages.3.content.1.type: unknown content block type 'bogus' (expected 'text', "
            "'image', 'document', 'search_result', 'tool_use', 'tool_result', 'thinking', "
            "'redacted_thinking', 'server_tool_use', a server tool result, 'container_upload' "
            "or 'mid_conv_system')");
  EXPECT_EQ(error_of(head + R"([{"role":"robot","content":"x"}]})"),
            "messages.0.role: expected 'user', 'assistant', 'system', 'ctx' or 'msg', got 'robot'");
  EXPECT_EQ(error_of(head + R"([{"role":"user","content":5}]})"),
            "messages.0.content: expected a string or an array of content blocks, got an integer");
  EXPECT_EQ(error_of(head + R"([{"role":"user","content":[{"type":"text"}]}]})"),
            "messages.0.content.0.text: field required");
  EXPECT_EQ(error_of(head + R"([{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"!!"}}]}]})"),
            "messages.0.content.0.source.data: invalid base64 data");
  EXPECT_EQ(error_of(head + R"([{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"AAAA"}}]}]})"),
            "messages.0.content.0.source.media_type: expected 'image/jpeg', 'image/png', "
            "'image/gif' or 'image/webp', got 'image/bmp'");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]})"),
            "max_tokens: expected an integer, got a number with a fraction or exponent");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1e30,"messages":[{"role":"user","content":"x"}]})"),
            "max_tokens: integer out of range (must be between 0 and 9223372036854775807)");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"x"}]})"),
            "max_tokens: must be between 0 and 9223372036854775807, got -1");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":"10","messages":[{"role":"user","content":"x"}]})"),
            "max_tokens: expected an integer, got a string");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1,"temperature":1.5,"messages":[{"role":"user","content":"x"}]})"),
            "temperature: must be between 0 and 1, got 1.5");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1,"stop_sequences":["a",3],"messages":[{"role":"user","content":"x"}]})"),
            "stop_sequences.1: expected a string, got an integer");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1,"tools":[{"name":"A","input_schema":{}}],"tool_choice":{"type":"tool","name":"B"},"messages":[{"role":"user","content":"x"}]})"),
            "tool_choice.name: no tool named 'B' in tools");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1,"thinking":{"type":"enabled","budget_tokens":10},"messages":[{"role":"user","content":"x"}]})"),
            "thinking.budget_tokens: must be between 1024 and 9223372036854775807, got 10");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1,"system":[{"type":"image"}],"messages":[{"role":"user","content":"x"}]})"),
            "system.0.type: expected 'text', got 'image'");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"persistent"}}]}]})"),
            "messages.0.content.0.cache_control.type: expected 'ephemeral', got 'persistent'");
  EXPECT_EQ(error_of(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}]})"),
            "messages.0.content.0.type: tool_use blocks belong in assistant messages");
  EXPECT_EQ(error_of("[1,2]"), "request body must be a JSON object, got an array");
}

TEST(AnthropicRequest, CountTokensIgnoresGenerationControls) {
  auto r = parse(R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":"junk","temperature":9})",
                 AnthropicEndpoint::count_tokens);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->max_tokens.has_value());
}

// Every request Claude Code 2.1 and the TS SDK were seen sending parses.
TEST(AnthropicRequest, EveryCapturedClaudeCodeRequestParses) {
  PARLEY_REQUIRE_SHARED("docs/claude-code-captures.jsonl");
  std::ifstream in(test::shared_dir() / "docs/claude-code-captures.jsonl");
  std::string line;
  int n_parsed = 0;
  while (std::getline(in, line)) {
    auto row = json::parse(line);
    ASSERT_TRUE(row.ok()) << row.error().message;
    if (row->find("method")->as_string() != "POST") continue;
    const std::string& path = row->find("path")->as_string();
    const json::Value* body = row->find("body");
    ASSERT_NE(body, nullptr);
    auto endpoint = path == "/v1/messages/count_tokens" ? AnthropicEndpoint::count_tokens
                                                        : AnthropicEndpoint::messages;
    auto r = parse_anthropic_request(*body, endpoint);
    EXPECT_TRUE(r.ok()) << "seq " << row->find("seq")->as_int() << ": " << r.error().message;
    if (r.ok() && endpoint == AnthropicEndpoint::messages) {
      EXPECT_FALSE(r->conversation.messages.empty());
      for (const auto& m : r->conversation.messages) {
        // No billing header reaches the prompt.
        EXPECT_EQ(m.text().find("x-anthropic-billing-header"), std::string::npos);
      }
    }
    n_parsed++;
  }
  EXPECT_EQ(n_parsed, 58);  // every POST in the file
}

}  // namespace
}  // namespace parley::api
