// Requests for a model an upstream serves (gateway): the same validation of what came back from
// this server (thinking signatures), then the upstream's GenerationSource drives the same
// emitters as the local engine.
#include "api/anthropic-stream.h"
#include "api/generation-stream.h"
#include "api/service.h"
#include "base/log.h"
#include "base/strings.h"

namespace parley::api {

HttpResponse Service::generate_upstream(ChatRequest req, Shape shape, const std::string& request_id) {
  // Thinking blocks sent back were signed by this server (the upstream's reasoning is signed
  // here like local thinking), so they are checked here the same way.
  for (const SignedThinking& t : req.thinking_blocks) {
    if (!signer_.verify(t.thinking, t.signature)) {
      return error(shape,
                   ApiError::invalid(t.path + ": Invalid `signature` in `thinking` block: it was not made "
                                              "by this server (or its signing key changed, see "
                                              "--signing-key), or the thinking text was changed",
                                     t.path),
                   request_id);
    }
  }
  UpstreamCall call;
  call.request_id = request_id;
  const std::string tool_prefix = shape == Shape::anthropic ? "toolu_" : "call_";
  call.new_tool_id = [this, tool_prefix] { return ids_.next(tool_prefix); };
  call.sign_thinking = [this](std::string_view thinking) { return signer_.sign(thinking); };
  call.max_output_tokens = config_.max_output_tokens;
  call.max_output_ends_turn = config_.max_output_ends_turn;
  ApiError err;
  std::unique_ptr<GenerationSource> source = upstreams_->start(req, call, err);
  if (!source) return error(shape, err, request_id);
  log_info("%s: to upstream for %s%s", request_id.c_str(), quote_for_message(req.model, 100).c_str(),
           req.stream ? ", streaming" : "");
  HttpResponse r;
  if (shape == Shape::anthropic) {
    AnthropicStreamInfo info{ids_.next("msg_"), req.model, request_id};
    r.stream = make_anthropic_stream(std::move(source), info, req.stream);
  } else {
    OpenAIStreamInfo info{ids_.next("chatcmpl-"), req.model, request_id,
                          unix_time_ ? unix_time_() : 0, req.stream_include_usage};
    r.stream = make_openai_stream(std::move(source), info, req.stream);
  }
  if (req.stream && r.stream->is_sse()) {
    r.content_type = "text/event-stream; charset=utf-8";
    r.headers.emplace_back("cache-control", "no-cache");
  }
  r.headers.emplace_back("request-id", request_id);
  return r;
}

}  // namespace parley::api
