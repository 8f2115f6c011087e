// The gateway seam: model ids served by something other than the local engine (an upstream
// engine reached over HTTP, src/upstream/). The Service asks it first, by model id; what it
// returns is a GenerationSource that drives the same emitters as the local engine, so the
// client-facing events have one source. Transport-free: nothing here knows about sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/chat-request.h"
#include "api/errors.h"
#include "api/generation-source.h"

namespace parley::api {

// What the Service gives each upstream request: ids and signatures come from the server, so
// tool_use ids and thinking signatures look (and verify) the same as local ones.
struct UpstreamCall {
  std::string request_id;
  // Used for upstreams whose ids and signatures are not relayed (openai-chat).
  std::function<std::string()> new_tool_id;                    // "toolu_..." / "call_..."
  std::function<std::string(std::string_view)> sign_thinking;  // a thinking block's signature
  int32_t max_output_tokens = 0;  // operator cap on max_tokens (0: none)
  bool max_output_ends_turn = false;
};

// The gateway's per-upstream series for /metrics (never a key: names and numbers only).
struct UpstreamStats {
  std::string name;
  int64_t in_flight = 0;
  bool healthy = true;  // not ejected (passively or by a failing health check)
  int64_t ejections = 0;
  int64_t retries = 0;  // attempts that failed here and were retried (here or elsewhere)
  // Attempts by outcome: the HTTP status ("200", "529"), or "error" (no status: connect
  // failure, timeout) — a fixed small set per upstream.
  std::vector<std::pair<std::string, int64_t>> requests;
};

struct GatewayStats {
  std::vector<UpstreamStats> upstreams;  // in configuration order
  int64_t affinity_hits = 0;    // requests sent to the replica that owned their prefix
  int64_t affinity_misses = 0;  // no owner known, or it was unavailable or over the load bound
};

class Upstreams {
 public:
  virtual ~Upstreams() = default;
  // Whether a request for this model id goes to an upstream.
  virtual bool serves(std::string_view model) const = 0;
  // Whether the upstream of this model makes its own thinking signatures, relayed unchanged
  // (Anthropic's API verifies them on the next turn). Otherwise the server signs the upstream's
  // reasoning like local thinking and checks the signatures it gets back.
  virtual bool relays_thinking_signatures(std::string_view model) const {
    (void)model;
    return false;
  }
  // The upstream model ids, for /v1/models (in configuration order).
  virtual std::vector<std::string> model_ids() const = 0;
  // Translates and sends `req` (already validated by the client API's parser). A request the
  // upstream cannot express is refused with `err` (a 400 naming the field): null is returned.
  virtual std::unique_ptr<GenerationSource> start(const ChatRequest& req, const UpstreamCall& call,
                                                  ApiError& err) = 0;
  // A snapshot for /metrics.
  virtual GatewayStats stats() const { return {}; }
};

}  // namespace parley::api
