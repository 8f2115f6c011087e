// What the API emitters are driven from: a source of GenerationSink calls, polled on the
// transport's thread. The local engine's Generation is one; a gateway upstream (src/upstream/)
// is another. Both drive the same emitters, so the client-facing events (Anthropic block
// indices, usage arithmetic, OpenAI chunks) have one source whatever generates.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "api/errors.h"

namespace parley::api {

class GenerationSink;

// A request that failed before its answer began (an upstream's non-2xx status): the response is
// this error, with its status, instead of a stream.
struct EarlyError {
  ApiError error;
  std::string retry_after;  // passed on as the retry-after header ("" when none)
};

class GenerationSource {
 public:
  virtual ~GenerationSource() = default;
  // Called from any thread whenever there is something new (and once now if there is already).
  virtual void set_wake(std::function<void()> wake) = 0;
  // Handles what arrived so far, calling `sink`. Returns true once finished.
  virtual bool poll(GenerationSink& sink) = 0;
  // Stops the work (no further sink calls are made by poll()).
  virtual void cancel() = 0;
  // Prompt tokens as known before the answer starts (0: not known until the end).
  virtual int32_t n_prompt() const = 0;
  // false while the source waits for what decides the response's status (an upstream's status
  // line): an SSE header is held back until then, so an early failure can still be a plain
  // error response. The wake is called when it changes. Not const: a source may act on what
  // it finds (a gateway request starts its retry).
  virtual bool ready() { return true; }
  // Once ready(): set when the request failed before any event.
  virtual std::optional<EarlyError> early_error() const { return std::nullopt; }
};

}  // namespace parley::api
