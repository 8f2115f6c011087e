// The output parser on real renders: each family's own template (through our Jinja engine)
// renders an assistant turn with reasoning, text and tool calls; the assistant part of that
// render is what the model was trained to generate, so the parser must give back exactly those
// calls (names, ids, arguments equal as JSON with the key order kept), text and thinking —
// in one chunk, split at every byte boundary, one byte at a time, and at the token boundaries
// of a real tokenizer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <optional>

#include "base/json.h"
#include "base/utf8.h"
#include "chat/chat-template.h"
#include "chat/output-parser-test-util.h"
#include "support/test-support.h"
#include "tokenizer/shared-tokenizers.h"

namespace parley::chat {
namespace {

using test_util::fold;
using test_util::Folded;
using test_util::weather_tools;

struct RenderCase {
  const char* tpl;
  const char* family;
  const char* bos = "<s>";
  const char* eos = "</s>";
  const char* after = nullptr;  // when the prompt is not a prefix of the full render: the
                                // assistant part starts after the last occurrence of this
  const char* eot = nullptr;    // the render's end-of-turn text: the part ends before it
  const char* text = "Let me check.";
  const char* thinking = "";
  int n_calls = 2;
  const char* tokenizer = "qwen2.5";
  bool kimi_ids = false;              // ids "functions.get_weather:N" (Kimi renders them verbatim)
  const char* generated_prefix = "";  // what the model writes before the history form
  std::optional<bool> enable_thinking = std::nullopt;
  bool expect_ids = false;
  // Templates that render an assistant turn's content only (LFM2's): the content as the model
  // writes it, calls included (the tool_calls themselves are not rendered).
  const char* content = nullptr;
  // firefunction-v2 reads `functions` (the tools' JSON) and `datetime`, and concatenates the
  // arguments as a string.
  bool functions_var = false;
};

const std::vector<RenderCase>& render_cases() {
  static const std::vector<RenderCase> cases = [] {
    std::vector<RenderCase> c;
    auto add = [&](RenderCase r) { c.push_back(r); };
    // hermes / Qwen
    add({.tpl = "Qwen3-0.6B.jinja",
         .family = "hermes",
         .eot = "<|im_end|>",
         .thinking = "User wants weather."});
    add({.tpl = "Qwen2.5-7B-Instruct.jinja", .family = "hermes", .eot = "<|im_end|>"});
    add({.tpl = "Hermes-3-Llama-3.1-8B.tool_use.jinja",
         .family = "hermes",
         .eot = "<|im_end|>",
         .text = "",
         .tokenizer = "llama-3"});
    add({.tpl = "Hermes-2-Pro-Llama-3-8B.tool_use.jinja",
         .family = "hermes",
         .eot = "<|im_end|>",
         .text = "",
         .tokenizer = "llama-3"});
    add({.tpl = "QwQ-32B.jinja",
         .family = "hermes",
         .after = "<|im_start|>assistant\n",
         .eot = "<|im_end|>",
         .thinking = "User wants weather.",
         .generated_prefix = "User wants weather.\n</think>\n\n"});
    // Qwen3-Coder XML (and the templates that share it)
    add({.tpl = "Qwen3-Coder.jinja", .family = "qwen3-coder", .eot = "<|im_end|>"});
    add({.tpl = "Qwen3.5-4B.jinja",
         .family = "qwen3-coder",
         .eot = "<|im_end|>",
         .thinking = "User wants weather."});
    add({.tpl = "Qwen3.8.ollama.jinja",
         .family = "qwen3-coder",
         .eot = "<|im_end|>",
         .thinking = "User wants weather."});
    add({.tpl = "Nemotron-3-Nano-30B-A3B.jinja",
         .family = "qwen3-coder",
         .eot = "<|im_end|>",
         .thinking = "User wants weather."});
    // Llama 3.x: one call per turn, a bare JSON object
    for (const char* t :
         {"Llama-3.1-8B-Instruct.jinja", "Llama-3.2-3B-Instruct.jinja", "Llama-3.3-70B-Instruct.jinja"}) {
      add({.tpl = t,
           .family = "llama3",
           .eot = "<|eot_id|>",
           .text = "",
           .n_calls = 1,
           .tokenizer = "llama-3"});
    }
    // Mistral: the JSON list (v0.3, Nemo) and name[ARGS]{..} (Devstral, Small-3.2, Ministral)
    add({.tpl = "Mistral-7B-Instruct-v0.3.jinja",
         .family = "mistral",
         .after = "[/INST]",
         .eot = "</s>",
         .text = "",
         .tokenizer = "mistral-v0.3"});
    add({.tpl = "Mistral-Nemo-Instruct-2407.jinja",
         .family = "mistral",
         .after = "[/INST]",
         .eot = "</s>",
         .text = "",
         .tokenizer = "mistral-v0.3"});
    add({.tpl = "Mistral-Small-3.2-24B-Instruct-2506.jinja",
         .family = "mistral",
         .eot = "</s>",
         .text = "",
         .tokenizer = "mistral-v0.3",
         .expect_ids = true});
    add({.tpl = "Devstral-Small-2507.jinja",
         .family = "mistral",
         .eot = "</s>",
         .tokenizer = "mistral-v0.3"});
    add({.tpl = "Ministral-3-14B-Reasoning-2512.jinja",
         .family = "mistral",
         .eot = "</s>",
         .tokenizer = "mistral-v0.3"});
    // DeepSeek
    add({.tpl = "DeepSeek-V3.1.jinja", .family = "deepseek-v3.1", .eot = "<｜end▁of▁sentence｜>"});
    add({.tpl = "DeepSeek-R1.jinja", .family = "deepseek-v3", .eot = "<｜end▁of▁sentence｜>"});
    // GLM
    add({.tpl = "GLM-4.6.jinja", .family = "glm-4.5", .thinking = "User wants weather."});
    add({.tpl = "GLM-4.7-Flash.jinja", .family = "glm-4.5", .thinking = "User wants weather."});
    // Kimi
    add({.tpl = "Kimi-K2.jinja",
         .family = "kimi-k2",
         .eot = "<|im_end|>",
         .kimi_ids = true,
         .expect_ids = true});
    // (Kimi-K2-Instruct / -Thinking call list.append, which transformers' sandbox refuses
    // as we do: their format is checked by hand in output-parser-family-test.cpp.)
    // MiniMax-M2
    add({.tpl = "MiniMax-M2.jinja",
         .family = "minimax-m2",
         .eot = "[e~[",
         .thinking = "User wants weather."});
    // gpt-oss: the text of a tool-call turn is rendered in the analysis channel, one call
    add({.tpl = "gpt-oss.jinja",
         .family = "gpt-oss",
         .eot = "<|call|>",
         .text = "",
         .thinking = "Let me check.",
         .n_calls = 1});
    // Seed-OSS
    add({.tpl = "Seed-OSS.jinja",
         .family = "seed-oss",
         .eot = "<seed:eos>",
         .thinking = "User wants weather."});
    // Command R7B
    add({.tpl = "c4ai-command-r7b-12-2024.tool_use.jinja",
         .family = "command-r7b",
         .eot = "<|END_OF_TURN_TOKEN|>",
         .text = "",
         .expect_ids = true});
    // functionary
    add({.tpl = "functionary-medium-v3.1.jinja",
         .family = "functionary-v3.1",
         .eot = "<|eom_id|>",
         .tokenizer = "llama-3"});
    add({.tpl = "functionary-medium-v3.2.jinja",
         .family = "functionary-v3.2",
         .eot = "<|eot_id|>",
         .tokenizer = "llama-3"});
    // More templates of the same families, and the smaller families
    add({.tpl = "Falcon3-7B-Instruct.jinja", .family = "hermes", .eot = "</s>"});
    add({.tpl = "MiMo-VL.jinja", .family = "hermes", .eot = "<|im_end|>"});
    add({.tpl = "Bielik-11B-v3.0-Instruct.jinja",
         .family = "hermes",
         .eot = "<|im_end|>",
         .thinking = "User wants weather."});
    add({.tpl = "QwQ-32B-Preview.jinja", .family = "hermes", .eot = "<|im_end|>"});
    add({.tpl = "Step-3.5-Flash.jinja",
         .family = "qwen3-coder",
         .eot = "<|im_end|>",
         .thinking = "User wants weather."});
    add({.tpl = "LFM2-8B-A1B.jinja", .family = "lfm2", .eot = "<|im_end|>"});
    add({.tpl = "Apriel-1.6-15b-Thinker-fixed.jinja",
         .family = "apriel",
         .after = "<|begin_assistant|>\n",
         .thinking = "User wants weather."});
    add({.tpl = "Apertus-8B-Instruct.jinja", .family = "apertus", .eot = "<|assistant_end|>"});
    add({.tpl = "GigaChat3-10B-A1.8B.jinja", .family = "gigachat", .n_calls = 1});
    add({.tpl = "GigaChat3.1-10B-A1.8B.jinja", .family = "gigachat", .n_calls = 1});
    add({.tpl = "c4ai-command-r-08-2024.tool_use.jinja",
         .family = "command-r",
         .after = "<|CHATBOT_TOKEN|>",
         .eot = "<|START_OF_TURN_TOKEN|>"});
    add({.tpl = "c4ai-command-r-plus.tool_use.jinja",
         .family = "command-r",
         .after = "<|CHATBOT_TOKEN|>",
         .eot = "<|START_OF_TURN_TOKEN|>"});
    add({.tpl = "gemma-4-E2B-it.jinja",
         .family = "gemma-4",
         .eot = "<|tool_response>",
         .thinking = "User wants weather."});
    add({.tpl = "gemma-4-31B-it.jinja",
         .family = "gemma-4",
         .after = "<|turn>model\n",
         .eot = "<|tool_response>",
         .thinking = "User wants weather."});
    // Solar Open: the prompt ends with "<|begin|>assistant"; a tool-call turn renders no text,
    // and reasoning (message.reasoning, which our conversation form does not carry) as the
    // template renders it: <|think|>..<|end|><|begin|>assistant before the calls.
    add({.tpl = "Solar-Open-100B.jinja",
         .family = "solar-open",
         .text = "",
         .thinking = "User wants weather.",
         .generated_prefix = "<|think|>User wants weather.<|end|><|begin|>assistant",
         .expect_ids = true});
    // LFM2 / LFM2.5: pythonic calls in the content (Python literals of both quote kinds).
    add({.tpl = "LFM2.llama-cpp.jinja",
         .family = "lfm2-pythonic",
         .eot = "<|im_end|>",
         .content = "<|tool_call_start|>[get_weather(city=\"Paris\", days=3), get_weather(city='Rome')]"
                    "<|tool_call_end|>Let me check."});
    add({.tpl = "LFM2.5-Instruct.jinja",
         .family = "lfm2-pythonic",
         .eot = "<|im_end|>",
         .thinking = "User wants weather.",
         .content = "<think>User wants weather.</think>\n<|tool_call_start|>[get_weather(city='Paris', days=3), "
                    "get_weather(city=\"Rome\")]<|tool_call_end|>Let me check."});
    // Apriel-1.5: arguments rendered as Python dicts; the reasoning its system prompt asks for.
    add({.tpl = "Apriel-1.5.jinja",
         .family = "apriel-1.5",
         .eot = "\n<|end|>",
         .thinking = "User wants weather.",
         .generated_prefix = "Here are my reasoning steps:\nUser wants weather.\n[BEGIN FINAL RESPONSE]\n"});
    add({.tpl = "firefunction-v2.jinja",
         .family = "firefunction-v2",
         .eot = "<|eot_id|>",
         .tokenizer = "llama-3",
         .functions_var = true});
    return c;
  }();
  return cases;
}

Conversation weather_conversation(bool with_answer, bool kimi_ids) {
  Conversation conv;
  conv.tools = weather_tools();
  Message sys;
  sys.role = Role::system;
  sys.content.push_back({.text = "You are helpful."});
  Message user;
  user.role = Role::user;
  user.content.push_back({.text = "Weather?"});
  conv.messages = {sys, user};
  if (!with_answer) return conv;
  Message a;
  a.role = Role::assistant;
  a.content.push_back({.text = "Let me check."});
  a.reasoning = "User wants weather.";
  auto args1 = json::parse(R"({"city": "Paris", "days": 3})");
  auto args2 = json::parse(R"({"city": "Rome"})");
  a.tool_calls.push_back({kimi_ids ? "functions.get_weather:0" : "call12345", "get_weather", *args1});
  a.tool_calls.push_back({kimi_ids ? "functions.get_weather:1" : "call67890", "get_weather", *args2});
  conv.messages.push_back(a);
  return conv;
}

struct Rendered {
  std::string prompt;     // with the generation prompt
  std::string generated;  // the assistant part
};

std::optional<Rendered> render_case(const RenderCase& rc, std::string* why) {
  auto tpl = ChatTemplate::parse(test::read_file(test::shared_dir() / "templates" / rc.tpl),
                                 SpecialTokens{rc.bos, rc.eos, {}});
  if (!tpl.ok()) {
    *why = tpl.error().message;
    return std::nullopt;
  }
  Conversation conv = weather_conversation(true, rc.kimi_ids);
  if (rc.n_calls == 1) conv.messages.back().tool_calls.resize(1);
  if (rc.content) {
    conv.messages.back().content = {{.text = rc.content}};
    conv.messages.back().tool_calls.clear();
  }
  ChatRenderOptions gen;
  gen.enable_thinking = rc.enable_thinking;
  if (rc.functions_var) {
    json::Value fns = json::Value::array();
    for (const auto& t : conv.tools) {
      json::Value f = json::Value::object();
      f["name"] = t.name;
      f["description"] = t.description;
      f["parameters"] = t.parameters;
      fns.push_back(f);
    }
    gen.extra_vars.emplace_back("functions", json::write(fns));
    gen.extra_vars.emplace_back("datetime", "Jun 15 2025 10:30:00 GMT");
    gen.arguments_as_string = true;
  }
  ChatRenderOptions hist = gen;
  hist.add_generation_prompt = false;
  Conversation head = conv;
  head.messages.pop_back();
  auto prompt = tpl->render(head, gen);
  auto full = tpl->render(conv, hist);
  if (!prompt.ok() || !full.ok()) {
    *why = !prompt.ok() ? prompt.error().message : full.error().message;
    return std::nullopt;
  }
  Rendered r;
  r.prompt = *prompt;
  if (!rc.after && full->compare(0, prompt->size(), *prompt) == 0) {
    r.generated = full->substr(prompt->size());
  } else {
    size_t p = rc.after ? full->rfind(rc.after) : std::string::npos;
    if (p == std::string::npos) {
      *why = "the prompt is not a prefix of the render and no cut marker was found";
      return std::nullopt;
    }
    r.generated = full->substr(p + std::strlen(rc.after));
  }
  if (rc.eot) {
    size_t e = r.generated.find(rc.eot);
    if (e != std::string::npos) r.generated.erase(e);
  }
  r.generated = rc.generated_prefix + r.generated;
  return r;
}

std::vector<std::string> token_pieces(const std::string& text, const char* vocab) {
  const auto* entry = tokenizer::test_vocabs::find(vocab);
  const tokenizer::Tokenizer* tok = entry ? tokenizer::test_vocabs::get(*entry) : nullptr;
  std::vector<std::string> pieces;
  if (!tok) return pieces;
  tokenizer::EncodeOptions eo;
  eo.parse_special = true;
  // As the server streams: the incremental decoder's output per token (it holds partial
  // UTF-8 back and applies SentencePiece's leading-space rule once).
  tokenizer::IncrementalDecoder dec(*tok, true);
  for (auto id : tok->encode(text, eo)) pieces.push_back(dec.push(id));
  pieces.push_back(dec.flush());
  return pieces;
}

// One case: expectations, then every split gives the same result as one chunk.
void check_case(const RenderCase& rc, int* n_feeds, int* n_token_feeds) {
  SCOPED_TRACE(rc.tpl);
  std::string why;
  auto r = render_case(rc, &why);
  ASSERT_TRUE(r.has_value()) << rc.tpl << ": " << why;
  std::string src = test::read_file(test::shared_dir() / "templates" / rc.tpl);
  OutputFormat fmt = detect_output_format(src);
  ASSERT_EQ(fmt.family, rc.family);
  std::vector<Tool> tools = weather_tools();
  ParserOptions opt;
  opt.tools = &tools;
  opt.starts_in_thinking = prompt_opens_thinking(fmt, r->prompt);
  SCOPED_TRACE(r->generated);
  Folded one = fold(fmt, opt, {r->generated});
  EXPECT_TRUE(one.problems.empty()) << one.problems;
  EXPECT_EQ(one.text, rc.text);
  EXPECT_EQ(one.thinking, rc.thinking);
  const char* want_args[] = {R"({"city":"Paris","days":3})", R"({"city":"Rome"})"};
  const char* want_ids[] = {rc.kimi_ids ? "functions.get_weather:0" : "call12345",
                            rc.kimi_ids ? "functions.get_weather:1" : "call67890"};
  ASSERT_EQ(one.calls.size(), static_cast<size_t>(rc.n_calls));
  for (size_t i = 0; i < one.calls.size(); i++) {
    EXPECT_EQ(one.calls[i].name, "get_weather");
    auto v = json::parse(one.calls[i].args);
    ASSERT_TRUE(v.ok()) << one.calls[i].args;
    EXPECT_EQ(json::write(*v), want_args[i]);  // equal as JSON, key order kept
    if (rc.expect_ids && std::string(rc.family) != "command-r7b") {
      EXPECT_EQ(one.calls[i].id, want_ids[i]);
    }
  }
  if (std::string(rc.family) == "command-r7b") {
    EXPECT_EQ(one.calls[0].id, "0");
    EXPECT_EQ(one.calls[1].id, "1");
  }
  const std::string& g = r->generated;
  for (size_t k = 1; k < g.size(); k++) {
    Folded two = fold(fmt, opt, {g.substr(0, k), g.substr(k)});
    ASSERT_EQ(two, one) << "split at byte " << k;
    ++*n_feeds;
  }
  std::vector<std::string> bytes;
  for (char c : g) bytes.emplace_back(1, c);
  Folded each = fold(fmt, opt, bytes);
  EXPECT_EQ(each, one) << "one byte at a time";
  EXPECT_TRUE(each.problems.empty()) << each.problems;
  // Streamed: with one byte at a time, the first call's args come in many fragments.
  EXPECT_GT(each.first_call_fragments, 3);
  ++*n_feeds;
  // Cut off anywhere (max_tokens): the events still follow the rules, calls are closed.
  for (size_t k = 0; k < g.size(); k++) {
    Folded cut = fold(fmt, opt, {g.substr(0, k)});
    ASSERT_TRUE(cut.problems.empty()) << "cut at " << k << ": " << cut.problems;
  }
  // Without tools the markers are text.
  ParserOptions no_tools = opt;
  no_tools.parse_tool_calls = false;
  Folded plain = fold(fmt, no_tools, {g});
  EXPECT_TRUE(plain.calls.empty());
  std::vector<std::string> pieces = token_pieces(g, rc.tokenizer);
  if (!pieces.empty()) {
    std::string joined;
    for (const auto& p : pieces) joined += p;
    if (joined == g) {
      EXPECT_EQ(fold(fmt, opt, pieces), one) << "token split (" << rc.tokenizer << ")";
      ++*n_feeds;
      ++*n_token_feeds;
    }
  }
}

TEST(OutputParserRender, EveryFamilyOnItsOwnTemplate) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  int feeds = 0, token_feeds = 0;
  for (const auto& rc : render_cases()) check_case(rc, &feeds, &token_feeds);
  std::printf(
      "output parser: %zu template renders, %d split feeds (%d at real token "
      "boundaries), all equal to one chunk\n",
      render_cases().size(), feeds, token_feeds);
}

TEST(OutputParserRender, DetectsFamiliesOfAllTemplates) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  // A sample of the corpus that has no native tool-call syntax we read: generic.
  for (const char* t : {"gemma-2-2b-it.jinja", "Phi-4.jinja", "Meta-Llama-3-8B-Instruct.jinja",
                        "SmolLM2-Instruct.jinja", "Yi-1.5-9B-Chat.jinja"}) {
    OutputFormat f = detect_output_format(test::read_file(test::shared_dir() / "templates" / t));
    EXPECT_EQ(f.family, "generic") << t;
  }
  OutputFormat r1 = detect_output_format(
      test::read_file(test::shared_dir() / "templates" / "DeepSeek-R1-Distill-Qwen-32B.jinja"));
  EXPECT_EQ(r1.reasoning.think_open, "<think>");
  OutputFormat g = detect_output_format(
      test::read_file(test::shared_dir() / "templates" / "granite-3.3-2B-Instruct.jinja"));
  EXPECT_EQ(g.family, "granite");
  OutputFormat m = detect_output_format(
      test::read_file(test::shared_dir() / "templates" / "Ministral-3-14B-Reasoning-2512.jinja"));
  EXPECT_EQ(m.reasoning.think_open, "[THINK]");
  // Every template detects to something and every format builds a parser.
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(test::shared_dir() / "templates")) {
    if (e.path().extension() != ".jinja") continue;
    OutputFormat f = detect_output_format(test::read_file(e.path()));
    EXPECT_FALSE(f.family.empty()) << e.path();
    if (std::getenv("PARLEY_PRINT_FAMILIES")) {
      auto tpl = ChatTemplate::parse(test::read_file(e.path()), SpecialTokens{"<s>", "</s>", {}});
      std::printf("%-45s %-18s think=%-14s tools=%d calls=%d\n", e.path().filename().string().c_str(),
                  f.family.c_str(), f.reasoning.think_open.c_str(), tpl.ok() && tpl->capabilities().tools,
                  tpl.ok() && tpl->capabilities().tool_calls);
    }
    std::vector<OutputEvent> ev;
    auto p = make_output_parser(f, {});
    p->push("hello", ev);
    p->finish(ev);
    n++;
  }
  EXPECT_GT(n, 70);
}

TEST(OutputParserRender, PromptsThatOpenThinking) {
  PARLEY_REQUIRE_SHARED("templates/Qwen3-0.6B.jinja");
  struct P {
    const char* tpl;
    bool opens;
    std::optional<bool> enable_thinking;
  };
  for (const P& p : {P{"Qwen3-0.6B.jinja", false, std::nullopt},
                     P{"Qwen3-0.6B.jinja", false, false},  // "<think>\n\n</think>\n\n"
                     P{"Qwen3.5-4B.jinja", true, std::nullopt}, P{"QwQ-32B.jinja", true, std::nullopt},
                     P{"MiniMax-M2.jinja", true, std::nullopt}, P{"GLM-4.7-Flash.jinja", true, std::nullopt},
                     P{"DeepSeek-V3.1.jinja", false, std::nullopt},  // ends "</think>"
                     P{"Nemotron-3-Nano-30B-A3B.jinja", true, std::nullopt}}) {
    auto tpl = ChatTemplate::parse(test::read_file(test::shared_dir() / "templates" / p.tpl),
                                   SpecialTokens{"<s>", "</s>", {}});
    ASSERT_TRUE(tpl.ok());
    ChatRenderOptions o;
    o.enable_thinking = p.enable_thinking;
    auto prompt = tpl->render(weather_conversation(false, false), o);
    ASSERT_TRUE(prompt.ok()) << p.tpl;
    EXPECT_EQ(prompt_opens_thinking(detect_output_format(tpl->source()), *prompt), p.opens) << p.tpl;
  }
}

}  // namespace
}  // namespace parley::chat
