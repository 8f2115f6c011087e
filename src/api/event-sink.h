// Where an API emitter's events go: encoded as Server-Sent Events, or folded into the
// non-streaming response (STYLE.md rule 9: one emitter per API; the non-streaming response is
// the fold of the same events).
#pragma once

#include <string>

#include "api/errors.h"
#include "api/generation.h"
#include "api/http-types.h"
#include "base/json.h"

namespace parley::api {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void event(const json::Value& ev) = 0;
  // Nothing to say, but the connection must stay visibly alive (OpenAI: an SSE comment).
  virtual void keepalive() {}
  // The event sequence is complete (OpenAI streams end with "data: [DONE]").
  virtual void end() {}
};

// Events encoded as Server-Sent Events frames, collected until the transport takes them.
class SseEncoder : public EventSink {
 public:
  std::string take() {
    std::string out = std::move(buffer_);
    buffer_.clear();
    return out;
  }

 protected:
  std::string buffer_;
};

// An API's event emitter: turns one generation into that API's event sequence.
class Emitter : public GenerationSink {
 public:
  // Sent when the stream has been silent for a while (Anthropic: a ping event).
  virtual void heartbeat() = 0;
  // Ends the stream with an error event (mid-stream failure, shutdown).
  virtual void fail(ErrorKind kind, const std::string& message) = 0;
  virtual bool done() const = 0;
};

// Folds an event sequence into the final (non-streaming) HTTP response.
class EventFold : public EventSink {
 public:
  virtual HttpResponse response(const std::string& request_id) = 0;
};

}  // namespace parley::api
