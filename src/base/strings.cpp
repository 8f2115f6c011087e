#include "base/strings.h"

#include <cstdarg>

namespace parley {

std::string str_vprintf(const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  std::vsnprintf(out.data(), out.size() + 1, format, args);
  return out;
}

std::string str_printf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::string out = str_vprintf(format, args);
  va_end(args);
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000.0 && u < 4) {
    v /= 1000.0;
    u++;
  }
  if (u == 0) return str_printf("%llu B", static_cast<unsigned long long>(n));
  return str_printf(v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

std::string human_count(uint64_t n) {
  double v = static_cast<double>(n);
  if (v >= 1e9) return str_printf("%.2f B", v / 1e9);
  if (v >= 1e6) return str_printf("%.1f M", v / 1e6);
  if (v >= 1e3) return str_printf("%.1f K", v / 1e3);
  return std::to_string(n);
}

std::string quote_for_message(std::string_view s, size_t max_len) {
  std::string out = "'";
  size_t n = s.size() < max_len ? s.size() : max_len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += str_printf("\\x%02x", c);
    }
  }
  if (n < s.size()) out += "...";
  out += "'";
  return out;
}

}  // namespace parley
