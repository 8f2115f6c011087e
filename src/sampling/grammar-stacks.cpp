#include "sampling/grammar-stacks.h"

#include <algorithm>

namespace parley::sampling::detail {

int32_t StackEngine::push(int32_t parent, StackFrame f) {
  uint32_t depth = parent < 0 ? 1 : arena_[static_cast<size_t>(parent)].depth + 1;
  if (depth > kMaxStackDepth) return kDeadStack;
  arena_.push_back(Cell{f, parent, depth});
  return static_cast<int32_t>(arena_.size() - 1);
}

int32_t StackEngine::load(const Stack& s) {
  int32_t h = kEmptyStack;
  for (const StackFrame& f : s) h = push(h, f);
  return h;
}

Stack StackEngine::store(int32_t h) const {
  Stack s;
  for (; h >= 0; h = cell(h).parent) s.push_back(cell(h).f);
  std::reverse(s.begin(), s.end());
  return s;
}

bool StackEngine::same(int32_t a, int32_t b) const {
  while (a != b) {
    if (a < 0 || b < 0) return false;
    const Cell& x = cell(a);
    const Cell& y = cell(b);
    if (x.depth != y.depth || !(x.f == y.f)) return false;
    a = x.parent;
    b = y.parent;
  }
  return true;
}

void StackEngine::add_unique(std::vector<int32_t>& v, int32_t s) const {
  if (s == kDeadStack || v.size() >= kMaxStacks) return;
  for (int32_t t : v) {
    if (same(t, s)) return;
  }
  v.push_back(s);
}

void StackEngine::closure(int32_t s, std::vector<int32_t>& out) {
  size_t budget = kClosureBudget;
  expand(s, out, budget);
}

// Expands the top frame until it consumes a byte. Terminates: build() rejects left recursion and
// repetition of nullable nodes; the budget bounds the fan-out of ambiguous grammars.
void StackEngine::expand(int32_t s, std::vector<int32_t>& out, size_t& budget) {
  if (s == kDeadStack || budget == 0) return;
  budget--;
  if (s == kEmptyStack) {
    add_unique(out, s);
    return;
  }
  const Cell c = cell(s);
  const Node& n = g_->node(c.f.node);
  switch (n.kind) {
    case NodeKind::literal:
    case NodeKind::byte_set:
    case NodeKind::text_until: add_unique(out, s); return;
    case NodeKind::empty:
    case NodeKind::rule_ref: expand(c.parent, out, budget); return;
    case NodeKind::sequence: {
      uint32_t pos = c.f.pos;
      if (pos >= n.children.size()) {
        expand(c.parent, out, budget);
        return;
      }
      // The last child replaces the sequence frame (a tail call: shallower, deduplicates).
      int32_t rest = pos + 1 == n.children.size() ? c.parent : push(c.parent, {c.f.node, pos + 1});
      if (rest == kDeadStack) return;
      expand(push(rest, {n.children[pos], 0}), out, budget);
      return;
    }
    case NodeKind::choice:
      for (NodeId child : n.children) expand(push(c.parent, {child, 0}), out, budget);
      return;
    case NodeKind::repeat: {
      uint32_t count = c.f.pos;
      if (count >= n.min) expand(c.parent, out, budget);
      if (count < n.max) {
        // Unbounded and past the minimum: the count no longer matters, keep it at min.
        uint32_t next = n.max == kUnbounded ? std::min(count + 1, n.min) : count + 1;
        int32_t rest = next == n.max ? c.parent : push(c.parent, {c.f.node, next});
        if (rest == kDeadStack) return;
        expand(push(rest, {n.children[0], 0}), out, budget);
      }
      return;
    }
  }
}

int32_t StackEngine::step(int32_t s, uint8_t byte, bool literal_only, bool free_after_end) {
  if (s == kEmptyStack) return free_after_end ? kEmptyStack : kDeadStack;
  const Cell c = cell(s);
  const Node& n = g_->node(c.f.node);
  switch (n.kind) {
    case NodeKind::literal: {
      if (static_cast<uint8_t>(n.text[c.f.pos]) != byte) return kDeadStack;
      if (c.f.pos + 1 == n.text.size()) return c.parent;
      return push(c.parent, {c.f.node, c.f.pos + 1});
    }
    case NodeKind::byte_set:
      return !literal_only && n.bytes.has(byte) ? c.parent : kDeadStack;
    case NodeKind::text_until: {
      uint32_t next = n.until_next[c.f.pos * 256 + byte];
      if (literal_only && next != c.f.pos + 1) return kDeadStack;
      if (next == n.text.size()) return c.parent;
      return push(c.parent, {c.f.node, next});
    }
    default: return kDeadStack;  // not an expansion
  }
}

void StackEngine::advance(const std::vector<int32_t>& expanded, uint8_t byte, bool literal_only,
                          bool free_after_end, std::vector<int32_t>& out) {
  out.clear();
  for (int32_t s : expanded) add_unique(out, step(s, byte, literal_only, free_after_end));
}

int32_t StackEngine::as_string_body(int32_t s, uint32_t* budget) {
  if (s < 0) return kDeadStack;
  const Cell c = cell(s);
  const Node* n = &g_->node(c.f.node);
  if (n->kind == NodeKind::repeat && (n->flags & kFlagJsonStringBody)) {
    *budget = n->max == kUnbounded ? kUnbounded : n->max - c.f.pos;
    return s;
  }
  if (n->kind != NodeKind::sequence || c.f.pos >= n->children.size()) return kDeadStack;
  NodeId child = n->children[c.f.pos];
  const Node& body = g_->node(child);
  if (body.kind != NodeKind::repeat || !(body.flags & kFlagJsonStringBody)) return kDeadStack;
  int32_t rest = c.f.pos + 1 == n->children.size() ? c.parent : push(c.parent, {c.f.node, c.f.pos + 1});
  if (rest == kDeadStack) return kDeadStack;
  *budget = body.max;
  return push(rest, {child, 0});
}

}  // namespace parley::sampling::detail
