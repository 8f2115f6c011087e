#include "upstream/protocol.h"

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
  }
  return false;
}

}  // namespace parley::upstream
