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
  // here like local thinking), so they are checked here the same way; an upstream that signs
  // its own (anthropic) checks them itself.
  const bool upstream_signs = upstreams_->relays_thinking_signatures(req.model);
  for (const SignedThinking& t : req.thinking_blocks) {
    if (!upstream_signs && !signer_.verify(t.thinking, t.signature)) {
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
  call.new_tool_id = tool_id_maker(shape);
  call.sign_thinking = thinking_signer();
  call.max_output_tokens = config_.max_output_tokens;
  call.max_output_ends_turn = config_.max_output_ends_turn;
  ApiError err;
  std::unique_ptr<GenerationSource> source = upstreams_->start(req, call, err);
  if (!source) return error(shape, err, request_id);
  log_info("%s: to upstream for %s%s", request_id.c_str(), quote_for_message(req.model, 100).c_str(),
           req.stream ? ", streaming" : "");
  return stream_response(std::move(source), req, shape, request_id);
}

}  // namespace parley::api
