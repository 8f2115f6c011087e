#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace parley::detail {

void check_failed(const char* file, int line, const char* cond, const char* msg) {
  std::fprintf(stderr, "parley: internal error at %s:%d: check failed: %s %s\n", file, line, cond,
               msg);
  std::fflush(stderr);
  std::abort();
}

}  // namespace parley::detail
