// The ResponseStream of a generation: the engine's events → Generation (text, stop strings) →
// the API's Emitter → SSE frames or the fold into one JSON response.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/event-sink.h"
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

// `generation` must have been submitted.
std::shared_ptr<ResponseStream> make_anthropic_stream(std::unique_ptr<Generation> generation,
                                                      const AnthropicStreamInfo& info, bool sse);
std::shared_ptr<ResponseStream> make_openai_stream(std::unique_ptr<Generation> generation,
                                                   const OpenAIStreamInfo& info, bool sse);

}  // namespace parley::api
