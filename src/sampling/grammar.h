// A byte-level context-free grammar: the IR that JSON schemas and tool-call syntaxes compile to
// and that GrammarMatcher runs token by token (sampling/grammar-matcher.h).
//
// Nodes: literals, byte sets, sequences, choices, bounded repetition, rule references (so rules
// can recurse) and text_until(S): any bytes up to and including the first occurrence of S (free
// thinking text). Code-point classes are lowered to byte sets at build time (UTF-8 ranges), so
// the matcher only ever sees bytes.
//
// Build with GrammarBuilder; build() resolves references and rejects what the matcher cannot run
// in bounded time: undefined rules, left recursion and repetition of something that can match
// nothing.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace parley::sampling {

using NodeId = uint32_t;
using RuleId = uint32_t;
inline constexpr uint32_t kUnbounded = UINT32_MAX;

// 256 bits, one per byte value.
struct ByteSet {
  std::array<uint64_t, 4> bits{};
  bool has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
  void add(uint8_t b) { bits[b >> 6] |= uint64_t{1} << (b & 63); }
  void remove(uint8_t b) { bits[b >> 6] &= ~(uint64_t{1} << (b & 63)); }
  void add_range(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; b++) add(static_cast<uint8_t>(b));
  }
  bool empty() const { return (bits[0] | bits[1] | bits[2] | bits[3]) == 0; }
};

// An inclusive range of Unicode code points.
struct CodepointRange {
  uint32_t lo = 0;
  uint32_t hi = 0;
};

enum class NodeKind : uint8_t {
  empty,       // matches nothing, always succeeds
  literal,     // the bytes of `text`
  byte_set,    // one byte from `bytes`
  sequence,    // children in order
  choice,      // one of the children
  repeat,      // child repeated [min, max] times (max may be kUnbounded)
  rule_ref,    // the body of rule `rule` (resolved away by build())
  text_until,  // any bytes up to and including the first occurrence of `text`
};

// Flags the matcher may use for fast paths; they promise a shape, never change the language.
enum NodeFlags : uint8_t {
  // A repeat of one JSON string character (unescaped code point or escape) that is followed by
  // the closing quote: every token made only of code points other than '"', '\\' and control
  // characters (the last one possibly just begun) stays inside it, one iteration per code point.
  kFlagJsonStringBody = 1,
};

struct Node {
  NodeKind kind = NodeKind::empty;
  uint8_t flags = 0;
  uint32_t min = 0;  // repeat
  uint32_t max = 0;  // repeat
  RuleId rule = 0;   // rule_ref
  std::string text;  // literal, text_until
  ByteSet bytes;     // byte_set
  std::vector<NodeId> children;
  // text_until: KMP automaton over `text`, next[state * 256 + byte] (filled by build()).
  std::vector<uint16_t> until_next;
};

class Grammar {
 public:
  NodeId root() const { return root_; }
  const Node& node(NodeId id) const { return nodes_[id]; }
  size_t n_nodes() const { return nodes_.size(); }
  // Whether `id` can match the empty string.
  bool nullable(NodeId id) const { return nullable_[id] != 0; }
  // A readable, GBNF-like listing of the grammar reachable from the root (for tests and logs).
  std::string to_string() const;

 private:
  friend class GrammarBuilder;
  NodeId root_ = 0;
  std::vector<Node> nodes_;
  std::vector<uint8_t> nullable_;
  std::vector<std::string> rule_names_;
  std::vector<NodeId> rule_bodies_;
};

class GrammarBuilder {
 public:
  GrammarBuilder();

  NodeId empty() const { return empty_; }
  NodeId literal(std::string_view bytes);
  NodeId byte_set(const ByteSet& set);
  NodeId byte_range(uint8_t lo, uint8_t hi);
  // One UTF-8 encoded code point from the ranges (or, negated, any valid code point outside
  // them); surrogates are never included.
  NodeId char_class(std::span<const CodepointRange> ranges, bool negated = false);
  NodeId seq(std::vector<NodeId> children);
  NodeId choice(std::vector<NodeId> children);
  NodeId repeat(NodeId child, uint32_t min, uint32_t max);
  NodeId optional(NodeId child) { return repeat(child, 0, 1); }
  NodeId star(NodeId child) { return repeat(child, 0, kUnbounded); }
  NodeId plus(NodeId child) { return repeat(child, 1, kUnbounded); }
  NodeId text_until(std::string_view terminator);  // terminator must not be empty

  // Rules: declare (so they can be referenced before and inside their definition), define once.
  RuleId declare_rule(std::string name);
  void define_rule(RuleId rule, NodeId body);
  NodeId ref(RuleId rule);
  bool rule_defined(RuleId rule) const;

  void set_flags(NodeId id, uint8_t flags) { nodes_[id].flags |= flags; }
  size_t n_nodes() const { return nodes_.size(); }

  // Resolves references and validates; the builder is left empty.
  Result<Grammar> build(NodeId root);

 private:
  NodeId add(Node n);
  std::vector<Node> nodes_;
  std::vector<std::string> rule_names_;
  std::vector<NodeId> rule_bodies_;  // kUnbounded: declared, not defined
  NodeId empty_ = 0;
};

}  // namespace parley::sampling
