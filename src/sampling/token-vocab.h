// The token vocabulary as the grammar matcher sees it, built once per tokenizer: each token's
// bytes, byte tries over the tokens (so a mask is a pruned walk, never a scan of every token
// string), and the tokens that stay inside a JSON string, for the string fast path.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace parley::sampling {

using TokenId = int32_t;

// A byte trie stored in preorder: a node's subtree is nodes [i, end). The root is implicit
// (depth 0); the tokens ending at a node are tokens[tok_begin, tok_begin + tok_count).
struct TokenTrie {
  struct Node {
    uint32_t end = 0;
    uint32_t tok_begin = 0;
    uint16_t tok_count = 0;
    uint16_t depth = 0;  // 1 for the first byte
    uint8_t byte = 0;
  };
  std::vector<Node> nodes;
  std::vector<TokenId> tokens;
  size_t max_depth = 0;
};

class TokenVocab {
 public:
  enum class Kind : uint8_t {
    text,     // ordinary piece: matched byte by byte anywhere
    special,  // control / user-defined token: matches only grammar literals, by its text
    eog,      // end of generation: allowed exactly where the grammar may end
    none,     // no bytes: never allowed
  };

  // Every id of the tokenizer; control tokens' bytes are their text (piece_view(id, true)).
  static TokenVocab from_tokenizer(const tokenizer::Tokenizer& tok);
  // For tests: pieces[i] is token i's bytes.
  static TokenVocab from_pieces(std::vector<std::string> pieces, std::vector<Kind> kinds);

  int32_t n_vocab() const { return static_cast<int32_t>(kinds_.size()); }
  size_t n_mask_words() const { return (kinds_.size() + 31) / 32; }
  std::string_view bytes(TokenId id) const {
    return std::string_view(pool_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  Kind kind(TokenId id) const { return kinds_[id]; }
  const std::vector<TokenId>& special_tokens() const { return special_; }
  const std::vector<TokenId>& eog_tokens() const { return eog_; }
  size_t max_token_bytes() const { return max_bytes_; }

  // Every text token.
  const TokenTrie& trie() const { return all_; }
  // Text tokens outside the JSON-string-safe set below.
  const TokenTrie& string_unsafe_trie() const { return unsafe_; }
  // Text tokens made only of whole UTF-8 code points, none of them '"', '\\' or below U+0020,
  // the last possibly only begun (a valid UTF-8 prefix, counted as one): the mask words of the
  // whole set, and (code points, id) sorted by code points descending.
  const std::vector<uint32_t>& string_safe_mask() const { return safe_mask_; }
  const std::vector<std::pair<uint32_t, TokenId>>& string_safe_by_length() const {
    return safe_by_len_;
  }

 private:
  void index();
  std::string pool_;
  std::vector<uint32_t> offsets_;
  std::vector<Kind> kinds_;
  std::vector<TokenId> special_;
  std::vector<TokenId> eog_;
  size_t max_bytes_ = 0;
  TokenTrie all_;
  TokenTrie unsafe_;
  std::vector<uint32_t> safe_mask_;
  std::vector<std::pair<uint32_t, TokenId>> safe_by_len_;
};

}  // namespace parley::sampling
