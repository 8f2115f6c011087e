// Pre-tokenizers of byte-level BPE families: the regex splits chosen by tokenizer.ggml.pre,
// applied exactly as llama.cpp applies them. Each regex of a family splits every piece the
// previous one produced (text between matches stays a piece of its own), and a piece is the
// whole subject of the next regex: a lookahead never sees past its end.
//
// Unicode classes (\p{L}, \p{N}, \p{P}, \p{M}, \p{S}, \s) follow unicode-classes.h. A regex that
// uses them runs (PCRE2, JIT) over a "collapsed" subject with one byte per code point: ASCII as
// itself, other white space as \v, other code points as one byte per class; the regex's \p{..}
// become classes over those bytes. A regex with literal non-ASCII ranges (the DeepSeek families)
// runs in UTF-8 mode over the text with non-ASCII white space replaced by \v.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace parley::tokenizer {

// What llama.cpp attaches to a tokenizer.ggml.pre name.
struct PreTokenizerFamily {
  std::vector<std::string> regexes;  // in llama.cpp's dialect (\p{L}, (?:'[sS]|...), ...)
  bool ignore_merges = false;        // a piece that is itself a token is emitted whole
  std::optional<bool> add_bos;       // the family's default when the file does not say
  bool no_bos = false;               // the family has no BOS token (chatglm)
};

// The family of a tokenizer.ggml.pre value ("" and "default" give the default family).
Result<PreTokenizerFamily> pre_tokenizer_family(std::string_view pre);

class PreTokenizer {
 public:
  // Compiles each regex (an error names the regex and PCRE2's message).
  static Result<PreTokenizer> compile(const std::vector<std::string>& regexes);

  // Splits valid UTF-8 text into pieces: appends the byte offset at which each piece ends
  // (the last one is text.size()). Empty text gives no pieces.
  void split(std::string_view text, std::vector<size_t>& piece_ends) const;

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  struct Regex;

 private:
  PreTokenizer();
  std::vector<std::unique_ptr<Regex>> regexes_;
  bool need_collapsed_ = false;
  bool need_wide_ = false;
};

// llama.cpp's rewrite of a regex for the collapsed subject (exposed for tests).
std::string collapse_regex(std::string_view regex);

}  // namespace parley::tokenizer
