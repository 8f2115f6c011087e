// End-to-end tests of `parley run` and `parley bench` as a user runs them.
#include <gtest/gtest.h>

#include "base/json.h"
#include "support/test-support.h"

namespace parley {
namespace {

test::CommandResult parley_cmd(const std::string& args) {
  return test::run_command(test::shell_quote(PARLEY_BINARY_DIR "/parley") + " " + args);
}

std::string stories() { return test::shell_quote((test::shared_dir() / "models/stories260K.gguf").string()); }

TEST(CliRun, Stories260KGreedyTellsTheStory) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto r = parley_cmd("run -m " + stories() + " -p '' --temp 0 -n 40");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // llama.cpp's greedy continuation (tests/data/engine/stories260K-greedy.json).
  EXPECT_EQ(r.out.rfind("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", 0), 0u)
      << r.out;
  EXPECT_NE(r.err.find("KV cache"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("prompt 1 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generated 40 tokens"), std::string::npos) << r.err;
}

TEST(CliRun, PromptContinuesAndSeedRepeats) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto a = parley_cmd("run -m " + stories() + " -p 'Once upon a time' -n 30 --seed 7 --temp 1 --top-k 20");
  auto b = parley_cmd("run -m " + stories() + " -p 'Once upon a time' -n 30 --seed 7 --temp 1 --top-k 20");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.err.find("prompt 5 tokens"), std::string::npos) << a.err;  // BOS + 4
}

TEST(CliRun, BrokenModelIsOneLine) {
  test::TempDir dir;
  test::write_file(dir / "bad.gguf", "GGUF but not really");
  auto r = parley_cmd("run -m " + test::shell_quote((dir / "bad.gguf").string()) + " -p hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("parley: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST(CliBench, JsonHasMediansAndMemory) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto r = parley_cmd("bench -m " + stories() + " -p 16 -n 8 -r 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = json::parse(r.out);
  ASSERT_TRUE(doc.ok()) << doc.error().message << "\n" << r.out;
  EXPECT_EQ((*doc)["n_prompt"].as_int(), 16);
  EXPECT_EQ((*doc)["runs"].size(), 3u);
  EXPECT_GT((*doc)["pp_tps"]["median"].as_double(), 0);
  EXPECT_GT((*doc)["tg_tps"]["median"].as_double(), 0);
  EXPECT_GT((*doc)["peak_rss_bytes"].as_double(), 1e6);
  EXPECT_GT((*doc)["kv_bytes"].as_double(), 0);
}

}  // namespace
}  // namespace parley
