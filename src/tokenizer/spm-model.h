// SentencePiece-style BPE (tokenizer.ggml.model = "llama"), as llama.cpp runs it: the text
// (spaces already escaped to U+2581) starts as one symbol per UTF-8 character; the adjacent
// pair whose concatenation is a vocabulary entry with the highest score is merged (the leftmost
// on a tie) until no pair is; a symbol that is not a token falls back to its bytes (<0xNN>).
//
// Symbols are ids: every entry, and every character that occurs in an entry. A symbol is always
// one of those (a merge makes an entry), so "the concatenation is an entry" is precomputed at
// load as a table of (left, right) symbol pairs -> entry, one probe per candidate pair.
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
    int32_t token;  // the entry the pair forms
  };
  std::vector<uint32_t> start, len;
  std::vector<int32_t> sym;    // symbol of each position (-1: a character no entry contains)
  std::vector<int32_t> pair;   // linear merging: entry of the pair (i, i+1), -1: none
  std::vector<int32_t> prev, next;
  std::vector<Bigram> heap;
  std::vector<float> score;    // linear merging: score of the pair (i, i+1)
  PieceCache cache;
  // Direct-mapped memo of pair lookups (text repeats the same pairs; the pair table does not
  // fit in cache).
  struct Memo {
    uint64_t key = ~0ull;
    int32_t token = -1;
    float score = 0;
  };
  std::vector<Memo> memo;
};

class SpmModel {
 public:
  // tokens/scores by id; byte_token[b] is the id for byte b (<0xNN>, or the one-byte token), -1
  // when the vocabulary has none (unk_id is used then, when there is one).
  static SpmModel build(const std::vector<std::string>& tokens, const std::vector<float>& scores,
                        int32_t unk_id);

  // Appends the ids of text (already escaped). The text is cut before each U+2581 that no
  // vocabulary entry can reach across (for Llama-style vocabularies: every word start), and
  // each segment is merged on its own: a merge never spans such a cut, and merges in different
  // segments do not interact, so the result is the same as merging the whole text at once.
  void encode(std::string_view text, SpmScratch& scratch, std::vector<int32_t>& out) const;

  int32_t find(std::string_view text) const { return map_.find(text); }
  int32_t byte_token(uint8_t b) const { return byte_token_[b]; }

 private:
  // Appends the symbol's entry, or the ids of its bytes when it is not an entry.
  void emit(std::string_view text, uint32_t start, uint32_t len, int32_t sym,
            std::vector<int32_t>& out) const;
  // The entry symbols a and b form, or -1 (score in *score).
  int32_t pair_token(int32_t a, int32_t b, float* score, SpmScratch& s) const;
  void encode_segment(std::string_view text, SpmScratch& s, std::vector<int32_t>& out) const;
  void encode_linear(std::string_view text, SpmScratch& s, std::vector<int32_t>& out) const;
  void encode_heap(std::string_view text, SpmScratch& s, std::vector<int32_t>& out) const;

  StringIdMap map_;   // entry text -> id (the last id of a repeated text, as llama.cpp)
  StringIdMap syms_;  // entry or character -> symbol
  std::vector<int32_t> sym_token_;  // symbol -> entry id, -1 for a character that is none
  std::vector<int32_t> token_sym_;  // entry id -> symbol
  int32_t ascii_sym_[128] = {};
  PairMap pairs_;                   // (symbol, symbol) -> entry (rank field: score bits)
  std::vector<float> scores_;
  int32_t byte_token_[256] = {};
  int32_t unk_id_ = -1;
  // joins_space_[b]: some vocabulary entry has byte b right before an inner U+2581, so a cut
  // before a U+2581 that follows b is not safe.
  bool joins_space_[256] = {};
};

}  // namespace parley::tokenizer
