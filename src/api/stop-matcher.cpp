#include "api/stop-matcher.h"

namespace parley::api {

StopMatcher::Output StopMatcher::push(std::string_view text) {
  Output out;
  if (stops_.empty()) {
    out.text = std::string(text);
    return out;
  }
  held_ += text;
  // The earliest match wins; at the same position, the stop string listed first.
  size_t best = std::string::npos;
  const std::string* best_stop = nullptr;
  for (const auto& s : stops_) {
    size_t pos = held_.find(s);
    if (pos != std::string::npos && (best == std::string::npos || pos < best)) {
      best = pos;
      best_stop = &s;
    }
  }
  if (best_stop != nullptr) {
    out.text = held_.substr(0, best);
    out.match = *best_stop;
    held_.clear();
    return out;
  }
  // Keep the longest tail that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_) {
    size_t max_len = std::min(s.size() - 1, held_.size());
    for (size_t len = max_len; len > keep; len--) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
    }
  }
  out.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopMatcher::flush() {
  std::string s = std::move(held_);
  held_.clear();
  return s;
}

}  // namespace parley::api
