#include "upstream/sse-reader.h"

namespace parley::upstream {

void SseReader::line(std::string_view l, std::vector<std::string>& out) {
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (l.empty()) {
    if (has_data_) out.push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
    return;
  }
  if (l.substr(0, 5) != "data:") return;  // comments, event:, id:, retry:
  l.remove_prefix(5);
  if (!l.empty() && l.front() == ' ') l.remove_prefix(1);
  if (has_data_) data_ += '\n';
  data_ += l;
  has_data_ = true;
}

void SseReader::push(std::string_view bytes, std::vector<std::string>& out) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      line_ += bytes;
      return;
    }
    if (line_.empty()) {
      line(bytes.substr(0, nl), out);
    } else {
      line_ += bytes.substr(0, nl);
      std::string l = std::move(line_);
      line_.clear();
      line(l, out);
    }
    bytes.remove_prefix(nl + 1);
  }
}

void SseReader::finish(std::vector<std::string>& out) {
  if (!line_.empty()) {
    std::string l = std::move(line_);
    line_.clear();
    line(l, out);
  }
  line("", out);
}

}  // namespace parley::upstream
