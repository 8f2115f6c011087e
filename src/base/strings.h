// Small string helpers (printf formatting, splitting, human-readable sizes).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

std::string str_vprintf(const char* format, va_list args);
std::string str_printf(const char* format, ...) __attribute__((format(printf, 1, 2)));

bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::vector<std::string_view> split(std::string_view s, char sep);
std::string_view trim(std::string_view s);

// "1.17 GB", "267 MB", "812 B" (decimal units, as people read file sizes).
std::string human_bytes(uint64_t n);
// "1.2 B", "596 M" parameter counts.
std::string human_count(uint64_t n);

// Quotes a string for an error message: printable ASCII kept, anything else as \xNN, cut at
// max_len bytes with "..." so a hostile 1 GB key never floods a log line.
std::string quote_for_message(std::string_view s, size_t max_len = 80);

}  // namespace parley
