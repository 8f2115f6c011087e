// Helpers for the grammar tests: byte-level matching of whole strings, and a tiny vocabulary.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/json.h"
#include "sampling/grammar-matcher.h"
#include "sampling/json-schema.h"

namespace parley::sampling::test {

// 256 one-byte tokens, then the extra pieces, then one EOG token (the last id).
inline std::shared_ptr<const TokenVocab> byte_vocab(const std::vector<std::string>& extra = {},
                                                    const std::vector<std::string>& special = {}) {
  std::vector<std::string> pieces;
  std::vector<TokenVocab::Kind> kinds;
  for (int b = 0; b < 256; b++) {
    pieces.emplace_back(1, static_cast<char>(b));
    kinds.push_back(TokenVocab::Kind::text);
  }
  for (const auto& e : extra) {
    pieces.push_back(e);
    kinds.push_back(TokenVocab::Kind::text);
  }
  for (const auto& s : special) {
    pieces.push_back(s);
    kinds.push_back(TokenVocab::Kind::special);
  }
  pieces.emplace_back("");
  kinds.push_back(TokenVocab::Kind::eog);
  return std::make_shared<const TokenVocab>(TokenVocab::from_pieces(pieces, kinds));
}

inline bool grammar_matches(const Grammar& g, std::string_view text) {
  static const auto vocab = byte_vocab();
  auto cg = std::make_shared<const CompiledGrammar>(g, vocab);
  GrammarMatcher m(cg);
  return m.accept_bytes(text) && m.can_end();
}

inline Grammar schema_grammar(std::string_view schema_json, bool strict = false) {
  auto schema = json::parse(schema_json);
  EXPECT_TRUE(schema.ok()) << schema_json;
  SchemaOptions o;
  o.strict = strict;
  auto g = compile_json_schema(*schema, o);
  EXPECT_TRUE(g.ok()) << schema_json << ": " << (g.ok() ? "" : g.error().message);
  if (!g.ok()) return GrammarBuilder().build(GrammarBuilder().empty()).value();
  return std::move(g->grammar);
}

}  // namespace parley::sampling::test
