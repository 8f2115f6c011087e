// llama.cpp's tokenizer test vectors (../shared/tokenizers/vectors): every set whose vocabulary
// we have must match 100% (add_special = false, parse_special = false).
#include <gtest/gtest.h>

#include <sstream>

#include "support/test-support.h"
#include "tokenizer/shared-tokenizers.h"

namespace parley::tokenizer {
namespace {

namespace fs = std::filesystem;

struct VectorSet {
  const char* name;   // ggml-vocab-<name>.gguf.{inp,out}
  const char* vocab;  // a tokenizer of shared-tokenizers.h
};

// deepseek-r1-qwen's vocabulary is Qwen2.5's (pre "deepseek-r1-qwen" is the qwen2 family).
const VectorSet kSets[] = {
    {"llama-spm", "llama-spm"},   {"phi-3", "phi-3"},
    {"gpt-2", "gpt-2"},           {"deepseek-llm", "deepseek-llm"},
    {"deepseek-coder", "deepseek-coder"}, {"falcon", "falcon"},
    {"starcoder", "starcoder"},   {"mpt", "mpt"},
    {"refact", "refact"},         {"qwen2", "qwen2.5"},
    {"deepseek-r1-qwen", "qwen2.5"}, {"llama-bpe", "llama-3"},
    {"llama4", "llama-4"},        {"llama-spm", "llama-2-hf"},
    {"phi-3", "phi-3-hf"},        {"phi-3", "phi-3-json"},
    {"gpt-2", "gpt2-hf"},
};

struct Case {
  std::string text;
  std::vector<TokenId> ids;
};

std::vector<Case> read_vectors(const std::string& name) {
  fs::path dir = test::shared_dir() / "tokenizers/vectors";
  std::string inp = test::read_file(dir / ("ggml-vocab-" + name + ".gguf.inp"));
  std::string out = test::read_file(dir / ("ggml-vocab-" + name + ".gguf.out"));
  std::vector<Case> cases;
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < inp.size();) {
    size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    cases.push_back({inp.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (Case& c : cases) {
    if (!std::getline(lines, line)) break;
    std::istringstream nums(line);
    long v;
    while (nums >> v) c.ids.push_back(static_cast<TokenId>(v));
  }
  return cases;
}

std::string show(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += " " + std::to_string(id);
  return s;
}

class Vectors : public ::testing::TestWithParam<VectorSet> {};

TEST_P(Vectors, MatchReference) {
  const VectorSet& set = GetParam();
  const test_vocabs::Entry* entry = test_vocabs::find(set.vocab);
  ASSERT_NE(entry, nullptr);
  PARLEY_REQUIRE_SHARED(std::string("tokenizers/") + entry->path);
  PARLEY_REQUIRE_SHARED(std::string("tokenizers/vectors/ggml-vocab-") + set.name + ".gguf.out");
  std::string error;
  const Tokenizer* tok = test_vocabs::get(*entry, &error);
  ASSERT_NE(tok, nullptr) << error;
  auto cases = read_vectors(set.name);
  ASSERT_EQ(cases.size(), 46u);
  size_t pass = 0;
  for (const Case& c : cases) {
    auto ids = tok->encode(c.text);
    if (ids == c.ids) {
      pass++;
    } else {
      ADD_FAILURE() << set.name << " (" << entry->path << "): text \"" << c.text << "\"\n  want"
                    << show(c.ids) << "\n  got " << show(ids);
    }
  }
  std::printf("[ vectors  ] %-16s %-14s %-40s %zu/%zu\n", set.name, set.vocab, entry->path, pass,
              cases.size());
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, Vectors, ::testing::ValuesIn(kSets),
                         [](const ::testing::TestParamInfo<VectorSet>& p) {
                           std::string n = std::string(p.param.name) + "_" +
                                           std::to_string(p.index);
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace parley::tokenizer
