// What the chat template tests share: the committed golden data and the clock it was made with.
#pragma once

#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>

#include "base/json.h"
#include "support/test-support.h"

namespace parley::chat::test_data {

// tests/data/templates: golden renders made by tools/chat-template-goldens.py.
inline std::filesystem::path templates_dir() { return test::source_dir() / "tests/data/templates"; }

// A JSON file of test data; a parse failure fails the test and gives an empty object.
inline json::Value load_json(const std::filesystem::path& p) {
  auto j = json::parse(test::read_file(p));
  if (!j.ok()) ADD_FAILURE() << p << ": " << j.error().message;
  return j.ok() ? *j : json::Value::object();
}

// The time strftime_now saw when the goldens were rendered: 2025-06-15 10:30 UTC.
inline int64_t golden_now() {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 5;
  tm.tm_mday = 15;
  tm.tm_hour = 10;
  tm.tm_min = 30;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace parley::chat::test_data
