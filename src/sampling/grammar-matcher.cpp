#include "sampling/grammar-matcher.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/check.h"
#include "sampling/grammar-stacks.h"

namespace parley::sampling {

using detail::kDeadStack;
using detail::kEmptyStack;

namespace {

void set_bit(std::span<uint32_t> mask, TokenId id) {
  mask[static_cast<size_t>(id) >> 5] |= uint32_t{1} << (id & 31);
}

void clear_bit(std::span<uint32_t> mask, TokenId id) {
  mask[static_cast<size_t>(id) >> 5] &= ~(uint32_t{1} << (id & 31));
}

void append_u32(std::string& key, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  key.append(b, 4);
}

}  // namespace

CompiledGrammar::CompiledGrammar(Grammar grammar, std::shared_ptr<const TokenVocab> vocab,
                                 MatcherOptions options)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)), options_(std::move(options)) {
  PARLEY_CHECK(vocab_ != nullptr);
  eog_ = options_.eog_ids.empty() ? vocab_->eog_tokens() : options_.eog_ids;
  std::erase_if(eog_, [&](TokenId id) { return id < 0 || id >= vocab_->n_vocab(); });
  eog_mask_.assign(vocab_->n_mask_words(), 0);
  for (TokenId id : eog_) set_bit(eog_mask_, id);
}

bool CompiledGrammar::is_eog(TokenId id) const {
  return id >= 0 && id < vocab_->n_vocab() && mask_allows(eog_mask_, id);
}

bool CompiledGrammar::cached_mask(const std::string& key, std::span<uint32_t> mask) const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  std::copy(it->second.begin(), it->second.end(), mask.begin());
  return true;
}

void CompiledGrammar::store_mask(const std::string& key, std::span<const uint32_t> mask) const {
  if (options_.mask_cache_entries == 0) return;
  std::lock_guard<std::mutex> lock(cache_mutex_);
  // Clearing everything when full is crude but bounded; states of one request repeat a lot.
  if (cache_.size() >= options_.mask_cache_entries) cache_.clear();
  cache_.emplace(key, std::vector<uint32_t>(mask.begin(), mask.end()));
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar)
    : grammar_(std::move(grammar)) {
  scratch_ = std::make_unique<Scratch>(grammar_->grammar());
  reset();
}

GrammarMatcher::GrammarMatcher(const GrammarMatcher& o)
    : grammar_(o.grammar_),
      stacks_(o.stacks_),
      engaged_(o.engaged_),
      finished_(o.finished_),
      window_(o.window_),
      scratch_(std::make_unique<Scratch>(o.grammar_->grammar())) {}

// Copies the state; the scratch buffers stay (they are rebuilt only for another grammar).
GrammarMatcher& GrammarMatcher::operator=(const GrammarMatcher& o) {
  if (this == &o) return *this;
  if (!scratch_ || grammar_ != o.grammar_) scratch_ = std::make_unique<Scratch>(o.grammar_->grammar());
  grammar_ = o.grammar_;
  stacks_ = o.stacks_;
  engaged_ = o.engaged_;
  finished_ = o.finished_;
  window_ = o.window_;
  return *this;
}

GrammarMatcher::GrammarMatcher(GrammarMatcher&&) noexcept = default;
GrammarMatcher& GrammarMatcher::operator=(GrammarMatcher&&) noexcept = default;
GrammarMatcher::~GrammarMatcher() = default;

void GrammarMatcher::reset() {
  stacks_.assign(1, Stack{StackFrame{grammar_->grammar().root(), 0}});
  engaged_ = grammar_->options().lazy_triggers.empty();
  finished_ = false;
  window_.clear();
}

namespace {

// Marks every token of `trie` that the expanded stacks accept (pruned preorder walk).
void walk_trie(detail::StackEngine& eng, const TokenTrie& trie,
               const std::vector<int32_t>& root, bool free_after_end,
               std::vector<std::vector<int32_t>>& levels, std::vector<size_t>& marks,
               std::vector<int32_t>& tmp, std::span<uint32_t> mask) {
  if (root.empty() || trie.nodes.empty()) return;
  if (levels.size() < trie.max_depth + 1) levels.resize(trie.max_depth + 1);
  if (marks.size() < trie.max_depth + 1) marks.resize(trie.max_depth + 1);
  levels[0] = root;
  marks[0] = eng.arena_size();
  const size_t n = trie.nodes.size();
  for (size_t i = 0; i < n;) {
    const TokenTrie::Node& node = trie.nodes[i];
    size_t d = node.depth;
    eng.truncate(marks[d - 1]);
    eng.advance(levels[d - 1], node.byte, false, free_after_end, tmp);
    if (tmp.empty()) {
      i = node.end;
      continue;
    }
    for (uint32_t k = 0; k < node.tok_count; k++) set_bit(mask, trie.tokens[node.tok_begin + k]);
    if (node.end > i + 1) {
      levels[d].clear();
      for (int32_t s : tmp) eng.closure(s, levels[d]);
      if (levels[d].empty()) {
        i = node.end;
        continue;
      }
      marks[d] = eng.arena_size();
    }
    i++;
  }
  eng.truncate(marks[0]);
}

// Whether the stacks accept all of `bytes` (special tokens: literal bytes only).
bool accepts_bytes(detail::StackEngine& eng, const std::vector<int32_t>& expanded,
                   std::string_view bytes, bool literal_only, bool free_after_end,
                   std::vector<int32_t>& a, std::vector<int32_t>& b) {
  a = expanded;
  for (size_t i = 0; i < bytes.size(); i++) {
    eng.advance(a, static_cast<uint8_t>(bytes[i]), literal_only, free_after_end, b);
    if (b.empty()) return false;
    if (i + 1 == bytes.size()) return true;
    a.clear();
    for (int32_t s : b) eng.closure(s, a);
    if (a.empty()) return false;
  }
  return true;
}

// The cache key: every frame, repeat counts reduced to what one token can observe (each
// iteration consumes a byte, so counts further than `horizon` from a bound look alike).
void state_key(const Grammar& g, const std::vector<Stack>& stacks, uint32_t horizon,
               std::string& key) {
  key.clear();
  for (const Stack& s : stacks) {
    for (const StackFrame& f : s) {
      append_u32(key, f.node);
      const Node& n = g.node(f.node);
      if (n.kind == NodeKind::repeat) {
        append_u32(key, f.pos >= n.min ? 0 : std::min(n.min - f.pos, horizon));
        append_u32(key, n.max == kUnbounded ? kUnbounded : std::min(n.max - f.pos, horizon));
      } else {
        append_u32(key, f.pos);
      }
    }
    append_u32(key, kUnbounded);
  }
}

}  // namespace

void GrammarMatcher::fill_mask(std::span<uint32_t> mask) {
  const TokenVocab& vocab = grammar_->vocab();
  const size_t words = vocab.n_mask_words();
  PARLEY_CHECK(mask.size() >= words);
  std::fill(mask.begin(), mask.end(), 0u);
  if (finished_) return;
  if (!engaged_) {
    std::fill(mask.begin(), mask.begin() + static_cast<ptrdiff_t>(words), ~0u);
    if (vocab.n_vocab() % 32) mask[words - 1] = (uint32_t{1} << (vocab.n_vocab() % 32)) - 1;
    return;
  }
  Scratch& sc = *scratch_;
  state_key(grammar_->grammar(), stacks_, static_cast<uint32_t>(vocab.max_token_bytes()) + 1, sc.key);
  if (grammar_->cached_mask(sc.key, mask)) return;

  const bool free_after_end = !grammar_->options().lazy_triggers.empty() &&
                              grammar_->options().return_to_free;
  detail::StackEngine& eng = sc.eng;
  eng.clear();
  sc.roots.clear();
  for (const Stack& s : stacks_) sc.roots.push_back(eng.load(s));
  sc.slow.clear();
  sc.fast_mask.assign(words, 0);
  bool any_fast = false;
  for (int32_t r : sc.roots) {
    uint32_t budget = 0;
    int32_t body = eng.as_string_body(r, &budget);
    if (body == kDeadStack) {
      eng.closure(r, sc.slow);
      continue;
    }
    // Plain string tokens from the precomputed set, then the other tokens by walking.
    any_fast = true;
    const auto& safe = vocab.string_safe_mask();
    for (size_t w = 0; w < words; w++) sc.fast_mask[w] |= safe[w];
    for (auto [len, id] : vocab.string_safe_by_length()) {
      if (len <= budget) break;
      clear_bit(sc.fast_mask, id);
    }
    sc.expanded.clear();
    eng.closure(body, sc.expanded);
    walk_trie(eng, vocab.string_unsafe_trie(), sc.expanded, free_after_end, sc.levels, sc.marks,
              sc.tmp, mask);
  }
  if (any_fast) {
    for (size_t w = 0; w < words; w++) mask[w] |= sc.fast_mask[w];
  }
  walk_trie(eng, vocab.trie(), sc.slow, free_after_end, sc.levels, sc.marks, sc.tmp, mask);

  sc.expanded.clear();
  for (int32_t r : sc.roots) eng.closure(r, sc.expanded);
  size_t mark = eng.arena_size();
  for (TokenId id : vocab.special_tokens()) {
    if (accepts_bytes(eng, sc.expanded, vocab.bytes(id), true, free_after_end, sc.next, sc.tmp)) {
      set_bit(mask, id);
    }
    eng.truncate(mark);
  }
  bool end = std::find(sc.expanded.begin(), sc.expanded.end(), kEmptyStack) != sc.expanded.end();
  for (TokenId id : grammar_->eog_ids()) {
    if (end) {
      set_bit(mask, id);
    } else {
      clear_bit(mask, id);
    }
  }
  grammar_->store_mask(sc.key, mask.first(words));
}

}  // namespace parley::sampling
