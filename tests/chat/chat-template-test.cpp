// The chat layer: Conversation IR -> template variables -> prompt must give exactly the golden
// renders (which Python made from the Hugging Face form of the same conversations), capability
// probing, continue_final_message, and concurrent rendering of one parsed template.
#include <gtest/gtest.h>

#include <ctime>
#include <thread>

#include "chat/chat-template.h"
#include "chat/template-test-data.h"
#include "support/test-support.h"

namespace parley::chat {
namespace {

const std::filesystem::path kData = test_data::templates_dir();
using test_data::golden_now;
using test_data::load_json;

ChatTemplate load_shared(const std::string& name) {
  auto t = ChatTemplate::parse(test::read_file(test::shared_dir() / "templates" / name),
                               SpecialTokens{"<s>", "</s>", {}});
  EXPECT_TRUE(t.ok()) << name << ": " << (t.ok() ? "" : t.error().message);
  return std::move(*t);
}

TEST(ChatTemplate, IrRendersEqualGoldens) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  json::Value convs = load_json(kData / "conversations.json");
  const json::Value& conversations = *convs.find("conversations");
  int cases = 0, equal = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kData / "renders")) {
    json::Value golden = load_json(entry.path());
    const std::string name = golden.find("template")->as_string();
    auto tpl = ChatTemplate::parse(test::read_file(test::shared_dir() / "templates" / name),
                                   SpecialTokens{golden.find("bos_token")->as_string(),
                                                 golden.find("eos_token")->as_string(), {}});
    ASSERT_TRUE(tpl.ok()) << name << ": " << tpl.error().message;
    const json::Array& outputs = golden.find("outputs")->as_array();
    for (const auto& c : golden.find("cases")->as_array()) {
      const std::string conv_name = c.find("conversation")->as_string();
      const json::Value& hf = *conversations.find(conv_name);
      auto conv = conversation_from_hf_json(*hf.find("messages"), hf.find("tools"));
      ASSERT_TRUE(conv.ok()) << conv_name << ": " << conv.error().message;
      ChatRenderOptions opt;
      opt.add_generation_prompt = c.find("add_generation_prompt")->as_bool();
      if (const json::Value* t = c.find("enable_thinking")) opt.enable_thinking = t->as_bool();
      if (const json::Value* d = hf.find("documents")) opt.documents = *d;
      bool typed = false;
      for (const auto& m : hf.find("messages")->as_array()) typed |= m.find("content")->is_array();
      opt.typed_content = typed;
      // The golden conversation's own shapes of tools and arguments.
      const json::Value* tools = hf.find("tools");
      opt.flat_tools = tools && !tools->as_array()[0].contains("function");
      bool string_args = false;
      for (const auto& m : hf.find("messages")->as_array()) {
        if (const json::Value* calls = m.find("tool_calls")) {
          for (const auto& tc : calls->as_array()) {
            string_args |= tc.find("function")->find("arguments")->is_string();
          }
        }
      }
      opt.arguments_as_string = string_args;
      opt.now_unix_seconds = golden_now();
      jinja::TemplateError err;
      auto out = tpl->render(*conv, opt, &err);
      std::string what = name + " / " + conv_name;
      cases++;
      if (const json::Value* idx = c.find("output")) {
        ASSERT_TRUE(out.ok()) << what << ": " << out.error().message;
        EXPECT_EQ(*out, outputs[static_cast<size_t>(idx->as_int())].as_string()) << what;
        equal += *out == outputs[static_cast<size_t>(idx->as_int())].as_string();
      } else {
        EXPECT_FALSE(out.ok()) << what << " should raise " << c.find("message")->as_string();
        equal += !out.ok();
      }
    }
  }
  std::printf("IR -> prompt: %d/%d golden cases equal\n", equal, cases);
  EXPECT_EQ(equal, cases);
}

TEST(ChatTemplate, CapabilitiesOfKnownTemplates) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  Capabilities qwen3 = load_shared("Qwen3-0.6B.jinja").capabilities();
  EXPECT_TRUE(qwen3.system_role);
  EXPECT_TRUE(qwen3.tools);
  EXPECT_TRUE(qwen3.tool_calls);
  EXPECT_TRUE(qwen3.parallel_tool_calls);
  EXPECT_TRUE(qwen3.tool_results);
  EXPECT_TRUE(qwen3.reasoning);
  EXPECT_TRUE(qwen3.enable_thinking);
  EXPECT_TRUE(qwen3.string_content);

  Capabilities llama = load_shared("Llama-3.1-8B-Instruct.jinja").capabilities();
  EXPECT_TRUE(llama.system_role);
  EXPECT_TRUE(llama.tools);
  EXPECT_TRUE(llama.tool_calls);
  EXPECT_FALSE(llama.parallel_tool_calls);  // raises "This model only supports single tool-calls at once!"
  EXPECT_FALSE(llama.reasoning);
  EXPECT_FALSE(llama.enable_thinking);

  Capabilities gemma = load_shared("gemma-2-2b-it.jinja").capabilities();
  EXPECT_FALSE(gemma.system_role);  // raises "System role not supported"
  EXPECT_FALSE(gemma.tools);
  EXPECT_FALSE(gemma.tool_calls);
  EXPECT_TRUE(gemma.string_content);

  Capabilities apertus = load_shared("Apertus-8B-Instruct.jinja").capabilities();
  EXPECT_TRUE(apertus.flat_tools);  // iterates tools as bare {name, description, parameters}
  EXPECT_TRUE(apertus.tool_calls);
  Capabilities deepseek = load_shared("DeepSeek-V3.1.jinja").capabilities();
  EXPECT_TRUE(deepseek.arguments_as_string);  // concatenates arguments to a string
  EXPECT_TRUE(deepseek.tool_calls);
  Capabilities mistral = load_shared("Mistral-7B-Instruct-v0.3.jinja").capabilities();
  EXPECT_TRUE(mistral.tool_calls);  // with 9-character call ids, as it demands
  EXPECT_TRUE(mistral.tool_call_ids);
  Capabilities hermes = load_shared("Hermes-3-Llama-3.1-8B.tool_use.jinja").capabilities();
  EXPECT_TRUE(hermes.string_content);  // renders only when tools are given
  EXPECT_TRUE(hermes.tool_calls);

  Capabilities smol = load_shared("SmolLM2-Instruct.jinja").capabilities();
  EXPECT_TRUE(smol.system_role);
  EXPECT_FALSE(smol.tools);
  EXPECT_FALSE(smol.typed_content);  // prints the part list as a Python repr
}

// With default options the shapes follow the capabilities: templates found to need bare tools
// or string arguments render the goldens made with those shapes.
TEST(ChatTemplate, DefaultShapesFollowCapabilities) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  json::Value convs = load_json(kData / "conversations.json");
  const json::Value& conversations = *convs.find("conversations");
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kData / "renders")) {
    json::Value golden = load_json(entry.path());
    const std::string name = golden.find("template")->as_string();
    auto tpl = ChatTemplate::parse(test::read_file(test::shared_dir() / "templates" / name),
                                   SpecialTokens{"<s>", "</s>", {}});
    ASSERT_TRUE(tpl.ok());
    const Capabilities& caps = tpl->capabilities();
    const char* conv_name = caps.flat_tools           ? "tool-call-flat-tools"
                            : caps.arguments_as_string ? "tool-call-string-args"
                                                       : nullptr;
    if (!conv_name || (caps.flat_tools && caps.arguments_as_string)) continue;
    for (const auto& c : golden.find("cases")->as_array()) {
      if (c.find("conversation")->as_string() != conv_name || c.find("enable_thinking")) continue;
      const json::Value& hf = *conversations.find(conv_name);
      auto conv = conversation_from_hf_json(*hf.find("messages"), hf.find("tools"));
      ASSERT_TRUE(conv.ok());
      ChatRenderOptions opt;
      opt.add_generation_prompt = c.find("add_generation_prompt")->as_bool();
      opt.now_unix_seconds = golden_now();
      auto out = tpl->render(*conv, opt);
      ASSERT_TRUE(c.find("output")) << name << " raised in Python on " << conv_name;
      ASSERT_TRUE(out.ok()) << name << ": " << out.error().message;
      EXPECT_EQ(*out, golden.find("outputs")->as_array()[static_cast<size_t>(c.find("output")->as_int())].as_string())
          << name;
      checked++;
    }
  }
  EXPECT_GE(checked, 8);
}

TEST(ChatTemplate, ContinueFinalMessage) {
  auto tpl = ChatTemplate::parse(
      "{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}<|end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|assistant|>{% endif %}",
      SpecialTokens{});
  ASSERT_TRUE(tpl.ok()) << tpl.error().message;
  Conversation conv;
  Message u;
  u.role = Role::user;
  u.content.push_back({ContentPart::Kind::text, "Hi", "", "", false});
  Message a;
  a.role = Role::assistant;
  a.content.push_back({ContentPart::Kind::text, "The answer is  ", "", "", false});
  conv.messages = {u, a};
  ChatRenderOptions opt;
  opt.add_generation_prompt = false;
  opt.continue_final_message = true;
  auto out = tpl->render(conv, opt);
  ASSERT_TRUE(out.ok()) << out.error().message;
  // The template trimmed the trailing spaces, so the cut follows the stripped text.
  EXPECT_EQ(*out, "<|user|>Hi<|end|>\n<|assistant|>The answer is");
  opt.add_generation_prompt = true;
  EXPECT_FALSE(tpl->render(conv, opt).ok());
}

TEST(ChatTemplate, RejectsBadHfJson) {
  auto bad_role = json::parse(R"([{"role": "robot", "content": "x"}])");
  auto r = conversation_from_hf_json(*bad_role, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("messages[0].role"), std::string::npos) << r.error().message;
  auto bad_args = json::parse(R"([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{nope"}}]}])");
  r = conversation_from_hf_json(*bad_args, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("messages[0].tool_calls[0].function.arguments"), std::string::npos)
      << r.error().message;
  auto string_args = json::parse(R"([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{\"a\": 1}"}}]}])");
  r = conversation_from_hf_json(*string_args, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->messages[0].tool_calls[0].arguments.find("a")->as_int(), 1);
}

TEST(ChatTemplate, ConcurrentRendersOfOneTemplate) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  ChatTemplate tpl = load_shared("Qwen3-0.6B.jinja");
  json::Value convs = load_json(kData / "conversations.json");
  const json::Value& hf = *convs.find("conversations")->find("tool-calls-parallel");
  auto conv = conversation_from_hf_json(*hf.find("messages"), hf.find("tools"));
  ASSERT_TRUE(conv.ok());
  ChatRenderOptions opt;
  auto expected = tpl.render(*conv, opt);
  ASSERT_TRUE(expected.ok()) << expected.error().message;
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; i++) {
        auto out = tpl.render(*conv, opt);
        if (!out.ok() || *out != *expected) mismatches[t]++;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace parley::chat
