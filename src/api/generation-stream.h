// The ResponseStream of a generation: the engine's events → Generation (text, stop strings) →
// the API's Emitter → SSE frames or the fold into one JSON response. Any GenerationSource (an
// upstream too) drives the same emitters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/event-sink.h"
#include "api/generation-source.h"
#include "api/generation.h"
#include "api/http-types.h"

namespace parley::api {

struct AnthropicStreamInfo {
  std::string message_id;
  std::string model;
  std::string request_id;
};

struct OpenAIStreamInfo {
  std::string completion_id;
  std::string model;
  std::string request_id;
  int64_t created = 0;
  bool include_usage = false;  // streaming only; the fold always reports usage
};

// `generation` must have been submitted. A source that is not ready() yet (an upstream that has
// not answered) holds the response back: an SSE stream's header waits for it (the transport
// gets a deferred response whose result is the SSE stream, or the early error), so an early
// failure keeps its HTTP status.
std::shared_ptr<ResponseStream> make_anthropic_stream(std::unique_ptr<GenerationSource> generation,
                                                      const AnthropicStreamInfo& info, bool sse);
std::shared_ptr<ResponseStream> make_openai_stream(std::unique_ptr<GenerationSource> generation,
                                                   const OpenAIStreamInfo& info, bool sse);

// The response for an early error in either API's envelope: status, request-id, retry-after.
HttpResponse early_error_response(const EarlyError& e, bool anthropic, const std::string& request_id);

}  // namespace parley::api
