// End-to-end tests of the `parley` executable: inspect and make-model as a user runs them.
#include <gtest/gtest.h>

#include <cctype>

#include "base/json.h"
#include "support/test-support.h"

namespace parley {
namespace {

test::CommandResult parley(const std::string& args) {
  return test::run_command(test::shell_quote(PARLEY_BINARY_DIR "/parley") + " " + args);
}

std::string shared(const std::string& rel) { return test::shell_quote((test::shared_dir() / rel).string()); }

TEST(Cli, HelpListsEveryCommand) {
  auto r = parley("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"serve", "run", "bench", "inspect", "tokenize", "template", "make-model"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  }
}

// The README documents every flag of every command: each `--flag` that `parley CMD --help`
// lists appears in README.md (as `--flag` followed by a space, comma, `=` or backquote).
TEST(Cli, ReadmeDocumentsEveryFlag) {
  std::string readme = test::read_file(PARLEY_SOURCE_DIR "/README.md");
  for (const char* cmd : {"serve", "run", "bench", "inspect", "tokenize", "template", "make-model"}) {
    auto r = parley(std::string(cmd) + " --help");
    ASSERT_EQ(r.exit_code, 0) << cmd;
    size_t n = 0;
    for (size_t at = r.out.find("--"); at != std::string::npos; at = r.out.find("--", at + 2)) {
      size_t end = at + 2;
      while (end < r.out.size() && (std::isalnum(static_cast<unsigned char>(r.out[end])) || r.out[end] == '-')) end++;
      std::string flag = r.out.substr(at, end - at);
      if (flag.size() < 3 || !std::islower(static_cast<unsigned char>(flag[2]))) continue;
      n++;
      bool found = false;
      for (char after : {' ', ',', '=', '`'}) found |= readme.find(flag + after) != std::string::npos;
      EXPECT_TRUE(found) << "README.md does not document `parley " << cmd << " " << flag << "`";
    }
    EXPECT_GT(n, 1u) << cmd;
  }
}

TEST(Cli, InspectStories260K) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto r = parley("inspect " + shared("models/stories260K.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Values from shared/models/README.md.
  for (const char* line : {"GGUF v3, 1.19 MB (1185376 bytes), 19 metadata keys, 48 tensors",
                           "architecture    llama", "context_length                     2048",
                           "block_count                        5", "embedding_length                   64",
                           "feed_forward_length                172", "attention.head_count               8",
                           "attention.head_count_kv            4", "rope.dimension_count               8",
                           "layer_norm_rms_epsilon   1e-05", "model           llama (SentencePiece)",
                           "vocab size      512", "bos             1 '<s>'", "eos             2 '</s>'",
                           "unk             0 '<unk>'", "chat template   absent",
                           "tokenizer.ggml.seperator_token_id", "F32       48 tensors"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing: " << line << "\n" << r.out;
  }
}

TEST(Cli, InspectLlama2TinyRandomJson) {
  PARLEY_REQUIRE_SHARED("models/llama-2-tiny-random.gguf");
  auto r = parley("inspect --json " + shared("models/llama-2-tiny-random.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = json::parse(r.out);
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ(j->find("file_size")->as_int(), 1750560);
  EXPECT_EQ(j->find("gguf_version")->as_int(), 3);
  EXPECT_EQ(j->find("architecture")->as_string(), "llama");
  EXPECT_EQ(j->find("name")->as_string(), "LLaMA v2");
  EXPECT_EQ(j->find("file_type")->as_string(), "MOSTLY_F16");
  const json::Value& hp = *j->find("hyperparameters");
  EXPECT_EQ(hp.find("context_length")->as_int(), 4096);
  EXPECT_EQ(hp.find("block_count")->as_int(), 1);
  EXPECT_EQ(hp.find("embedding_length")->as_int(), 8);
  EXPECT_EQ(hp.find("feed_forward_length")->as_int(), 32);
  EXPECT_EQ(hp.find("attention.head_count")->as_int(), 2);
  EXPECT_EQ(hp.find("rope.dimension_count")->as_int(), 4);
  EXPECT_DOUBLE_EQ(hp.find("attention.layer_norm_rms_epsilon")->as_double(), 1e-5);
  const json::Value& tok = *j->find("tokenizer");
  EXPECT_EQ(tok.find("model")->as_string(), "llama");
  EXPECT_TRUE(tok.find("pre")->is_null());
  EXPECT_EQ(tok.find("vocab_size")->as_int(), 32000);
  EXPECT_EQ(tok.find("special_tokens")->find("bos")->find("id")->as_int(), 1);
  EXPECT_EQ(tok.find("special_tokens")->find("eos")->find("text")->as_string(), "</s>");
  EXPECT_FALSE(j->find("chat_template")->find("present")->as_bool());
  EXPECT_EQ(j->find("metadata")->size(), 18u);
  EXPECT_EQ(j->find("tensors")->size(), 12u);
  const json::Value& by_type = *j->find("totals")->find("by_type");
  EXPECT_EQ(by_type.find("F16")->find("tensors")->as_int(), 9);
  EXPECT_EQ(by_type.find("F32")->find("tensors")->as_int(), 3);
  EXPECT_EQ(j->find("totals")->find("elements")->as_int(), 513048);
}

TEST(Cli, InspectErrorsAreOneLine) {
  test::TempDir dir;
  struct Bad {
    const char* name;
    std::string bytes;
    const char* expect;
  };
  std::string header = std::string("GGUF") + std::string("\x03\0\0\0", 4);
  Bad cases[] = {
      {"empty.gguf", "", "not a GGUF file"},
      {"magic.gguf", "GGMLxxxxxxxxxxxxxxxxxxxxxxxx", "not a GGUF file (magic 'GGML'"},
      {"truncated.gguf", header + std::string("\x01\0\0", 3), "file ends inside the tensor count"},
      {"absurd.gguf", header + std::string(8, '\xff') + std::string(8, '\0'), "tensor count 18446744073709551615 is impossible"},
  };
  for (const Bad& b : cases) {
    test::write_file(dir / b.name, b.bytes);
    auto r = parley("inspect " + test::shell_quote((dir / b.name).string()));
    EXPECT_EQ(r.exit_code, 1) << b.name;
    EXPECT_TRUE(r.out.empty()) << b.name;
    EXPECT_NE(r.err.find(b.expect), std::string::npos) << b.name << ": " << r.err;
    EXPECT_EQ(r.err.rfind("parley: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  }
  auto missing = parley("inspect /nonexistent/x.gguf");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot open /nonexistent/x.gguf: No such file or directory"), std::string::npos);
}

TEST(Cli, MakeModelThenInspect) {
  PARLEY_REQUIRE_SHARED("tokenizers/SmolLM2-135M-Instruct/tokenizer.json");
  test::TempDir dir;
  std::string out = test::shell_quote((dir / "m.gguf").string());
  auto r = parley("make-model -q -o " + out + " --arch qwen2 --layers 3 --embd 128 --heads 4 --kv-heads 2 --ffn 256"
                  " --type Q8_0 --tied --seed 7 --tokenizer " + shared("tokenizers/SmolLM2-135M-Instruct/tokenizer.json") +
                  " --template " + shared("templates/SmolLM2-Instruct.jinja"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto i = parley("inspect --json " + out);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto j = json::parse(i.out);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->find("architecture")->as_string(), "qwen2");
  EXPECT_EQ(j->find("file_type")->as_string(), "MOSTLY_Q8_0");
  EXPECT_EQ(j->find("hyperparameters")->find("block_count")->as_int(), 3);
  EXPECT_EQ(j->find("tokenizer")->find("model")->as_string(), "gpt2");
  EXPECT_EQ(j->find("tokenizer")->find("vocab_size")->as_int(), 49152);
  EXPECT_EQ(j->find("tokenizer")->find("merges")->as_int(), 48900);
  EXPECT_TRUE(j->find("chat_template")->find("present")->as_bool());
  EXPECT_EQ(j->find("totals")->find("by_type")->find("Q8_0")->find("tensors")->as_int(), 1 + 3 * 7);
  // 3 layers x (q, k, v biases) + norms are F32.
  EXPECT_EQ(j->find("totals")->find("by_type")->find("F32")->find("tensors")->as_int(), 3 * 5 + 1);
}

TEST(Cli, InspectShowsTheExpertLayout) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  test::TempDir dir;
  std::string out = test::shell_quote((dir / "m.gguf").string());
  auto r = parley("make-model -q -o " + out + " --preset tiny-qwen3moe --type Q8_0 --vocab-from " +
                  shared("models/stories260K.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto i = parley("inspect --json " + out);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto j = json::parse(i.out);
  ASSERT_TRUE(j.ok());
  const json::Value* ex = j->find("experts");
  ASSERT_NE(ex, nullptr);
  const int64_t count = ex->find("count")->as_int(), used = ex->find("used_per_token")->as_int();
  EXPECT_EQ(count, j->find("hyperparameters")->find("expert_count")->as_int());
  EXPECT_EQ(used, j->find("hyperparameters")->find("expert_used_count")->as_int());
  EXPECT_EQ(ex->find("layers")->as_int(), j->find("hyperparameters")->find("block_count")->as_int());
  // From the tensor list: the 3-D _exps tensors are the experts; a token touches used / count of them.
  int64_t exp_elems = 0, exp_bytes = 0, gate_bytes = 0;
  for (const json::Value& t : j->find("tensors")->as_array()) {
    const std::string& name = t.find("name")->as_string();
    if (name.find("_exps.weight") == std::string::npos) continue;
    exp_elems += t.find("elements")->as_int();
    exp_bytes += t.find("bytes")->as_int();
    if (name == "blk.0.ffn_gate_exps.weight") gate_bytes = t.find("bytes")->as_int();
  }
  ASSERT_GT(exp_elems, 0);
  EXPECT_EQ(ex->find("expert_parameters")->as_int(), exp_elems);
  EXPECT_EQ(ex->find("expert_bytes")->as_int(), exp_bytes);
  const json::Value* gate = ex->find("tensors")->find("ffn_gate_exps");
  ASSERT_NE(gate, nullptr);
  EXPECT_EQ(gate->find("types")->as_array().at(0).as_string(), "Q8_0");
  EXPECT_EQ(gate->find("bytes_per_expert")->as_int(), gate_bytes / count);
  const int64_t total = j->find("totals")->find("elements")->as_int();
  EXPECT_EQ(ex->find("active_parameters_per_token")->as_int(), total - exp_elems + exp_elems / count * used);
  auto text = parley("inspect " + out);
  EXPECT_NE(text.out.find("\nexperts\n  per layer       " + std::to_string(count) + " experts, " + std::to_string(used) +
                          " used per token"),
            std::string::npos)
      << text.out;
  // A dense model has no experts section.
  auto dense = parley("inspect --json " + shared("models/stories260K.gguf"));
  auto dj = json::parse(dense.out);
  ASSERT_TRUE(dj.ok());
  EXPECT_EQ(dj->find("experts"), nullptr);
}

TEST(Cli, MakeModelVocabFromGgufAndPreset) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  test::TempDir dir;
  std::string out = test::shell_quote((dir / "m.gguf").string());
  auto r = parley("make-model -q -o " + out + " --preset tiny-qwen3 --vocab-from " + shared("models/stories260K.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto i = parley("inspect " + out);
  EXPECT_NE(i.out.find("architecture    qwen3"), std::string::npos);
  EXPECT_NE(i.out.find("vocab size      512"), std::string::npos);
  EXPECT_NE(i.out.find("blk.1.attn_q_norm.weight"), std::string::npos);
  EXPECT_EQ(i.out.find("\n  output.weight"), std::string::npos);  // tied
  EXPECT_NE(i.out.find("\n  output_norm.weight"), std::string::npos);
}

TEST(Cli, MakeModelErrors) {
  test::TempDir dir;
  std::string out = test::shell_quote((dir / "m.gguf").string());
  auto r = parley("make-model -o " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a vocabulary is needed"), std::string::npos) << r.err;
  r = parley("make-model -o " + out + " --preset nope --vocab-from x");
  EXPECT_NE(r.err.find("unknown preset 'nope'"), std::string::npos) << r.err;
  r = parley("make-model -o " + out + " --type Q9_9 --vocab-from x");
  EXPECT_NE(r.err.find("unknown tensor type 'Q9_9'"), std::string::npos) << r.err;
  r = parley("make-model -o " + out + " --vocab-from /nonexistent.gguf");
  EXPECT_NE(r.err.find("cannot open /nonexistent.gguf"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "m.gguf"));
}

// The gateway's flags are checked before the model loads, so no model is needed to see them
// refused, each naming the flag or the upstreams at fault.
TEST(Cli, ServeRefusesBadGatewayFlags) {
  const std::string base = "serve -m /nonexistent.gguf --upstream a=http://127.0.0.1:1 --upstream-models a=x ";
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--upstream b=http://127.0.0.1:2 --upstream-models b=x --upstream-protocol b=anthropic",
            "model x is served by a and b: replicas of one model cannot mix openai-chat with anthropic/parley"},
           {"--upstream-weight a=0", "--upstream-weight a: expected a positive number, got '0'"},
           {"--upstream-weight zz=2", "--upstream-weight: no --upstream named 'zz'"},
           {"--upstream-max-concurrent a=-1", "--upstream-max-concurrent a: expected 0 (unlimited) or a count"},
           {"--upstream-health-interval a=soon", "--upstream-health-interval a: expected seconds (0: none)"},
           {"--upstream a=http://127.0.0.1:2 --upstream-models a=y", "--upstream: a is given twice"},
       }) {
    auto r = parley(base + c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
  auto r = parley(base + "--gateway-affinity maybe");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--gateway-affinity"), std::string::npos) << r.err;
}

TEST(Cli, ServeRefusesBadApiKeyModels) {
  const std::string base = "serve -m /nonexistent.gguf --api-key k1 --api-key s3cr=t --upstream a=http://127.0.0.1:1 --upstream-models a=up-x ";
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--api-key-models nokey", "--api-key-models #1: expected KEY=MODEL[,MODEL...]"},
           {"--api-key-models other=up-x", "--api-key-models #1: its key is not one of the --api-key values"},
           {"--api-key-models k1=up-x --api-key-models k1=nonexistent", "--api-key-models #2: its key is limited twice"},
           {"--api-key-models s3cr=t=up-y", "--api-key-models #1: model up-y is not served here"},
           {"--api-key-models k1=up-x,,", "--api-key-models #1: an empty model id in the list"},
           {"--no-claude-ids --api-key-models k1=claude-x", "--api-key-models #1: model claude-x is not served here"},
       }) {
    auto r = parley(base + c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.find("s3cr"), std::string::npos) << "a key never shows in a message: " << r.err;
  }
  // Valid limits pass the check: the run gets as far as loading the (missing) model.
  auto r = parley(base + "--api-key-models s3cr=t=up-x,nonexistent,claude-haiku-4-5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent.gguf"), std::string::npos) << r.err;
}

// A bad --config file is refused, naming FILE:LINE:COLUMN and the key, before the model loads
// (the model file does not exist); one given on the command line still wins over the file's.
TEST(Cli, ServeRefusesBadConfigFile) {
  test::TempDir dir;
  const std::string path = (dir / "gw.toml").string();
  const std::string upstream = "[[upstream]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\nmodels = [\"x\"]\n";
  struct Case {
    std::string file, message;
  };
  for (const Case& c : std::vector<Case>{
           {upstream + "weight = 0\n", path + ":5:10: upstream a: weight: expected a positive number, got '0'"},
           {upstream + "colour = \"red\"\n", path + ":5:1: upstream a: unknown key colour"},
           {"[server]\nport = \"eighty\"\n", path + ":2:8: server.port: "},
           {"[server]\nthreds = 4\n", path + ":2:10: unknown key server.threds"},
           {"[gateway]\naffinity = 3\n", path + ":2:12: gateway.affinity: "},
           {"[[upstream]]\nname = \"a\"\n", path + ":1:1: upstream a: missing url (required)"},
       }) {
    test::write_file(path, c.file);
    auto r = parley("serve -m /nonexistent.gguf --config " + test::shell_quote(path));
    EXPECT_NE(r.exit_code, 0) << c.file;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.file << "\n" << r.err;
    EXPECT_EQ(r.err.find("nonexistent"), std::string::npos) << r.err;
  }
  test::write_file(path, upstream);
  auto r = parley("serve -m /nonexistent.gguf --config " + test::shell_quote(path) + " --upstream a=http://127.0.0.1:2 --upstream-models a=y");
  EXPECT_NE(r.err.find("--upstream: a is also defined in " + path), std::string::npos) << r.err;
  r = parley("serve --config " + test::shell_quote((dir / "missing.toml").string()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--config: cannot open"), std::string::npos) << r.err;
  // A good file: it gets as far as the model, the file's one and then the command line's.
  test::write_file(path, upstream + "[server]\nmodel = \"/from-the-file.gguf\"\nport = 0\n");
  r = parley("serve --config " + test::shell_quote(path));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/from-the-file.gguf"), std::string::npos) << r.err;
  r = parley("serve -m /nonexistent.gguf --config " + test::shell_quote(path));
  EXPECT_NE(r.err.find("/nonexistent.gguf"), std::string::npos) << r.err;
  r = parley("serve");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("give the model with -m/--model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace parley
