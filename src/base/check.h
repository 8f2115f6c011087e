// Invariant checks: a broken invariant is a bug, so it aborts with file:line and the condition.
// Untrusted input never reaches a check: parsers return Result errors instead.
#pragma once

namespace parley::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* cond, const char* msg);
}

#define PARLEY_CHECK(cond)                                                   \
  do {                                                                       \
    if (!(cond)) ::parley::detail::check_failed(__FILE__, __LINE__, #cond, ""); \
  } while (0)
#define PARLEY_CHECK_MSG(cond, msg)                                           \
  do {                                                                        \
    if (!(cond)) ::parley::detail::check_failed(__FILE__, __LINE__, #cond, msg); \
  } while (0)
