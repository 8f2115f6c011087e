// Result<T>: a value or an Error with a one-line message. Parsers of untrusted input return it;
// broken invariants abort instead (see check.h).
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/strings.h"

namespace parley {

// What kind of failure, for callers that react differently (a server maps it to a status):
// never decided from the message's wording.
enum class ErrorCode {
  unspecified,  // the message says it all (most parse errors)
  invalid,      // the caller's input cannot work (bad request)
  overloaded,   // try again later: a queue is full
  unavailable,  // shutting down
};

struct Error {
  std::string message;
  ErrorCode code = ErrorCode::unspecified;

  // printf-style constructor: Error::fmt("tensor '%s': expected %d dims", name, n)
  template <class... Args>
  static Error fmt(const char* format, Args&&... args) {
    return Error{str_printf(format, std::forward<Args>(args)...)};
  }
  // Adds context in front: "reading X: <message>".
  Error wrap(const std::string& context) const { return Error{context + ": " + message, code}; }
  Error with_code(ErrorCode c) const { return Error{message, c}; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace parley

// Evaluates a Result-returning expression; on error returns the error from the enclosing
// function. PARLEY_TRY(auto x, parse(...)); declares x as the value.
#define PARLEY_CONCAT_INNER(a, b) a##b
#define PARLEY_CONCAT(a, b) PARLEY_CONCAT_INNER(a, b)
#define PARLEY_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                     \
  if (!tmp.ok()) return tmp.error();     \
  decl = std::move(tmp).value()
#define PARLEY_TRY(decl, expr) PARLEY_TRY_IMPL(PARLEY_CONCAT(try_result_, __LINE__), decl, expr)
#define PARLEY_CHECK_OK(expr)                      \
  do {                                             \
    auto parley_status_ = (expr);                  \
    if (!parley_status_.ok()) return parley_status_.error(); \
  } while (0)
