// Gemma 4's tool-call arguments: an object with bare keys and <|"|> as the string quote,
//   call:get_weather{city:<|"|>Paris<|"|>,days:3}
// converted to JSON byte by byte and passed through the JSON scanner, which validates,
// streams and (when cut off) completes it like any JSON family's arguments.
#include <cctype>
#include <cstdio>

#include "base/json.h"
#include "chat/output-parser-markup.h"

namespace parley::chat::detail {
namespace {

const std::string_view kQuote = "<|\"|>";

bool is_key_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '-' || c == '.' || u >= 0x80;
}

}  // namespace

bool MarkupParser::step_gemma_args(bool eof) {
  std::string_view r = rest();
  std::string frag;
  JsonStreamer::Status s = JsonStreamer::Status::more;
  auto feed = [&](std::string_view j) {
    for (char c : j) {
      if (s != JsonStreamer::Status::more) return;
      s = json_.feed(c, frag);
    }
  };
  size_t n = 0;
  while (n < r.size() && s == JsonStreamer::Status::more) {
    std::string_view at = r.substr(n);
    if (at.substr(0, kQuote.size()) == kQuote) {
      feed("\"");
      gemma_in_string_ = !gemma_in_string_;
      gemma_expect_key_ = false;  // a quoted key is read as a JSON key
      n += kQuote.size();
      continue;
    }
    if (!eof && at.size() < kQuote.size() && kQuote.substr(0, at.size()) == at) break;
    char c = at[0];
    n++;
    if (gemma_in_string_) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        char esc[3] = {'\\', c, 0};
        feed(esc);
      } else if (u < 0x20) {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", u);
        feed(esc);
      } else {
        feed(std::string_view(&c, 1));
      }
      continue;
    }
    if (gemma_expect_key_ && is_key_byte(c)) {
      gemma_key_ += c;
      if (gemma_key_.size() > kMaxName) s = JsonStreamer::Status::error;
    } else if (gemma_expect_key_ && c == ':') {
      std::string k;
      json::write_string(k, gemma_key_);
      k += ':';
      feed(k);
      gemma_key_.clear();
      gemma_expect_key_ = false;
    } else if (gemma_expect_key_ && is_space(c)) {
      // between keys
    } else if (c == '{' || c == '[') {
      gemma_stack_.push_back(c);
      gemma_expect_key_ = c == '{';
      feed(std::string_view(&c, 1));
    } else if (c == '}' || c == ']') {
      if (!gemma_stack_.empty()) gemma_stack_.pop_back();
      gemma_expect_key_ = false;
      gemma_key_.clear();
      feed(std::string_view(&c, 1));
    } else if (c == ',') {
      gemma_expect_key_ = !gemma_stack_.empty() && gemma_stack_.back() == '{';
      feed(",");
    } else {
      feed(std::string_view(&c, 1));  // numbers, true/false/null, whitespace, or junk
    }
  }
  if (s == JsonStreamer::Status::error) json_.complete(frag);
  return end_args_step(s, frag, n);
}

}  // namespace parley::chat::detail
