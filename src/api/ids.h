// Unique ids for requests (req_…), messages (msg_…), completions (chatcmpl-…) and tool calls
// (toolu_…). Thread-safe; the key is passed in (randomness comes from main), so tests get
// the same ids for the same key.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::api {

class IdGenerator {
 public:
  explicit IdGenerator(uint64_t key) : key_(key) {}
  // prefix + 24 characters of [A-Za-z0-9] (the alphabet the real API validates tool ids with).
  std::string next(std::string_view prefix);

 private:
  uint64_t key_;
  std::atomic<uint64_t> counter_{0};
};

}  // namespace parley::api
