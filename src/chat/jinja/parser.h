// Jinja parser: tokens -> Program, following jinja2's grammar and operator precedence.
#pragma once

#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace parley::chat::jinja {

struct ParseLimits {
  size_t max_nesting = 100;  // nested statements + nested expressions
};

// Throws TemplateError(syntax) with the line on a malformed template.
Program parse_tokens(std::vector<Token> tokens, const ParseLimits& limits);

}  // namespace parley::chat::jinja
