// What reads an upstream's streamed answer (its SSE `data:` payloads, parsed) into
// GenerationSink calls: one implementation per upstream protocol (openai-chat-reader.h,
// anthropic-messages-reader.h). The gateway's source feeds it without knowing the protocol.
#pragma once

#include <string>

#include "api/errors.h"
#include "api/generation.h"
#include "base/json.h"

namespace parley::upstream {

class StreamReader {
 public:
  virtual ~StreamReader() = default;
  // One event's data, parsed.
  virtual void chunk(const json::Value& chunk, api::GenerationSink& sink) = 0;
  // The stream ended (its end marker, or the end of the body): the answer is finished, or
  // ends with an error if it was incomplete.
  virtual void end(api::GenerationSink& sink) = 0;
  // The stream broke off (connection lost, bad JSON): the answer ends with an error.
  virtual void fail(api::ErrorKind kind, const std::string& message, api::GenerationSink& sink) = 0;
  virtual bool finished() const = 0;
};

}  // namespace parley::upstream
