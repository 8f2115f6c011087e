// Internal to the matcher: pushdown stacks as immutable linked cells in an arena (a push shares
// the parent, so a byte step copies nothing), their expansion to byte-consuming tops, and the
// byte step itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sampling/grammar-matcher.h"

namespace parley::sampling::detail {

inline constexpr int32_t kEmptyStack = -1;  // everything matched: the grammar may end here
inline constexpr int32_t kDeadStack = -2;   // the byte was rejected
// Bounds that keep one step finite on any grammar (deep recursion, ambiguity blow-ups); past them
// stacks are dropped, which can only forbid more.
inline constexpr uint32_t kMaxStackDepth = 4096;
inline constexpr size_t kClosureBudget = 1 << 16;
inline constexpr size_t kMaxStacks = 1024;

struct Cell {
  StackFrame f;
  int32_t parent = kEmptyStack;
  uint32_t depth = 0;
};

class StackEngine {
 public:
  explicit StackEngine(const Grammar& g) : g_(&g) {}

  size_t arena_size() const { return arena_.size(); }
  void truncate(size_t n) { arena_.resize(n); }
  void clear() { arena_.clear(); }

  int32_t push(int32_t parent, StackFrame f);
  int32_t load(const Stack& s);
  Stack store(int32_t h) const;
  const Cell& cell(int32_t h) const { return arena_[static_cast<size_t>(h)]; }

  // Appends to out the expansions of s whose top frame consumes a byte (literal, byte set,
  // text_until), or kEmptyStack when s can end; no duplicates.
  void closure(int32_t s, std::vector<int32_t>& out);
  // s must be an expansion (closure output). Returns the stack after `byte`, or kDeadStack.
  // literal_only: only literal bytes match (special tokens). free_after_end: a finished grammar
  // accepts anything (lazy mode about to return to free text).
  int32_t step(int32_t s, uint8_t byte, bool literal_only, bool free_after_end);
  // Expansion + step of a whole set: out = every survivor of `byte`, deduplicated.
  void advance(const std::vector<int32_t>& expanded, uint8_t byte, bool literal_only,
               bool free_after_end, std::vector<int32_t>& out);

  bool same(int32_t a, int32_t b) const;
  void add_unique(std::vector<int32_t>& v, int32_t s) const;
  // When s sits before or between iterations of a JSON string body, the stack as a frame of
  // that repeat with its count (rewriting "sequence about to start the body" to that form);
  // kDeadStack otherwise. *budget: how many more code points the body takes (kUnbounded: any).
  int32_t as_string_body(int32_t s, uint32_t* budget);

 private:
  void expand(int32_t s, std::vector<int32_t>& out, size_t& budget);
  const Grammar* g_;
  std::vector<Cell> arena_;
};

}  // namespace parley::sampling::detail

namespace parley::sampling {

struct GrammarMatcher::Scratch {
  explicit Scratch(const Grammar& g) : eng(g) {}
  detail::StackEngine eng;
  std::vector<std::vector<int32_t>> levels;  // expanded stacks per trie depth
  std::vector<size_t> marks;                 // arena size after each level was computed
  std::vector<int32_t> roots, expanded, slow, next, tmp;
  std::vector<uint32_t> fast_mask;
  std::string key;
};

}  // namespace parley::sampling
