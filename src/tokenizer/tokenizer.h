// Runtime tokenizer built from a VocabSpec: SentencePiece-style ("llama") and byte-level BPE
// ("gpt2") with the pre-tokenizer of each family, special tokens and the EOG set.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "tokenizer/vocab-spec.h"

namespace parley::tokenizer {

using TokenId = int32_t;

// A byte range [begin, end) of an input text.
struct TextRange {
  size_t begin = 0;
  size_t end = 0;
};

struct EncodeOptions {
  bool add_special = false;    // add BOS/EOS as the vocabulary's add_bos/add_eos flags say
  bool parse_special = false;  // recognise special/control token text ("<|im_start|>") in input
  // Ranges (sorted, disjoint) that are plain text whatever they spell: no special or
  // user-defined token is matched across any byte of them. A chat prompt marks the text that
  // came from a request this way, so "<|im_end|>" in a tool result cannot forge a turn.
  std::span<const TextRange> plain = {};
};

class Tokenizer {
 public:
  static Result<Tokenizer> from_spec(const VocabSpec& spec);
  // The tokenizer of a GGUF file, or of Hugging Face files (see vocab_from_hf).
  static Result<Tokenizer> from_gguf(const std::string& path);
  static Result<Tokenizer> from_hf(const std::string& path);

  // Invalid UTF-8 in text: byte-level BPE replaces each byte that does not start a valid
  // sequence with U+FFFD before splitting (as llama.cpp does); SentencePiece keeps the bytes
  // (byte-fallback tokens), so decode gives them back.
  std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Appends to out (no allocation beyond out's growth and per-call scratch).
  void encode_into(std::string_view text, const EncodeOptions& options,
                   std::vector<TokenId>& out) const;
  // Bytes of one token as it appears in text (byte tokens give their byte; control tokens give
  // their text only when `special` is true).
  std::string token_to_piece(TokenId id, bool special = false) const;
  // decode(encode(x)) == x for valid UTF-8 x (the leading-space rule of SentencePiece undone).
  std::string decode(const std::vector<TokenId>& ids, bool special = false) const;

  // The bytes token_to_piece appends, without copying (special: as token_to_piece).
  std::string_view piece_view(TokenId id, bool special = false) const;
  // SentencePiece's leading-space rule: encode prefixes a space to text at the start and after
  // a special token; decode removes it again.
  bool add_space_prefix() const;

  // Whether text can carry byte b: byte-level BPE needs a token for it, SentencePiece a <0xNN>
  // byte piece (for bytes no piece covers). Bytes that cannot are dropped when encoding, as
  // llama.cpp drops them (a few vocabularies lack tokens for some control bytes).
  bool byte_representable(uint8_t b) const;

  int32_t n_vocab() const;
  TokenId bos() const;  // -1 when none
  TokenId eos() const;
  TokenId eot() const;  // -1 when none
  TokenId unk() const;  // -1 when none
  bool add_bos() const;
  bool add_eos() const;
  const std::string& model() const;  // "llama" or "gpt2"
  const std::string& pre() const;    // tokenizer.ggml.pre ("" when unset)
  bool is_special(TokenId id) const;  // control, user-defined or unknown: never merged from text
  bool is_eog(TokenId id) const;               // end of generation (eos, eot, eom, <|im_end|>, ...)
  const std::vector<TokenId>& eog_ids() const;
  bool is_control(TokenId id) const;
  std::string_view token_text(TokenId id) const;  // raw vocabulary string
  TokenType token_type(TokenId id) const;         // as stored (undefined when absent)

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  struct Impl;  // internal (tokenizer-impl.h)

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Streams text from generated tokens: never emits a broken UTF-8 sequence (partial characters
// are held back until complete), applies the leading-space rule once. Bytes that can never
// become valid UTF-8 are emitted as U+FFFD, one per byte.
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tokenizer, bool special = false);
  // Returns the text that became complete with this token (may be empty).
  std::string push(TokenId id);
  // Appends that text to out instead (no allocation when out has room).
  void push_into(TokenId id, std::string& out);
  // Returns what is left at the end (incomplete bytes as U+FFFD) and starts over.
  std::string flush();

 private:
  const Tokenizer* tok_;
  bool special_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace parley::tokenizer
