// Golden renders made by tools/chat-template-goldens.py with Python jinja2 in transformers'
// configuration: every template of ../shared/templates over the conversation matrix, plus the
// feature snippets. Our engine must produce the same bytes, and raise where Python raised.
#include <gtest/gtest.h>

#include <ctime>

#include "base/json.h"
#include "chat/jinja/template.h"
#include "chat/template-test-data.h"
#include "support/test-support.h"

namespace parley::chat::jinja {
namespace {

const std::filesystem::path kData = test_data::templates_dir();
using test_data::golden_now;
using test_data::load_json;

struct Outcome {
  int cases = 0, equal = 0, errors = 0, errors_matched = 0;
};

// Checks one render against Python's result (output, or error type + message).
void check(const Result<std::string>& out, const TemplateError& err, const json::Value& expect,
           const std::string& what, Outcome& o) {
  o.cases++;
  if (const json::Value* error = expect.find("error")) {
    o.errors++;
    if (out.ok()) {
      ADD_FAILURE() << what << ": Python raised " << error->as_string() << " ("
                    << expect.find("message")->as_string() << ") but we rendered";
      return;
    }
    // raise_exception's message is the template's own text: it must match exactly.
    if (error->as_string() == "TemplateError") {
      EXPECT_EQ(err.kind, ErrorKind::raised) << what << ": " << out.error().message;
      EXPECT_EQ(err.message, expect.find("message")->as_string()) << what;
      if (err.kind != ErrorKind::raised || err.message != expect.find("message")->as_string()) return;
    }
    o.errors_matched++;
    o.equal++;
    return;
  }
  if (!out.ok()) {
    ADD_FAILURE() << what << ": " << out.error().message;
    return;
  }
  EXPECT_EQ(*out, expect.find("output")->as_string()) << what;
  if (*out == expect.find("output")->as_string()) o.equal++;
}

TEST(JinjaGolden, TemplatesOverConversationMatrix) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  json::Value convs = load_json(kData / "conversations.json");
  const json::Value& conversations = *convs.find("conversations");
  Outcome o;
  int templates = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kData / "renders")) {
    json::Value golden = load_json(entry.path());
    const std::string name = golden.find("template")->as_string();
    auto src_path = test::shared_dir() / "templates" / name;
    if (!std::filesystem::exists(src_path)) {
      ADD_FAILURE() << "golden for " << name << " but ../shared/templates/" << name << " is missing";
      continue;
    }
    templates++;
    auto tpl = Template::parse(test::read_file(src_path));
    ASSERT_TRUE(tpl.ok()) << name << ": " << tpl.error().message;
    const json::Array& outputs = golden.find("outputs")->as_array();
    for (const auto& c : golden.find("cases")->as_array()) {
      const std::string conv_name = c.find("conversation")->as_string();
      const json::Value& conv = *conversations.find(conv_name);
      Variables vars;
      vars.emplace_back("messages", from_json(*conv.find("messages")));
      const json::Value* tools = conv.find("tools");
      const json::Value* docs = conv.find("documents");
      vars.emplace_back("tools", tools ? from_json(*tools) : Value::none());
      vars.emplace_back("documents", docs ? from_json(*docs) : Value::none());
      bool agp = c.find("add_generation_prompt")->as_bool();
      vars.emplace_back("add_generation_prompt", Value::boolean(agp));
      vars.emplace_back("bos_token", Value::string(golden.find("bos_token")->as_string()));
      vars.emplace_back("eos_token", Value::string(golden.find("eos_token")->as_string()));
      std::string what = name + " / " + conv_name + (agp ? " +gen" : " -gen");
      if (const json::Value* t = c.find("enable_thinking")) {
        vars.emplace_back("enable_thinking", Value::boolean(t->as_bool()));
        what += t->as_bool() ? " thinking=true" : " thinking=false";
      }
      RenderOptions opt;
      opt.now_unix_seconds = golden_now();
      TemplateError err;
      auto out = tpl->render(vars, opt, &err);
      json::Value expect = json::Value::object();
      if (const json::Value* idx = c.find("output")) {
        expect["output"] = outputs[static_cast<size_t>(idx->as_int())];
      } else {
        expect["error"] = *c.find("error");
        expect["message"] = *c.find("message");
      }
      check(out, err, expect, what, o);
    }
  }
  std::printf("golden renders: %d templates, %d/%d cases equal (%d/%d Python errors raised)\n",
              templates, o.equal, o.cases, o.errors_matched, o.errors);
  EXPECT_GE(templates, 70);
  EXPECT_EQ(o.equal, o.cases);
}

TEST(JinjaGolden, FeatureSnippets) {
  json::Value snippets = load_json(kData / "snippets.json");
  Outcome o;
  for (const auto& s : snippets.as_array()) {
    const std::string name = s.find("name")->as_string();
    auto tpl = Template::parse(s.find("template")->as_string());
    if (!tpl.ok()) {
      Result<std::string> failed = tpl.error();
      check(failed, TemplateError{ErrorKind::syntax, tpl.error().message, 0}, s, name, o);
      continue;
    }
    Variables vars;
    for (const auto& [k, v] : s.find("context")->as_object()) vars.emplace_back(k, from_json(v));
    RenderOptions opt;
    opt.now_unix_seconds = golden_now();
    TemplateError err;
    auto out = tpl->render(vars, opt, &err);
    check(out, err, s, name, o);
  }
  std::printf("snippets: %d/%d equal (%d/%d Python errors raised)\n", o.equal, o.cases,
              o.errors_matched, o.errors);
  EXPECT_EQ(o.equal, o.cases);
}

}  // namespace
}  // namespace parley::chat::jinja
