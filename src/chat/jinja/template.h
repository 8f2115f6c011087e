// Public surface of the Jinja engine: parse a template once, render it many times (from any
// number of threads at once) with Python jinja2's semantics, configured the way Hugging Face
// transformers configures it for chat templates: ImmutableSandboxedEnvironment, trim_blocks,
// lstrip_blocks, the loopcontrols extension, a no-op {% generation %} block, a tojson filter
// that is json.dumps(ensure_ascii=False), and the globals raise_exception and strftime_now.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "chat/jinja/error.h"
#include "chat/jinja/interp.h"
#include "chat/jinja/value.h"

namespace parley::chat::jinja {

struct TemplateOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
  size_t max_source_bytes = 4u << 20;
  size_t max_nesting = 100;  // nested statements + expressions
};

struct RenderOptions {
  RenderLimits limits;
  int64_t now_unix_seconds = 0;     // the time strftime_now formats (UTC); passed in, never read
  bool define_strftime_now = true;  // transformers >= 4.43 defines it; older ones did not
  size_t output_size_hint = 0;      // expected prompt bytes: reserved up front
};

// The variables of a render, in order; a later entry with the same name wins.
using Variables = std::vector<std::pair<std::string, Value>>;

class Template {
 public:
  // Errors read "template syntax error at line N: ...".
  static Result<Template> parse(std::string_view source, const TemplateOptions& options = {});

  // Errors read "template error at line N: ...", "template limit at line N: ...", or for the
  // template's own raise_exception(msg) "template raised at line N: msg". When detail is given
  // it receives the kind, the bare message and the line.
  Result<std::string> render(const Variables& vars, const RenderOptions& options = {},
                             TemplateError* detail = nullptr) const;

  // Whether the template mentions this name anywhere (a variable, macro or loop name).
  bool references(std::string_view name) const;

 private:
  std::shared_ptr<const Program> program_;
};

// "template raised at line 3: ..." for an error.
std::string describe_error(const TemplateError& e);

}  // namespace parley::chat::jinja
