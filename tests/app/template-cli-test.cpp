// End-to-end tests of `parley template`: from a template file and from a GGUF's embedded
// template, against the Python goldens of tests/data/templates.
#include <gtest/gtest.h>

#include "base/json.h"
#include "support/test-support.h"

namespace parley {
namespace {

test::CommandResult parley(const std::string& args) {
  return test::run_command(test::shell_quote(PARLEY_BINARY_DIR "/parley") + " " + args);
}

std::string q(const std::filesystem::path& p) { return test::shell_quote(p.string()); }

// The golden output of one template/conversation case (rendered by Python jinja2).
std::string golden(const std::string& stem, const std::string& conversation, bool agp) {
  auto g = json::parse(test::read_file(test::source_dir() / "tests/data/templates/renders" / (stem + ".json")));
  for (const auto& c : g->find("cases")->as_array()) {
    if (c.find("conversation")->as_string() == conversation &&
        c.find("add_generation_prompt")->as_bool() == agp && !c.find("enable_thinking")) {
      return g->find("outputs")->as_array()[static_cast<size_t>(c.find("output")->as_int())].as_string();
    }
  }
  ADD_FAILURE() << "no golden for " << stem << " " << conversation;
  return "";
}

// Writes conversation `name` of conversations.json as a CONV.json file.
std::filesystem::path write_conversation(const test::TempDir& dir, const std::string& name) {
  auto all = json::parse(test::read_file(test::source_dir() / "tests/data/templates/conversations.json"));
  json::Value conv = *all->find("conversations")->find(name);
  auto path = dir / (name + ".json");
  test::write_file(path, json::write(conv));
  return path;
}

TEST(TemplateCli, RendersTemplateFileLikePython) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  test::TempDir dir;
  auto conv = write_conversation(dir, "tool-calls-parallel");
  auto tpl = test::shared_dir() / "templates/Qwen3-0.6B.jinja";
  auto r = parley("template --template " + q(tpl) + " --input " + q(conv) + " --bos '<s>' --eos '</s>'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, golden("Qwen3-0.6B", "tool-calls-parallel", true));
  r = parley("template --template " + q(tpl) + " --input " + q(conv) +
             " --bos '<s>' --eos '</s>' --no-generation-prompt --ir");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, golden("Qwen3-0.6B", "tool-calls-parallel", false));
}

TEST(TemplateCli, ReadsTemplateAndTokensFromGguf) {
  PARLEY_REQUIRE_SHARED("models/llama-2-tiny-random.gguf");
  PARLEY_REQUIRE_SHARED("templates/Llama-3.1-8B-Instruct.jinja");
  test::TempDir dir;
  auto model = dir / "m.gguf";
  auto made = parley("make-model -q -o " + q(model) + " --vocab-from " +
                     q(test::shared_dir() / "models/llama-2-tiny-random.gguf") + " --template " +
                     q(test::shared_dir() / "templates/Llama-3.1-8B-Instruct.jinja"));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto conv = write_conversation(dir, "tool-call");
  auto r = parley("template -m " + q(model) + " --input " + q(conv) + " --now 2025-06-15T10:30:00");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // llama-2-tiny-random's BOS is "<s>", the token text the goldens use.
  EXPECT_EQ(r.out, golden("Llama-3.1-8B-Instruct", "tool-call", true));
  r = parley("template -m " + q(model) + " --capabilities");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto caps = json::parse(r.out);
  ASSERT_TRUE(caps.ok()) << r.out;
  EXPECT_TRUE(caps->find("tool_calls")->as_bool());
  EXPECT_FALSE(caps->find("parallel_tool_calls")->as_bool());
}

TEST(TemplateCli, ErrorsAreOneLine) {
  PARLEY_REQUIRE_SHARED("templates/gemma-2-2b-it.jinja");
  test::TempDir dir;
  auto conv = write_conversation(dir, "system-user");
  auto r = parley("template --template " + q(test::shared_dir() / "templates/gemma-2-2b-it.jinja") +
                  " --input " + q(conv));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("template raised at line 1: System role not supported"), std::string::npos) << r.err;
  test::write_file(dir / "bad.jinja", "{% for x in %}");
  r = parley("template --template " + q(dir / "bad.jinja") + " --input " + q(conv));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("template syntax error at line 1"), std::string::npos) << r.err;
  r = parley("template --input " + q(conv));
  EXPECT_EQ(r.exit_code, 1);
  r = parley("template --template " + q(dir / "bad.jinja"));
  EXPECT_EQ(r.exit_code, 1);
}

TEST(TemplateCli, VarsOverrideInput) {
  test::TempDir dir;
  test::write_file(dir / "t.jinja", "{{ a }}|{{ b }}|{{ add_generation_prompt }}|{{ messages|length }}");
  test::write_file(dir / "c.json", R"({"messages": [], "a": 1, "b": "x"})");
  auto r = parley("template --template " + q(dir / "t.jinja") + " --input " + q(dir / "c.json") +
                  " --var b=[1,2] --var a=plain --no-generation-prompt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plain|[1, 2]|False|0");
}

}  // namespace
}  // namespace parley
