// VocabSpec: a tokenizer's data exactly as GGUF stores it under tokenizer.ggml.* — the common
// form that GGUF files and Hugging Face tokenizer files are both lowered to. The runtime
// tokenizer is built from it; make-model writes it into new GGUF files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gguf/gguf.h"

namespace parley::gguf {
class Writer;
}

namespace parley::tokenizer {

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct VocabSpec {
  std::string model;                 // "llama" (SentencePiece), "gpt2" (byte-level BPE), ...
  std::string pre;                   // pre-tokenizer family ("llama-bpe", "qwen2", ...); may be empty
  std::vector<std::string> tokens;
  std::vector<float> scores;         // may be empty (BPE)
  std::vector<int32_t> token_types;  // may be empty
  std::vector<std::string> merges;   // "a b" per merge, by rank (BPE)
  std::optional<int64_t> bos_id, eos_id, unk_id, pad_id, sep_id, eot_id, eom_id;
  // Fill-in-the-middle and mask tokens (tokenizer.ggml.fim_*_token_id, mask_token_id).
  std::optional<int64_t> fim_pre_id, fim_suf_id, fim_mid_id, fim_pad_id, fim_rep_id, fim_sep_id,
      mask_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
  std::string chat_template;         // empty when absent
  // general.name of the file (not written by write_vocab): llama.cpp keys a few token
  // attributes on it (Phi-3 strips white space after its special tokens).
  std::string name;

  size_t size() const { return tokens.size(); }
};

// Reads tokenizer.ggml.* (and tokenizer.chat_template) from a GGUF file, checking every array
// length and id against the vocabulary ("tokenizer.ggml.scores has 10 entries, expected 512").
Result<VocabSpec> vocab_from_gguf(const gguf::File& file);

// Reads Hugging Face tokenizer files: a tokenizer.json path, or a directory holding
// tokenizer.json, or vocab.json + merges.txt; tokenizer_config.json beside them supplies
// special tokens, add_bos/add_eos and the chat template.
Result<VocabSpec> vocab_from_hf(const std::string& path);

// Writes the spec as tokenizer.ggml.* keys (and tokenizer.chat_template when not empty).
void write_vocab(gguf::Writer& writer, const VocabSpec& spec);

}  // namespace parley::tokenizer
