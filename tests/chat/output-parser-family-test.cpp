// The output parser on hand-written generations: formats whose templates cannot render an
// assistant tool call (or not all of it), the XML families' typing of parameters, and what
// models get wrong (invalid JSON, unterminated calls, args before the name, markers in prose).
// Every case is also fed one byte at a time and must give the same result.
#include <gtest/gtest.h>

#include <chrono>

#include "base/json.h"
#include "base/rng.h"
#include "chat/output-parser-test-util.h"

namespace parley::chat {
namespace {

using test_util::fold;
using test_util::Folded;
using test_util::FoldedCall;
using test_util::weather_tools;

struct Case {
  const char* family;
  std::string input;
  std::string text;
  std::string thinking;
  std::vector<FoldedCall> calls;  // args compared as written by json::write
  bool starts_in_thinking = false;
  const char* think_open = nullptr;  // reasoning markers when the family's default differs
  const char* think_close = nullptr;
};

Folded run(const Case& c, std::vector<std::string> chunks) {
  OutputFormat f = output_format_for_family(c.family);
  if (c.think_open) f.reasoning = {c.think_open, c.think_close};
  static const std::vector<Tool> tools = [] {
    auto t = weather_tools();
    Tool w;
    w.name = "write_file";
    w.parameters = *json::parse(R"({"type": "object", "properties": {
        "path": {"type": "string"}, "content": {"type": "string"},
        "mode": {"type": ["string", "null"]}, "append": {"type": "boolean"},
        "opts": {"type": "object"}, "lines": {"type": "array"}}})");
    t.push_back(w);
    return t;
  }();
  ParserOptions opt;
  opt.tools = &tools;
  opt.starts_in_thinking = c.starts_in_thinking;
  return fold(f, opt, chunks);
}

void check(const Case& c) {
  SCOPED_TRACE(std::string(c.family) + ": " + c.input);
  Folded one = run(c, {c.input});
  EXPECT_TRUE(one.problems.empty()) << one.problems;
  EXPECT_EQ(one.text, c.text);
  EXPECT_EQ(one.thinking, c.thinking);
  ASSERT_EQ(one.calls.size(), c.calls.size()) << one;
  for (size_t i = 0; i < c.calls.size(); i++) {
    EXPECT_EQ(one.calls[i].name, c.calls[i].name);
    EXPECT_EQ(one.calls[i].id, c.calls[i].id);
    auto v = json::parse(one.calls[i].args);
    ASSERT_TRUE(v.ok()) << one.calls[i].args;
    EXPECT_EQ(json::write(*v), c.calls[i].args);
  }
  std::vector<std::string> bytes;
  for (char ch : c.input) bytes.emplace_back(1, ch);
  Folded each = run(c, bytes);
  EXPECT_EQ(each, one) << "one byte at a time";
  EXPECT_TRUE(each.problems.empty()) << each.problems;
  for (size_t k = 0; k < c.input.size(); k++) {
    Folded cut = run(c, {c.input.substr(0, k)});
    ASSERT_TRUE(cut.problems.empty()) << "cut at " << k << ": " << cut.problems;
  }
}

const char* kParis = R"({"city":"Paris","days":3})";
const char* kRome = R"({"city":"Rome"})";

TEST(OutputParserFamily, KimiThinkingAndIds) {
  check({"kimi-k2",
         "<think>User wants weather.</think>Let me check.<|tool_calls_section_begin|>"
         "<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
         "{\"city\": \"Paris\", \"days\": 3}<|tool_call_end|><|tool_call_begin|>"
         "functions.get_weather:1<|tool_call_argument_begin|>{\"city\": \"Rome\"}"
         "<|tool_call_end|><|tool_calls_section_end|>",
         "Let me check.",
         "User wants weather.",
         {{"get_weather", "functions.get_weather:0", kParis},
          {"get_weather", "functions.get_weather:1", kRome}},
         false,
         "<think>",
         "</think>"});
}

TEST(OutputParserFamily, MistralThinkAndCalls) {
  check({"mistral",
         "[THINK]User wants weather.[/THINK]Let me check.[TOOL_CALLS]get_weather[ARGS]"
         "{\"city\": \"Paris\", \"days\": 3}[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Rome\"}",
         "Let me check.",
         "User wants weather.",
         {{"get_weather", "", kParis}, {"get_weather", "", kRome}},
         false,
         "[THINK]",
         "[/THINK]"});
  // The older JSON list, as Mistral-7B-v0.3 writes it (a space after the marker).
  check({"mistral",
         "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
         "\"days\": 3}}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]",
         "",
         "",
         {{"get_weather", "", kParis}, {"get_weather", "", kRome}}});
}

TEST(OutputParserFamily, GptOssChannels) {
  check({"gpt-oss",
         "<|channel|>analysis<|message|>User wants weather.<|end|><|start|>assistant"
         "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
         "{\"city\": \"Paris\", \"days\": 3}<|call|>",
         "",
         "User wants weather.",
         {{"get_weather", "", kParis}}});
  check({"gpt-oss",
         "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final"
         "<|message|>It is sunny.<|return|>",
         "It is sunny.",
         "Think.",
         {}});
  // The recipient before the channel, as the template renders history.
  check({"gpt-oss",
         " to=functions.get_weather<|channel|>commentary json<|message|>{\"city\": \"Rome\"}"
         "<|call|>",
         "",
         "",
         {{"get_weather", "", kRome}}});
}

TEST(OutputParserFamily, NemotronGraniteCommandRPhi) {
  check({"nemotron",
         "User wants weather.\n</think>\n\n<TOOLCALL>[{\"name\": \"get_weather\", \"arguments\": "
         "{\"city\": \"Paris\", \"days\": 3}}, {\"name\": \"get_weather\", \"arguments\": "
         "{\"city\": \"Rome\"}}]</TOOLCALL>",
         "",
         "User wants weather.",
         {{"get_weather", "", kParis}, {"get_weather", "", kRome}},
         true});
  check({"granite",
         "<think>Plan.</think><response>Hello.</response>",
         "Hello.",
         "Plan.",
         {},
         false,
         "<think>",
         "</think>"});
  check({"granite",
         "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]",
         "",
         "",
         {{"get_weather", "", kRome}}});
  check({"command-r7b",
         "<|START_THINKING|>I will look it up.<|END_THINKING|><|START_ACTION|>[\n    "
         "{\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", \"parameters\": "
         "{\"city\": \"Rome\"}}\n]<|END_ACTION|>",
         "",
         "I will look it up.",
         {{"get_weather", "0", kRome}}});
  check({"command-r7b", "<|START_RESPONSE|>Sunny.<|END_RESPONSE|>", "Sunny.", "", {}});
  check({"phi-4-mini",
         "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]"
         "<|/tool_call|>",
         "",
         "",
         {{"get_weather", "", kRome}}});
}

TEST(OutputParserFamily, LlamaPythonTagAndBareJson) {
  check({"llama3",
         "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}",
         "",
         "",
         {{"get_weather", "", kRome}}});
  check({"llama3",
         "\n{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": "
         "{\"city\": \"Rome\"}}",
         "",
         "",
         {{"get_weather", "", kRome}}});
  // JSON that is not a call, and JSON after text, stay text.
  check({"llama3", "{\"answer\": 42}", "{\"answer\": 42}", "", {}});
  check({"llama3", "Use {\"name\": \"x\"} here.", "Use {\"name\": \"x\"} here.", "", {}});
}

TEST(OutputParserFamily, GenericEnvelopeAndInstructions) {
  check({"generic",
         "I'll check.\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": "
         "\"Paris\", \"days\": 3}}</tool_call>\n<tool_call>{\"name\": \"get_weather\", "
         "\"arguments\": {\"city\": \"Rome\"}}</tool_call>",
         "I'll check.",
         "",
         {{"get_weather", "", kParis}, {"get_weather", "", kRome}}});
  std::string s = generic_tool_instructions(weather_tools());
  EXPECT_NE(s.find("\"name\":\"get_weather\""), std::string::npos) << s;
  EXPECT_NE(s.find("<tool_call>{\"name\": \"TOOL_NAME\", \"arguments\":"), std::string::npos);
}

TEST(OutputParserFamily, EnvelopeOddities) {
  // Arguments before the name; arguments as a JSON string; no arguments at all.
  check({"hermes",
         "<tool_call>{\"arguments\": {\"city\": \"Rome\"}, \"name\": \"get_weather\"}</tool_call>",
         "",
         "",
         {{"get_weather", "", kRome}}});
  check({"hermes",
         "<tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Rome\\\"}\"}"
         "</tool_call>",
         "",
         "",
         {{"get_weather", "", kRome}}});
  check({"hermes", "<tool_call>\n{\"name\": \"now\"}\n</tool_call>", "", "", {{"now", "", "{}"}}});
  // Invalid JSON inside the arguments: the call is what was valid.
  check({"hermes",
         "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\", \"days\": tru}}"
         "</tool_call>",
         "",
         "",
         {{"get_weather", "", R"({"city":"Rome","days":null})"}}});
  // Raw newlines inside strings (models do this) are escaped; a trailing comma dropped.
  check({"hermes",
         "<tool_call>{\"name\": \"write_file\", \"arguments\": {\"content\": \"a\nb\",}}</tool_call>",
         "",
         "",
         {{"write_file", "", R"({"content":"a\nb"})"}}});
  // A number out of the double range is not valid JSON for our reader: the value is null.
  check({"hermes", "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 2e532}}</tool_call>", "", "",
         {{"f", "", R"({"a":null})"}}});
  // A name past the bound is not a call, decided at the same byte however the text is split.
  check({"hermes", "<tool_call>{\"name\": \"" + std::string(600, 'x') + "\"}</tool_call>",
         "<tool_call>{\"name\": \"" + std::string(600, 'x') + "\"}</tool_call>", "", {}});
  // A marker mentioned in prose with something else after it: text.
  check({"hermes", "Use <tool_call> tags.", "Use <tool_call> tags.", "", {}});
  check({"hermes", "a <tool b", "a <tool b", "", {}});
  // Cut off after one more call's trigger, before its name (max_tokens): the markup is dropped,
  // not shown as text; with no call before it, it is text.
  check({"hermes", "<tool_call>\n{\"name\": \"now\"}\n</tool_call>\n<tool_call>\n{\"na", "", "",
         {{"now", "", "{}"}}});
  check({"hermes", "<tool_call>\n{\"name\": \"now\"}\n</tool_call>\n<tool_call>", "", "", {{"now", "", "{}"}}});
  check({"hermes", "x <tool_call>\n{\"na", "x <tool_call>\n{\"na", "", {}});
  // Cut off in the middle of a call: closed.
  check({"hermes",
         "<tool_call>{\"name\": \"write_file\", \"arguments\": {\"path\": \"/tm",
         "",
         "",
         {{"write_file", "", R"({"path":"/tm"})"}}});
}

TEST(OutputParserFamily, XmlParametersTypedBySchema) {
  // Strings stream raw (escaped as they come, newlines inside kept); other types are JSON.
  check({"qwen3-coder",
         "<tool_call>\n<function=write_file>\n<parameter=path>\n/tmp/a \"b\".txt\n</parameter>\n"
         "<parameter=content>\nline1\n  <b>x</b>\n\xE2\x98\x83\n</parameter>\n"
         "<parameter=append>\ntrue\n</parameter>\n<parameter=opts>\n{\"x\": [1, 2]}\n"
         "</parameter>\n<parameter=mode>\nnull\n</parameter>\n<parameter=extra>\n12\n</parameter>\n"
         "<parameter=other>\nhello\n</parameter>\n</function>\n</tool_call>",
         "",
         "",
         {{"write_file", "",
           R"({"path":"/tmp/a \"b\".txt","content":"line1\n  <b>x</b>\n)"
           "\xE2\x98\x83"
           R"(","append":true,"opts":{"x":[1,2]},"mode":"null","extra":12,"other":"hello"})"}}});
  // A non-JSON value for a typed parameter becomes a string rather than breaking the call.
  check({"qwen3-coder",
         "<tool_call>\n<function=get_weather>\n<parameter=days>\nthree\n</parameter>\n</function>"
         "\n</tool_call>",
         "",
         "",
         {{"get_weather", "", R"({"days":"three"})"}}});
  // A missing </parameter> is tolerated before the next parameter or </function>.
  check({"qwen3-coder",
         "<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n<parameter=days>\n2\n"
         "</function>\n</tool_call>",
         "",
         "",
         {{"get_weather", "", R"({"city":"Rome","days":2})"}}});
  // No arguments.
  check({"glm-4.5", "<tool_call>now</tool_call>", "", "", {{"now", "", "{}"}}});
  check({"minimax-m2",
         "<think>\nHm.\n</think>\n\nOk.\n<minimax:tool_call>\n<invoke name=\"get_weather\">\n"
         "<parameter name=\"city\">Rome</parameter>\n<parameter name=\"days\">2</parameter>\n"
         "</invoke>\n</minimax:tool_call>",
         "Ok.",
         "Hm.",
         {{"get_weather", "", R"({"city":"Rome","days":2})"}}});
  check({"seed-oss",
         "<seed:think>Hm.</seed:think>\nOk.\n\n<seed:tool_call>\n<function=get_weather>\n"
         "<parameter=city>Rome</parameter>\n</function>\n</seed:tool_call>",
         "Ok.",
         "Hm.",
         {{"get_weather", "", kRome}}});
}

TEST(OutputParserFamily, ThinkingOpenedByThePrompt) {
  check({"hermes",
         "Hm, weather.\n</think>\n\nIt is sunny.",
         "It is sunny.",
         "Hm, weather.",
         {},
         true,
         "<think>",
         "</think>"});
  // Never closed: all thinking.
  check({"hermes", "Hm, weather and more", "", "Hm, weather and more", {}, true, "<think>", "</think>"});
  check({"deepseek-v3.1",
         "Hm.</think>Ok.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
         "{\"city\": \"Rome\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
         "Ok.",
         "Hm.",
         {{"get_weather", "", kRome}},
         true});
}

TEST(OutputParserFamily, Utf8NeverSplit) {
  check({"hermes",
         "h\xC3\xA9llo \xE2\x98\x83 \xF0\x9F\x98\x80!",
         "h\xC3\xA9llo \xE2\x98\x83 \xF0\x9F\x98\x80!",
         "",
         {}});
  // Invalid bytes become U+FFFD.
  check({"hermes",
         "a\xFF"
         "b",
         "a\xEF\xBF\xBD"
         "b",
         "",
         {}});
}

// LFM2's pythonic calls: Python literals (both quotes, escapes, True/False/None, numbers,
// lists, tuples, dicts, trailing commas) become JSON arguments.
TEST(OutputParserFamily, PythonicCalls) {
  check({"lfm2-pythonic",
         R"(<|tool_call_start|>[write_file(path='/tmp/a "b".txt', content="it's\n\tdone \\ \u00e9\x41\U0001F600\q", )"
         R"(mode=None, append=True, opts={'a': [1, 2.5, -3, (4, 5), 1_000, .5], "b": {'c': False}}, lines=[],)])"
         "<|tool_call_end|>",
         "",
         "",
         {{"write_file", "",
           "{\"path\":\"/tmp/a \\\"b\\\".txt\",\"content\":\"it's\\n\\tdone \\\\ \xC3\xA9"
           "A\xF0\x9F\x98\x80\\\\q\",\"mode\":null,\"append\":true,\"opts\":{\"a\":[1,2.5,-3,[4,5],1000,0.5],"
           "\"b\":{\"c\":false}},\"lines\":[]}"}}});
  // No arguments, spaces around "=", a trailing comma, text after the calls.
  check({"lfm2-pythonic",
         "<|tool_call_start|>[get_time(), get_weather(city = \"Rome\" , )]<|tool_call_end|>Checking.",
         "Checking.",
         "",
         {{"get_time", "", "{}"}, {"get_weather", "", kRome}}});
  // JSON literals are read too (what the grammar forces).
  check({"lfm2-pythonic",
         "<|tool_call_start|>[write_file(append=true, mode=null, path=\"p\")]<|tool_call_end|>",
         "",
         "",
         {{"write_file", "", "{\"append\":true,\"mode\":null,\"path\":\"p\"}"}}});
  // A positional argument cannot be named: the call is what was valid.
  check({"lfm2-pythonic",
         "<|tool_call_start|>[get_weather(\"Paris\")]<|tool_call_end|>",
         "",
         "",
         {{"get_weather", "", "{}"}}});
  // Not a call: the marker and what follows stay text.
  check({"lfm2-pythonic", "<|tool_call_start|>see [this] (twice)", "<|tool_call_start|>see [this] (twice)", "", {}});
}

// Apriel-1.5 renders arguments|string: a Python dict inside the JSON envelope (JSON read too).
// The id it renders after the arguments (history turns) comes after the call started: not kept
// (the server names calls itself).
TEST(OutputParserFamily, PythonDictArguments) {
  check({"apriel-1.5",
         "Here are my reasoning steps:\nHm.\n[BEGIN FINAL RESPONSE]\n<tool_calls>[{\"name\": \"write_file\", "
         R"("arguments": {'path': 'a\'b', "content": "x", 'append': False, 'mode': None, 'lines': ['l1', "l2"]}, )"
         "\"id\": \"c1\"}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}]"
         "</tool_calls>\n[END FINAL RESPONSE]",
         "",
         "Hm.",
         {{"write_file", "", "{\"path\":\"a'b\",\"content\":\"x\",\"append\":false,\"mode\":null,\"lines\":[\"l1\",\"l2\"]}"},
          {"get_weather", "", kParis}}});
}

// Solar Open: <|think|> blocks, <|begin|>assistant<|content|> wrappers, calls with and without ids.
TEST(OutputParserFamily, SolarOpenBlocksAndCalls) {
  check({"solar-open", "<|think|>Hm.<|end|><|begin|>assistant<|content|>It is sunny.<|end|>", "It is sunny.",
         "Hm.", {}});
  check({"solar-open",
         "<|tool_calls|><|tool_call:begin|>a1b2c3d4e5<|tool_call:name|>get_weather<|tool_call:args|>"
         "{\"city\": \"Paris\", \"days\": 3}<|tool_call:end|><|tool_call:begin|>get_weather<|tool_call:args|>"
         "{\"city\": \"Rome\"}<|tool_call:end|><|calls|>",
         "",
         "",
         {{"get_weather", "a1b2c3d4e5", kParis}, {"get_weather", "", kRome}}});
}

// firefunction-v2: the text, then functools[...] with no closing marker.
TEST(OutputParserFamily, FirefunctionList) {
  check({"firefunction-v2",
         "Sure. functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]",
         "Sure.",
         "",
         {{"get_weather", "", kRome}}});
  check({"firefunction-v2", "import functools\nfunctools.reduce(f, xs)", "import functools\nfunctools.reduce(f, xs)",
         "", {}});
}

TEST(OutputParserFamily, ToolCallsOffMeansText) {
  OutputFormat f = output_format_for_family("hermes");
  ParserOptions opt;
  opt.parse_tool_calls = false;
  std::string in = "<tool_call>\n{\"name\": \"x\", \"arguments\": {}}\n</tool_call>";
  Folded r = fold(f, opt, {in});
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.text, in);
}

// Random mixes of every family's markers, JSON and text: the rules hold, nothing crashes, and
// one byte at a time gives what one chunk gives.
TEST(OutputParserFamily, RandomMarkerSoup) {
  const char* families[] = {
      "hermes",           "qwen3-coder",      "llama3",      "mistral",    "deepseek-v3",
      "deepseek-v3.1",    "glm-4.5",          "kimi-k2",     "minimax-m2", "gpt-oss",
      "seed-oss",         "nemotron",         "command-r7b", "granite",    "phi-4-mini",
      "functionary-v3.1", "functionary-v3.2", "generic",     "none",       "lfm2",
      "apriel",           "apertus",          "command-r",   "gigachat",   "gemma-4",
      "lfm2-pythonic",    "apriel-1.5",       "solar-open",  "firefunction-v2"};
  std::vector<std::string> atoms = {"{",
                                    "}",
                                    "[",
                                    "]",
                                    "\"",
                                    ":",
                                    ",",
                                    " ",
                                    "\n",
                                    "\\",
                                    "x",
                                    "name",
                                    "arguments",
                                    "\"name\": \"f\"",
                                    "\"arguments\": {",
                                    "1",
                                    "true",
                                    "\xE2\x98",
                                    "\x83",
                                    "<think>",
                                    "</think>"};
  for (const char* fam : families) {
    OutputFormat f = output_format_for_family(fam);
    for (const auto& m : f.special_markers) atoms.push_back(m);
    for (const auto& m : f.calls.triggers) atoms.push_back(m);
    for (const auto* m : {&f.calls.call_prefix, &f.calls.name_suffix, &f.calls.arg_prefix,
                          &f.calls.arg_middle, &f.calls.arg_suffix, &f.calls.call_suffix}) {
      if (!m->empty()) atoms.push_back(*m);
    }
  }
  Rng rng(1234);
  int n = 0;
  for (const char* fam : families) {
    OutputFormat f = output_format_for_family(fam);
    if (f.reasoning.think_open.empty()) f.reasoning = {"<think>", "</think>"};
    for (int iter = 0; iter < 150; iter++) {
      std::string in;
      int len = 1 + static_cast<int>(rng.next_u64() % 40);
      for (int i = 0; i < len; i++) in += atoms[rng.next_u64() % atoms.size()];
      ParserOptions opt;
      opt.starts_in_thinking = iter % 3 == 0;
      Folded one = fold(f, opt, {in});
      ASSERT_TRUE(one.problems.empty())
          << fam << ": " << one.problems << " on " << json::write(json::Value(in));
      std::vector<std::string> bytes;
      for (char ch : in) bytes.emplace_back(1, ch);
      Folded each = fold(f, opt, bytes);
      ASSERT_EQ(each, one) << fam << " on " << json::write(json::Value(in));
      n++;
    }
  }
  std::printf("random marker soup: %d inputs, split == one chunk\n", n);
}

// Byte-at-a-time feeds of long inputs built to hit the held-back paths: linear time.
TEST(OutputParserFamily, NoQuadraticPaths) {
  const std::vector<std::pair<const char*, std::string>> inputs = {
      {"hermes", std::string(200000, '<')},
      {"hermes", std::string(200000, ' ') + "x"},
      {"hermes", "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": \"" + std::string(200000, 'a') +
                     "\"}}</tool_call>"},
      {"qwen3-coder", "<tool_call>\n<function=f>\n<parameter=a>\n" + std::string(200000, '<')},
      {"qwen3-coder", "<tool_call>\n<function=f>\n<parameter=a>\n" + std::string(200000, '\n')},
      {"mistral", "[TOOL_CALLS]" + std::string(200000, 'n')},
      {"gpt-oss", std::string(200000, '<')},
      {"llama3", std::string(200000, '{')},
      {"lfm2-pythonic", "<|tool_call_start|>[f(a=\"" + std::string(200000, '\\') + "\")]"},
      {"lfm2-pythonic", "<|tool_call_start|>[f(a=" + std::string(200000, '[') + "]"},
      {"solar-open", "<|tool_calls|><|tool_call:begin|>" + std::string(200000, 'i')},
  };
  for (const auto& [fam, in] : inputs) {
    OutputFormat f = output_format_for_family(fam);
    auto p = make_output_parser(f, {});
    std::vector<OutputEvent> ev;
    auto t0 = std::chrono::steady_clock::now();
    for (char c : in) {
      p->push(std::string_view(&c, 1), ev);
      ev.clear();
    }
    p->finish(ev);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 5.0) << fam << ": " << s << " s for " << in.size() << " bytes";
  }
}

}  // namespace
}  // namespace parley::chat
