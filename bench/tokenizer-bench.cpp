// bench-tokenizer: encode speed on a Claude-Code-sized request (~100 KB: the system prompt,
// the 24 tool definitions as JSON and the messages of a captured Claude Code request, plus
// source code), single-threaded, for every tokenizer in ../shared. Target: >= 5 MB/s each.
// Side by side, llama.cpp (node-llama-cpp, tools/peer-tokenize-bench.mjs) tokenizes the same
// text with the same GGUF vocabularies; "ratio" is our speed over its speed. Times are CPU time
// (the median over reps), ours of the encoding thread, the peer's of its process.
//
//   bench-tokenizer [--captures FILE.jsonl] [--reps N] [--no-peer] [--peer-dir DIR] [--only NAME]
//                   [--gguf NAME=FILE.gguf ...]   (peer baselines for Hugging Face vocabularies)
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/json.h"
#include "tokenizer/tokenizer.h"

using namespace parley;
namespace fs = std::filesystem;

namespace {

// CPU time of this thread: the machine is shared, so wall time measures the neighbours too.
double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The captured request with the most tools: its system prompt, tool definitions (JSON, as a
// template would embed them), message texts, then source files until ~100 KB.
std::string build_request(const fs::path& captures, const fs::path& source_dir) {
  std::ifstream in(captures);
  std::string line, best;
  size_t best_tools = 0;
  while (std::getline(in, line)) {
    auto rec = json::parse(line);
    if (!rec.ok()) continue;
    const json::Value* body = rec->find("body");
    const json::Value* tools = body && body->is_object() ? body->find("tools") : nullptr;
    if (tools && tools->is_array() && tools->size() > best_tools) {
      best_tools = tools->size();
      best = line;
    }
  }
  std::string text;
  if (!best.empty()) {
    auto rec = json::parse(best);
    const json::Value& body = *rec->find("body");
    if (const json::Value* sys = body.find("system"); sys && sys->is_array()) {
      for (const auto& b : sys->as_array()) {
        if (const json::Value* t = b.find("text"); t && t->is_string()) text += t->as_string() + "\n";
      }
    }
    for (const auto& t : body.find("tools")->as_array()) text += json::write(t) + "\n";
    std::function<void(const json::Value&)> walk = [&](const json::Value& v) {
      if (v.is_string()) {
        text += v.as_string() + "\n";
      } else if (v.is_array()) {
        for (const auto& x : v.as_array()) walk(x);
      } else if (v.is_object()) {
        for (const auto& [k, x] : v.as_object()) {
          if (k == "text" || k == "content" || k == "input") walk(x);
        }
      }
    };
    if (const json::Value* msgs = body.find("messages")) walk(*msgs);
  }
  for (const char* f : {"src/base/json.cpp", "src/tokenizer/bpe-model.cpp", "src/gguf/reader.cpp",
                        "src/tokenizer/pre-tokenizer.cpp"}) {
    if (text.size() >= 100'000) break;
    text += read_file(source_dir / f);
  }
  if (text.size() > 100'000) text.resize(100'000);
  while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
  if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();
  return text;
}

struct Vocab {
  std::string name, path;  // path under ../shared/tokenizers
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Runs the llama.cpp peer; returns its median seconds (0 when it could not run).
double peer_seconds(const std::string& gguf, const fs::path& text_file, const std::string& peer_dir,
                    int reps, size_t* tokens) {
  std::string cmd = "node " + (fs::path(PARLEY_SOURCE_DIR) / "tools/peer-tokenize-bench.mjs").string() +
                    " '" + gguf + "' '" + text_file.string() + "' --reps " + std::to_string(reps) +
                    " --peer-dir '" + peer_dir + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  size_t brace = out.find('{');
  if (brace == std::string::npos) return 0;
  auto doc = json::parse(out.substr(brace, out.find('\n', brace) - brace));
  if (!doc.ok()) return 0;
  *tokens = static_cast<size_t>(doc->find("tokens")->as_int());
  std::vector<double> s;
  for (const auto& v : doc->find("seconds")->as_array()) s.push_back(v.is_int() ? static_cast<double>(v.as_int()) : v.as_double());
  return median(s);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path shared = PARLEY_SHARED_DIR;
  fs::path captures = shared / "docs/claude-code-captures.jsonl";
  std::string peer_dir = "/tmp/peer", only;
  int reps = 20;
  bool peer = true;
  std::map<std::string, std::string> extra_gguf;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--captures") captures = next();
    else if (a == "--reps") reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--no-peer") peer = false;
    else if (a == "--peer-dir") peer_dir = next();
    else if (a == "--only") only = next();
    else if (a == "--gguf") {
      std::string kv = next();
      size_t eq = kv.find('=');
      if (eq != std::string::npos) extra_gguf[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else {
      std::fprintf(stderr, "usage: bench-tokenizer [--captures F] [--reps N] [--no-peer] [--peer-dir D] "
                           "[--only NAME] [--gguf NAME=FILE.gguf]\n");
      return 2;
    }
  }
  if (!fs::exists(captures)) {
    std::fprintf(stderr, "bench-tokenizer: %s not found\n", captures.c_str());
    return 1;
  }
  std::string text = build_request(captures, PARLEY_SOURCE_DIR);
  fs::path text_file = fs::temp_directory_path() / "parley-tokenizer-bench.txt";
  std::ofstream(text_file, std::ios::binary) << text;
  std::printf("request: %zu bytes (captured Claude Code request: system prompt, tools JSON, "
              "messages; then code), %d reps, median\n\n", text.size(), reps);
  std::printf("%-16s %8s %9s %8s %9s %10s %9s %7s\n", "tokenizer", "tokens", "ms", "best ms", "MB/s",
              "peer ms", "peer MB/s", "ratio");

  const std::vector<Vocab> vocabs = {
      {"llama-spm", "vectors/gguf/ggml-vocab-llama-spm.gguf"},
      {"phi-3", "vectors/gguf/ggml-vocab-phi-3.gguf"},
      {"gpt-2", "vectors/gguf/ggml-vocab-gpt-2.gguf"},
      {"deepseek-llm", "vectors/gguf/ggml-vocab-deepseek-llm.gguf"},
      {"deepseek-coder", "vectors/gguf/ggml-vocab-deepseek-coder.gguf"},
      {"falcon", "vectors/gguf/ggml-vocab-falcon.gguf"},
      {"starcoder", "vectors/gguf/ggml-vocab-starcoder.gguf"},
      {"mpt", "vectors/gguf/ggml-vocab-mpt.gguf"},
      {"refact", "vectors/gguf/ggml-vocab-refact.gguf"},
      {"qwen2.5", "Qwen2.5-0.5B-Instruct"},
      {"smollm2", "SmolLM2-135M-Instruct/tokenizer.json"},
      {"llama-3", "Llama-3/tokenizer.model"},
      {"llama-4", "Llama-4/tokenizer.model"},
      {"mistral-v0.3", "Mistral-7B-Instruct-v0.3"},
  };
  bool all_fast = true;
  for (const Vocab& v : vocabs) {
    if (!only.empty() && v.name != only) continue;
    fs::path p = shared / "tokenizers" / v.path;
    if (!fs::exists(p)) continue;
    auto tok = p.extension() == ".gguf" ? tokenizer::Tokenizer::from_gguf(p.string())
                                        : tokenizer::Tokenizer::from_hf(p.string());
    if (!tok) {
      std::printf("%-16s load error: %s\n", v.name.c_str(), tok.error().message.c_str());
      continue;
    }
    std::vector<tokenizer::TokenId> ids;
    tok->encode_into(text, {}, ids);  // warm-up
    std::vector<double> secs;
    for (int r = 0; r < reps; r++) {
      ids.clear();
      double t0 = thread_seconds();
      tok->encode_into(text, {}, ids);
      secs.push_back(thread_seconds() - t0);
    }
    double s = median(secs);
    double best = *std::min_element(secs.begin(), secs.end());
    double mbs = static_cast<double>(text.size()) / s / 1e6;
    all_fast = all_fast && mbs >= 5.0;
    std::printf("%-16s %8zu %9.2f %8.2f %9.1f", v.name.c_str(), ids.size(), s * 1e3, best * 1e3, mbs);
    std::string gguf = p.extension() == ".gguf" ? p.string() : extra_gguf.count(v.name) ? extra_gguf[v.name] : "";
    size_t peer_tokens = 0;
    double ps = peer && !gguf.empty() ? peer_seconds(gguf, text_file, peer_dir, reps, &peer_tokens) : 0;
    if (ps > 0) {
      std::printf(" %10.2f %9.1f %6.1fx%s\n", ps * 1e3, static_cast<double>(text.size()) / ps / 1e6, ps / s,
                  peer_tokens == ids.size() ? "" : "  (token counts differ!)");
    } else {
      std::printf(" %10s %9s %7s\n", "-", "-", "-");
    }
    std::fflush(stdout);
  }
  std::printf("\n%s\n", all_fast ? "every tokenizer >= 5 MB/s" : "SOME TOKENIZER IS BELOW 5 MB/s");
  fs::remove(text_file);
  return all_fast ? 0 : 1;
}
