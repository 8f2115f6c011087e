// Server-Sent Events from bytes as they arrive: complete events' `data` payloads (multi-line
// data joined with '\n'; comments, `event:`, `id:` and `retry:` lines ignored; LF or CRLF).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::upstream {

class SseReader {
 public:
  // Appends the data of each event completed by `bytes` to `out`.
  void push(std::string_view bytes, std::vector<std::string>& out);
  // The body ended: an event still open (no blank line after it) is complete after all.
  void finish(std::vector<std::string>& out);
  size_t buffered() const { return line_.size() + data_.size(); }

 private:
  void line(std::string_view line, std::vector<std::string>& out);

  std::string line_;  // the incomplete line
  std::string data_;
  bool has_data_ = false;
};

}  // namespace parley::upstream
