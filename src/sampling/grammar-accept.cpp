// GrammarMatcher: advancing by tokens and bytes, lazy-mode triggers, end conditions, and the
// logits seam.
#include <algorithm>
#include <limits>

#include "base/check.h"
#include "sampling/grammar-matcher.h"
#include "sampling/grammar-stacks.h"

namespace parley::sampling {

using detail::kDeadStack;
using detail::kEmptyStack;

bool GrammarMatcher::accept(TokenId token) {
  const TokenVocab& vocab = grammar_->vocab();
  if (finished_ || token < 0 || token >= vocab.n_vocab()) return false;
  if (grammar_->is_eog(token)) {
    if (!can_end()) return false;
    finished_ = true;
    return true;
  }
  TokenVocab::Kind kind = vocab.kind(token);
  if (kind == TokenVocab::Kind::none || kind == TokenVocab::Kind::eog) return false;
  if (!engaged_) return accept_free(vocab.bytes(token));
  return accept_engaged(vocab.bytes(token), kind == TokenVocab::Kind::special);
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  if (finished_) return false;
  if (!engaged_) return accept_free(bytes);
  return accept_engaged(bytes, false);
}

// Steps every byte through the stack set; commits only when all bytes are accepted. In lazy mode
// the grammar finishing (nothing but the end left) hands the rest of the bytes to free mode.
bool GrammarMatcher::accept_engaged(std::string_view bytes, bool special) {
  const MatcherOptions& opt = grammar_->options();
  const bool lazy = !opt.lazy_triggers.empty();
  const bool free_after_end = lazy && opt.return_to_free;
  Scratch& sc = *scratch_;
  detail::StackEngine& eng = sc.eng;
  eng.clear();
  sc.roots.clear();
  for (const Stack& s : stacks_) sc.roots.push_back(eng.load(s));
  for (size_t i = 0; i < bytes.size(); i++) {
    sc.expanded.clear();
    for (int32_t s : sc.roots) eng.closure(s, sc.expanded);
    eng.advance(sc.expanded, static_cast<uint8_t>(bytes[i]), special, free_after_end, sc.next);
    if (sc.next.empty()) return false;
    sc.roots.swap(sc.next);
    if (free_after_end && sc.roots.size() == 1 && sc.roots[0] == kEmptyStack) {
      reset();
      // Text after the grammar is free; a trigger in it that does not parse stays text.
      (void)accept_free(bytes.substr(i + 1));
      return true;
    }
  }
  stacks_.clear();
  for (int32_t s : sc.roots) stacks_.push_back(eng.store(s));
  if (free_after_end && stacks_.size() == 1 && stacks_[0].empty()) reset();
  return true;
}

void GrammarMatcher::engage() {
  stacks_.assign(1, Stack{StackFrame{grammar_->grammar().root(), 0}});
  engaged_ = true;
  window_.clear();
}

bool GrammarMatcher::accept_free(std::string_view bytes) {
  const MatcherOptions& opt = grammar_->options();
  std::string old_window = window_;
  window_.append(bytes);
  size_t best = std::string::npos;
  const std::string* trigger = nullptr;
  for (const std::string& t : opt.lazy_triggers) {
    size_t p = window_.find(t);
    if (p != std::string::npos && (best == std::string::npos || p < best)) {
      best = p;
      trigger = &t;
    }
  }
  if (trigger == nullptr) {
    // Keep only what could still be the start of a trigger.
    size_t keep = 0;
    for (const std::string& t : opt.lazy_triggers) keep = std::max(keep, t.size());
    if (window_.size() > keep) window_.erase(0, window_.size() - keep);
    return true;
  }
  std::string rest = window_.substr(opt.trigger_in_grammar ? best : best + trigger->size());
  std::vector<Stack> old_stacks = stacks_;
  engage();
  if (accept_engaged(rest, false)) return true;
  stacks_ = std::move(old_stacks);
  engaged_ = false;
  window_ = std::move(old_window);
  return false;
}

bool GrammarMatcher::can_end() const {
  if (finished_ || !engaged_) return true;
  Scratch& sc = *scratch_;
  sc.eng.clear();
  sc.expanded.clear();
  for (const Stack& s : stacks_) sc.eng.closure(sc.eng.load(s), sc.expanded);
  return std::find(sc.expanded.begin(), sc.expanded.end(), kEmptyStack) != sc.expanded.end();
}

bool GrammarMatcher::is_complete() const {
  if (finished_) return true;
  return engaged_ && stacks_.size() == 1 && stacks_[0].empty();
}

void apply_token_mask(std::span<float> logits, std::span<const uint32_t> mask, int32_t n_vocab) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  size_t n = std::min(logits.size(), static_cast<size_t>(std::max(n_vocab, 0)));
  n = std::min(n, mask.size() * 32);
  for (size_t w = 0; w * 32 < n; w++) {
    uint32_t bits = mask[w];
    if (bits == ~0u && w * 32 + 32 <= n) continue;
    size_t end = std::min(n, w * 32 + 32);
    for (size_t i = w * 32; i < end; i++) {
      if (!((bits >> (i - w * 32)) & 1)) logits[i] = neg_inf;
    }
  }
  for (size_t i = n; i < logits.size(); i++) logits[i] = neg_inf;
}

}  // namespace parley::sampling
