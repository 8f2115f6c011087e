// Fuzzes request parsing: any byte string must give a ChatRequest or an error naming the field,
// never a crash, a hang or a huge allocation. The same bytes go through the JSON parser with
// the server's depth limit, the Anthropic parser (both endpoints) and the OpenAI parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/anthropic-request.h"
#include "api/openai-request.h"
#include "base/json.h"

namespace {

void walk(const parley::api::ChatRequest& r) {
  // Touch what the renderer would read.
  size_t n = 0;
  for (const auto& m : r.conversation.messages) {
    n += m.text().size() + m.reasoning.size() + m.tool_calls.size();
    for (const auto& c : m.tool_calls) n += parley::json::write(c.arguments).size();
  }
  for (const auto& t : r.conversation.tools) n += parley::json::write(t.parameters).size();
  (void)n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  parley::json::ParseOptions opt;
  opt.max_depth = 128;  // what the server uses
  auto body = parley::json::parse(text, opt);
  if (!body) return 0;
  using parley::api::AnthropicEndpoint;
  for (auto endpoint : {AnthropicEndpoint::messages, AnthropicEndpoint::count_tokens}) {
    auto r = parley::api::parse_anthropic_request(*body, endpoint);
    if (r) walk(*r);
  }
  auto o = parley::api::parse_openai_request(*body);
  if (o) walk(*o);
  return 0;
}
