#include "sampling/grammar-matcher.h"

#include <gtest/gtest.h>

#include <cmath>

#include "grammar-test-util.h"
#include "sampling/grammar-tool-call.h"

namespace parley::sampling {
namespace {

using test::byte_vocab;
using test::grammar_matches;

TEST(Grammar, BuilderNodes) {
  GrammarBuilder b;
  CodepointRange greek[] = {{0x3B1, 0x3C9}};
  NodeId word = b.plus(b.char_class(greek));
  NodeId g = b.seq({b.literal("<"), b.repeat(b.choice({b.literal("ab"), word}), 1, 3), b.literal(">")});
  auto gr = b.build(g);
  ASSERT_TRUE(gr.ok()) << gr.error().message;
  EXPECT_TRUE(grammar_matches(*gr, "<ab>"));
  EXPECT_TRUE(grammar_matches(*gr, "<ab\xce\xb1\xce\xb2" "ab>"));
  EXPECT_FALSE(grammar_matches(*gr, "<>"));
  EXPECT_FALSE(grammar_matches(*gr, "<abababab>"));
  EXPECT_FALSE(grammar_matches(*gr, "<\xce\x91>"));  // capital alpha is outside
  EXPECT_NE(gr->to_string().find("root ::="), std::string::npos);
}

TEST(Grammar, NegatedClassesCoverAllOfUnicodeButSurrogates) {
  GrammarBuilder b;
  CodepointRange quote[] = {{'"', '"'}};
  auto g = b.build(b.star(b.char_class(quote, true)));
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(grammar_matches(*g, "a\xf4\x8f\xbf\xbf\xef\xbf\xbd\xed\x9f\xbf"));
  EXPECT_FALSE(grammar_matches(*g, "\""));
  EXPECT_FALSE(grammar_matches(*g, "\xed\xa0\x80"));  // U+D800
  EXPECT_FALSE(grammar_matches(*g, "\xc0\xaf"));      // overlong
}

TEST(Grammar, RulesRecurseAndTextUntil) {
  GrammarBuilder b;
  RuleId list = b.declare_rule("list");
  b.define_rule(list, b.seq({b.literal("("), b.star(b.ref(list)), b.literal(")")}));
  auto g = b.build(b.seq({b.literal("<think>"), b.text_until("</think>"), b.ref(list)}));
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_TRUE(grammar_matches(*g, "<think>a </th </think()()>x</think>(()())"));
  EXPECT_FALSE(grammar_matches(*g, "<think>x</think>(()"));
  EXPECT_FALSE(grammar_matches(*g, "<think>x</think>x()"));
}

TEST(Grammar, BuildRejectsWhatCannotTerminate) {
  {
    GrammarBuilder b;
    RuleId r = b.declare_rule("r");
    b.define_rule(r, b.choice({b.seq({b.ref(r), b.literal("a")}), b.literal("b")}));
    EXPECT_FALSE(b.build(b.ref(r)).ok());  // left recursion
  }
  {
    GrammarBuilder b;
    EXPECT_FALSE(b.build(b.star(b.optional(b.literal("a")))).ok());
  }
  {
    GrammarBuilder b;
    RuleId r = b.declare_rule("undefined");
    EXPECT_FALSE(b.build(b.ref(r)).ok());
  }
}

// Token-level behaviour on a vocabulary with multi-byte pieces and specials.
std::shared_ptr<const CompiledGrammar> compiled(Grammar g, std::shared_ptr<const TokenVocab> v,
                                                MatcherOptions o = {}) {
  return std::make_shared<const CompiledGrammar>(std::move(g), std::move(v), std::move(o));
}

std::vector<uint32_t> mask_of(GrammarMatcher& m) {
  std::vector<uint32_t> mask(m.compiled().vocab().n_mask_words());
  m.fill_mask(mask);
  return mask;
}

TEST(GrammarMatcher, MasksAgreeWithAcceptOnEveryToken) {
  auto vocab = byte_vocab({"{\"", "\": ", "name", "\", \"", "\"}", "abc\"", "\xc3", "\xa9", "12", "-"},
                          {"<|im_end|>", "<tool_call>"});
  auto g = test::schema_grammar(R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 4},
      "n": {"type": "integer", "minimum": -3}}, "required": ["name"], "additionalProperties": false})");
  GrammarMatcher m(compiled(g, vocab));
  std::string text;
  // A deterministic walk over varied allowed tokens, checking every token at every step.
  bool ended = false;
  for (int step = 0; step < 60 && !ended; step++) {
    auto mask = mask_of(m);
    std::vector<TokenId> multi, single;
    for (TokenId id = 0; id < vocab->n_vocab(); id++) {
      GrammarMatcher probe = m;
      bool allowed = mask_allows(mask, id);
      EXPECT_EQ(probe.accept(id), allowed) << "token " << id << " after '" << text << "'";
      if (allowed && m.compiled().is_eog(id)) ended = true;
      if (allowed && vocab->kind(id) == TokenVocab::Kind::text) (id >= 256 ? multi : single).push_back(id);
    }
    if (ended || (multi.empty() && single.empty())) break;
    const auto& pool = !multi.empty() && step % 3 != 2 ? multi : single;
    TokenId pick = pool[(static_cast<size_t>(step) * 7) % pool.size()];
    ASSERT_TRUE(m.accept(pick));
    text += vocab->bytes(pick);
  }
  EXPECT_TRUE(ended) << text;
}

TEST(GrammarMatcher, SpecialTokensMatchOnlyLiterals) {
  auto vocab = byte_vocab({}, {"<tool_call>", "<|im_end|>"});
  TokenId tool_call = 256, im_end = 257;
  GrammarBuilder b;
  auto g = b.build(b.seq({b.literal("<tool_call>"), b.star(b.byte_range(0, 255))}));
  ASSERT_TRUE(g.ok());
  GrammarMatcher m(compiled(*g, vocab));
  auto mask = mask_of(m);
  EXPECT_TRUE(mask_allows(mask, tool_call));
  EXPECT_TRUE(mask_allows(mask, '<'));
  EXPECT_FALSE(mask_allows(mask, im_end));
  ASSERT_TRUE(m.accept(tool_call));
  mask = mask_of(m);
  EXPECT_FALSE(mask_allows(mask, im_end)) << "a byte class never matches a special token";
  EXPECT_TRUE(mask_allows(mask, 'x'));
  EXPECT_TRUE(mask_allows(mask, 258)) << "EOG where the grammar may end";
}

TEST(GrammarMatcher, EndOfGenerationOnlyWhereTheGrammarMayEnd) {
  auto vocab = byte_vocab();
  TokenId eog = vocab->n_vocab() - 1;
  GrammarMatcher m(compiled(test::schema_grammar(R"({"type": "integer"})"), vocab));
  EXPECT_FALSE(mask_allows(mask_of(m), eog));
  EXPECT_FALSE(m.accept(eog));
  ASSERT_TRUE(m.accept('4'));
  EXPECT_TRUE(mask_allows(mask_of(m), eog));
  EXPECT_TRUE(m.accept(eog));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.accept('4'));
}

TEST(GrammarMatcher, LazyModeEngagesAfterTheTrigger) {
  auto vocab = byte_vocab({"<tool", "_call>", "{\"a\": 1}", "}\n"}, {"<tool_call>"});
  GrammarBuilder b;
  auto g = b.build(b.seq({b.literal("\n"), b.literal("{\"a\": 1}"), b.literal("\n</tool_call>")}));
  ASSERT_TRUE(g.ok());
  MatcherOptions o;
  o.lazy_triggers = {"<tool_call>"};
  auto cg = compiled(*g, vocab, o);
  GrammarMatcher m(cg);
  EXPECT_FALSE(m.engaged());
  ASSERT_TRUE(m.accept_bytes("Sure. "));
  auto mask = mask_of(m);
  for (TokenId id = 0; id < vocab->n_vocab(); id++) EXPECT_TRUE(mask_allows(mask, id));
  // The trigger split over two text tokens, then the rest of the grammar.
  ASSERT_TRUE(m.accept(256));
  EXPECT_FALSE(m.engaged());
  ASSERT_TRUE(m.accept(257));
  EXPECT_TRUE(m.engaged());
  mask = mask_of(m);
  EXPECT_TRUE(mask_allows(mask, '\n'));
  EXPECT_FALSE(mask_allows(mask, 'x'));
  EXPECT_FALSE(m.accept('x'));
  ASSERT_TRUE(m.accept_bytes("\n{\"a\": 1}\n</tool_call"));
  ASSERT_TRUE(m.accept_bytes(">"));
  EXPECT_FALSE(m.engaged()) << "back to free text after the call";
  ASSERT_TRUE(m.accept_bytes("anything"));
  // The special trigger token, with the grammar fed the trigger itself.
  MatcherOptions o2 = o;
  o2.trigger_in_grammar = true;
  GrammarBuilder b2;
  auto g2 = b2.build(b2.seq({b2.literal("<tool_call>"), b2.literal("{\"a\": 1}")}));
  ASSERT_TRUE(g2.ok());
  GrammarMatcher m2(compiled(*g2, vocab, o2));
  ASSERT_TRUE(m2.accept(260));
  EXPECT_TRUE(m2.engaged());
  EXPECT_FALSE(m2.accept('x'));
  ASSERT_TRUE(m2.accept(258));
  EXPECT_FALSE(m2.engaged());
}

TEST(GrammarMatcher, LazyWithoutReturnAllowsOnlyTheEnd) {
  auto vocab = byte_vocab();
  GrammarBuilder b;
  auto g = b.build(b.literal("x"));
  MatcherOptions o;
  o.lazy_triggers = {"!"};
  o.return_to_free = false;
  GrammarMatcher m(compiled(*g, vocab, o));
  ASSERT_TRUE(m.accept_bytes("ab!x"));
  EXPECT_TRUE(m.is_complete());
  auto mask = mask_of(m);
  EXPECT_FALSE(mask_allows(mask, 'a'));
  EXPECT_TRUE(mask_allows(mask, vocab->n_vocab() - 1));
}

TEST(GrammarMatcher, ToolCallGrammarJsonAndXml) {
  chat::CallSyntax qwen;
  qwen.begin = "<tool_call>\n";
  qwen.call_prefix = "{\"name\": \"";
  qwen.name_suffix = "\", \"arguments\": ";
  qwen.call_suffix = "}";
  qwen.separator = "\n</tool_call>\n<tool_call>\n";
  qwen.end = "\n</tool_call>";
  std::vector<chat::Tool> tools(2);
  tools[0].name = "Read";
  tools[0].parameters = *json::parse(R"({"type": "object", "properties": {"file_path": {"type": "string"},
      "limit": {"type": "integer", "exclusiveMinimum": 0}}, "required": ["file_path"], "additionalProperties": false})");
  tools[1].name = "Bash";
  tools[1].parameters = *json::parse(R"({"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]})");
  ToolGrammarOptions o;
  auto g = tool_call_grammar(qwen, tools, o);
  ASSERT_TRUE(g.ok()) << g.error().message;
  std::string read = "{\"name\": \"Read\", \"arguments\": {\"file_path\": \"/a\", \"limit\": 3}}";
  std::string bash = "{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}";
  EXPECT_TRUE(grammar_matches(*g, "<tool_call>\n" + read + "\n</tool_call>"));
  EXPECT_TRUE(grammar_matches(*g, "<tool_call>\n" + read + "\n</tool_call>\n<tool_call>\n" + bash + "\n</tool_call>"));
  EXPECT_FALSE(grammar_matches(*g, "<tool_call>\n{\"name\": \"Read\", \"arguments\": {\"limit\": 0}}\n</tool_call>"));
  o.parallel = false;
  o.only_tool = "Bash";
  o.thinking = {"<think>", "</think>"};
  auto one = tool_call_grammar(qwen, tools, o);
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(grammar_matches(*one, "<think>hm</think>\n\n<tool_call>\n" + bash + "\n</tool_call>"));
  EXPECT_FALSE(grammar_matches(*one, "<think>hm</think><tool_call>\n" + read + "\n</tool_call>"));
  EXPECT_FALSE(grammar_matches(*one, "<think>hm</think><tool_call>\n" + bash + "\n</tool_call>\n<tool_call>\n" + bash + "\n</tool_call>"));
  o.only_tool = "Nope";
  EXPECT_FALSE(tool_call_grammar(qwen, tools, o).ok());

  // A structured answer as the alternative to calls: the schema's JSON or calls, nothing else.
  ToolGrammarOptions ao;
  json::Value answer = *json::parse(R"({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]})");
  ao.answer_schema = &answer;
  auto ga = tool_call_grammar(qwen, tools, ao);
  ASSERT_TRUE(ga.ok()) << ga.error().message;
  EXPECT_TRUE(grammar_matches(*ga, "{\"title\": \"x\"}"));
  EXPECT_TRUE(grammar_matches(*ga, "<tool_call>\n" + bash + "\n</tool_call>"));
  EXPECT_FALSE(grammar_matches(*ga, "{\"name\": \"t\"}"));
  EXPECT_FALSE(grammar_matches(*ga, "plain text"));

  chat::CallSyntax xml;
  xml.args = chat::CallSyntax::Args::xml;
  xml.begin = "<tool_call>\n";
  xml.call_prefix = "<function=";
  xml.name_suffix = ">\n";
  xml.call_suffix = "</function>\n";
  xml.end = "</tool_call>";
  xml.arg_prefix = "<parameter=";
  xml.arg_middle = ">\n";
  xml.arg_suffix = "\n</parameter>\n";
  ToolGrammarOptions xo;
  auto gx = tool_call_grammar(xml, tools, xo);
  ASSERT_TRUE(gx.ok()) << gx.error().message;
  EXPECT_TRUE(grammar_matches(*gx, "<tool_call>\n<function=Read>\n<parameter=file_path>\n/a b\"c\n</parameter>\n"
                                   "<parameter=limit>\n5\n</parameter>\n</function>\n</tool_call>"));
  EXPECT_FALSE(grammar_matches(*gx, "<tool_call>\n<function=Read>\n<parameter=limit>\n5\n</parameter>\n</function>\n</tool_call>"));
}

// LFM2's pythonic calls (keyword arguments, each value as JSON) and Solar Open's model-written
// call id, as chat/output-parser-formats.cpp declares them.
TEST(GrammarMatcher, ToolCallGrammarPythonicAndIds) {
  std::vector<chat::Tool> tools(2);
  tools[0].name = "get_weather";
  tools[0].parameters = *json::parse(R"({"type": "object", "properties": {"city": {"type": "string"},
      "days": {"type": "integer"}, "units": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]})");
  tools[1].name = "get_time";
  tools[1].parameters = *json::parse(R"({"type": "object", "properties": {"tz": {"type": "string"}}})");
  chat::CallSyntax py;
  py.args = chat::CallSyntax::Args::python;
  py.begin = "<|tool_call_start|>[";
  py.name_suffix = "(";
  py.arg_middle = "=";
  py.arg_suffix = ", ";
  py.call_suffix = ")";
  py.separator = ", ";
  py.end = "]<|tool_call_end|>";
  ToolGrammarOptions o;
  auto g = tool_call_grammar(py, tools, o);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_TRUE(grammar_matches(*g, "<|tool_call_start|>[get_weather(city=\"Paris\", days=3)]<|tool_call_end|>"));
  EXPECT_TRUE(grammar_matches(*g, "<|tool_call_start|>[get_weather(city=\"Paris\", units=\"f\"), get_time()]<|tool_call_end|>"));
  EXPECT_TRUE(grammar_matches(*g, "<|tool_call_start|>[get_time(tz=\"UTC\")]<|tool_call_end|>"));
  EXPECT_FALSE(grammar_matches(*g, "<|tool_call_start|>[get_weather(days=3)]<|tool_call_end|>"));  // city required
  EXPECT_FALSE(grammar_matches(*g, "<|tool_call_start|>[get_weather(, city=\"Paris\")]<|tool_call_end|>"));
  EXPECT_FALSE(grammar_matches(*g, "<|tool_call_start|>[get_weather(city=\"Paris\" days=3)]<|tool_call_end|>"));
  EXPECT_FALSE(grammar_matches(*g, "<|tool_call_start|>[get_weather(city=\"Paris\", units=\"k\")]<|tool_call_end|>"));
  // A key that is no Python identifier cannot be a keyword argument: no grammar.
  std::vector<chat::Tool> dashed(1);
  dashed[0].name = "f";
  dashed[0].parameters = *json::parse(R"({"type": "object", "properties": {"file-path": {"type": "string"}}})");
  EXPECT_FALSE(tool_call_grammar(py, dashed, o).ok());

  chat::CallSyntax solar;
  solar.begin = "<|tool_calls|>";
  solar.call_prefix = "<|tool_call:begin|>";
  solar.id_suffix = "<|tool_call:name|>";
  solar.id_length = 10;
  solar.name_suffix = "<|tool_call:args|>";
  solar.call_suffix = "<|tool_call:end|>";
  solar.end = "<|calls|>";
  auto gs = tool_call_grammar(solar, tools, o);
  ASSERT_TRUE(gs.ok()) << gs.error().message;
  const std::string call = "<|tool_call:name|>get_weather<|tool_call:args|>{\"city\": \"Rome\"}<|tool_call:end|>";
  EXPECT_TRUE(grammar_matches(*gs, "<|tool_calls|><|tool_call:begin|>a1b2c3d4e5" + call + "<|calls|>"));
  EXPECT_TRUE(grammar_matches(*gs, "<|tool_calls|><|tool_call:begin|>a1b2c3d4e5" + call +
                                       "<|tool_call:begin|>0000000000" + call + "<|calls|>"));
  EXPECT_FALSE(grammar_matches(*gs, "<|tool_calls|><|tool_call:begin|>a1b2" + call + "<|calls|>"));
  EXPECT_FALSE(grammar_matches(*gs, "<|tool_calls|><|tool_call:begin|>A1B2C3D4E5" + call + "<|calls|>"));
  // Forced after thinking: what the template writes after <|end|> comes first.
  ToolGrammarOptions to;
  to.thinking = {"<|think|>", "<|end|>", "<|begin|>assistant"};
  auto gt = tool_call_grammar(solar, tools, to);
  ASSERT_TRUE(gt.ok());
  EXPECT_TRUE(grammar_matches(*gt, "<|think|>hm<|end|><|begin|>assistant<|tool_calls|><|tool_call:begin|>a1b2c3d4e5" +
                                       call + "<|calls|>"));
  EXPECT_FALSE(grammar_matches(*gt, "<|think|>hm<|end|><|tool_calls|><|tool_call:begin|>a1b2c3d4e5" + call + "<|calls|>"));
}

TEST(GrammarMatcher, ApplyMaskSetsForbiddenLogitsToMinusInfinity) {
  std::vector<uint32_t> mask{0b101u};
  std::vector<float> logits{1, 2, 3, 4};
  apply_token_mask(logits, mask, 3);
  EXPECT_EQ(logits[0], 1);
  EXPECT_TRUE(std::isinf(logits[1]) && logits[1] < 0);
  EXPECT_EQ(logits[2], 3);
  EXPECT_TRUE(std::isinf(logits[3]));  // past the vocabulary
}

}  // namespace
}  // namespace parley::sampling
