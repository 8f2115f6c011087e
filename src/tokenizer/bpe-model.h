// Byte-level BPE (tokenizer.ggml.model = "gpt2"): merges applied by rank to the bytes of one
// pre-tokenized piece, as llama.cpp does.
//
// Vocabulary strings and merges are stored GPT-2 byte-mapped (each byte shown as a printable
// code point). They are unmapped once at load, so encoding works on raw bytes: a symbol is an
// interned byte string, and the merge table is keyed on (left symbol, right symbol).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "tokenizer/string-map.h"

namespace parley::tokenizer {

// GPT-2's byte <-> code point mapping.
uint32_t gpt2_byte_to_cp(uint8_t b);
// The byte a code point stands for, or -1 when it is not one of the 256 mapped code points.
int gpt2_cp_to_byte(uint32_t cp);
// Raw bytes of a byte-mapped string; false when it holds a code point outside the mapping.
bool gpt2_unmap(std::string_view mapped, std::string& out);
// The byte-mapped form of raw bytes.
std::string gpt2_map(std::string_view raw);

// Reusable buffers for encoding (one per encode call, not per piece).
struct BpeScratch {
  struct Bigram {
    int32_t rank;
    int32_t left, right;
    int32_t sym_left, sym_right;
  };
  std::vector<int32_t> sym, rank, prev, next;
  std::vector<uint32_t> start, len;
  std::vector<Bigram> heap;
  PieceCache cache;
};

class BpeModel {
 public:
  // tokens: vocabulary strings by id (byte-mapped when byte_encode); merges: "left right" by rank.
  static BpeModel build(const std::vector<std::string>& tokens,
                        const std::vector<std::string>& merges, bool byte_encode);

  // Appends the token ids of one piece (raw bytes). With ignore_merges a piece that is itself
  // a token is emitted whole.
  void encode(std::string_view piece, bool ignore_merges, BpeScratch& scratch,
              std::vector<int32_t>& out) const;

  // Token id of raw bytes, or -1.
  int32_t token_of_bytes(std::string_view raw) const {
    int32_t s = syms_.find(raw);
    return s < 0 ? -1 : sym_token_[static_cast<size_t>(s)];
  }
  size_t n_merges() const { return n_merges_; }

 private:
  int32_t intern(std::string_view raw);
  void emit(std::string_view piece, uint32_t start, uint32_t len, int32_t sym,
            std::vector<int32_t>& out) const;
  void encode_linear(std::string_view piece, BpeScratch& s, std::vector<int32_t>& out) const;
  void encode_heap(std::string_view piece, BpeScratch& s, std::vector<int32_t>& out) const;
  int32_t rank_of(int32_t a, int32_t b, int32_t* result) const;

  StringIdMap syms_;                 // raw bytes -> symbol
  std::vector<int32_t> sym_token_;   // symbol -> token id (-1: not a token)
  int32_t byte_sym_[256] = {};       // symbol of each single byte
  PairMap merges_;
  std::vector<PairMap::Value> byte_pairs_;  // merges of two single bytes (symbols 0..255)
  size_t n_merges_ = 0;
  // Ids emitted for a byte of a symbol that is not a token (llama.cpp's fallback: each byte of
  // the byte-mapped text looked up as a one-character token, or <0xNN> without byte mapping).
  std::vector<int32_t> fallback_[256];
};

}  // namespace parley::tokenizer
