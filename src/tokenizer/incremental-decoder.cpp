// Streaming detokenizer: token pieces are byte strings that may end (or start) inside a UTF-8
// character; only complete, valid characters are released.
#include "base/utf8.h"
#include "tokenizer/tokenizer.h"

namespace parley::tokenizer {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// True when s[pos..] is a proper prefix of a valid UTF-8 sequence (more bytes may complete it).
bool incomplete_prefix(std::string_view s, size_t pos) {
  auto c0 = static_cast<unsigned char>(s[pos]);
  size_t need = c0 >= 0xC2 && c0 <= 0xDF ? 2 : c0 >= 0xE0 && c0 <= 0xEF ? 3 : c0 >= 0xF0 && c0 <= 0xF4 ? 4 : 0;
  size_t avail = s.size() - pos;
  if (need == 0 || avail >= need) return false;
  for (size_t k = 1; k < avail; k++) {
    auto c = static_cast<unsigned char>(s[pos + k]);
    unsigned char lo = 0x80, hi = 0xBF;
    if (k == 1) {
      if (c0 == 0xE0) lo = 0xA0;
      if (c0 == 0xED) hi = 0x9F;
      if (c0 == 0xF0) lo = 0x90;
      if (c0 == 0xF4) hi = 0x8F;
    }
    if (c < lo || c > hi) return false;
  }
  return true;
}

// Moves the complete part of pending to out: valid characters as they are, bytes that cannot
// start a valid character as U+FFFD; a trailing incomplete character stays in pending.
void release(std::string& pending, std::string& out) {
  size_t i = 0, done = 0;
  while (i < pending.size()) {
    size_t len = 1;
    if (utf8::decode(pending, i, &len) >= 0) {
      i += len;
      continue;
    }
    if (incomplete_prefix(pending, i)) break;
    out.append(pending, done, i - done);
    out += kReplacement;
    i += 1;
    done = i;
  }
  out.append(pending, done, i - done);
  pending.erase(0, i);
}

}  // namespace

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tokenizer, bool special)
    : tok_(&tokenizer), special_(special), first_(tokenizer.add_space_prefix()) {}

void IncrementalDecoder::push_into(TokenId id, std::string& out) {
  std::string_view p = tok_->piece_view(id, special_);
  if (tok_->is_special(id)) {
    first_ = tok_->add_space_prefix();
  } else if (id >= 0 && id < tok_->n_vocab()) {
    if (first_ && !p.empty() && p[0] == ' ') p.remove_prefix(1);
    TokenType type = tok_->token_type(id);
    if (!p.empty() || type == TokenType::normal || type == TokenType::byte) first_ = false;
  }
  if (pending_.empty()) {
    // Fast path: a piece that is complete UTF-8 by itself goes straight out.
    if (utf8::is_valid(p)) {
      out += p;
      return;
    }
  }
  pending_ += p;
  release(pending_, out);
}

std::string IncrementalDecoder::push(TokenId id) {
  std::string out;
  push_into(id, out);
  return out;
}

std::string IncrementalDecoder::flush() {
  std::string out = utf8::sanitize(pending_);
  pending_.clear();
  first_ = tok_->add_space_prefix();
  return out;
}

}  // namespace parley::tokenizer
