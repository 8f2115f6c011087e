// Jinja lexer: template text -> tokens, following jinja2's lexer rules exactly, since
// whitespace handling decides the bytes of the prompt: newlines normalised to \n, one trailing
// newline dropped, `{%-`/`-%}` stripping, trim_blocks (the newline after a block or comment
// tag) and lstrip_blocks (spaces/tabs before a block or comment tag at the start of a line).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::chat::jinja {

enum class Tok : uint8_t {
  data,            // template text (value)
  variable_begin,  // {{
  variable_end,    // }}
  block_begin,     // {%
  block_end,       // %}
  name,            // identifier or keyword (value)
  string,          // string literal, unescaped (value)
  integer,         // ival
  floating,        // fval
  op,              // operator (op)
  eof,
};

enum class Op : uint8_t {
  add, sub, div, floordiv, mul, mod, pow, tilde, lbracket, rbracket, lparen, rparen, lbrace,
  rbrace, eq, ne, gt, gteq, lt, lteq, assign, dot, colon, pipe, comma, semicolon,
};

struct Token {
  Tok type = Tok::eof;
  Op op = Op::add;
  std::string value;
  int64_t ival = 0;
  double fval = 0;
  uint32_t line = 1;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
  size_t max_tokens = 2'000'000;
};

// Throws TemplateError(syntax) with the line on malformed input.
std::vector<Token> tokenize(std::string_view source, const LexOptions& options);

const char* op_text(Op op);

}  // namespace parley::chat::jinja
