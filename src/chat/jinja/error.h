// Errors inside the Jinja engine. The lexer, parser and interpreter throw TemplateError and the
// public entry points (template.h) catch it and return a Result with the position; the
// exception never leaves the engine, let alone its thread. Any other std::exception that reaches
// an entry point is an engine bug: it becomes a "template internal error" (the server answers
// the request with an error and goes on; the fuzz target treats it as a crash).
#pragma once

#include <cstdint>
#include <string>

namespace parley::chat::jinja {

enum class ErrorKind : uint8_t {
  syntax,     // the template does not parse
  runtime,    // a Python TypeError/ValueError/UndefinedError equivalent while rendering
  raised,     // the template called raise_exception(message)
  limit,      // a resource bound was hit (steps, output size, depth, memory)
  internal,   // a bug in the engine: a standard-library exception reached the entry point
};

struct TemplateError {
  ErrorKind kind = ErrorKind::runtime;
  std::string message;
  uint32_t line = 0;  // 1-based; 0 when unknown (filled in by the interpreter)
};

[[noreturn]] void throw_error(ErrorKind kind, std::string message, uint32_t line = 0);
[[noreturn]] inline void runtime_error(std::string message) {
  throw_error(ErrorKind::runtime, std::move(message));
}

}  // namespace parley::chat::jinja
