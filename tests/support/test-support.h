// Helpers shared by every test executable: where the data lives, temp dirs, file I/O.
#pragma once

#include <filesystem>
#include <string>

namespace parley::test {

// ../shared beside the checkout; empty path when it is not there.
std::filesystem::path shared_dir();
std::filesystem::path source_dir();
std::filesystem::path binary_dir();

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);

// Runs a shell command; returns its exit code with what it wrote to stdout and stderr.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult run_command(const std::string& command);
// Quotes a string for /bin/sh.
std::string shell_quote(const std::string& s);
void write_file(const std::filesystem::path& path, const std::string& bytes);

}  // namespace parley::test

// Skips the current test with a clear message when ../shared (or a file in it) is missing.
#define PARLEY_REQUIRE_SHARED(relpath)                                                  \
  do {                                                                                  \
    if (!std::filesystem::exists(::parley::test::shared_dir() / (relpath))) {           \
      GTEST_SKIP() << "SKIPPED: ../shared/" << (relpath) << " not found (tests need " \
                   << "the shared data folder beside the checkout)";                    \
    }                                                                                   \
  } while (0)
