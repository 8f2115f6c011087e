#include "base/memory.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace parley {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

bool huge_pages_wanted() {
  const char* v = std::getenv("PARLEY_HUGE_PAGES");
  return v == nullptr || std::string_view(v) != "0";
}

void* allocate_large(size_t n) {
  static const bool huge = huge_pages_wanted();
  const size_t align = huge && n >= kHugePage ? kHugePage : 64;
  const size_t rounded = (n + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p != nullptr && align == kHugePage) (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

bool huge_pages_available() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string s;
  std::getline(f, s);
  return s.find("[always]") != std::string::npos || s.find("[madvise]") != std::string::npos;
}

}  // namespace parley
