// Fuzzes the streaming output parser: any generated text, in any family, split anywhere, must
// give events that follow the rules (text valid UTF-8, every call named, closed and with
// arguments that are one JSON object) and the same result as the text fed in one chunk —
// never a crash, a hang or quadratic work.
//
// Input: byte 0 picks the family, byte 1 the options, byte 2 the split pattern; the rest is the
// generated text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/utf8.h"
#include "chat/output-parser.h"

namespace {

using namespace parley;
using namespace parley::chat;

const char* const kFamilies[] = {
    "hermes",           "qwen3-coder",      "llama3",      "mistral",    "deepseek-v3",
    "deepseek-v3.1",    "glm-4.5",          "kimi-k2",     "minimax-m2", "gpt-oss",
    "seed-oss",         "nemotron",         "command-r7b", "granite",    "phi-4-mini",
    "functionary-v3.1", "functionary-v3.2", "generic",     "none",       "lfm2",
    "apriel",           "apertus",          "command-r",   "gigachat",   "gemma-4"};

const std::vector<Tool>& tools() {
  static const std::vector<Tool> t = [] {
    Tool w;
    w.name = "f";
    w.parameters = *json::parse(R"({"type": "object", "properties": {"s": {"type": "string"},
        "n": {"type": "integer"}, "o": {"type": "object"}}})");
    return std::vector<Tool>{w};
  }();
  return t;
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "output parser rule broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Folds events into one comparable string, checking the rules on the way.
std::string fold(const std::vector<OutputEvent>& events) {
  std::string folded, args;
  bool in_call = false;
  for (const auto& e : events) {
    switch (e.kind) {
      case OutputEvent::Kind::text:
      case OutputEvent::Kind::thinking:
        if (in_call) fail("text inside a call", e.text);
        if (!utf8::is_valid(e.text)) fail("invalid UTF-8 in text", e.text);
        folded += e.kind == OutputEvent::Kind::text ? "T" : "R";
        folded += e.text;
        break;
      case OutputEvent::Kind::tool_call_start:
        if (in_call) fail("nested call", e.name);
        if (e.name.empty()) fail("call without a name", "");
        in_call = true;
        args.clear();
        folded += "\x01" + e.name + "\x02" + e.id + "\x03";
        break;
      case OutputEvent::Kind::tool_call_args:
        if (!in_call) fail("args outside a call", e.text);
        args += e.text;
        break;
      case OutputEvent::Kind::tool_call_end: {
        if (!in_call) fail("end outside a call", "");
        auto v = json::parse(args);
        if (!v.ok() || !v->is_object()) fail("args are not one JSON object", args);
        folded += args + "\x04";
        in_call = false;
        break;
      }
    }
  }
  if (in_call) fail("call not closed", args);
  return folded;
}

std::string run(const OutputFormat& fmt, const ParserOptions& opt, std::string_view text, uint8_t pattern) {
  auto p = make_output_parser(fmt, opt);
  std::vector<OutputEvent> all, step;
  size_t pos = 0;
  size_t k = 0;
  while (pos < text.size()) {
    size_t n = pattern == 0 ? text.size() : 1 + ((pattern * (k + 7)) % 11);
    n = std::min(n, text.size() - pos);
    p->push(text.substr(pos, n), step);
    pos += n;
    k++;
    for (auto& e : step) all.push_back(std::move(e));
    step.clear();
  }
  p->finish(step);
  for (auto& e : step) all.push_back(std::move(e));
  // Merge consecutive same-kind text events before folding.
  std::vector<OutputEvent> merged;
  for (auto& e : all) {
    bool textual = e.kind == OutputEvent::Kind::text || e.kind == OutputEvent::Kind::thinking;
    if (textual && !merged.empty() && merged.back().kind == e.kind) {
      merged.back().text += e.text;
    } else {
      merged.push_back(std::move(e));
    }
  }
  return fold(merged);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  constexpr size_t n_families = sizeof(kFamilies) / sizeof(kFamilies[0]);
  OutputFormat fmt = output_format_for_family(kFamilies[data[0] % n_families]);
  if (fmt.reasoning.think_open.empty() && (data[1] & 8)) fmt.reasoning = {"<think>", "</think>"};
  ParserOptions opt;
  opt.starts_in_thinking = data[1] & 1;
  opt.parse_tool_calls = !(data[1] & 2);
  if (data[1] & 4) opt.tools = &tools();
  std::string_view text(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::string one = run(fmt, opt, text, 0);
  std::string split = run(fmt, opt, text, static_cast<uint8_t>(data[2] | 1));
  if (one != split) fail("split feed differs from one chunk", one + " | " + split);
  return 0;
}
