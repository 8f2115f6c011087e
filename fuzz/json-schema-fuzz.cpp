// Fuzzes the constrained-decoding path: the input is a JSON schema, a NUL byte, then text. The
// schema must compile or fail with an error; a compiled grammar runs the text byte by byte
// through a matcher (with masks on a small vocabulary now and then) — never a crash, a hang or
// a huge allocation. Non-JSON input is also tried as a regex `pattern`.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "sampling/grammar-matcher.h"
#include "sampling/json-schema.h"

namespace {

using namespace parley;
using namespace parley::sampling;

std::shared_ptr<const TokenVocab> small_vocab() {
  static const std::shared_ptr<const TokenVocab> v = [] {
    std::vector<std::string> pieces;
    std::vector<TokenVocab::Kind> kinds;
    for (int b = 0; b < 256; b++) {
      pieces.emplace_back(1, static_cast<char>(b));
      kinds.push_back(TokenVocab::Kind::text);
    }
    for (const char* p : {"{\"", "\": ", "\", \"", "\"}", "true", "null", "12", "\\u00", "\xe2\x98", "ab\"", "<tool_call>"}) {
      pieces.emplace_back(p);
      kinds.push_back(TokenVocab::Kind::text);
    }
    pieces.emplace_back("<|im_end|>");
    kinds.push_back(TokenVocab::Kind::special);
    pieces.emplace_back("");
    kinds.push_back(TokenVocab::Kind::eog);
    return std::make_shared<const TokenVocab>(TokenVocab::from_pieces(pieces, kinds));
  }();
  return v;
}

void run(Grammar g, std::string_view text, bool lazy) {
  MatcherOptions o;
  if (lazy) o.lazy_triggers = {"<tool_call>"};
  o.mask_cache_entries = 16;
  auto cg = std::make_shared<const CompiledGrammar>(std::move(g), small_vocab(), o);
  GrammarMatcher m(cg);
  std::vector<uint32_t> mask(cg->vocab().n_mask_words());
  for (size_t i = 0; i < text.size() && i < 512; i++) {
    if (i % 16 == 0) m.fill_mask(mask);
    if (!m.accept_bytes(text.substr(i, 1))) break;
  }
  m.fill_mask(mask);
  (void)m.can_end();
  (void)m.is_complete();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view schema_text = in.substr(0, nul);
  std::string_view text = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  SchemaOptions opt;
  opt.strict = size % 2 == 0;
  opt.max_nodes = 1 << 16;
  json::ParseOptions po;
  po.max_depth = 64;
  auto schema = json::parse(schema_text, po);
  if (schema.ok()) {
    auto g = compile_json_schema(*schema, opt);
    if (g.ok()) run(std::move(g->grammar), text, size % 3 == 0);
    return 0;
  }
  if (schema_text.size() > 256) return 0;
  GrammarBuilder b;
  auto content = add_json_string_pattern(b, schema_text);
  if (!content.ok()) return 0;
  auto g = b.build(b.seq({b.literal("\""), *content, b.literal("\"")}));
  if (g.ok()) run(std::move(*g), text, false);
  return 0;
}
