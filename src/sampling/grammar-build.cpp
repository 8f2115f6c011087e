// GrammarBuilder::build: reference resolution and the checks that make matching terminate, and
// Grammar::to_string.
#include <unordered_map>

#include "base/strings.h"
#include "sampling/grammar.h"

namespace parley::sampling {

namespace {

// The KMP automaton of s: next[k * 256 + b] is how much of s is matched after seeing b with k
// bytes matched (k < |s|).
std::vector<uint16_t> kmp_automaton(const std::string& s) {
  size_t n = s.size();
  std::vector<uint16_t> next(n * 256, 0);
  size_t fail = 0;  // state reached by the longest proper border of s[0..k)
  for (size_t k = 0; k < n; k++) {
    for (int b = 0; b < 256; b++) {
      next[k * 256 + b] = k == 0 ? 0 : next[fail * 256 + b];
    }
    next[k * 256 + static_cast<uint8_t>(s[k])] = static_cast<uint16_t>(k + 1);
    if (k > 0) fail = next[fail * 256 + static_cast<uint8_t>(s[k])];
  }
  return next;
}

void compute_nullable(const std::vector<Node>& nodes, std::vector<uint8_t>& nullable) {
  nullable.assign(nodes.size(), 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < nodes.size(); i++) {
      if (nullable[i]) continue;
      const Node& n = nodes[i];
      bool v = false;
      switch (n.kind) {
        case NodeKind::empty: v = true; break;
        case NodeKind::literal: v = n.text.empty(); break;
        case NodeKind::byte_set:
        case NodeKind::text_until: v = false; break;
        case NodeKind::sequence:
          v = true;
          for (NodeId c : n.children) v = v && nullable[c];
          break;
        case NodeKind::choice:
          for (NodeId c : n.children) v = v || nullable[c];
          break;
        case NodeKind::repeat: v = n.min == 0 || nullable[n.children[0]]; break;
        case NodeKind::rule_ref: v = false; break;  // resolved before this runs
      }
      if (v) {
        nullable[i] = 1;
        changed = true;
      }
    }
  }
}

// Left recursion: a path from a node back to itself through positions that consume nothing.
// Iterative DFS over "may start with" edges.
bool has_left_recursion(const std::vector<Node>& nodes, const std::vector<uint8_t>& nullable,
                        NodeId* where) {
  auto first_children = [&](NodeId id, std::vector<NodeId>& out) {
    out.clear();
    const Node& n = nodes[id];
    if (n.kind == NodeKind::sequence) {
      for (NodeId c : n.children) {
        out.push_back(c);
        if (!nullable[c]) break;
      }
    } else if (n.kind == NodeKind::choice || n.kind == NodeKind::repeat) {
      out = n.children;
    }
  };
  std::vector<uint8_t> color(nodes.size(), 0);  // 0 new, 1 on path, 2 done
  std::vector<std::pair<NodeId, size_t>> stack;
  std::vector<std::vector<NodeId>> kids;
  for (NodeId start = 0; start < nodes.size(); start++) {
    if (color[start]) continue;
    stack.push_back({start, 0});
    kids.resize(1);
    first_children(start, kids[0]);
    color[start] = 1;
    while (!stack.empty()) {
      auto& [id, i] = stack.back();
      std::vector<NodeId>& ks = kids[stack.size() - 1];
      if (i == ks.size()) {
        color[id] = 2;
        stack.pop_back();
        continue;
      }
      NodeId c = ks[i++];
      if (color[c] == 1) {
        *where = c;
        return true;
      }
      if (color[c] == 2) continue;
      color[c] = 1;
      stack.push_back({c, 0});
      if (kids.size() < stack.size()) kids.resize(stack.size());
      first_children(c, kids[stack.size() - 1]);
    }
  }
  return false;
}

}  // namespace

Result<Grammar> GrammarBuilder::build(NodeId root) {
  std::vector<Node> nodes = std::move(nodes_);
  nodes_.clear();
  empty_ = add(Node{});
  for (size_t r = 0; r < rule_bodies_.size(); r++) {
    if (rule_bodies_[r] == kUnbounded) {
      return Error::fmt("grammar: rule '%s' is used but never defined", rule_names_[r].c_str());
    }
  }
  // A reference resolves to the first non-reference node down its chain of rule bodies.
  auto resolve = [&](NodeId id) -> Result<NodeId> {
    for (size_t steps = 0; nodes[id].kind == NodeKind::rule_ref; steps++) {
      if (steps > rule_bodies_.size()) {
        return Error::fmt("grammar: rule '%s' is defined as itself",
                          rule_names_[nodes[id].rule].c_str());
      }
      id = rule_bodies_[nodes[id].rule];
    }
    return id;
  };
  for (auto& n : nodes) {
    for (NodeId& c : n.children) {
      PARLEY_TRY(c, resolve(c));
    }
  }
  PARLEY_TRY(root, resolve(root));
  Grammar g;
  compute_nullable(nodes, g.nullable_);
  for (auto& n : nodes) {
    if (n.kind == NodeKind::repeat && n.max > 1 && g.nullable_[n.children[0]]) {
      return Error{"grammar: a repetition of something that can match the empty string"};
    }
    if (n.kind == NodeKind::text_until) {
      if (n.text.size() > 4096) return Error{"grammar: text_until terminator over 4096 bytes"};
      n.until_next = kmp_automaton(n.text);
    }
  }
  NodeId where = 0;
  if (has_left_recursion(nodes, g.nullable_, &where)) {
    return Error::fmt("grammar: left recursion through node %u", where);
  }
  g.nodes_ = std::move(nodes);
  g.root_ = root;
  g.rule_names_ = std::move(rule_names_);
  g.rule_bodies_ = std::move(rule_bodies_);
  rule_names_.clear();
  rule_bodies_.clear();
  return g;
}

namespace {

std::string quote_bytes(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7F) {
      out += str_printf("\\x%02X", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string byte_set_text(const ByteSet& s) {
  std::string out = "[";
  for (int b = 0; b < 256; b++) {
    if (!s.has(static_cast<uint8_t>(b))) continue;
    int e = b;
    while (e < 255 && s.has(static_cast<uint8_t>(e + 1))) e++;
    auto one = [](int c) {
      return (c > 0x20 && c < 0x7F && c != ']' && c != '\\' && c != '-')
                 ? std::string(1, static_cast<char>(c))
                 : str_printf("\\x%02X", c);
    };
    out += one(b);
    if (e > b) out += "-" + one(e);
    b = e;
  }
  return out + "]";
}

}  // namespace

std::string Grammar::to_string() const {
  std::unordered_map<NodeId, std::string> names;
  for (size_t r = 0; r < rule_bodies_.size(); r++) names.emplace(rule_bodies_[r], rule_names_[r]);
  names[root_] = "root";
  std::vector<NodeId> todo{root_};
  std::vector<uint8_t> printed(nodes_.size(), 0);
  std::string out;
  // Expressions print inline except rule bodies, which print as their name (and once as a rule).
  auto expr = [&](auto& self, NodeId id, bool top) -> std::string {
    auto it = names.find(id);
    if (!top && it != names.end()) {
      if (!printed[id]) todo.push_back(id);
      return it->second;
    }
    const Node& n = nodes_[id];
    auto list = [&](const char* sep) {
      std::string s = "(";
      for (size_t i = 0; i < n.children.size(); i++) {
        if (i) s += sep;
        s += self(self, n.children[i], false);
      }
      return s + ")";
    };
    switch (n.kind) {
      case NodeKind::empty: return "()";
      case NodeKind::literal: return quote_bytes(n.text);
      case NodeKind::byte_set: return byte_set_text(n.bytes);
      case NodeKind::sequence: return list(" ");
      case NodeKind::choice: return list(" | ");
      case NodeKind::repeat: {
        std::string max = n.max == kUnbounded ? "" : std::to_string(n.max);
        return self(self, n.children[0], false) + "{" + std::to_string(n.min) + "," + max + "}";
      }
      case NodeKind::rule_ref: return "<ref>";
      case NodeKind::text_until: return "until(" + quote_bytes(n.text) + ")";
    }
    return "?";
  };
  while (!todo.empty()) {
    NodeId id = todo.back();
    todo.pop_back();
    if (printed[id]) continue;
    printed[id] = 1;
    out += names[id] + " ::= " + expr(expr, id, true) + "\n";
  }
  return out;
}

}  // namespace parley::sampling
