#include "chat/jinja/lexer.h"

#include <cstring>

#include "base/strings.h"
#include "base/utf8.h"
#include "chat/jinja/error.h"
#include "chat/jinja/value.h"

namespace parley::chat::jinja {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Byte length of the Python whitespace code point at s[i], or 0.
size_t space_len(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return is_py_space(c) ? 1 : 0;
  size_t len = 0;
  int32_t cp = utf8::decode(s, i, &len);
  return cp >= 0 && is_py_space(static_cast<uint32_t>(cp)) ? len : 0;
}

size_t skip_spaces(std::string_view s, size_t i) {
  while (size_t n = space_len(s, i)) i += n;
  return i;
}

// Python's str.rstrip() with no argument.
std::string_view rstrip_py(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) start--;
    if (space_len(s, start) != end - start) break;
    end = start;
  }
  return s.substr(0, end);
}

uint32_t count_lines(std::string_view s) {
  uint32_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

bool starts(std::string_view s, size_t pos, std::string_view what) {
  return pos <= s.size() && s.substr(pos, what.size()) == what;
}

// (\d+_)*\d+ at p: the end, or npos.
size_t match_digits(std::string_view s, size_t p) {
  if (p >= s.size() || !is_digit(s[p])) return std::string_view::npos;
  while (true) {
    while (p < s.size() && is_digit(s[p])) p++;
    if (p + 1 < s.size() && s[p] == '_' && is_digit(s[p + 1])) {
      p++;
      continue;
    }
    return p;
  }
}

// jinja2's float_re at p (not preceded by '.'): the end, or npos.
size_t match_float(std::string_view s, size_t p) {
  if (p > 0 && s[p - 1] == '.') return std::string_view::npos;
  size_t q = match_digits(s, p);
  if (q == std::string_view::npos) return q;
  auto exponent = [&](size_t e) -> size_t {
    if (e >= s.size() || (s[e] != 'e' && s[e] != 'E')) return std::string_view::npos;
    e++;
    if (e < s.size() && (s[e] == '+' || s[e] == '-')) e++;
    return match_digits(s, e);
  };
  if (q < s.size() && s[q] == '.') {
    size_t f = match_digits(s, q + 1);
    if (f != std::string_view::npos) {
      size_t e = exponent(f);
      return e != std::string_view::npos ? e : f;
    }
  }
  return exponent(q);
}

bool is_digit_base(char c, int base) {
  if (base == 2) return c == '0' || c == '1';
  if (base == 8) return c >= '0' && c <= '7';
  if (base == 16) return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  return is_digit(c);
}

// jinja2's integer_re at p: the end, or npos; *base receives the base.
size_t match_integer(std::string_view s, size_t p, int* base) {
  if (p >= s.size() || !is_digit(s[p])) return std::string_view::npos;
  if (s[p] == '0' && p + 1 < s.size()) {
    char x = static_cast<char>(s[p + 1] | 0x20);
    int b = x == 'b' ? 2 : x == 'o' ? 8 : x == 'x' ? 16 : 0;
    if (b) {
      size_t q = p + 2;
      size_t end = std::string_view::npos;
      while (true) {
        size_t r = q;
        if (r < s.size() && s[r] == '_') r++;
        if (r < s.size() && is_digit_base(s[r], b)) {
          q = r + 1;
          end = q;
        } else {
          break;
        }
      }
      if (end != std::string_view::npos) {
        *base = b;
        return end;
      }
    }
  }
  *base = 10;
  size_t q = p + 1;
  char want_first = s[p];
  while (true) {
    size_t r = q;
    if (r < s.size() && s[r] == '_') r++;
    // After a leading 0 only more zeros belong to the literal ("0(_?0)*").
    if (r < s.size() && (want_first == '0' ? s[r] == '0' : is_digit(s[r]))) {
      q = r + 1;
    } else {
      break;
    }
  }
  return q;
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  c = static_cast<char>(c | 0x20);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Python's backslash escape for a non-ASCII code point (what "backslashreplace" writes).
void append_backslash_form(std::string& out, uint32_t cp) {
  char buf[16];
  if (cp < 0x100) {
    std::snprintf(buf, sizeof buf, "\\x%02x", cp);
  } else if (cp < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04x", cp);
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08x", cp);
  }
  out += buf;
}

void append_code_point(std::string& out, uint32_t cp) {
  // A lone surrogate cannot be UTF-8; Python would fail later when encoding it.
  if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
  utf8::append(out, cp);
}

// The string literal body decoded the way jinja2 does it:
// body.encode("ascii", "backslashreplace").decode("unicode-escape").
std::string unescape(std::string_view body, uint32_t line) {
  std::string out;
  out.reserve(body.size());
  size_t i = 0;
  auto fail = [&](const char* what) {
    throw_error(ErrorKind::syntax, std::string("invalid string literal: ") + what, line);
  };
  while (i < body.size()) {
    char c = body[i];
    if (c != '\\') {
      out += c;
      i++;
      continue;
    }
    i++;
    if (i >= body.size()) fail("\\ at end of string");
    char e = body[i];
    if (static_cast<unsigned char>(e) >= 0x80) {
      // The backslash escapes only the first character of the backslashreplace form.
      size_t len = 0;
      int32_t cp = utf8::decode(body, i, &len);
      std::string form;
      append_backslash_form(form, static_cast<uint32_t>(cp < 0 ? 0xFFFD : cp));
      out += '\\';
      out += form.substr(1);
      i += len;
      continue;
    }
    i++;
    switch (e) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x':
      case 'u':
      case 'U': {
        int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (int k = 0; k < n; k++) {
          if (i >= body.size() || hex_value(body[i]) < 0) fail("truncated \\x, \\u or \\U escape");
          v = v * 16 + static_cast<uint32_t>(hex_value(body[i]));
          i++;
        }
        if (v > 0x10FFFF) fail("illegal Unicode character");
        append_code_point(out, v);
        break;
      }
      case 'N': fail("\\N{...} escapes are not supported"); break;
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; k++) {
            v = v * 8 + static_cast<uint32_t>(body[i] - '0');
            i++;
          }
          append_code_point(out, v);
        } else {
          // Unknown escapes stay as written.
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view src, const LexOptions& opt) : s_(src), opt_(opt) {}

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < s_.size()) {
      size_t t = find_tag(pos_);
      if (t == std::string_view::npos) {
        emit_data(s_.substr(pos_), line_);
        line_ += count_lines(s_.substr(pos_));
        pos_ = s_.size();
        break;
      }
      char kind = s_[t + 1];
      size_t after = t + 2;
      char sign = 0;
      if (after < s_.size() && (s_[after] == '-' || s_[after] == '+')) sign = s_[after++];
      size_t raw_end = kind == '%' ? match_raw_begin(after) : std::string_view::npos;
      std::string_view text = s_.substr(pos_, t - pos_);
      uint32_t text_line = line_;
      line_ += count_lines(text);
      emit_data(strip_text(text, sign, kind != '{', line_starting), text_line);
      if (raw_end != std::string_view::npos) {
        line_ += count_lines(s_.substr(after, raw_end - after));
        line_starting = s_[raw_end - 1] == '\n';
        pos_ = raw_end;
        line_starting = lex_raw(line_starting);
        continue;
      }
      pos_ = after;
      if (kind == '#') {
        line_starting = lex_comment();
      } else {
        push(kind == '{' ? Tok::variable_begin : Tok::block_begin, line_);
        line_starting = lex_inner(kind == '{');
      }
    }
    push(Tok::eof, line_);
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    while (true) {
      size_t t = s_.find('{', from);
      if (t == std::string_view::npos || t + 1 >= s_.size()) return std::string_view::npos;
      char c = s_[t + 1];
      if (c == '{' || c == '%' || c == '#') return t;
      from = t + 1;
    }
  }

  // After "{%" and its sign: "\s*raw\s*(-%}\s*|%})" -> end of the match, or npos.
  size_t match_raw_begin(size_t p) const {
    p = skip_spaces(s_, p);
    if (!starts(s_, p, "raw")) return std::string_view::npos;
    p = skip_spaces(s_, p + 3);
    if (starts(s_, p, "-%}")) return skip_spaces(s_, p + 3);
    if (starts(s_, p, "%}")) return p + 2;
    return std::string_view::npos;
  }

  // The text before a tag after `-` stripping or lstrip_blocks.
  std::string_view strip_text(std::string_view text, char sign, bool lstrip_kind,
                              bool line_starting) const {
    if (sign == '-') return rstrip_py(text);
    if (sign != '+' && opt_.lstrip_blocks && lstrip_kind) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting) {
        bool only_blanks = true;
        for (size_t i = l_pos; i < text.size(); i++) {
          if (text[i] != ' ' && text[i] != '\t') {
            only_blanks = false;
            break;
          }
        }
        if (only_blanks) return text.substr(0, l_pos);
      }
    }
    return text;
  }

  bool lex_comment() {
    for (size_t p = pos_; p + 1 < s_.size(); p++) {
      size_t end = std::string_view::npos;
      if ((s_[p] == '+' || s_[p] == '-') && starts(s_, p + 1, "#}")) {
        end = s_[p] == '-' ? skip_spaces(s_, p + 3) : p + 3;
      } else if (starts(s_, p, "#}")) {
        end = p + 2;
        if (opt_.trim_blocks && end < s_.size() && s_[end] == '\n') end++;
      }
      if (end != std::string_view::npos) {
        line_ += count_lines(s_.substr(pos_, end - pos_));
        pos_ = end;
        return s_[end - 1] == '\n';
      }
    }
    throw_error(ErrorKind::syntax, "Missing end of comment tag", line_);
  }

  bool lex_raw(bool line_starting) {
    for (size_t p = pos_; p + 1 < s_.size(); p++) {
      if (!starts(s_, p, "{%")) continue;
      size_t q = p + 2;
      char sign = 0;
      if (q < s_.size() && (s_[q] == '-' || s_[q] == '+')) sign = s_[q++];
      q = skip_spaces(s_, q);
      if (!starts(s_, q, "endraw")) continue;
      q = skip_spaces(s_, q + 6);
      size_t end = std::string_view::npos;
      if (starts(s_, q, "+%}")) {
        end = q + 3;
      } else if (starts(s_, q, "-%}")) {
        end = skip_spaces(s_, q + 3);
      } else if (starts(s_, q, "%}")) {
        end = q + 2;
        if (opt_.trim_blocks && end < s_.size() && s_[end] == '\n') end++;
      }
      if (end == std::string_view::npos) continue;
      std::string_view text = s_.substr(pos_, p - pos_);
      emit_data(strip_text(text, sign, true, line_starting), line_);
      line_ += count_lines(s_.substr(pos_, end - pos_));
      pos_ = end;
      return s_[end - 1] == '\n';
    }
    throw_error(ErrorKind::syntax, "Missing end of raw directive", line_);
  }

  // Tokens inside {{ }} or {% %} up to and including the end tag. Returns whether the end
  // tag's match ended with a newline (the next text then starts a line).
  bool lex_inner(bool variable) {
    std::vector<char> balance;
    while (true) {
      if (pos_ >= s_.size()) return false;  // the parser reports the missing end tag
      if (balance.empty()) {
        size_t end = match_end(variable);
        if (end != std::string_view::npos) {
          line_ += count_lines(s_.substr(pos_, end - pos_));
          pos_ = end;
          push(variable ? Tok::variable_end : Tok::block_end, line_);
          return s_[end - 1] == '\n';
        }
      }
      if (size_t n = space_len(s_, pos_)) {
        line_ += s_[pos_] == '\n';
        pos_ += n;
        continue;
      }
      char c = s_[pos_];
      int base = 10;
      size_t q;
      if ((q = match_float(s_, pos_)) != std::string_view::npos) {
        std::string text;
        for (size_t i = pos_; i < q; i++) {
          if (s_[i] != '_') text += s_[i];
        }
        Token& t = push(Tok::floating, line_);
        t.fval = std::strtod(text.c_str(), nullptr);
        pos_ = q;
      } else if ((q = match_integer(s_, pos_, &base)) != std::string_view::npos) {
        Token& t = push(Tok::integer, line_);
        t.ival = parse_int(pos_, q, base);
        pos_ = q;
      } else if (is_name_start(c)) {
        q = pos_ + 1;
        while (q < s_.size() && is_name_char(s_[q])) q++;
        Token& t = push(Tok::name, line_);
        t.value = std::string(s_.substr(pos_, q - pos_));
        pos_ = q;
      } else if (c == '\'' || c == '"') {
        lex_string(c);
      } else {
        lex_operator(balance);
      }
    }
  }

  size_t match_end(bool variable) const {
    if (variable) {
      if (starts(s_, pos_, "-}}")) return skip_spaces(s_, pos_ + 3);
      if (starts(s_, pos_, "}}")) return pos_ + 2;
      return std::string_view::npos;
    }
    if (starts(s_, pos_, "+%}")) return pos_ + 3;
    if (starts(s_, pos_, "-%}")) return skip_spaces(s_, pos_ + 3);
    if (starts(s_, pos_, "%}")) {
      size_t end = pos_ + 2;
      if (opt_.trim_blocks && end < s_.size() && s_[end] == '\n') end++;
      return end;
    }
    return std::string_view::npos;
  }

  int64_t parse_int(size_t from, size_t to, int base) const {
    size_t i = from;
    if (base != 10) i += 2;
    uint64_t v = 0;
    for (; i < to; i++) {
      if (s_[i] == '_') continue;
      auto d = static_cast<uint64_t>(hex_value(s_[i]));
      if (v > (static_cast<uint64_t>(INT64_MAX) - d) / static_cast<uint64_t>(base)) {
        throw_error(ErrorKind::syntax, "integer literal too large", line_);
      }
      v = v * static_cast<uint64_t>(base) + d;
    }
    return static_cast<int64_t>(v);
  }

  void lex_string(char quote) {
    size_t q = pos_ + 1;
    while (q < s_.size() && s_[q] != quote) q += s_[q] == '\\' ? 2 : 1;
    if (q >= s_.size()) {
      throw_error(ErrorKind::syntax, std::string("unexpected char '") + quote + "'", line_);
    }
    std::string_view body = s_.substr(pos_ + 1, q - pos_ - 1);
    Token& t = push(Tok::string, line_);
    t.value = unescape(body, line_);
    line_ += count_lines(body);
    pos_ = q + 1;
  }

  void lex_operator(std::vector<char>& balance) {
    static const struct {
      const char* text;
      Op op;
    } ops[] = {
        {"//", Op::floordiv}, {"**", Op::pow}, {"==", Op::eq}, {"!=", Op::ne},
        {">=", Op::gteq},     {"<=", Op::lteq}, {"+", Op::add}, {"-", Op::sub},
        {"/", Op::div},       {"*", Op::mul},  {"%", Op::mod},  {"~", Op::tilde},
        {"[", Op::lbracket},  {"]", Op::rbracket}, {"(", Op::lparen}, {")", Op::rparen},
        {"{", Op::lbrace},    {"}", Op::rbrace}, {">", Op::gt}, {"<", Op::lt},
        {"=", Op::assign},    {".", Op::dot},  {":", Op::colon}, {"|", Op::pipe},
        {",", Op::comma},     {";", Op::semicolon},
    };
    for (const auto& o : ops) {
      if (!starts(s_, pos_, o.text)) continue;
      char c = o.text[0];
      if (c == '(' || c == '[' || c == '{') {
        balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
      } else if (c == ')' || c == ']' || c == '}') {
        if (balance.empty()) {
          throw_error(ErrorKind::syntax, std::string("unexpected '") + c + "'", line_);
        }
        if (balance.back() != c) {
          throw_error(ErrorKind::syntax,
                      std::string("unexpected '") + c + "', expected '" + balance.back() + "'",
                      line_);
        }
        balance.pop_back();
      }
      Token& t = push(Tok::op, line_);
      t.op = o.op;
      pos_ += std::strlen(o.text);
      return;
    }
    throw_error(ErrorKind::syntax,
                "unexpected char " + quote_for_message(s_.substr(pos_, 1)) + " in tag", line_);
  }

  void emit_data(std::string_view text, uint32_t line) {
    if (text.empty()) return;
    Token& t = push(Tok::data, line);
    t.value = std::string(text);
  }

  Token& push(Tok type, uint32_t line) {
    if (tokens_.size() >= opt_.max_tokens) {
      throw_error(ErrorKind::limit, "template has too many tokens", line);
    }
    tokens_.emplace_back();
    tokens_.back().type = type;
    tokens_.back().line = line;
    return tokens_.back();
  }

  std::string_view s_;
  const LexOptions& opt_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

const char* op_text(Op op) {
  static const char* names[] = {"+", "-", "/", "//", "*", "%", "**", "~", "[", "]", "(", ")", "{",
                                "}", "==", "!=", ">", ">=", "<", "<=", "=", ".", ":", "|", ",", ";"};
  return names[static_cast<int>(op)];
}

std::vector<Token> tokenize(std::string_view source, const LexOptions& options) {
  // Newlines are normalised to \n and one trailing newline is dropped, as jinja2 does.
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); i++) {
    if (source[i] == '\r') {
      src += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') i++;
    } else {
      src += source[i];
    }
  }
  if (!options.keep_trailing_newline && !src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(src, options).run();
}

}  // namespace parley::chat::jinja
