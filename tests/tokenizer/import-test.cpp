// Hugging Face / SentencePiece / tiktoken imports agree with the GGUF vocabularies llama.cpp's
// converter wrote from the same files; pre-tokenizer identification; EOG sets of real models;
// broken files give errors.
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "support/test-support.h"
#include "tokenizer/shared-tokenizers.h"
#include "tokenizer/tokenizer.h"

namespace parley::tokenizer {
namespace {

namespace fs = std::filesystem;

std::string shared(const std::string& rel) { return (test::shared_dir() / "tokenizers" / rel).string(); }

VocabSpec from_gguf_file(const std::string& path) {
  auto f = gguf::File::open(path);
  EXPECT_TRUE(f.ok());
  auto v = vocab_from_gguf(*f);
  EXPECT_TRUE(v.ok()) << v.error().message;
  return std::move(v).value();
}

TEST(Import, SentencePieceModelEqualsLlamaSpmGguf) {
  PARLEY_REQUIRE_SHARED("tokenizers/Llama-2/tokenizer.model");
  PARLEY_REQUIRE_SHARED("tokenizers/vectors/gguf/ggml-vocab-llama-spm.gguf");
  auto hf = vocab_from_hf(shared("Llama-2/tokenizer.model"));
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  VocabSpec gg = from_gguf_file(shared("vectors/gguf/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(hf->model, "llama");
  EXPECT_EQ(hf->tokens, gg.tokens);
  EXPECT_EQ(hf->scores, gg.scores);
  EXPECT_EQ(hf->token_types, gg.token_types);
  EXPECT_EQ(hf->bos_id, gg.bos_id);
  EXPECT_EQ(hf->eos_id, gg.eos_id);
}

TEST(Import, Phi3FolderEqualsPhi3Gguf) {
  PARLEY_REQUIRE_SHARED("tokenizers/Phi-3-mini-4k-instruct/tokenizer.model");
  PARLEY_REQUIRE_SHARED("tokenizers/vectors/gguf/ggml-vocab-phi-3.gguf");
  auto hf = vocab_from_hf(shared("Phi-3-mini-4k-instruct"));
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  VocabSpec gg = from_gguf_file(shared("vectors/gguf/ggml-vocab-phi-3.gguf"));
  // The GGUF pads to the model's 32064 rows (config.json, which the folder lacks); the 32000
  // pieces and the 11 added tokens agree, text and type.
  ASSERT_EQ(hf->tokens.size(), 32011u);
  ASSERT_EQ(gg.tokens.size(), 32064u);
  EXPECT_TRUE(std::equal(hf->tokens.begin(), hf->tokens.end(), gg.tokens.begin()));
  EXPECT_TRUE(std::equal(hf->token_types.begin(), hf->token_types.end(), gg.token_types.begin()));
  EXPECT_EQ(hf->eos_id, gg.eos_id);  // <|endoftext|>
}

TEST(Import, TiktokenMergesEqualGpt2Export) {
  PARLEY_REQUIRE_SHARED("tokenizers/Llama-3/tokenizer.model");
  PARLEY_REQUIRE_SHARED("tokenizers/Llama-3/ollama-llama3.2-gpt2-format/vocab.bpe");
  auto tk = vocab_from_hf(shared("Llama-3/tokenizer.model"));
  ASSERT_TRUE(tk.ok()) << tk.error().message;
  auto gp = vocab_from_hf(shared("Llama-3/ollama-llama3.2-gpt2-format"));
  ASSERT_TRUE(gp.ok()) << gp.error().message;
  EXPECT_EQ(tk->pre, "llama-bpe");
  ASSERT_EQ(tk->tokens.size(), 128256u);  // + the 256 special tokens of tokenizer_config.json
  ASSERT_EQ(gp->tokens.size(), 128000u);
  EXPECT_TRUE(std::equal(gp->tokens.begin(), gp->tokens.end(), tk->tokens.begin()));
  EXPECT_EQ(tk->merges.size(), 280147u);
  EXPECT_EQ(tk->merges, gp->merges);
  EXPECT_EQ(tk->tokens[128000], "<|begin_of_text|>");
  EXPECT_EQ(tk->token_types[128009], static_cast<int32_t>(TokenType::control));
  EXPECT_EQ(tk->bos_id, 128000);
  EXPECT_EQ(tk->eos_id, 128009);
}

TEST(Import, PreTokenizerIdentified) {
  // Loaded once for all tests (shared-tokenizers.h).
  struct Case {
    const char* name;
    const char* pre;
  } cases[] = {{"qwen2.5", "qwen2"}, {"smollm2", "smollm"}, {"gpt2-hf", "gpt-2"},
               {"llama-4", "llama4"}, {"llama-3", "llama-bpe"}};
  for (const Case& c : cases) {
    const test_vocabs::Entry* e = test_vocabs::find(c.name);
    ASSERT_NE(e, nullptr);
    std::string error;
    const Tokenizer* t = test_vocabs::get(*e, &error);
    if (t == nullptr) {
      EXPECT_TRUE(error.empty()) << error;
      continue;
    }
    EXPECT_EQ(t->pre(), c.pre) << c.name;
    EXPECT_EQ(t->model(), "gpt2") << c.name;
  }
  // A folder with tokenizer.json uses it (its pre-tokenizer section names the family).
  if (fs::exists(shared("SmolLM2-135M-Instruct"))) {
    auto v = vocab_from_hf(shared("SmolLM2-135M-Instruct"));
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(v->pre, "smollm");
  }
}

TEST(Import, MistralUsesSentencePieceScores) {
  PARLEY_REQUIRE_SHARED("tokenizers/Mistral-7B-Instruct-v0.3/tokenizer.model");
  auto folder = vocab_from_hf(shared("Mistral-7B-Instruct-v0.3"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  auto json_only = vocab_from_hf(shared("Mistral-7B-Instruct-v0.3/tokenizer.json"));
  ASSERT_TRUE(json_only.ok()) << json_only.error().message;
  EXPECT_EQ(folder->model, "llama");
  EXPECT_EQ(json_only->model, "llama");
  ASSERT_EQ(folder->tokens.size(), 32768u);
  EXPECT_EQ(folder->tokens, json_only->tokens);
  EXPECT_EQ(folder->token_types[3], static_cast<int32_t>(TokenType::control));  // [INST]
  EXPECT_EQ(folder->token_types[771], static_cast<int32_t>(TokenType::byte));   // <0x00>
  // The scores differ (real SentencePiece scores vs merge ranks) but both tokenize alike.
  auto a = Tokenizer::from_spec(*folder);
  auto b = Tokenizer::from_spec(*json_only);
  ASSERT_TRUE(a.ok() && b.ok());
  for (const char* text : {"Hello world, how are you?", "  indented\n\tcode()", "Grüße 世界 🦙",
                           "[INST] What? [/INST]"}) {
    EXPECT_EQ(a->encode(text), b->encode(text)) << text;
  }
}

TEST(Import, EndOfGenerationSets) {
  struct Case {
    const char* name;
    std::vector<TokenId> eog;
  } cases[] = {
      // Qwen's normal token 128247 "</s>" is on llama.cpp's list of end tokens too.
      {"qwen2.5", {128247, 151643, 151645, 151662, 151663, 151664}},
      {"llama-3", {128001, 128008, 128009}},
      {"smollm2", {0, 2, 4}},  // 4 <reponame>: the FIM repository token
      {"gpt-2", {50256}},
      {"llama-spm", {2}},
      {"phi-3", {2, 32000, 32007}},
  };
  for (const Case& c : cases) {
    for (const auto& e : test_vocabs::all()) {
      if (e.name != std::string(c.name)) continue;
      std::string error;
      const Tokenizer* t = test_vocabs::get(e, &error);
      if (t == nullptr) {
        EXPECT_TRUE(error.empty()) << error;
        continue;
      }
      EXPECT_EQ(t->eog_ids(), c.eog) << c.name;
      for (TokenId id : c.eog) EXPECT_TRUE(t->is_eog(id) && t->is_control(id)) << c.name << " " << id;
    }
  }
}

TEST(Import, VocabSurvivesGgufRoundTrip) {
  PARLEY_REQUIRE_SHARED("tokenizers/Qwen2.5-0.5B-Instruct/vocab.json");
  auto v = vocab_from_hf(shared("Qwen2.5-0.5B-Instruct"));
  ASSERT_TRUE(v.ok());
  v->fim_pad_id = 151662;
  gguf::Writer w;
  write_vocab(w, *v);
  test::TempDir dir;
  ASSERT_TRUE(w.write((dir / "v.gguf").string()).ok());
  auto back = Tokenizer::from_gguf((dir / "v.gguf").string());
  ASSERT_TRUE(back.ok()) << back.error().message;
  auto direct = Tokenizer::from_spec(*v);
  ASSERT_TRUE(direct.ok());
  const char* text = "<|im_start|>user\nHello, 世界! 123<|im_end|>";
  EncodeOptions ps;
  ps.parse_special = true;
  EXPECT_EQ(back->encode(text, ps), direct->encode(text, ps));
  EXPECT_EQ(back->eog_ids(), direct->eog_ids());
  EXPECT_EQ(back->pre(), "qwen2");
}

TEST(Import, BrokenFilesGiveErrors) {
  test::TempDir dir;
  auto expect_error = [&](const std::string& name, const std::string& bytes, const char* needle) {
    test::write_file(dir / name, bytes);
    auto v = vocab_from_hf((dir / name).string());
    ASSERT_FALSE(v.ok()) << name;
    EXPECT_NE(v.error().message.find(needle), std::string::npos) << v.error().message;
  };
  expect_error("tokenizer.model", std::string("\x0a\x05\x0a\x03", 4), "invalid SentencePiece model");
  expect_error("tokenizer.model", std::string("\x0a\x80", 2), "truncated varint");
  expect_error("tokenizer.model", "IQ== 0\nIg== 5\n", "line 2");
  expect_error("tokenizer.model", "IQ== 0\n!!!! 1\n", "line 2");
  expect_error("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})", "Unigram");
  expect_error("tokenizer.json", R"({"model": )", "invalid JSON");
  EXPECT_FALSE(vocab_from_hf((dir / "nope").string()).ok());
  fs::create_directories(dir / "empty");
  auto v = vocab_from_hf((dir / "empty").string());
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("no tokenizer.json"), std::string::npos);
}

}  // namespace
}  // namespace parley::tokenizer
