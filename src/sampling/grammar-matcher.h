// Token-level grammar matching: which tokens may come next (a bitmask over the vocabulary) and
// advancing by the sampled token.
//
// CompiledGrammar = Grammar + TokenVocab + options, built once per request and shared (const,
// thread-safe) by the matchers of its sequences; GrammarMatcher is the per-sequence state,
// copyable (a copy is an independent sequence, e.g. for n > 1 or speculation).
//
// The state is a set of pushdown stacks over grammar nodes (the grammar may be ambiguous). A mask
// walks the vocabulary's byte trie with that set, pruning a subtree as soon as no stack survives
// its prefix. Fast paths: inside a JSON string the tokens made only of plain string characters are
// allowed from a precomputed set and only the remaining tokens are walked; masks are cached per
// state (repeat counters compared only as far as one token can tell them apart).
//
// Tokens: a text token must be matched byte by byte; a special (control / user-defined) token only
// by grammar literal bytes (a literal or text_until's terminator, never a byte class), so that
// "<|im_end|>" never appears inside a JSON string; an end-of-generation token is allowed exactly
// where the grammar may end.
//
// Lazy mode (MatcherOptions::lazy_triggers non-empty): nothing is constrained until the generated
// text contains a trigger; the grammar then starts right after the trigger (or at the trigger,
// with trigger_in_grammar) and runs on the rest of that token and everything after. When the
// grammar has matched completely (nothing can follow) the matcher goes back to free mode when
// return_to_free is set, and otherwise allows only end of generation. Limitation: in free mode
// every token is allowed, so a token that completes a trigger and carries text the grammar
// rejects makes accept() return false (the caller ends the sequence); a trigger that is one
// token (Qwen's "<tool_call>") never has this problem.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sampling/grammar.h"
#include "sampling/token-vocab.h"

namespace parley::sampling {

struct MatcherOptions {
  // Tokens that end generation; empty: the vocabulary's EOG tokens.
  std::vector<TokenId> eog_ids;
  std::vector<std::string> lazy_triggers;  // empty: constrained from the first token
  bool trigger_in_grammar = false;         // the grammar starts with the trigger text itself
  bool return_to_free = true;              // lazy: free text again after the grammar completes
  size_t mask_cache_entries = 512;         // per compiled grammar, ~n_vocab/8 bytes each
};

class CompiledGrammar {
 public:
  CompiledGrammar(Grammar grammar, std::shared_ptr<const TokenVocab> vocab,
                  MatcherOptions options = {});

  const Grammar& grammar() const { return grammar_; }
  const TokenVocab& vocab() const { return *vocab_; }
  const MatcherOptions& options() const { return options_; }
  const std::vector<TokenId>& eog_ids() const { return eog_; }
  bool is_eog(TokenId id) const;

  // The mask cache (keys are normalized states); thread-safe.
  bool cached_mask(const std::string& key, std::span<uint32_t> mask) const;
  void store_mask(const std::string& key, std::span<const uint32_t> mask) const;

 private:
  Grammar grammar_;
  std::shared_ptr<const TokenVocab> vocab_;
  MatcherOptions options_;
  std::vector<TokenId> eog_;
  std::vector<uint32_t> eog_mask_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<uint32_t>> cache_;
};

// One pushdown stack, bottom first: a grammar node and a position in it (literal offset,
// sequence index, repeat count, text_until match length).
struct StackFrame {
  uint32_t node = 0;
  uint32_t pos = 0;
  bool operator==(const StackFrame&) const = default;
};
using Stack = std::vector<StackFrame>;

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar);
  GrammarMatcher(const GrammarMatcher& other);
  GrammarMatcher& operator=(const GrammarMatcher& other);
  GrammarMatcher(GrammarMatcher&&) noexcept;
  GrammarMatcher& operator=(GrammarMatcher&&) noexcept;
  ~GrammarMatcher();

  // mask.size() >= vocab().n_mask_words(); bit i of word i / 32 set = token i allowed. Words
  // past the vocabulary are cleared.
  void fill_mask(std::span<uint32_t> mask);
  // Advances by one token; false (state unchanged) when the grammar does not allow it.
  bool accept(TokenId token);
  // Advances by raw bytes as if generated (tests; text forced into the output).
  bool accept_bytes(std::string_view bytes);

  // The grammar may end here (an EOG token is allowed).
  bool can_end() const;
  // Nothing but the end can follow (or an EOG token was accepted).
  bool is_complete() const;
  // Lazy mode: whether the grammar is engaged (false in free mode).
  bool engaged() const { return engaged_; }
  void reset();

  const CompiledGrammar& compiled() const { return *grammar_; }

 private:
  bool accept_engaged(std::string_view bytes, bool special);
  bool accept_free(std::string_view bytes);
  void engage();

  struct Scratch;  // arena and walk buffers (grammar-matcher.cpp); a copy gets fresh ones

  std::shared_ptr<const CompiledGrammar> grammar_;
  std::vector<Stack> stacks_;
  bool engaged_ = true;
  bool finished_ = false;  // an EOG token was accepted
  std::string window_;     // lazy free mode: recent text, for triggers split across tokens
  std::unique_ptr<Scratch> scratch_;
};

// Sets logits[i] = -inf for every token the mask forbids; ids past the mask's vocabulary (a
// model's padded rows) are forbidden too.
void apply_token_mask(std::span<float> logits, std::span<const uint32_t> mask, int32_t n_vocab);

inline bool mask_allows(std::span<const uint32_t> mask, TokenId id) {
  return (mask[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1;
}

}  // namespace parley::sampling
