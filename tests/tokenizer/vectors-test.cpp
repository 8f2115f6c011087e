// llama.cpp's tokenizer test vectors (../shared/tokenizers/vectors): every set whose vocabulary
// we have must match 100% (add_special = false, parse_special = false).
#include <gtest/gtest.h>

#include <sstream>

#include "support/test-support.h"
#include "tokenizer/tokenizer.h"

namespace parley::tokenizer {
namespace {

namespace fs = std::filesystem;

struct VectorSet {
  const char* name;     // ggml-vocab-<name>.gguf.{inp,out}
  const char* vocab;    // path under ../shared/tokenizers
  const char* pre;      // forced pre-tokenizer for Hugging Face files ("" = as detected)
};

const VectorSet kSets[] = {
    {"llama-spm", "vectors/gguf/ggml-vocab-llama-spm.gguf", ""},
    {"phi-3", "vectors/gguf/ggml-vocab-phi-3.gguf", ""},
    {"gpt-2", "vectors/gguf/ggml-vocab-gpt-2.gguf", ""},
    {"deepseek-llm", "vectors/gguf/ggml-vocab-deepseek-llm.gguf", ""},
    {"deepseek-coder", "vectors/gguf/ggml-vocab-deepseek-coder.gguf", ""},
    {"falcon", "vectors/gguf/ggml-vocab-falcon.gguf", ""},
    {"starcoder", "vectors/gguf/ggml-vocab-starcoder.gguf", ""},
    {"mpt", "vectors/gguf/ggml-vocab-mpt.gguf", ""},
    {"refact", "vectors/gguf/ggml-vocab-refact.gguf", ""},
    {"qwen2", "Qwen2.5-0.5B-Instruct", ""},
    {"deepseek-r1-qwen", "Qwen2.5-0.5B-Instruct", "deepseek-r1-qwen"},
    {"llama-bpe", "Llama-3/tokenizer.model", ""},
    {"llama-bpe", "Llama-3/ollama-llama3.2-gpt2-format", "llama-bpe"},
    {"llama4", "Llama-4/tokenizer.model", ""},
    {"llama-spm", "Llama-2/tokenizer.model", ""},
    {"phi-3", "Phi-3-mini-4k-instruct", ""},
    {"phi-3", "Phi-3-mini-4k-instruct/tokenizer.json", ""},
    {"gpt-2", "gpt2", ""},
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

Result<Tokenizer> load(const VectorSet& set) {
  fs::path p = test::shared_dir() / "tokenizers" / set.vocab;
  if (p.extension() == ".gguf") return Tokenizer::from_gguf(p.string());
  PARLEY_TRY(VocabSpec spec, vocab_from_hf(p.string()));
  if (*set.pre) spec.pre = set.pre;
  return Tokenizer::from_spec(spec);
}

std::string show(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += " " + std::to_string(id);
  return s;
}

class Vectors : public ::testing::TestWithParam<VectorSet> {};

TEST_P(Vectors, MatchReference) {
  const VectorSet& set = GetParam();
  PARLEY_REQUIRE_SHARED(std::string("tokenizers/") + set.vocab);
  PARLEY_REQUIRE_SHARED(std::string("tokenizers/vectors/ggml-vocab-") + set.name + ".gguf.out");
  auto tok = load(set);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto cases = read_vectors(set.name);
  ASSERT_EQ(cases.size(), 46u);
  size_t pass = 0;
  for (const Case& c : cases) {
    auto ids = tok->encode(c.text);
    if (ids == c.ids) {
      pass++;
    } else {
      ADD_FAILURE() << set.name << " (" << set.vocab << "): text \"" << c.text << "\"\n  want"
                    << show(c.ids) << "\n  got " << show(ids);
    }
  }
  std::printf("[ vectors  ] %-16s %-40s %zu/%zu\n", set.name, set.vocab, pass, cases.size());
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
