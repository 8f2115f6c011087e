// Pieces shared by the Hugging Face importers (hf-import.cpp, spm-import.cpp,
// tiktoken-import.cpp): added tokens, tokenizer_config.json, the folder layout.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "tokenizer/vocab-spec.h"

namespace parley::tokenizer::hf {

namespace fs = std::filesystem;

struct Added {
  int64_t id;
  std::string content;
  bool special;
};

// A parsed JSON file (the error names the file).
Result<json::Value> read_json(const fs::path& path);

std::string string_field(const json::Value& v, const char* key);

// llama.cpp's converter treats these as control tokens even when not marked special.
bool looks_special(std::string_view token);

// tokenizer_config.json's added_tokens_decoder ({"<id>": {"content": ..., "special": ...}}).
Result<std::vector<Added>> added_tokens_decoder(const json::Value& config, const fs::path& path);

// Applies tokenizer_config.json (and special_tokens_map.json beside it): bos/eos/unk/pad by
// text, add_bos/add_eos, add_prefix_space, the chat template. ids: token text -> id.
Status apply_config(VocabSpec& spec, const fs::path& dir,
                    const std::unordered_map<std::string, int64_t>& ids);

// Lays out tokens by id; ids nobody claims become unused "[PADn]" tokens (as llama.cpp does).
Status build_tokens(VocabSpec& spec, const std::unordered_map<std::string, int64_t>& ids,
                    const std::vector<Added>& added);

// SentencePiece tokenizer.model (protobuf) -> "llama" vocabulary, as llama.cpp's converter
// builds it (pieces, scores, types, then added_tokens.json and added_tokens_decoder).
Result<VocabSpec> from_sentencepiece(const fs::path& model_path);

// tiktoken "BPE ranks" tokenizer.model (Llama 3/4) -> "gpt2" vocabulary with merges derived
// from the ranks.
Result<VocabSpec> from_tiktoken(const fs::path& model_path, std::string_view text);

// True when the file starts like a tiktoken ranks file (base64, space, number).
bool looks_like_tiktoken(std::string_view text);

}  // namespace parley::tokenizer::hf
