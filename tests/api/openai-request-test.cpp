#include "api/openai-request.h"

#include <gtest/gtest.h>

namespace parley::api {
namespace {

using chat::Role;

Result<ChatRequest> parse(const std::string& body) {
  auto v = json::parse(body);
  EXPECT_TRUE(v.ok());
  if (!v.ok()) return v.error();
  return parse_openai_request(*v);
}

std::string error_of(const std::string& body) {
  auto r = parse(body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? "" : r.error().message;
}

TEST(OpenAIRequest, ChatWithToolsIntoTheSameIR) {
  auto r = parse(R"({"model":"m","max_completion_tokens":50,"temperature":1.7,"stop":"###",
    "stream":true,"stream_options":{"include_usage":true},"seed":7,
    "tools":[{"type":"function","function":{"name":"get","description":"d","parameters":{"type":"object"}}}],
    "tool_choice":"required","parallel_tool_calls":false,
    "messages":[{"role":"developer","content":"be nice"},
      {"role":"user","content":[{"type":"text","text":"hi"}]},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]},
      {"role":"tool","tool_call_id":"call_1","content":"42"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r->max_tokens, 50);
  EXPECT_DOUBLE_EQ(*r->temperature, 1.7);
  EXPECT_EQ(r->stop_sequences, std::vector<std::string>{"###"});
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->stream_include_usage);
  EXPECT_EQ(*r->seed, 7u);
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceMode::any);
  EXPECT_TRUE(r->tool_choice.disable_parallel_tool_use);
  const auto& msgs = r->conversation.messages;
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[0].role, Role::system);
  EXPECT_EQ(msgs[0].text(), "be nice");
  EXPECT_EQ(msgs[2].tool_calls.at(0).arguments.find("a")->as_int(), 1);
  EXPECT_EQ(msgs[3].role, Role::tool);
  EXPECT_EQ(msgs[3].name, "get");
  EXPECT_EQ(msgs[3].text(), "42");
  EXPECT_FALSE(r->continue_final_message);
}

TEST(OpenAIRequest, MaxTokensOptionalAndImagesReported) {
  auto r = parse(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/"}}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->max_tokens.has_value());
  ASSERT_EQ(r->media.size(), 1u);
  EXPECT_EQ(r->media[0].path, "messages[0].content[0]");
  EXPECT_EQ(r->media[0].what, "an image (image/jpeg)");
}

TEST(OpenAIRequest, ErrorsUseBracketPaths) {
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"video"}]}]})"),
            "messages[1].content[0].type: expected 'text', 'image_url', 'input_audio', 'file' "
            "or 'refusal', got 'video'");
  EXPECT_EQ(error_of(R"({"model":"m","n":2,"messages":[{"role":"user","content":"a"}]})"),
            "n: only n = 1 is supported");
  EXPECT_EQ(error_of(R"({"model":"m","temperature":3,"messages":[{"role":"user","content":"a"}]})"),
            "temperature: must be between 0 and 2, got 3.0");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{bad"}}]}]})"),
            "messages[0].tool_calls[0].function.arguments: not valid JSON: invalid JSON at byte "
            "1 (line 1, column 2): expected a string key");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"tool","content":"x"}]})"),
            "messages[0].tool_call_id: field required");
  EXPECT_EQ(error_of(R"({"model":"m","presence_penalty":1,"messages":[{"role":"user","content":"a"}]})"),
            "presence_penalty: penalties are not supported yet (only 0)");
}

// Found by fuzz-request: a conversation of system messages only left no message at all.
TEST(OpenAIRequest, OnlyEmptySystemMessagesIsAnError) {
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"developer","contentx":false}]})"),
            "messages[0].content: field required");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"system","content":""}]})"),
            "messages: the messages hold no content (only empty system messages)");
  auto r = parse(R"({"model":"m","messages":[{"role":"system","content":"only a system prompt"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->conversation.messages.size(), 1u);
  EXPECT_FALSE(r->continue_final_message);
}

}  // namespace
}  // namespace parley::api
