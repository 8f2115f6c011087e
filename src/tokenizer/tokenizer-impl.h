// Internal state of Tokenizer (shared by tokenizer.cpp, load-vocab.cpp and special-split.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/bpe-model.h"
#include "tokenizer/pre-tokenizer.h"
#include "tokenizer/spm-model.h"
#include "tokenizer/tokenizer.h"

namespace parley::tokenizer {

// llama.cpp's token attributes (a token can carry several: a user-defined token that looks like
// an end-of-turn marker is also control).
enum Attr : uint32_t {
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
};

// A stretch of the input: raw text (offset, length) or a special token found in it.
struct Fragment {
  TokenId token;  // -1: raw text
  size_t offset;
  size_t length;
};

// Special tokens that split user text before the model sees it, longest first.
struct SpecialIndex {
  struct Entry {
    TokenId id;
    uint32_t rank;  // position in `order`
  };
  std::vector<TokenId> order;                     // by length (longest first), then id
  std::vector<std::vector<Entry>> by_first_byte;  // 256 buckets
  bool any = false;
};

struct Tokenizer::Impl {
  enum class Kind { spm, bpe };
  Kind kind = Kind::spm;
  std::string model_name, pre_name;
  std::vector<std::string> text;   // vocabulary strings by id
  std::vector<TokenType> types;
  std::vector<uint32_t> attr;
  // What each token decodes to with special = true (pieces[off[i]..off[i+1])).
  std::string pieces;
  std::vector<size_t> piece_off;

  TokenId bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  TokenId fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  bool ignore_merges = false;
  std::vector<TokenId> eog;
  std::vector<uint8_t> eog_flag;

  SpecialIndex special_all;   // parse_special = true
  SpecialIndex special_text;  // parse_special = false: user-defined tokens only

  std::optional<SpmModel> spm;
  std::optional<BpeModel> bpe;
  std::optional<PreTokenizer> pre;

  bool valid(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < text.size(); }
  bool hidden(TokenId id) const {
    return (attr[static_cast<size_t>(id)] & (kAttrControl | kAttrUnknown)) != 0;
  }
};

// Builds everything but the models (ids, attributes, EOG set, special index, pieces). family:
// the pre-tokenizer family of a BPE vocabulary (null for SentencePiece).
Status load_vocab(Tokenizer::Impl& impl, const VocabSpec& spec, const PreTokenizerFamily* family);

// Splits text at the special tokens of `index` (llama.cpp's order: longest token first, each
// one's occurrences left to right within what is still raw text). Occurrences that touch a
// `plain` range are not tokens.
void split_special(const Tokenizer::Impl& impl, const SpecialIndex& index, std::string_view text,
                   std::vector<Fragment>& out, std::span<const TextRange> plain = {});

}  // namespace parley::tokenizer
