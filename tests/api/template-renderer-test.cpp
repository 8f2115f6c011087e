// The real chat templates behind the API: what a template cannot show is lowered to text it
// can, and prefill ends the prompt inside the assistant message.
#include "api/template-renderer.h"

#include <gtest/gtest.h>

#include "support/test-support.h"

namespace parley::api {
namespace {

using chat::Role;

chat::Message msg(Role role, const std::string& text) {
  chat::Message m;
  m.role = role;
  chat::ContentPart p;
  p.text = text;
  m.content.push_back(p);
  return m;
}

TemplateRenderer renderer_for(const std::string& name) {
  std::string src = test::read_file(test::shared_dir() / "templates" / name);
  auto tpl = chat::ChatTemplate::parse(src, chat::SpecialTokens{"<bos>", "<eos>", {}});
  EXPECT_TRUE(tpl.ok()) << (tpl.ok() ? "" : tpl.error().message);
  return TemplateRenderer(std::move(tpl).value(), [] { return int64_t{1700000000}; });
}

chat::Conversation tool_conversation() {
  chat::Conversation c;
  c.messages.push_back(msg(Role::system, "Be brief."));
  c.messages.push_back(msg(Role::user, "List files"));
  chat::Message a = msg(Role::assistant, "Sure.");
  chat::ToolCall call;
  call.id = "toolu_1";
  call.name = "Bash";
  call.arguments = json::Value::object();
  call.arguments["command"] = "ls";
  a.tool_calls.push_back(call);
  c.messages.push_back(a);
  chat::Message t = msg(Role::tool, "a.txt");
  t.tool_call_id = "toolu_1";
  t.name = "Bash";
  c.messages.push_back(t);
  return c;
}

TEST(TemplateRenderer, TemplateWithoutSystemRoleGetsItInTheFirstUserTurn) {
  PARLEY_REQUIRE_SHARED("templates/gemma-2-2b-it.jinja");
  TemplateRenderer r = renderer_for("gemma-2-2b-it.jinja");
  ASSERT_FALSE(r.chat_template().capabilities().system_role);
  RenderFlags flags;
  auto out = r.render(tool_conversation(), flags);
  ASSERT_TRUE(out.ok()) << out.error().message;
  // Nothing lost: system text, the tool call and its result are all in the prompt.
  EXPECT_NE(out->find("Be brief.\n\nList files"), std::string::npos) << *out;
  EXPECT_NE(out->find("[tool call Bash toolu_1: {\"command\":\"ls\"}]"), std::string::npos) << *out;
  EXPECT_NE(out->find("[tool result from Bash for toolu_1]\na.txt"), std::string::npos) << *out;
  EXPECT_TRUE(out->ends_with("<start_of_turn>model\n")) << *out;
}

TEST(TemplateRenderer, ToolCapableTemplateRendersToolsNatively) {
  PARLEY_REQUIRE_SHARED("templates/Qwen2.5-7B-Instruct.jinja");
  TemplateRenderer r = renderer_for("Qwen2.5-7B-Instruct.jinja");
  const auto& caps = r.chat_template().capabilities();
  ASSERT_TRUE(caps.system_role && caps.tools && caps.tool_calls && caps.tool_results);
  chat::Conversation c = tool_conversation();
  chat::Tool tool;
  tool.name = "Bash";
  tool.description = "Runs a command";
  tool.parameters = json::Value::object();
  tool.parameters["type"] = "object";
  c.tools.push_back(tool);
  auto out = r.render(c, RenderFlags{});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_NE(out->find("<tools>"), std::string::npos);
  EXPECT_NE(out->find("<tool_call>\n{\"name\": \"Bash\""), std::string::npos) << *out;
  EXPECT_NE(out->find("<tool_response>\na.txt\n</tool_response>"), std::string::npos) << *out;
  EXPECT_EQ(out->find("[tool call"), std::string::npos);
}

TEST(TemplateRenderer, PrefillEndsInsideTheAssistantMessage) {
  PARLEY_REQUIRE_SHARED("templates/SmolLM2-Instruct.jinja");
  TemplateRenderer r = renderer_for("SmolLM2-Instruct.jinja");
  chat::Conversation c;
  c.messages.push_back(msg(Role::user, "Hi"));
  c.messages.push_back(msg(Role::assistant, "Hello, I am"));
  RenderFlags flags;
  flags.add_generation_prompt = false;
  flags.continue_final_message = true;
  auto out = r.render(c, flags);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_TRUE(out->ends_with("<|im_start|>assistant\nHello, I am")) << *out;
}

}  // namespace
}  // namespace parley::api
