// bench-template: time to render a Claude-Code-sized request (the 24 tools of a captured Claude
// Code request, its system prompt, and 50 synthesized turns of text + tool calls + results,
// ~100 KB) with real chat templates. Target: < 5 ms per render. Side by side, the same
// variables rendered by Python jinja2 in transformers' configuration (the reference engine).
//
//   bench-template [--captures FILE.jsonl] [--templates DIR] [--runs N] [--no-python] [--only NAME.jinja]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <time.h>

#include "base/json.h"
#include "chat/chat-template.h"
#include "chat/jinja/format.h"

using namespace parley;
using Clock = std::chrono::steady_clock;
namespace jinja = parley::chat::jinja;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

chat::Message text_message(chat::Role role, std::string text) {
  chat::Message m;
  m.role = role;
  m.content.push_back({chat::ContentPart::Kind::text, std::move(text), "", "", false});
  return m;
}

// The first captured Claude Code request with 24 tools -> IR: system blocks (and the
// mid-conversation system message) as one system message, tools, then 50 synthesized turns.
bool build_request(const std::string& captures, chat::Conversation* conv, size_t* request_bytes) {
  std::ifstream in(captures);
  std::string line;
  while (std::getline(in, line)) {
    auto rec = json::parse(line);
    if (!rec.ok()) continue;
    const json::Value* body = rec->find("body");
    if (!body || !body->is_object()) continue;
    const json::Value* tools = body->find("tools");
    if (!tools || tools->size() != 24) continue;
    *request_bytes = line.size();
    std::string system;
    for (const auto& b : body->find("system")->as_array()) system += b.find("text")->as_string() + "\n";
    for (const auto& m : body->find("messages")->as_array()) {
      if (m.find("role")->as_string() == "system") system += m.find("content")->as_string();
    }
    conv->messages.push_back(text_message(chat::Role::system, system));
    for (const auto& t : tools->as_array()) {
      chat::Tool tool;
      tool.name = t.find("name")->as_string();
      tool.description = t.find("description")->as_string();
      tool.parameters = *t.find("input_schema");
      conv->tools.push_back(std::move(tool));
    }
    // 50 turns of a coding session: a request, an assistant step with a tool call, its result.
    for (int turn = 0; turn < 50; turn++) {
      std::string n = std::to_string(turn);
      if (turn % 5 == 0) {
        conv->messages.push_back(text_message(
            chat::Role::user, "Step " + n + ": please look at src/module_" + n +
                                  ".cpp, explain what the parse() function does with malformed "
                                  "input, and fix the off-by-one you find in the loop bounds."));
      }
      chat::Message a = text_message(chat::Role::assistant,
                                     "I'll inspect the file around the parse loop (turn " + n + ").");
      chat::ToolCall call;
      call.id = "toolu_" + std::string(20, static_cast<char>('a' + turn % 26)) + n;
      call.name = turn % 2 ? "Read" : "Bash";
      call.arguments = json::Value::object();
      if (turn % 2) {
        call.arguments["file_path"] = "/work/project/src/module_" + n + ".cpp";
      } else {
        call.arguments["command"] = "grep -n 'for (size_t i' src/module_" + n + ".cpp | head -20";
        call.arguments["description"] = "find loops";
      }
      a.tool_calls.push_back(call);
      conv->messages.push_back(a);
      chat::Message r = text_message(chat::Role::tool, "");
      r.tool_call_id = call.id;
      r.name = call.name;
      std::string out;
      for (int k = 0; k < 6; k++) {
        out += std::to_string(40 + k) + ":  for (size_t i = 0; i <= items.size(); i++) { total += items[i]; }\n";
      }
      r.content[0].text = out;
      conv->messages.push_back(r);
    }
    conv->messages.push_back(text_message(chat::Role::user, "Great, now run the tests."));
    return true;
  }
  return false;
}

// CPU time of this thread: the render's own work, without the time the (shared, busy) machine
// gave to other processes.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Times Python jinja2 (transformers' setup) rendering the same variables; -1 when unavailable.
double python_median_ms(const std::string& python, const std::string& tpl_path,
                        const std::string& vars_path, int runs) {
  std::string script =
      "import json,sys,time\n"
      "from jinja2.sandbox import ImmutableSandboxedEnvironment\n"
      "import jinja2.ext\n"
      "env=ImmutableSandboxedEnvironment(trim_blocks=True,lstrip_blocks=True,extensions=[jinja2.ext.loopcontrols])\n"
      "env.filters['tojson']=lambda x,ensure_ascii=False,indent=None,separators=None,sort_keys=False:"
      "json.dumps(x,ensure_ascii=ensure_ascii,indent=indent,separators=separators,sort_keys=sort_keys)\n"
      "def rx(m): raise jinja2.exceptions.TemplateError(m)\n"
      "env.globals['raise_exception']=rx\n"
      "env.globals['strftime_now']=lambda f: time.strftime(f)\n"
      "t=env.from_string(open(sys.argv[1],encoding='utf-8').read())\n"
      "v=json.load(open(sys.argv[2],encoding='utf-8'))\n"
      "ts=[]\n"
      "for i in range(int(sys.argv[3])):\n"
      "  a=time.perf_counter(); t.render(**v); ts.append(time.perf_counter()-a)\n"
      "ts.sort(); print(ts[len(ts)//2]*1000)\n";
  std::string script_path = "/tmp/parley-template-bench.py";
  std::ofstream(script_path) << script;
  std::string cmd = python + " " + script_path + " '" + tpl_path + "' '" + vars_path + "' " +
                    std::to_string(runs) + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[128] = {0};
  bool got = std::fgets(buf, sizeof buf, p) != nullptr;
  int rc = pclose(p);
  return got && rc == 0 ? std::atof(buf) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared = PARLEY_SHARED_DIR;
  std::string captures = shared + "/docs/claude-code-captures.jsonl";
  std::string templates = shared + "/templates";
  std::string python = "/usr/bin/python3";
  int runs = 200;
  std::string only;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--captures" && i + 1 < argc) captures = argv[++i];
    else if (a == "--templates" && i + 1 < argc) templates = argv[++i];
    else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--no-python") python.clear();
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench-template [--captures FILE.jsonl] [--templates DIR] [--runs N] [--no-python] [--only NAME.jinja]\n");
      return 2;
    }
  }
  chat::Conversation conv;
  size_t request_bytes = 0;
  if (!build_request(captures, &conv, &request_bytes)) {
    std::fprintf(stderr, "bench-template: no 24-tool request in %s\n", captures.c_str());
    return 1;
  }
  std::string conv_json;
  {
    // The request in the Hugging Face form, for its size and for the Python side.
    chat::HfFormatOptions fmt;
    jinja::Value msgs = chat::messages_value(conv.messages, fmt);
    jinja::Value tools = chat::tools_value(conv.tools);
    jinja::JsonStyle st;
    std::string m, t;
    jinja::append_json(m, msgs, st, SIZE_MAX);
    jinja::append_json(t, tools, st, SIZE_MAX);
    conv_json = "{\"messages\": " + m + ", \"tools\": " + t +
                ", \"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}";
  }
  std::printf("request: %zu messages, %zu tools, %.1f KB as HF JSON (captured Anthropic body %.1f KB); %d runs each\n",
              conv.messages.size(), conv.tools.size(), conv_json.size() / 1024.0,
              request_bytes / 1024.0, runs);
  std::string vars_path = "/tmp/parley-template-bench-vars.json";
  std::ofstream(vars_path) << conv_json;

  std::vector<std::string> names = {
      "Qwen3-0.6B.jinja", "Llama-3.1-8B-Instruct.jinja", "Qwen3-Coder.jinja",
      "Hermes-3-Llama-3.1-8B.tool_use.jinja", "Devstral-Small-2507.jinja", "GLM-4.6.jinja",
      "gpt-oss.jinja", "gemma-4-31B-it.jinja", "c4ai-command-r7b-12-2024.tool_use.jinja",
      "SmolLM3-3B.jinja"};
  std::printf("%-40s %9s %8s %8s %8s %8s %10s %8s\n", "template", "prompt KB", "cpu ms",
              "wall ms", "min ms", "p90 ms", "python ms", "speedup");
  bool all_fast = true;
  if (!only.empty()) names = {only};
  for (const std::string& name_str : names) {
    const char* name = name_str.c_str();
    std::string path = templates + "/" + name;
    auto tpl = chat::ChatTemplate::parse(read_file(path), chat::SpecialTokens{"<s>", "</s>", {}});
    if (!tpl.ok()) {
      std::printf("%-44s %s\n", name, tpl.error().message.c_str());
      continue;
    }
    chat::ChatRenderOptions opt;
    auto first = tpl->render(conv, opt);
    if (!first.ok()) {
      std::printf("%-44s raises on this request: %s\n", name, first.error().message.c_str());
      continue;
    }
    for (int i = 0; i < 3; i++) (void)tpl->render(conv, opt);
    std::vector<double> ms, cpu;
    for (int i = 0; i < runs; i++) {
      double c0 = thread_cpu_ms();
      auto t0 = Clock::now();
      auto out = tpl->render(conv, opt);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      cpu.push_back(thread_cpu_ms() - c0);
      if (!out.ok() || out->size() != first->size()) return 1;
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    double med = median(ms);
    double med_cpu = median(cpu);
    all_fast &= med_cpu < 5.0;
    double py = python.empty() ? -1 : python_median_ms(python, path, vars_path, std::max(5, runs / 10));
    char pybuf[32] = "-", spbuf[32] = "-";
    if (py > 0) {
      std::snprintf(pybuf, sizeof pybuf, "%.2f", py);
      std::snprintf(spbuf, sizeof spbuf, "%.1fx", py / med);
    }
    std::printf("%-40s %9.1f %8.3f %8.3f %8.3f %8.3f %10s %8s\n", name, first->size() / 1024.0,
                med_cpu, med, sorted.front(), sorted[sorted.size() * 9 / 10], pybuf, spbuf);
  }
  std::printf("cpu/wall ms: medians of thread CPU time and wall time per render; min/p90: wall. "
              "python: median wall time of Python jinja2 on the same variables.\n");
  std::printf("target < 5 ms per render (median CPU time): %s\n", all_fast ? "met" : "NOT met");
  return all_fast ? 0 : 1;
}
