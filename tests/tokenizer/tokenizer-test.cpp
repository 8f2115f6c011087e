// Tokenizer behaviour on small hand-made vocabularies: BPE merge order, SentencePiece scores and
// byte fallback, special-token splitting (precedence, parse_special, user-defined tokens,
// strip rules), BOS/EOS, the EOG set, decoding and the incremental decoder.
#include <gtest/gtest.h>

#include "tokenizer/bpe-model.h"
#include "tokenizer/pre-tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace parley::tokenizer {
namespace {

// Byte-level BPE over the 256 byte tokens (ids 0..255 = byte values) plus merges and extras.
VocabSpec bpe_spec(const std::vector<std::pair<std::string, std::string>>& merges,
                   const std::vector<std::pair<std::string, TokenType>>& extra = {}) {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "gpt-2";
  for (int b = 0; b < 256; b++) {
    s.tokens.push_back(gpt2_map(std::string(1, static_cast<char>(b))));
    s.token_types.push_back(static_cast<int32_t>(TokenType::normal));
  }
  for (const auto& [a, b] : merges) {
    s.merges.push_back(gpt2_map(a) + " " + gpt2_map(b));
    s.tokens.push_back(gpt2_map(a + b));
    s.token_types.push_back(static_cast<int32_t>(TokenType::normal));
  }
  for (const auto& [text, type] : extra) {
    s.tokens.push_back(text);
    s.token_types.push_back(static_cast<int32_t>(type));
  }
  return s;
}

Tokenizer make(const VocabSpec& spec) {
  auto t = Tokenizer::from_spec(spec);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return std::move(t).value();
}

TokenId id_of(const Tokenizer& t, std::string_view text) {
  for (TokenId i = 0; i < t.n_vocab(); i++) {
    if (t.token_text(i) == text) return i;
  }
  return -1;
}

std::vector<std::string> pieces(const Tokenizer& t, const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (TokenId id : ids) out.push_back(t.token_to_piece(id, true));
  return out;
}

using Strings = std::vector<std::string>;

TEST(Bpe, MergesByRankLeftmostFirst) {
  // "l l" ranks before "h e"; "aa" merges pairwise from the left.
  Tokenizer t = make(bpe_spec({{"l", "l"}, {"h", "e"}, {"he", "ll"}, {"a", "a"}, {"aa", "aa"}}));
  EXPECT_EQ(pieces(t, t.encode("hello")), (Strings{"hell", "o"}));
  EXPECT_EQ(pieces(t, t.encode("aaa")), (Strings{"aa", "a"}));
  EXPECT_EQ(pieces(t, t.encode("aaaaa")), (Strings{"aaaa", "a"}));
  // Pre-tokenizer: "  hello" gives " " and " hello" (which has no merge for " h").
  EXPECT_EQ(pieces(t, t.encode("hello  hello")), (Strings{"hell", "o", " ", " ", "hell", "o"}));
  // A long piece takes the heap path; same result as merging by hand.
  std::string long_a(101, 'a');
  auto ids = t.encode(long_a);
  EXPECT_EQ(ids.size(), 26u);  // 25 x "aaaa" + "a"
  EXPECT_EQ(t.decode(ids), long_a);
}

TEST(Bpe, SpecialTokensSplitOnlyWhenAsked) {
  Tokenizer t = make(bpe_spec({}, {{"<|im_start|>", TokenType::control},
                                   {"<tool>", TokenType::user_defined},
                                   {"<|im_end|>", TokenType::normal}}));
  TokenId start = id_of(t, "<|im_start|>"), tool = id_of(t, "<tool>"), end = id_of(t, "<|im_end|>");
  // Control text is plain text unless parse_special.
  auto plain = t.encode("a<|im_start|>b");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), start), 0);
  EXPECT_EQ(t.decode(plain), "a<|im_start|>b");
  EncodeOptions ps;
  ps.parse_special = true;
  EXPECT_EQ(t.encode("a<|im_start|>b", ps), (std::vector<TokenId>{'a', start, 'b'}));
  // User-defined tokens are always split out (as Hugging Face and llama.cpp do).
  EXPECT_EQ(t.encode("a<tool>b"), (std::vector<TokenId>{'a', tool, 'b'}));
  // <|im_end|> ends generation and becomes control whatever its stored type.
  EXPECT_TRUE(t.is_eog(end));
  EXPECT_TRUE(t.is_control(end));
  EXPECT_FALSE(t.is_eog(start));
  EXPECT_EQ(t.token_to_piece(end), "");
  EXPECT_EQ(t.token_to_piece(end, true), "<|im_end|>");
}

TEST(Bpe, LongestSpecialTokenWins) {
  // llama.cpp takes special tokens longest first, whatever their position: in "xabcd" the
  // 4-byte "abcd" wins over "xab" although "xab" starts first.
  Tokenizer t = make(bpe_spec({}, {{"xab", TokenType::user_defined}, {"abcd", TokenType::user_defined}}));
  EXPECT_EQ(pieces(t, t.encode("xabcd")), (Strings{"x", "abcd"}));
  EXPECT_EQ(pieces(t, t.encode("xabxab")), (Strings{"xab", "xab"}));
  EXPECT_EQ(pieces(t, t.encode("abcdabcd-xab")), (Strings{"abcd", "abcd", "-", "xab"}));
}

TEST(Bpe, BosEosFlags) {
  VocabSpec s = bpe_spec({}, {{"<s>", TokenType::control}, {"</s>", TokenType::control}});
  s.bos_id = 256;
  s.eos_id = 257;
  s.add_bos = true;
  s.add_eos = true;
  Tokenizer t = make(s);
  EncodeOptions add;
  add.add_special = true;
  EXPECT_EQ(t.encode("hi", add), (std::vector<TokenId>{256, 'h', 'i', 257}));
  EXPECT_EQ(t.encode("hi"), (std::vector<TokenId>{'h', 'i'}));
  EXPECT_EQ(t.decode(t.encode("hi", add)), "hi");
  EXPECT_EQ(t.decode(t.encode("hi", add), true), "<s>hi</s>");
  EXPECT_TRUE(t.is_eog(257));
  EXPECT_EQ(t.eog_ids(), (std::vector<TokenId>{257}));
}

TEST(Bpe, InvalidUtf8BecomesReplacementCharacters) {
  Tokenizer t = make(bpe_spec({}));
  // Each byte that cannot start a valid sequence is U+FFFD (EF BF BD) before splitting.
  EXPECT_EQ(t.decode(t.encode("a\xFF" "b\xE2\x82")), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(t.decode(t.encode("\xE2\x82\xAC")), "\xE2\x82\xAC");
}

// SentencePiece: <unk> <s> </s>, the 256 byte pieces, then scored pieces.
VocabSpec spm_spec(const std::vector<std::pair<std::string, float>>& pieces_scores) {
  VocabSpec s;
  s.model = "llama";
  auto add = [&](std::string text, float score, TokenType type) {
    s.tokens.push_back(std::move(text));
    s.scores.push_back(score);
    s.token_types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", 0, TokenType::unknown);
  add("<s>", 0, TokenType::control);
  add("</s>", 0, TokenType::control);
  for (int b = 0; b < 256; b++) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, 0, TokenType::byte);
  }
  for (const auto& [p, score] : pieces_scores) add(p, score, TokenType::normal);
  return s;
}

const char* kU = "\xE2\x96\x81";  // U+2581, SentencePiece's space

TEST(Spm, ScoresPrefixAndByteFallback) {
  std::string u = kU;
  Tokenizer t = make(spm_spec({{u, -1}, {"a", -2}, {"b", -3}, {u + "a", -4}, {"ab", -5},
                               {u + "ab", -6}, {"ba", -0.5f}}));
  // " " is prefixed: "ab" -> "▁ab" (▁a first: it scores higher than ab, then ▁a+b).
  EXPECT_EQ(pieces(t, t.encode("ab")), (Strings{" ab"}));
  // Higher score wins: in "▁aba", "ba" (-0.5) beats "▁a" (-4).
  EXPECT_EQ(pieces(t, t.encode("aba")), (Strings{" a", "ba"}));
  // Unknown characters fall back to their bytes.
  auto ids = t.encode("a\xC3\xA9");
  EXPECT_EQ(pieces(t, ids), (Strings{" a", "\xC3", "\xA9"}));
  EXPECT_EQ(t.decode(ids), "a\xC3\xA9");
  // The leading space is removed once when decoding; a real leading space survives.
  EXPECT_EQ(t.decode(t.encode(" a")), " a");
  EncodeOptions add;
  add.add_special = true;
  EXPECT_EQ(t.encode("a", add).front(), 1);
  EXPECT_EQ(t.decode(t.encode("ab", add)), "ab");
  EXPECT_TRUE(t.add_space_prefix());
}

TEST(Spm, SpacePrefixAfterSpecialTokens) {
  std::string u = kU;
  VocabSpec s = spm_spec({{u, -1}, {"a", -2}, {u + "a", -3}});
  for (const char* special : {"<|user|>", "<|end|>"}) {
    s.tokens.push_back(special);
    s.scores.push_back(0);
    s.token_types.push_back(static_cast<int32_t>(TokenType::user_defined));
  }
  Tokenizer t = make(s);
  TokenId end = id_of(t, "<|end|>");
  // Text after a special token gets the space prefix again (llama.cpp's rule).
  EXPECT_EQ(pieces(t, t.encode("a<|user|>a")), (Strings{" a", "<|user|>", " a"}));
  EXPECT_EQ(t.decode(t.encode("a<|user|>a")), "a<|user|>a");
  // <|end|> ends a turn, so it is control: plain text unless parse_special.
  EXPECT_TRUE(t.is_eog(end));
  EXPECT_TRUE(t.is_control(end));
  EXPECT_EQ(t.encode("<|end|>").size(), 8u);  // "▁" and 7 byte tokens
  // Phi-3 (by model name) strips white space after its special tokens.
  s.name = "Phi-3-mini";
  Tokenizer phi = make(s);
  EXPECT_EQ(pieces(phi, phi.encode("a<|user|>   a")), (Strings{" a", "<|user|>", " a"}));
  EncodeOptions ps;
  ps.parse_special = true;
  EXPECT_EQ(pieces(phi, phi.encode("a<|end|> \n a", ps)), (Strings{" a", "<|end|>", " a"}));
}

TEST(IncrementalDecoder, HoldsPartialCharacters) {
  Tokenizer t = make(spm_spec({{kU, -1}, {std::string(kU) + "Hi", -2}}));
  auto byte = [](int b) { return 3 + b; };
  IncrementalDecoder d(t);
  EXPECT_EQ(d.push(id_of(t, std::string(kU) + "Hi")), "Hi");  // leading space dropped once
  EXPECT_EQ(d.push(byte(0xE2)), "");
  EXPECT_EQ(d.push(byte(0x82)), "");
  EXPECT_EQ(d.push(byte(0xAC)), "\xE2\x82\xAC");
  EXPECT_EQ(d.push(id_of(t, std::string(kU) + "Hi")), " Hi");
  // A byte that can never start a character is U+FFFD at once; one that can is held.
  EXPECT_EQ(d.push(byte(0xFF)), "\xEF\xBF\xBD");
  EXPECT_EQ(d.push(byte(0xF0)), "");
  EXPECT_EQ(d.push(byte(0x41)), "\xEF\xBF\xBD" "A");  // F0 then 'A': F0 was invalid
  EXPECT_EQ(d.push(byte(0xF0)), "");
  EXPECT_EQ(d.push(byte(0x9F)), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD\xEF\xBF\xBD");  // incomplete at the end
  // After flush it starts over: the leading-space rule applies again.
  EXPECT_EQ(d.push(id_of(t, std::string(kU) + "Hi")), "Hi");
  // Control tokens are not shown unless asked, and re-arm the rule.
  EXPECT_EQ(d.push(1), "");
  EXPECT_EQ(d.push(id_of(t, std::string(kU) + "Hi")), "Hi");
  IncrementalDecoder shown(t, true);
  EXPECT_EQ(shown.push(1), "<s>");
}

TEST(PreTokenizer, CollapsedRegex) {
  EXPECT_EQ(collapse_regex(R"(\p{L}+)"), R"([\xD2\xD6-\xD9A-Za-z]+)");
  EXPECT_EQ(collapse_regex(R"([^\s\p{L}\p{N}])"), R"([^\s\xD2\xD6-\xD9A-Za-z\xD10-9])");
  EXPECT_EQ(collapse_regex(R"(\p{Lu}\p{Xyz})"), R"([\xD2A-Z]\p{Xyz})");
}

std::vector<std::string> split(const std::string& pre, std::string_view text) {
  auto family = pre_tokenizer_family(pre);
  EXPECT_TRUE(family.ok());
  auto p = PreTokenizer::compile(family->regexes);
  EXPECT_TRUE(p.ok()) << p.error().message;
  std::vector<size_t> ends;
  p->split(text, ends);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t e : ends) {
    out.emplace_back(text.substr(start, e - start));
    start = e;
  }
  return out;
}

TEST(PreTokenizer, Families) {
  EXPECT_EQ(split("gpt-2", " Hello  world!! 12345 it's"),
            (Strings{" Hello", " ", " world", "!!", " 12345", " it", "'s"}));
  EXPECT_EQ(split("llama-bpe", "12345 Hello\n\n  x IT'S"),
            (Strings{"123", "45", " Hello", "\n\n", " ", " x", " IT", "'S"}));
  EXPECT_EQ(split("qwen2", "x123"), (Strings{"x", "1", "2", "3"}));
  // Non-ASCII white space and letters: U+3000 is white space (never a prefix of a word: only
  // " " is), é and 中 are letters.
  EXPECT_EQ(split("gpt-2", "a\xE3\x80\x80\xE3\x80\x80" "b\xC3\xA9\xE4\xB8\xAD"),
            (Strings{"a", "\xE3\x80\x80", "\xE3\x80\x80", "b\xC3\xA9\xE4\xB8\xAD"}));
  // Each regex splits the previous pieces (falcon splits punctuation runs out first).
  EXPECT_EQ(split("falcon", "a+b 1234"), (Strings{"a", "+", "b", " ", "123", "4"}));
  // deepseek-llm's "\s+$" keeps the trailing white space of a piece.
  EXPECT_EQ(split("deepseek-llm", "ab  "), (Strings{"ab", "  "}));
  EXPECT_FALSE(pre_tokenizer_family("no-such-family").ok());
}

TEST(PreTokenizer, HugeWhiteSpaceRunsStayLinear) {
  std::string spaces(1 << 20, ' ');
  for (const char* pre : {"gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "gpt-4o", "falcon"}) {
    auto pieces_ws = split(pre, spaces + "x");
    ASSERT_GE(pieces_ws.size(), 2u) << pre;
    size_t total = 0;
    for (const auto& p : pieces_ws) total += p.size();
    EXPECT_EQ(total, spaces.size() + 1) << pre;
  }
}

TEST(Tokenizer, RejectsUnsupported) {
  VocabSpec s = bpe_spec({});
  s.model = "bert";
  EXPECT_FALSE(Tokenizer::from_spec(s).ok());
  s.model = "gpt2";
  s.pre = "kimi-k2";
  auto r = Tokenizer::from_spec(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("kimi-k2"), std::string::npos);
  VocabSpec empty;
  empty.model = "llama";
  EXPECT_FALSE(Tokenizer::from_spec(empty).ok());
}

}  // namespace
}  // namespace parley::tokenizer
