// The real tokenizers in ../shared, loaded once per test binary.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/test-support.h"
#include "tokenizer/tokenizer.h"

namespace parley::tokenizer::test_vocabs {

struct Entry {
  const char* name;
  const char* path;  // under ../shared/tokenizers: a .gguf or Hugging Face files
};

inline const std::vector<Entry>& all() {
  static const std::vector<Entry> kAll = {
      {"llama-spm", "vectors/gguf/ggml-vocab-llama-spm.gguf"},
      {"phi-3", "vectors/gguf/ggml-vocab-phi-3.gguf"},
      {"baichuan", "vectors/gguf/ggml-vocab-baichuan.gguf"},
      {"gpt-2", "vectors/gguf/ggml-vocab-gpt-2.gguf"},
      {"gpt-neox", "vectors/gguf/ggml-vocab-gpt-neox.gguf"},
      {"deepseek-llm", "vectors/gguf/ggml-vocab-deepseek-llm.gguf"},
      {"deepseek-coder", "vectors/gguf/ggml-vocab-deepseek-coder.gguf"},
      {"falcon", "vectors/gguf/ggml-vocab-falcon.gguf"},
      {"starcoder", "vectors/gguf/ggml-vocab-starcoder.gguf"},
      {"mpt", "vectors/gguf/ggml-vocab-mpt.gguf"},
      {"refact", "vectors/gguf/ggml-vocab-refact.gguf"},
      {"qwen2.5", "Qwen2.5-0.5B-Instruct"},
      {"smollm2", "SmolLM2-135M-Instruct/tokenizer.json"},
      {"llama-3", "Llama-3/tokenizer.model"},
      {"llama-4", "Llama-4/tokenizer.model"},
      {"mistral-v0.3", "Mistral-7B-Instruct-v0.3"},
      {"mistral-v0.3-json", "Mistral-7B-Instruct-v0.3/tokenizer.json"},
      {"phi-4", "phi-4"},
      {"gpt2-hf", "gpt2"},
      {"llama-2-hf", "Llama-2/tokenizer.model"},
      {"phi-3-hf", "Phi-3-mini-4k-instruct"},
      {"phi-3-json", "Phi-3-mini-4k-instruct/tokenizer.json"},
  };
  return kAll;
}

inline const Entry* find(std::string_view name) {
  for (const Entry& e : all()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

// nullptr when ../shared (or the file) is missing, or on a load error (then *error says why).
inline const Tokenizer* get(const Entry& e, std::string* error = nullptr) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(e.name);
  if (it != cache.end()) return it->second.get();
  std::filesystem::path p = test::shared_dir() / "tokenizers" / e.path;
  if (test::shared_dir().empty() || !std::filesystem::exists(p)) return nullptr;
  auto tok = p.extension() == ".gguf" ? Tokenizer::from_gguf(p.string()) : Tokenizer::from_hf(p.string());
  if (!tok) {
    if (error) *error = tok.error().message;
    return nullptr;
  }
  auto& slot = cache[e.name];
  slot = std::make_unique<Tokenizer>(std::move(tok).value());
  return slot.get();
}

}  // namespace parley::tokenizer::test_vocabs
