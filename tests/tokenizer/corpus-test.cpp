// The committed corpus (tests/data/tokenizer/corpus, built by tools/build-tokenizer-corpus.py):
// code, JSON, Claude Code prompts, many scripts, emoji, white space shapes and random strings,
// with the ids llama.cpp gives them for 15 vocabularies. Every input must match exactly.
#include <gtest/gtest.h>

#include "base/json.h"
#include "support/test-support.h"
#include "tokenizer/shared-tokenizers.h"

namespace parley::tokenizer {
namespace {

namespace fs = std::filesystem;

// Vocabularies of shared-tokenizers.h with ids in the corpus (<name>.ids).
const char* const kVocabs[] = {"llama-spm", "phi-3",          "baichuan", "gpt-2",   "gpt-neox",
                               "deepseek-llm", "deepseek-coder", "falcon", "starcoder", "mpt",
                               "refact",    "qwen2.5",        "smollm2",  "llama-3", "mistral-v0.3"};

fs::path corpus_dir() { return test::source_dir() / "tests/data/tokenizer/corpus"; }

std::vector<std::string> read_inputs() {
  auto doc = json::parse(test::read_file(corpus_dir() / "inputs.json"));
  EXPECT_TRUE(doc.ok());
  std::vector<std::string> out;
  if (!doc.ok() || !doc->is_array()) return out;
  for (const auto& v : doc->as_array()) out.push_back(v.as_string());
  return out;
}

// LEB128 varints: per input, the count and then the ids.
std::vector<std::vector<TokenId>> read_ids(const fs::path& path, size_t n_inputs) {
  std::string data = test::read_file(path);
  size_t pos = 0;
  auto next = [&]() -> uint64_t {
    uint64_t v = 0;
    for (int shift = 0; pos < data.size(); shift += 7) {
      auto b = static_cast<unsigned char>(data[pos++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  };
  std::vector<std::vector<TokenId>> out(n_inputs);
  for (auto& ids : out) {
    uint64_t n = next();
    for (uint64_t i = 0; i < n && pos < data.size(); i++) ids.push_back(static_cast<TokenId>(next()));
  }
  EXPECT_EQ(pos, data.size()) << path;
  return out;
}

class Corpus : public ::testing::TestWithParam<const char*> {};

TEST_P(Corpus, MatchesLlamaCpp) {
  const test_vocabs::Entry* v = test_vocabs::find(GetParam());
  ASSERT_NE(v, nullptr);
  PARLEY_REQUIRE_SHARED(std::string("tokenizers/") + v->path);
  std::string error;
  const Tokenizer* tok = test_vocabs::get(*v, &error);
  ASSERT_NE(tok, nullptr) << error;
  auto inputs = read_inputs();
  ASSERT_GT(inputs.size(), 500u);
  auto want = read_ids(corpus_dir() / (std::string(v->name) + ".ids"), inputs.size());
  size_t pass = 0, tokens = 0, bytes = 0, shown = 0;
  for (size_t i = 0; i < inputs.size(); i++) {
    auto got = tok->encode(inputs[i]);
    tokens += want[i].size();
    bytes += inputs[i].size();
    if (got == want[i]) {
      pass++;
    } else if (shown++ < 3) {
      size_t k = 0;
      while (k < got.size() && k < want[i].size() && got[k] == want[i][k]) k++;
      ADD_FAILURE() << v->name << ": input " << i << " differs at token " << k << " (want "
                    << (k < want[i].size() ? want[i][k] : -1) << ", got "
                    << (k < got.size() ? got[k] : -1) << "): \"" << inputs[i].substr(0, 200) << "\"";
    }
  }
  std::printf("[ corpus   ] %-15s %zu/%zu inputs (%zu bytes, %zu tokens)\n", v->name, pass,
              inputs.size(), bytes, tokens);
  EXPECT_EQ(pass, inputs.size());
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, Corpus, ::testing::ValuesIn(kVocabs),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string n = p.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace parley::tokenizer
