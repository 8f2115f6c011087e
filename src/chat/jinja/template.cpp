#include "chat/jinja/template.h"

#include <exception>

#include "base/utf8.h"
#include "chat/jinja/ast.h"
#include "chat/jinja/builtins.h"
#include "chat/jinja/lexer.h"
#include "chat/jinja/parser.h"

namespace parley::chat::jinja {

std::string describe_error(const TemplateError& e) {
  const char* what = e.kind == ErrorKind::syntax   ? "template syntax error"
                     : e.kind == ErrorKind::raised ? "template raised"
                     : e.kind == ErrorKind::limit  ? "template limit"
                     : e.kind == ErrorKind::internal ? "template internal error"
                                                   : "template error";
  if (e.line == 0) return std::string(what) + ": " + e.message;
  return std::string(what) + " at line " + std::to_string(e.line) + ": " + e.message;
}

Result<Template> Template::parse(std::string_view source, const TemplateOptions& options) {
  if (source.size() > options.max_source_bytes) {
    return Error::fmt("template syntax error: template is %zu bytes, more than the limit of %zu",
                      source.size(), options.max_source_bytes);
  }
  size_t valid = utf8::valid_prefix(source);
  if (valid != source.size()) {
    uint32_t line = 1;
    for (size_t i = 0; i < valid; i++) line += source[i] == '\n';
    return Error::fmt("template syntax error at line %u: invalid UTF-8 at byte %zu", line, valid);
  }
  try {
    LexOptions lex;
    lex.trim_blocks = options.trim_blocks;
    lex.lstrip_blocks = options.lstrip_blocks;
    lex.keep_trailing_newline = options.keep_trailing_newline;
    ParseLimits limits;
    limits.max_nesting = options.max_nesting;
    Template t;
    t.program_ = std::make_shared<const Program>(parse_tokens(tokenize(source, lex), limits));
    return t;
  } catch (const TemplateError& e) {
    TemplateError s = e;
    s.kind = ErrorKind::syntax;
    return Error{describe_error(s)};
  } catch (const std::exception& e) {
    return Error{describe_error(TemplateError{ErrorKind::internal, e.what(), 0})};
  }
}

Result<std::string> Template::render(const Variables& vars, const RenderOptions& options,
                                     TemplateError* detail) const {
  const Program& prog = *program_;
  std::vector<Value> root(prog.names.size());
  for (size_t i = 0; i < prog.names.size(); i++) {
    const std::string& name = prog.names[i];
    bool found = false;
    for (auto it = vars.rbegin(); it != vars.rend(); ++it) {
      if (it->first == name) {
        root[i] = it->second;
        found = true;
        break;
      }
    }
    if (found) continue;
    if (name == "strftime_now" && !options.define_strftime_now) continue;
    if (const Value* g = find_global(name)) root[i] = *g;
  }
  Interp in(prog, std::move(root), options.limits, options.now_unix_seconds,
            options.output_size_hint);
  try {
    return in.run();
  } catch (const TemplateError& e) {
    TemplateError full = e;
    if (full.line == 0) full.line = in.line();
    if (detail) *detail = full;
    return Error{describe_error(full)};
  } catch (const std::exception& e) {
    TemplateError full{ErrorKind::internal, e.what(), in.line()};
    if (detail) *detail = full;
    return Error{describe_error(full)};
  }
}

bool Template::references(std::string_view name) const {
  for (const auto& n : program_->names) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace parley::chat::jinja
