#include "base/log.h"

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/strings.h"

namespace parley {
namespace {

// Process-wide sink configuration: written once by main before threads start.
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::mutex g_write_mutex;

void emit(LogLevel level, const char* tag, const char* format, va_list args) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string line = str_vprintf(format, args);
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fprintf(stderr, "%02d:%02d:%02d.%03d %s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, ms, tag,
               line.c_str());
  std::fflush(stderr);
}

}  // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

#define PARLEY_LOG_FN(name, level, tag) \
  void name(const char* format, ...) {  \
    va_list args;                       \
    va_start(args, format);             \
    emit(level, tag, format, args);     \
    va_end(args);                       \
  }
PARLEY_LOG_FN(log_debug, LogLevel::debug, "D")
PARLEY_LOG_FN(log_info, LogLevel::info, "I")
PARLEY_LOG_FN(log_warn, LogLevel::warn, "W")
PARLEY_LOG_FN(log_error, LogLevel::error, "E")
#undef PARLEY_LOG_FN

}  // namespace parley
