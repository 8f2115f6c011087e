// bench-grammar: per-token mask time of constrained decoding on the Qwen2.5 vocabulary (151k
// tokens), over every Claude Code tool schema of ../shared/docs/claude-code-captures.jsonl.
// Seeded random walks (random allowed tokens, half the time a short symbol so values close)
// drive the matcher; each fill_mask is timed in thread CPU time. Reported: median, p90, p99 and
// max over all steps, the first (cold-cache) masks separately, and the one-off costs (vocabulary
// index, schema compile). Targets: median <= 100 us, p99 <= 2 ms on one core.
//
//   bench-grammar [--walks N] [--max-steps N] [--tokenizer DIR] [--cache ENTRIES (0: off)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/rng.h"
#include "sampling/grammar-matcher.h"
#include "sampling/grammar-tool-call.h"
#include "sampling/json-schema.h"
#include "tokenizer/tokenizer.h"

using namespace parley;
using namespace parley::sampling;

namespace {

double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

std::vector<std::pair<std::string, json::Value>> schemas_of(const std::string& captures) {
  std::vector<std::pair<std::string, json::Value>> out;
  std::set<std::string> seen;
  std::ifstream in(captures);
  std::string line;
  while (std::getline(in, line)) {
    auto rec = json::parse(line);
    if (!rec.ok()) continue;
    const json::Value* body = rec->find("body");
    const json::Value* tools = body && body->is_object() ? body->find("tools") : nullptr;
    if (!tools || !tools->is_array()) continue;
    for (const auto& t : tools->as_array()) {
      const json::Value* s = t.find("input_schema");
      const json::Value* n = t.find("name");
      if (s && n && n->is_string() && seen.insert(json::write(*s)).second) {
        out.push_back({n->as_string(), *s});
      }
    }
  }
  return out;
}

TokenId nth_allowed(const std::vector<uint32_t>& mask, uint64_t n) {
  for (size_t w = 0; w < mask.size(); w++) {
    uint64_t c = static_cast<uint64_t>(__builtin_popcount(mask[w]));
    if (n >= c) {
      n -= c;
      continue;
    }
    uint32_t bits = mask[w];
    for (; n > 0; n--) bits &= bits - 1;
    return static_cast<TokenId>(w * 32 + static_cast<size_t>(__builtin_ctz(bits)));
  }
  return -1;
}

struct Times {
  std::vector<double> all, cold;
};

// One walk; appends each mask's time (us).
void walk(GrammarMatcher m, Rng& rng, size_t max_steps, const std::vector<TokenId>& symbols,
          Times& t, bool first) {
  std::vector<uint32_t> mask(m.compiled().vocab().n_mask_words());
  std::vector<TokenId> pool;
  for (size_t step = 0; step < max_steps; step++) {
    double t0 = thread_seconds();
    m.fill_mask(mask);
    double us = (thread_seconds() - t0) * 1e6;
    t.all.push_back(us);
    if (first) t.cold.push_back(us);
    uint64_t total = 0, n_eog = 0;
    for (uint32_t w : mask) total += static_cast<uint64_t>(__builtin_popcount(w));
    for (TokenId id : m.compiled().eog_ids()) n_eog += mask_allows(mask, id) ? 1 : 0;
    if (n_eog > 0 && (total == n_eog || rng.uniform() < 0.5f)) return;
    if (total == n_eog) return;
    pool.clear();
    for (TokenId id : symbols) {
      if (mask_allows(mask, id)) pool.push_back(id);
    }
    TokenId pick;
    if (!pool.empty() && rng.uniform() < 0.5f) {
      pick = pool[rng.next_u64() % pool.size()];
    } else {
      do pick = nth_allowed(mask, rng.next_u64() % total);
      while (m.compiled().is_eog(pick));
    }
    if (!m.accept(pick)) {
      std::fprintf(stderr, "accept refused an allowed token\n");
      std::exit(1);
    }
  }
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void report(const char* what, const std::vector<double>& v) {
  std::printf("%-34s n=%-7zu median %8.1f us  p90 %8.1f us  p99 %8.1f us  max %9.1f us\n", what,
              v.size(), pct(v, 0.5), pct(v, 0.9), pct(v, 0.99), pct(v, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared = PARLEY_SHARED_DIR;
  std::string tok_dir = shared + "/tokenizers/Qwen2.5-0.5B-Instruct";
  std::string captures = shared + "/docs/claude-code-captures.jsonl";
  size_t walks = 20, max_steps = 400;
  MatcherOptions mo;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--walks")) walks = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--max-steps")) max_steps = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--tokenizer")) tok_dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--cache")) mo.mask_cache_entries = std::stoul(argv[i + 1]);
  }
  auto tok = tokenizer::Tokenizer::from_hf(tok_dir);
  if (!tok.ok()) {
    std::fprintf(stderr, "bench-grammar: %s\n", tok.error().message.c_str());
    return 1;
  }
  double t0 = thread_seconds();
  auto vocab = std::make_shared<const TokenVocab>(TokenVocab::from_tokenizer(*tok));
  double vocab_ms = (thread_seconds() - t0) * 1e3;
  std::vector<TokenId> symbols;
  for (TokenId id = 0; id < vocab->n_vocab(); id++) {
    auto b = vocab->bytes(id);
    bool sym = vocab->kind(id) == TokenVocab::Kind::text && !b.empty() && b.size() <= 2 &&
               std::none_of(b.begin(), b.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
    if (sym) symbols.push_back(id);
  }
  auto schemas = schemas_of(captures);
  std::printf("bench-grammar: %s, 1 thread, thread CPU time\n", cpu_name().c_str());
  std::printf("vocabulary %d tokens, index built in %.1f ms; %zu tool schemas, %zu walks each; "
              "mask cache %zu entries\n", vocab->n_vocab(), vocab_ms, schemas.size(), walks,
              mo.mask_cache_entries);
  Times schema_times;
  Rng rng(1);
  double compile_ms = 0;
  for (const auto& [name, schema] : schemas) {
    double c0 = thread_seconds();
    auto g = compile_json_schema(schema, {});
    compile_ms += (thread_seconds() - c0) * 1e3;
    if (!g.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), g.error().message.c_str());
      return 1;
    }
    auto cg = std::make_shared<const CompiledGrammar>(std::move(g->grammar), vocab, mo);
    for (size_t k = 0; k < walks; k++) walk(GrammarMatcher(cg), rng, max_steps, symbols, schema_times, k == 0);
  }
  std::printf("schema compile: %.2f ms total\n", compile_ms);
  report("json schema masks (all steps)", schema_times.all);
  report("json schema masks (first walk)", schema_times.cold);

  // All tools in Qwen's call syntax, as the server would run them under tool_choice any.
  chat::CallSyntax qwen;
  qwen.begin = "<tool_call>\n";
  qwen.call_prefix = "{\"name\": \"";
  qwen.name_suffix = "\", \"arguments\": ";
  qwen.call_suffix = "}";
  qwen.separator = "\n</tool_call>\n<tool_call>\n";
  qwen.end = "\n</tool_call>";
  std::vector<chat::Tool> tools;
  std::set<std::string> names;
  for (const auto& [name, schema] : schemas) {
    if (names.insert(name).second) tools.push_back({name, "", schema});
  }
  ToolGrammarOptions to;
  to.parallel = false;
  double c0 = thread_seconds();
  auto g = tool_call_grammar(qwen, tools, to);
  double tool_ms = (thread_seconds() - c0) * 1e3;
  if (!g.ok()) {
    std::fprintf(stderr, "tool grammar: %s\n", g.error().message.c_str());
    return 1;
  }
  auto cg = std::make_shared<const CompiledGrammar>(std::move(*g), vocab, mo);
  Times tool_times;
  for (size_t k = 0; k < walks * 5; k++) walk(GrammarMatcher(cg), rng, max_steps, symbols, tool_times, k == 0);
  std::printf("tool call grammar (%zu tools): compiled in %.2f ms\n", tools.size(), tool_ms);
  report("tool call masks (all steps)", tool_times.all);
  report("tool call masks (first walk)", tool_times.cold);
  return 0;
}
