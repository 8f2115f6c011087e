// Fuzzes the Jinja engine: any byte string as a template must parse or fail with an error, and
// a parsed template must render or fail with an error, within its bounds — never a crash, a
// hang or a huge allocation. The variables look like a chat request, so real-template seeds
// reach deep into the interpreter.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/json.h"
#include "chat/jinja/template.h"

namespace {

using namespace parley::chat::jinja;

const Variables& variables() {
  static const Variables vars = [] {
    auto conv = parley::json::parse(R"({
      "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Weather in Paris? \u00e9\u2603"},
        {"role": "assistant", "content": "", "reasoning_content": "Use the tool.",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": {"city": "Paris", "n": 1.5}}}]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny"},
        {"role": "user", "content": [{"type": "text", "text": "thanks"}]}],
      "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City"},
                 "items": {"type": "array", "items": {"type": "integer"}}}, "required": ["city"]}}}],
      "documents": [{"title": "T", "text": "doc"}],
      "x": [1, 2, 3], "d": {"a": 1, "b": [null, true, 2.5]}, "s": "Hello", "n": null
    })");
    Variables v;
    for (const auto& [k, val] : conv->as_object()) v.emplace_back(k, from_json(val));
    v.emplace_back("bos_token", Value::string("<s>"));
    v.emplace_back("eos_token", Value::string("</s>"));
    v.emplace_back("add_generation_prompt", Value::boolean(true));
    v.emplace_back("enable_thinking", Value::boolean(false));
    return v;
  }();
  return vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view src(reinterpret_cast<const char*>(data), size);
  // An exception the engine did not expect is caught at the entry points (so a server survives
  // it) but is still a bug: crash here so that libFuzzer reports it.
  auto internal = [](const std::string& message) {
    // The kind is the message's prefix; the same words inside a template's text do not count.
    if (message.rfind("template internal error", 0) != 0) return;
    std::fprintf(stderr, "%s\n", message.c_str());
    std::abort();
  };
  auto tpl = Template::parse(src);
  if (!tpl.ok()) {
    internal(tpl.error().message);
    return 0;
  }
  RenderOptions opt;
  // Tight bounds keep each input fast under the sanitizers; the defaults are tested elsewhere.
  opt.limits.max_steps = 300'000;
  opt.limits.max_output_bytes = 256u << 10;
  opt.limits.max_alloc_bytes = 16u << 20;
  opt.now_unix_seconds = 1750000000;
  auto out = tpl->render(variables(), opt);
  if (!out.ok()) internal(out.error().message);
  return 0;
}
