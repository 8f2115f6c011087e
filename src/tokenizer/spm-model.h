// SentencePiece-style BPE (tokenizer.ggml.model = "llama"), as llama.cpp runs it: the text
// (spaces already escaped to U+2581) starts as one symbol per UTF-8 character; the adjacent
// pair whose concatenation is a vocabulary entry with the highest score is merged (the leftmost
// on a tie) until no pair is; a symbol that is not a token falls back to its bytes (<0xNN>).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/string-map.h"

namespace parley::tokenizer {

struct SpmScratch {
  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t size;
  };
  std::vector<uint32_t> start, len;
  std::vector<int32_t> prev, next;
  std::vector<Bigram> heap;
};

class SpmModel {
 public:
  // tokens/scores by id; byte_token[b] is the id for byte b (<0xNN>, or the one-byte token), -1
  // when the vocabulary has none (unk_id is used then, when there is one).
  static SpmModel build(const std::vector<std::string>& tokens, const std::vector<float>& scores,
                        int32_t unk_id);

  // Appends the ids of text (already escaped).
  void encode(std::string_view text, SpmScratch& scratch, std::vector<int32_t>& out) const;

  int32_t find(std::string_view text) const { return map_.find(text); }
  int32_t byte_token(uint8_t b) const { return byte_token_[b]; }

 private:
  void emit(std::string_view text, uint32_t start, uint32_t len, std::vector<int32_t>& out) const;

  StringIdMap map_;
  std::vector<float> scores_;
  int32_t byte_token_[256] = {};
  int32_t unk_id_ = -1;
};

}  // namespace parley::tokenizer
