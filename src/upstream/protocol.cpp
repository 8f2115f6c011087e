#include "upstream/protocol.h"

#include "upstream/anthropic-messages-reader.h"
#include "upstream/anthropic-messages-request.h"
#include "upstream/openai-chat-reader.h"
#include "upstream/openai-chat-request.h"

namespace parley::upstream {
namespace {

bool prepare_openai_chat(const api::ChatRequest& req, const api::UpstreamCall& call, ProtocolCall& out,
                         api::ApiError& err) {
  OpenAIChatOptions options;
  options.max_output_tokens = call.max_output_tokens;
  json::Value body;
  if (!to_openai_chat(req, options, body, err)) return false;
  ReaderOptions ro;
  ro.stop_sequences = req.stop_sequences;
  ro.stop_after_first_call = req.tool_choice.disable_parallel_tool_use;
  ro.new_tool_id = call.new_tool_id;
  ro.sign_thinking = call.sign_thinking;
  ro.length_ends_turn = call.max_output_ends_turn && call.max_output_tokens > 0 &&
                        (!req.max_tokens || *req.max_tokens > call.max_output_tokens);
  out.post.path = "/v1/chat/completions";
  out.post.body = json::write(body);
  out.reader = std::make_unique<OpenAIChatReader>(std::move(ro));
  return true;
}

// The tool_use ids and thinking signatures are the upstream's, relayed unchanged (see
// anthropic-messages-reader.h): call.new_tool_id and call.sign_thinking are not used.
bool prepare_anthropic(const UpstreamConfig& upstream, const api::ChatRequest& req, const api::UpstreamCall& call,
                       ProtocolCall& out, api::ApiError& err) {
  AnthropicMessagesOptions options;
  options.max_output_tokens = call.max_output_tokens;
  options.parley_extensions = upstream.protocol == Protocol::parley;
  json::Value body;
  if (!to_anthropic_messages(req, options, body, err)) return false;
  AnthropicReaderOptions ro;
  ro.upstream = upstream.name;
  ro.length_ends_turn = call.max_output_ends_turn && call.max_output_tokens > 0 &&
                        (!req.max_tokens || *req.max_tokens > call.max_output_tokens);
  ro.scrub = [secret = upstream.api_key](std::string s) { return scrub_secret(std::move(s), secret); };
  out.post.path = "/v1/messages";
  out.post.body = json::write(body);
  out.post.key_as_x_api_key = true;
  out.post.headers.emplace_back("anthropic-version", "2023-06-01");
  out.reader = std::make_unique<AnthropicMessagesReader>(std::move(ro));
  return true;
}

}  // namespace

std::string scrub_secret(std::string s, const std::string& secret) {
  if (secret.empty()) return s;
  for (size_t at = s.find(secret); at != std::string::npos; at = s.find(secret, at)) {
    s.replace(at, secret.size(), "***");
    at += 3;
  }
  return s;
}

bool prepare_call(const UpstreamConfig& upstream, const api::ChatRequest& req, const api::UpstreamCall& call,
                  ProtocolCall& out, api::ApiError& err) {
  switch (upstream.protocol) {
    case Protocol::openai_chat: return prepare_openai_chat(req, call, out, err);
    case Protocol::anthropic:
    case Protocol::parley: return prepare_anthropic(upstream, req, call, out, err);
  }
  return false;
}

}  // namespace parley::upstream
