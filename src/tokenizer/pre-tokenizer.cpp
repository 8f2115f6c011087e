#include "tokenizer/pre-tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>

#include "base/check.h"
#include "base/utf8.h"
#include "tokenizer/unicode-classes.h"

namespace parley::tokenizer {
namespace {

// Non-ASCII characters in these regexes are written as \x{..}: some (U+1FD3, U+212A, ...) have
// canonical equivalents that an editor may silently normalize.
// The regexes, in the dialect llama.cpp uses (they come from the models' tokenizer.json files;
// "(?i:...)" contractions are spelled out as character classes there).
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kContractions =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))";
constexpr const char* kLlama3Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kCjk = "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+";
constexpr const char* kCjkKana = "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+";
constexpr const char* kDeepseek3 =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kBloom = " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+";
// o200k (GPT-4o, Llama 4): case runs (upper* lower+ | upper+ lower*, marks count as both) with
// an optional contraction. This is the models' own regex with real Unicode case classes;
// llama.cpp substitutes "letter but not a-z" / "not A-Z" and drops \p{M}, which splits
// combining marks off (2 of the 46 llama4 vectors then differ from the reference).
constexpr const char* kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kDeepseekLlmLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-)"
    R"(\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-)"
    R"(\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-)"
    R"(\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-)"
    R"(\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    R"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-)"
    R"(\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-)"
    R"(\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126})"
    R"(\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149})"
    R"(\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2})"
    R"(\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-)"
    R"(\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-)"
    R"(\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2})"
    R"(\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kTrailingSpace = R"(\s+$)";

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (auto p : parts) s += p;
  return s;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

// Class byte of a non-ASCII code point in the collapsed subject, by unicode::Class (llama.cpp's
// bytes for other, N, L, P, M, S; the letter subclasses get bytes of their own).
constexpr std::array<char, 10> kClassByte = {'\xD0', '\xD1', '\xD2', '\xD6', '\xD7',
                                             '\xD8', '\xD9', '\xD3', '\xD4', '\xD5'};

struct CategoryRewrite {
  std::string_view name;
  std::string_view body;  // PCRE2 class body: the class bytes and the ASCII members
};
constexpr std::array<CategoryRewrite, 10> kRewrites = {{
    {"N", R"(\xD10-9)"},
    {"L", R"(\xD2\xD6-\xD9A-Za-z)"},
    {"P", R"(\xD3!-#%-*,-/:-;?-@\[-\]_\{\})"},
    {"M", R"(\xD4)"},
    {"S", R"(\xD5\$\+<->\^`\|\~)"},
    {"Lu", R"(\xD2A-Z)"},
    {"Ll", R"(\xD6a-z)"},
    {"Lt", R"(\xD7)"},
    {"Lm", R"(\xD8)"},
    {"Lo", R"(\xD9)"},
}};

const CategoryRewrite* find_rewrite(std::string_view name) {
  for (const auto& r : kRewrites) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// True when the regex uses a \p{..} class the collapsed subject can express.
bool uses_categories(std::string_view regex) {
  for (size_t i = 0; i + 3 < regex.size(); i++) {
    if (regex[i] != '\\' || regex[i + 1] != 'p' || regex[i + 2] != '{') continue;
    size_t close = regex.find('}', i + 3);
    if (close != std::string_view::npos && find_rewrite(regex.substr(i + 3, close - i - 3))) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string collapse_regex(std::string_view regex) {
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < regex.size(); i++) {
    char c = regex[i];
    if (c == '[' && (i == 0 || regex[i - 1] != '\\')) {
      out += '[';
      inside = true;
      continue;
    }
    if (inside && c == ']' && regex[i - 1] != '\\') {
      out += ']';
      inside = false;
      continue;
    }
    if (c == '\\' && i + 3 < regex.size() && regex[i + 1] == 'p' && regex[i + 2] == '{') {
      size_t close = regex.find('}', i + 3);
      if (close != std::string_view::npos) {
        if (const CategoryRewrite* r = find_rewrite(regex.substr(i + 3, close - i - 3))) {
          if (!inside) out += '[';
          out += r->body;
          if (!inside) out += ']';
          i = close;
          continue;
        }
      }
    }
    out += c;
  }
  return out;
}

Result<PreTokenizerFamily> pre_tokenizer_family(std::string_view pre) {
  PreTokenizerFamily f;
  const std::string llama3 = cat({kContractions, kLlama3Tail});
  const std::string qwen2 = cat({kContractions, kQwen2Tail});
  if (pre.empty() || pre == "default") {
    f.regexes = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  } else if (one_of(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                          "midm-2.0", "lfm2", "jina-v5-nano"})) {
    f.regexes = {llama3};
    f.ignore_merges = true;
    f.add_bos = true;
  } else if (pre == "tekken") {
    f.regexes = {cat({R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"})};
    f.ignore_merges = true;
    f.add_bos = true;
  } else if (pre == "minicpm5") {
    f.regexes = {R"(\p{N}{1,3})",
                 cat({kContractions, R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"})};
    f.ignore_merges = true;
  } else if (one_of(pre, {"dbrx", "smaug-bpe"})) {
    f.regexes = {llama3};
  } else if (one_of(pre, {"glm4", "chatglm-bpe"})) {
    f.regexes = {llama3};
    f.no_bos = true;
  } else if (pre == "jais-2") {
    f.regexes = {cat({kContractions, R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})"})};
  } else if (pre == "deepseek-llm") {
    f.regexes = {"[\r\n]", kDeepseekLlmLetters, "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+", kTrailingSpace, kCjk,
                 R"(\p{N}+)"};
  } else if (one_of(pre, {"deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"})) {
    f.regexes = {R"(\p{N}{1,3})", kCjkKana, kDeepseek3};
  } else if (pre == "spark2_5") {
    f.regexes = {R"(\p{N}{1,3})", kCjkKana,
                 R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+)",
                 R"(\p{N})"};
  } else if (pre == "deepseek-coder") {
    f.regexes = {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"};
  } else if (pre == "falcon") {
    f.regexes = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"};
  } else if (one_of(pre, {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                          "minerva-7b", "mellum2"})) {
    f.regexes = {R"(\p{N})", kGpt2};
  } else if (one_of(pre, {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
                          "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "exaone4", "mpt",
                          "olmo", "jais", "trillion", "granite-docling", "jina-v1-en",
                          "jina-v2-code", "roberta-bpe"})) {
    f.regexes = {kGpt2};
  } else if (one_of(pre, {"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2",
                          "hunyuan", "solar-open", "grok-2"})) {
    f.regexes = {qwen2};
  } else if (pre == "qwen35") {
    f.regexes = {cat({kContractions, R"(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"})};
  } else if (one_of(pre, {"poro-chat", "bloom", "gpt3-finnish"})) {
    f.regexes = {kBloom};
  } else if (pre == "viking") {
    f.regexes = {kBloom, R"(\p{N})"};
  } else if (pre == "chameleon") {
    f.regexes = {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", R"(([\t\n]|    |  ))",
                 R"(\p{N})", R"([\p{P}!-/:-@\[-`{-~])", kGpt2};
    f.add_bos = true;
  } else if (one_of(pre, {"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"})) {
    f.regexes = {kGpt4o};
  } else if (pre == "bailingmoe" || pre == "bailingmoe2" || pre == "llada-moe") {
    f.regexes = {R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)"};
  } else if (pre == "seed-coder") {
    f.regexes = {cat({kContractions, R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)"})};
  } else if (pre == "ufakzeka") {
    f.regexes = {R"([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  } else if (pre == "laguna") {
    f.regexes = {R"([^\n]+|[\n]+)", qwen2};
  } else if (pre == "exaone-moe") {
    f.regexes = {cat({kContractions, R"(|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)"})};
  } else {
    return Error{"pre-tokenizer " + quote_for_message(pre) + " is not supported"};
  }
  return f;
}

struct PreTokenizer::Regex {
  enum class Kind { collapsed, wide, trailing_space };
  Kind kind = Kind::collapsed;
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Regex() {
    if (code) pcre2_code_free(code);
  }
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

Result<PreTokenizer> PreTokenizer::compile(const std::vector<std::string>& regexes) {
  PreTokenizer p;
  for (const std::string& source : regexes) {
    auto r = std::make_unique<Regex>();
    std::string pattern;
    uint32_t options = PCRE2_DOLLAR_ENDONLY;
    if (source == kTrailingSpace) {
      // "\s+$" searched with a backtracking engine is quadratic on long white space runs; it
      // matches exactly the trailing white space of the piece, which is found directly.
      r->kind = Regex::Kind::trailing_space;
      p.regexes_.push_back(std::move(r));
      continue;
    }
    if (uses_categories(source)) {
      r->kind = Regex::Kind::collapsed;
      if (!utf8::is_valid(source)) return Error{"pre-tokenizer regex is not valid UTF-8"};
      for (unsigned char c : source) {
        if (c >= 0x80) {
          return Error{"pre-tokenizer regex mixes \\p{..} classes with non-ASCII characters: " +
                       quote_for_message(source)};
        }
      }
      pattern = collapse_regex(source);
      p.need_collapsed_ = true;
    } else {
      r->kind = Regex::Kind::wide;
      pattern = source;
      options |= PCRE2_UTF;
      p.need_wide_ = true;
    }
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    r->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                            &err, &err_offset, nullptr);
    if (r->code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return Error::fmt("pre-tokenizer regex %s: %s at offset %zu", quote_for_message(source).c_str(),
                        reinterpret_cast<const char*>(msg), static_cast<size_t>(err_offset));
    }
    r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    p.regexes_.push_back(std::move(r));
  }
  return p;
}

namespace {

// Finds the first match of `re` in subject[start, end); returns false when there is none.
bool find_match(pcre2_code* code, bool jit, const char* subject, size_t start, size_t end,
                pcre2_match_data* md, size_t* ms, size_t* me) {
  auto s = reinterpret_cast<PCRE2_SPTR>(subject);
  int rc = jit ? pcre2_jit_match(code, s, end, start, 0, md, nullptr)
               : pcre2_match(code, s, end, start, PCRE2_NO_UTF_CHECK, md, nullptr);
  // rc == 0 means the match succeeded but the 1-pair ovector could not hold the groups.
  if (rc < 0) return false;
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  *ms = ov[0];
  *me = ov[1];
  return true;
}

char collapsed_byte(uint32_t cp) {
  if (cp < 0x80) return static_cast<char>(cp);
  uint8_t bits = unicode::class_bits(cp);
  if (bits & unicode::kWhiteSpaceBit) return '\x0B';
  return kClassByte[bits & unicode::kClassMask];
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<size_t>& piece_ends) const {
  if (text.empty()) return;
  // Code points with their byte offsets (cp_byte[i] = start of code point i; [n] = size).
  std::vector<uint32_t> cps;
  std::vector<size_t> cp_byte;
  cps.reserve(text.size());
  cp_byte.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 1;
    int32_t cp = utf8::decode(text, pos, &len);
    cps.push_back(cp < 0 ? 0xFFFDu : static_cast<uint32_t>(cp));
    cp_byte.push_back(pos);
    pos += len;
  }
  const size_t n = cps.size();
  cp_byte.push_back(text.size());

  std::string collapsed;
  if (need_collapsed_) {
    collapsed.resize(n);
    for (size_t i = 0; i < n; i++) collapsed[i] = collapsed_byte(cps[i]);
  }
  std::string wide;
  std::vector<size_t> wide_off;            // byte offset in `wide` of code point i
  std::vector<uint32_t> wide_cp;           // code point index at a byte offset of `wide`
  if (need_wide_) {
    wide.reserve(text.size());
    wide_off.reserve(n + 1);
    for (size_t i = 0; i < n; i++) {
      wide_off.push_back(wide.size());
      uint32_t cp = cps[i];
      if (cp >= 0x80 && unicode::is_white_space(cp)) cp = 0x0B;
      utf8::append(wide, cp);
    }
    wide_off.push_back(wide.size());
    wide_cp.assign(wide.size() + 1, 0);
    for (size_t i = 0; i <= n; i++) wide_cp[wide_off[i]] = static_cast<uint32_t>(i);
  }

  std::vector<size_t> ends{n}, next;
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  PARLEY_CHECK(md != nullptr);
  for (const auto& re : regexes_) {
    next.clear();
    size_t start = 0;
    for (size_t end : ends) {
      size_t pos = start;
      if (re->kind == Regex::Kind::trailing_space) {
        size_t ws = end;
        while (ws > start && unicode::is_white_space(cps[ws - 1])) ws--;
        if (ws > start && ws < end) next.push_back(ws);
        next.push_back(end);
        start = end;
        continue;
      }
      // `pos`: end of the last piece; `search`: where the next search starts (they differ only
      // after an empty match, which splits nothing).
      size_t search = pos;
      while (search < end) {
        size_t ms = 0, me = 0;
        bool found;
        if (re->kind == Regex::Kind::collapsed) {
          found = find_match(re->code, re->jit, collapsed.data(), search, end, md, &ms, &me);
        } else {
          found = find_match(re->code, re->jit, wide.data(), wide_off[search], wide_off[end], md,
                             &ms, &me);
          if (found) {
            ms = wide_cp[ms];
            me = wide_cp[me];
          }
        }
        if (!found) break;
        if (me == ms) {
          search = ms + 1;
          continue;
        }
        if (ms > pos) next.push_back(ms);
        next.push_back(me);
        pos = search = me;
      }
      if (pos < end) next.push_back(end);
      start = end;
    }
    ends.swap(next);
  }
  pcre2_match_data_free(md);
  for (size_t e : ends) piece_ends.push_back(cp_byte[e]);
}

}  // namespace parley::tokenizer
