// Fuzzes the tokenizers: encode (any bytes, with or without special-token parsing and BOS/EOS),
// decode and the incremental decoder, on small built-in vocabularies (byte-level BPE and
// SentencePiece with special tokens) and, when ../shared is beside the checkout, on real ones
// (GPT-2, Qwen2.5, Llama 3, falcon, DeepSeek, Llama 2). Checked: no crash, ids in range, the
// streamed text is valid UTF-8, and valid UTF-8 round-trips (minus bytes a vocabulary lacks;
// SentencePiece reads U+2581 as a space). First input byte: bits 0-3 pick the tokenizer, bit 4
// parse_special, bit 5 add_special, bit 6 shows special tokens when decoding; bit 7 instead
// builds a vocabulary from the input (tokens, merges, types) and tokenizes with it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/utf8.h"
#include "tokenizer/bpe-model.h"
#include "tokenizer/tokenizer.h"

using namespace parley;
using namespace parley::tokenizer;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "tokenizer-fuzz: %s\n", what);
  std::abort();
}

VocabSpec builtin_bpe() {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "llama-bpe";
  for (int b = 0; b < 256; b++) s.tokens.push_back(gpt2_map(std::string(1, static_cast<char>(b))));
  s.token_types.assign(256, static_cast<int32_t>(TokenType::normal));
  const char* merges[][2] = {{" ", "t"}, {"h", "e"}, {" t", "he"}, {"i", "n"}, {" ", " "},
                             {"  ", "  "}, {"e", "r"}, {"\xC3", "\xA9"}, {"\n", "\n"}, {"{", "\""}};
  for (auto& m : merges) {
    s.merges.push_back(gpt2_map(m[0]) + " " + gpt2_map(m[1]));
    s.tokens.push_back(gpt2_map(std::string(m[0]) + m[1]));
    s.token_types.push_back(static_cast<int32_t>(TokenType::normal));
  }
  for (const char* t : {"<|im_start|>", "<|im_end|>", "<|endoftext|>"}) {
    s.tokens.push_back(t);
    s.token_types.push_back(static_cast<int32_t>(TokenType::control));
  }
  s.tokens.push_back("<tool_call>");
  s.token_types.push_back(static_cast<int32_t>(TokenType::user_defined));
  s.bos_id = static_cast<int64_t>(s.tokens.size() - 2);
  s.eos_id = static_cast<int64_t>(s.tokens.size() - 3);
  s.add_bos = true;
  s.add_eos = true;
  return s;
}

// phi3: the model name turns on Phi-3's rule that strips white space after special tokens.
VocabSpec builtin_spm(bool phi3) {
  VocabSpec s;
  s.model = "llama";
  if (phi3) s.name = "phi-3-fuzz";
  auto add = [&](std::string t, float score, TokenType type) {
    s.tokens.push_back(std::move(t));
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
  const char* u = "\xE2\x96\x81";
  float score = -1;
  for (std::string p : {std::string(u), std::string(u) + u, std::string(u) + "t", std::string("he"), std::string(u) + "the",
                        std::string("a"), std::string("e"), std::string("t"), std::string("h"), std::string("\xC3\xA9")}) {
    add(p, score, TokenType::normal);
    score -= 1;
  }
  add("<|user|>", 0, TokenType::user_defined);
  add("<|end|>", 0, TokenType::user_defined);
  return s;
}

struct State {
  std::vector<std::unique_ptr<Tokenizer>> toks;
  std::vector<bool> round_trips;  // false where white space after special tokens is stripped
};

State* g_state = nullptr;

void add(State& st, Result<Tokenizer> t, bool round_trips = true) {
  if (!t) fail(t.error().message.c_str());
  st.toks.push_back(std::make_unique<Tokenizer>(std::move(t).value()));
  st.round_trips.push_back(round_trips);
}

// What decode(encode(x)) gives for valid UTF-8 x: bytes without a token dropped; SentencePiece
// reads U+2581 as a space.
std::string expected(const Tokenizer& t, std::string_view x) {
  std::string out;
  const bool spm = t.model() == "llama";
  for (size_t i = 0; i < x.size(); i++) {
    if (spm && x.compare(i, 3, "\xE2\x96\x81") == 0) {
      out += ' ';
      i += 2;
      continue;
    }
    if (t.byte_representable(static_cast<uint8_t>(x[i]))) out += x[i];
  }
  return out;
}

void exercise(const Tokenizer& t, bool round_trips, std::string_view text, uint8_t flags) {
  EncodeOptions o;
  o.parse_special = flags & 0x10;
  o.add_special = flags & 0x20;
  bool special = flags & 0x40;
  std::vector<TokenId> ids = t.encode(text, o);
  for (TokenId id : ids) {
    if (id < 0 || id >= t.n_vocab()) fail("id out of range");
  }
  std::string decoded = t.decode(ids, special);
  IncrementalDecoder d(t, special);
  std::string streamed;
  for (TokenId id : ids) streamed += d.push(id);
  streamed += d.flush();
  if (!utf8::is_valid(streamed)) fail("the incremental decoder produced invalid UTF-8");
  (void)t.is_eog(ids.empty() ? 0 : ids.back());
  // Without special-token parsing (and with special tokens hidden), valid text comes back.
  if (round_trips && !o.parse_special && !special && utf8::is_valid(text) &&
      decoded != expected(t, text)) {
    fail("decode(encode(x)) != x");
  }
}

// A vocabulary from the input: lines "tokens | merges | types", model and pre from a byte.
void exercise_built(const uint8_t* data, size_t size) {
  static const char* kPre[] = {"gpt-2", "llama-bpe", "qwen2", "falcon", "deepseek-llm", "gpt-4o", "default"};
  VocabSpec s;
  s.model = (data[0] & 1) ? "llama" : "gpt2";
  s.pre = kPre[(data[0] >> 1) % 7];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t bar = rest.find('|');
  std::string_view tokens = rest.substr(0, bar);
  std::string_view merges = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
  for (size_t p = 0; p <= tokens.size() && s.tokens.size() < 300;) {
    size_t nl = tokens.find('\n', p);
    if (nl == std::string_view::npos) nl = tokens.size();
    std::string tok(tokens.substr(p, nl - p));
    s.tokens.push_back(tok);
    s.scores.push_back(-static_cast<float>(s.tokens.size()));
    s.token_types.push_back(tok.empty() ? 0 : static_cast<int32_t>(static_cast<unsigned char>(tok[0]) % 7));
    p = nl + 1;
  }
  for (size_t p = 0; p < merges.size() && s.merges.size() < 300;) {
    size_t nl = merges.find('\n', p);
    if (nl == std::string_view::npos) nl = merges.size();
    s.merges.emplace_back(merges.substr(p, nl - p));
    p = nl + 1;
  }
  if (data[0] & 0x40) {
    s.bos_id = 0;
    s.eos_id = static_cast<int64_t>(s.tokens.size() - 1);
    s.add_bos = s.add_eos = true;
  }
  auto t = Tokenizer::from_spec(s);
  if (!t) return;
  for (std::string_view text : {std::string_view(rest), std::string_view("Hello world <|im_start|> 123 \xC3\xA9\xF0\x9F\x98\x80")}) {
    std::vector<TokenId> ids = t->encode(text, {true, true});
    for (TokenId id : ids) {
      if (id < 0 || id >= t->n_vocab()) fail("id out of range (built vocabulary)");
    }
    IncrementalDecoder d(*t, true);
    std::string streamed;
    for (TokenId id : ids) streamed += d.push(id);
    streamed += d.flush();
    if (!utf8::is_valid(streamed)) fail("invalid UTF-8 from the incremental decoder (built vocabulary)");
    (void)t->decode(ids, true);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto* st = new State;
  add(*st, Tokenizer::from_spec(builtin_bpe()));
  add(*st, Tokenizer::from_spec(builtin_spm(false)));
  add(*st, Tokenizer::from_spec(builtin_spm(true)), false);
  // ../shared beside the checkout (this file is <repo>/fuzz/tokenizer-fuzz.cpp), or
  // $PARLEY_SHARED_DIR.
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path shared = fs::absolute(fs::path(__FILE__), ec).parent_path().parent_path().parent_path() / "shared";
  if (const char* env = std::getenv("PARLEY_SHARED_DIR")) shared = env;
  shared /= "tokenizers";
  struct Real {
    const char* path;
    bool gguf;
  };
  const Real reals[] = {{"vectors/gguf/ggml-vocab-gpt-2.gguf", true},
                        {"vectors/gguf/ggml-vocab-llama-spm.gguf", true},
                        {"vectors/gguf/ggml-vocab-falcon.gguf", true},
                        {"vectors/gguf/ggml-vocab-deepseek-llm.gguf", true},
                        {"vectors/gguf/ggml-vocab-deepseek-coder.gguf", true},
                        {"Qwen2.5-0.5B-Instruct", false},
                        {"Llama-3/tokenizer.model", false}};
  for (const Real& r : reals) {
    fs::path p = shared / r.path;
    if (!fs::exists(p, ec)) continue;
    add(*st, r.gguf ? Tokenizer::from_gguf(p.string()) : Tokenizer::from_hf(p.string()));
  }
  std::fprintf(stderr, "tokenizer-fuzz: %zu tokenizers\n", st->toks.size());
  g_state = st;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 0x80) {
    exercise_built(data, size);
    return 0;
  }
  size_t k = (data[0] & 15) % g_state->toks.size();
  exercise(*g_state->toks[k], g_state->round_trips[k],
           std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), data[0]);
  return 0;
}
