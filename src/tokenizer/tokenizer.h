// Runtime tokenizer built from a VocabSpec: SentencePiece-style ("llama") and byte-level BPE
// ("gpt2") with the pre-tokenizer of each family, special tokens and the EOG set.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "tokenizer/vocab-spec.h"

namespace parley::tokenizer {

using TokenId = int32_t;

struct EncodeOptions {
  bool add_special = false;    // add BOS/EOS as the vocabulary's add_bos/add_eos flags say
  bool parse_special = false;  // recognise special/control token text ("<|im_start|>") in input
};

class Tokenizer {
 public:
  static Result<Tokenizer> from_spec(const VocabSpec& spec);

  std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Bytes of one token as it appears in text (byte tokens give their byte; control tokens give
  // their text only when `special` is true).
  std::string token_to_piece(TokenId id, bool special = false) const;
  // decode(encode(x)) == x for valid UTF-8 x (the leading-space rule of SentencePiece undone).
  std::string decode(const std::vector<TokenId>& ids, bool special = false) const;

  int32_t n_vocab() const;
  TokenId bos() const;  // -1 when none
  TokenId eos() const;
  bool add_bos() const;
  bool is_eog(TokenId id) const;               // end of generation (eos, eot, eom, <|im_end|>, ...)
  const std::vector<TokenId>& eog_ids() const;
  bool is_control(TokenId id) const;
  std::string_view token_text(TokenId id) const;  // raw vocabulary string

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Streams text from generated tokens: never emits a broken UTF-8 sequence (partial characters
// are held back until complete), applies the leading-space rule once.
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tokenizer, bool special = false);
  // Returns the text that became complete with this token (may be empty).
  std::string push(TokenId id);
  // Returns what is left at the end (incomplete bytes as U+FFFD).
  std::string flush();

 private:
  const Tokenizer* tok_;
  bool special_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace parley::tokenizer
