// UTF-8 validation, decoding and encoding (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::utf8 {

// Length of the longest valid UTF-8 prefix of s (== s.size() when all of s is valid).
size_t valid_prefix(std::string_view s);
inline bool is_valid(std::string_view s) { return valid_prefix(s) == s.size(); }

// Decodes one code point at s[pos]. On success sets *len (1..4) and returns the code point; on
// an invalid or truncated sequence returns -1 and sets *len = 1 (skip one byte).
int32_t decode(std::string_view s, size_t pos, size_t* len);

// Number of bytes a sequence starting with lead byte c claims (1..4), 0 for a continuation or
// invalid lead byte.
int sequence_length(unsigned char c);

void append(std::string& out, uint32_t code_point);
std::string encode(uint32_t code_point);

// Replaces each byte that does not start a valid sequence with U+FFFD (one per byte).
std::string sanitize(std::string_view s);

}  // namespace parley::utf8
