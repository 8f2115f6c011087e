// Random walks over real schemas on the Qwen2.5 vocabulary: sample random allowed tokens until
// the grammar is complete, then check every output with an independent validator
// (python3-jsonschema, tests/sampling/validate-samples.py), and check masks against accept() by
// brute force over the whole vocabulary on sampled steps.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "base/rng.h"
#include "grammar-test-util.h"
#include "sampling/grammar-tool-call.h"
#include "support/test-support.h"
#include "tokenizer/tokenizer.h"

namespace parley::sampling {
namespace {

const char* kQwen = "tokenizers/Qwen2.5-0.5B-Instruct";
const char* kCaptures = "docs/claude-code-captures.jsonl";

std::shared_ptr<const TokenVocab> qwen_vocab() {
  static std::shared_ptr<const TokenVocab> v = [] {
    auto tok = tokenizer::Tokenizer::from_hf((parley::test::shared_dir() / kQwen).string());
    EXPECT_TRUE(tok.ok()) << (tok.ok() ? "" : tok.error().message);
    return tok.ok() ? std::make_shared<const TokenVocab>(TokenVocab::from_tokenizer(*tok)) : nullptr;
  }();
  return v;
}

struct NamedSchema {
  std::string name;
  json::Value schema;
};

// Every distinct tools[].input_schema of the captured Claude Code requests.
std::vector<NamedSchema> claude_code_schemas() {
  std::vector<NamedSchema> out;
  std::set<std::string> seen;
  std::ifstream in(parley::test::shared_dir() / kCaptures);
  std::string line;
  while (std::getline(in, line)) {
    auto rec = json::parse(line);
    if (!rec.ok() || !rec->find("body") || !rec->find("body")->is_object()) continue;
    const json::Value& body = *rec->find("body");
    if (!body.find("tools") || !body.find("tools")->is_array()) continue;
    for (const auto& t : body.find("tools")->as_array()) {
      const json::Value* s = t.find("input_schema");
      const json::Value* n = t.find("name");
      if (!s || !n || !n->is_string()) continue;
      if (seen.insert(json::write(*s)).second) out.push_back({n->as_string(), *s});
    }
  }
  return out;
}

bool is_short_symbol(std::string_view b) {
  if (b.empty() || b.size() > 2) return false;
  for (char c : b) {
    if (std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Every token's accept() agrees with the mask.
void expect_mask_consistent(const GrammarMatcher& m, const std::vector<uint32_t>& mask,
                            const std::string& where) {
  const TokenVocab& v = m.compiled().vocab();
  int wrong = 0;
  GrammarMatcher probe = m;
  for (TokenId id = 0; id < v.n_vocab() && wrong < 5; id++) {
    probe = m;
    bool accepted = probe.accept(id);
    if (accepted != mask_allows(mask, id)) {
      wrong++;
      ADD_FAILURE() << where << ": token " << id << " '" << v.bytes(id) << "' mask "
                    << mask_allows(mask, id) << " accept " << accepted;
    }
  }
}

struct Walk {
  std::string text;
  bool complete = false;
};

// The id of the n-th allowed token of the mask (n < number of set bits).
TokenId nth_allowed(const std::vector<uint32_t>& mask, uint64_t n) {
  for (size_t w = 0; w < mask.size(); w++) {
    uint64_t c = static_cast<uint64_t>(__builtin_popcount(mask[w]));
    if (n >= c) {
      n -= c;
      continue;
    }
    uint32_t bits = mask[w];
    for (; n > 0; n--) bits &= bits - 1;
    return static_cast<TokenId>(w * 32 + static_cast<size_t>(__builtin_ctz(bits)));
  }
  return -1;
}

// Random allowed tokens, leaning towards short symbols half the time so values close. (Test
// code is unoptimized: the mask is read word by word, never token by token.)
Walk random_walk(GrammarMatcher m, Rng& rng, size_t max_steps, size_t check_step,
                 const std::string& label) {
  const TokenVocab& v = m.compiled().vocab();
  static std::vector<TokenId> symbol_ids;
  static const TokenVocab* symbols_of = nullptr;
  if (symbols_of != &v) {
    symbol_ids.clear();
    for (TokenId id = 0; id < v.n_vocab(); id++) {
      if (v.kind(id) == TokenVocab::Kind::text && is_short_symbol(v.bytes(id))) symbol_ids.push_back(id);
    }
    symbols_of = &v;
  }
  std::vector<uint32_t> mask(v.n_mask_words());
  Walk w;
  for (size_t step = 0; step < max_steps; step++) {
    m.fill_mask(mask);
    if (step == check_step) expect_mask_consistent(m, mask, label + " step " + std::to_string(step));
    const uint32_t* words = mask.data();
    uint64_t total = 0;
    for (size_t i = 0, n = mask.size(); i < n; i++) total += static_cast<uint64_t>(__builtin_popcount(words[i]));
    uint64_t n_eog = 0;
    for (TokenId id : m.compiled().eog_ids()) n_eog += mask_allows(mask, id) ? 1 : 0;
    bool can_end = n_eog > 0;
    EXPECT_EQ(can_end, m.can_end()) << label;
    if (can_end && (total == n_eog || rng.uniform() < 0.5f)) {
      w.complete = true;
      return w;
    }
    if (total == n_eog) {
      ADD_FAILURE() << label << ": dead end after " << w.text;
      return w;
    }
    // Half the time a short symbol: a few random tries (cheap in unoptimized test code).
    TokenId pick = -1;
    if (rng.uniform() < 0.5f) {
      for (int tries = 0; tries < 200 && pick < 0; tries++) {
        TokenId id = symbol_ids[rng.next_u64() % symbol_ids.size()];
        if ((words[id >> 5] >> (id & 31)) & 1) pick = id;
      }
    }
    while (pick < 0 || m.compiled().is_eog(pick)) pick = nth_allowed(mask, rng.next_u64() % total);
    if (!m.accept(pick)) {
      ADD_FAILURE() << label << ": mask allowed " << pick << " but accept refused after " << w.text;
      return w;
    }
    w.text += v.bytes(pick);
  }
  return w;
}

// Writes the samples, runs the validator, and fails with its report.
void validate_with_python(const std::vector<std::pair<std::string, json::Value>>& samples_meta,
                          const std::vector<std::string>& texts) {
  parley::test::TempDir dir;
  std::string lines;
  for (size_t i = 0; i < texts.size(); i++) {
    json::Value rec = json::Value::object();
    rec["label"] = samples_meta[i].first;
    rec["schema"] = samples_meta[i].second;
    rec["instance_text"] = texts[i];
    lines += json::write(rec) + "\n";
  }
  parley::test::write_file(dir / "samples.jsonl", lines);
  std::string script = (parley::test::source_dir() / "tests/sampling/validate-samples.py").string();
  auto r = parley::test::run_command("python3 " + parley::test::shell_quote(script) + " " +
                                     parley::test::shell_quote((dir / "samples.jsonl").string()));
  if (r.exit_code == 2 || r.exit_code == 127) {
    GTEST_SKIP() << "SKIPPED: independent validation needs python3-jsonschema (scripts/setup.sh): "
                 << r.err;
  }
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << "[validator] " << r.out.substr(r.out.rfind("validated") == std::string::npos ? 0 : r.out.rfind("validated"));
}

TEST(GrammarWalk, ClaudeCodeToolSchemasValidateIndependently) {
  PARLEY_REQUIRE_SHARED(kQwen);
  PARLEY_REQUIRE_SHARED(kCaptures);
  auto vocab = qwen_vocab();
  ASSERT_TRUE(vocab);
  auto schemas = claude_code_schemas();
  ASSERT_GE(schemas.size(), 20u);
  Rng rng(20261202);
  std::vector<std::pair<std::string, json::Value>> meta;
  std::vector<std::string> texts;
  size_t incomplete = 0;
  for (size_t i = 0; i < schemas.size(); i++) {
    SchemaOptions o;
    o.path = "tools." + std::to_string(i) + ".input_schema";
    auto g = compile_json_schema(schemas[i].schema, o);
    ASSERT_TRUE(g.ok()) << schemas[i].name << ": " << g.error().message;
    auto cg = std::make_shared<const CompiledGrammar>(std::move(g->grammar), vocab);
    for (int k = 0; k < 100; k++) {
      std::string label = schemas[i].name + " walk " + std::to_string(k);
      size_t check = k == 0 ? 1 + rng.next_u64() % 30 : SIZE_MAX;
      Walk w = random_walk(GrammarMatcher(cg), rng, 1500, check, label);
      if (!w.complete) {
        incomplete++;
        continue;
      }
      EXPECT_TRUE(json::parse(w.text).ok()) << label << ": " << w.text;
      meta.push_back({label, schemas[i].schema});
      texts.push_back(w.text);
    }
  }
  EXPECT_LE(incomplete, texts.size() / 20) << "walks that hit the step limit";
  validate_with_python(meta, texts);
}

// The feature schemas of json-schema-test.cpp, walked on the real vocabulary and validated.
TEST(GrammarWalk, FeatureSchemasValidateIndependently) {
  PARLEY_REQUIRE_SHARED(kQwen);
  auto vocab = qwen_vocab();
  ASSERT_TRUE(vocab);
  const char* schemas[] = {
      R"({"type": "integer", "minimum": -15, "maximum": 27})",
      R"({"type": "integer", "minimum": 123, "maximum": 4567})",
      R"({"type": "number", "minimum": -2, "maximum": 3})",
      R"({"type": "number"})",
      R"({"type": "string", "minLength": 2, "maxLength": 5})",
      R"({"type": "string", "format": "date-time"})",
      R"({"type": "string", "format": "uuid"})",
      R"({"type": "string", "pattern": "^wf_[a-z0-9-]{6,}$"})",
      R"({"type": "string", "pattern": "^(\\d{3}|x)\\.[^\\s\"]{0,3}$"})",
      R"({"type": "object", "properties": {"ab": {"type": "integer"}}, "additionalProperties": {"type": "string"}})",
      R"({"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "null"}, "minItems": 2, "maxItems": 4})",
      R"({"$defs": {"n": {"type": "object", "properties": {"v": {"type": "integer"}, "k": {"type": "array",
          "items": {"$ref": "#/$defs/n"}, "maxItems": 2}}, "required": ["v"], "additionalProperties": false}}, "$ref": "#/$defs/n"})",
      R"({"anyOf": [{"type": "string", "enum": ["pending", "in_progress"]}, {"type": "string", "const": "deleted"}, {"type": "null"}]})",
      R"({"type": ["string", "integer", "boolean"]})",
  };
  Rng rng(7);
  std::vector<std::pair<std::string, json::Value>> meta;
  std::vector<std::string> texts;
  for (const char* s : schemas) {
    auto schema = json::parse(s);
    ASSERT_TRUE(schema.ok()) << s;
    auto g = compile_json_schema(*schema, {});
    ASSERT_TRUE(g.ok()) << s << ": " << g.error().message;
    auto cg = std::make_shared<const CompiledGrammar>(std::move(g->grammar), vocab);
    for (int k = 0; k < 100; k++) {
      Walk w = random_walk(GrammarMatcher(cg), rng, 1500, k == 0 ? 2 : SIZE_MAX, s);
      if (!w.complete) continue;
      meta.push_back({s, *schema});
      texts.push_back(w.text);
    }
  }
  EXPECT_GE(texts.size(), 14u * 90u);
  validate_with_python(meta, texts);
}

// Tool calls in Qwen's syntax, lazily triggered, on the Claude Code tools: each call's arguments
// validate against its tool's schema.
TEST(GrammarWalk, LazyToolCallsOnTheRealVocabulary) {
  PARLEY_REQUIRE_SHARED(kQwen);
  PARLEY_REQUIRE_SHARED(kCaptures);
  auto vocab = qwen_vocab();
  ASSERT_TRUE(vocab);
  auto schemas = claude_code_schemas();
  std::vector<chat::Tool> tools;
  std::set<std::string> names;
  for (const auto& s : schemas) {
    if (!names.insert(s.name).second) continue;
    tools.push_back({s.name, "", s.schema});
  }
  chat::CallSyntax qwen;
  qwen.begin = "<tool_call>\n";
  qwen.call_prefix = "{\"name\": \"";
  qwen.name_suffix = "\", \"arguments\": ";
  qwen.call_suffix = "}";
  qwen.separator = "\n</tool_call>\n<tool_call>\n";
  qwen.end = "\n</tool_call>";
  qwen.triggers = {"<tool_call>"};
  ToolGrammarOptions to;
  to.parallel = false;
  auto g = tool_call_grammar(qwen, tools, to);
  ASSERT_TRUE(g.ok()) << g.error().message;
  MatcherOptions mo;
  mo.lazy_triggers = qwen.triggers;
  mo.trigger_in_grammar = true;
  mo.return_to_free = false;
  auto cg = std::make_shared<const CompiledGrammar>(std::move(*g), vocab, mo);
  Rng rng(99);
  std::vector<std::pair<std::string, json::Value>> meta;
  std::vector<std::string> texts;
  for (int k = 0; k < 60; k++) {
    GrammarMatcher m(cg);
    ASSERT_TRUE(m.accept_bytes("I will call a tool.\n"));
    EXPECT_FALSE(m.engaged());
    ASSERT_TRUE(m.accept_bytes("<tool_call>"));
    ASSERT_TRUE(m.engaged());
    Walk w = random_walk(m, rng, 2000, k == 0 ? 12 : SIZE_MAX, "lazy walk");
    if (!w.complete) continue;
    ASSERT_EQ(w.text.rfind("\n{\"name\": \"", 0), 0u) << w.text;
    std::string call = w.text.substr(1, w.text.size() - 1 - std::string("\n</tool_call>").size());
    auto parsed = json::parse(call);
    ASSERT_TRUE(parsed.ok()) << call;
    std::string name = parsed->find("name")->as_string();
    for (const auto& t : tools) {
      if (t.name == name) meta.push_back({"lazy " + name, t.parameters});
    }
    texts.push_back(json::write(*parsed->find("arguments")));
  }
  EXPECT_GE(texts.size(), 50u);
  validate_with_python(meta, texts);
}

}  // namespace
}  // namespace parley::sampling
