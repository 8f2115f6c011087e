// The gateway: api::Upstreams over configured upstreams. A request for one of an
// upstream's model ids is translated for its protocol (protocol.h), POSTed by the HttpClient,
// and its streamed answer read back (a StreamReader) into the server's own emitters.
#pragma once

#include <memory>
#include <vector>

#include "api/upstreams.h"
#include "upstream/config.h"
#include "upstream/http-client.h"

namespace parley::upstream {

// The error a non-2xx upstream answer becomes in the client's API: the status's kind
// (400 invalid_request, 401 authentication, 403 permission, 404 not_found, 413, 429 rate_limit,
// 503/529 overloaded, other 5xx api_error) and the upstream's message (from any of the common
// envelopes), with `secret` scrubbed from it.
api::ApiError map_upstream_error(const UpstreamConfig& upstream, int status, std::string_view body);

class Gateway final : public api::Upstreams {
 public:
  explicit Gateway(std::vector<UpstreamConfig> upstreams);

  bool serves(std::string_view model) const override;
  bool relays_thinking_signatures(std::string_view model) const override;
  std::vector<std::string> model_ids() const override;
  std::unique_ptr<api::GenerationSource> start(const api::ChatRequest& req, const api::UpstreamCall& call,
                                               api::ApiError& err) override;

 private:
  const UpstreamConfig* find(std::string_view model) const;

  std::vector<UpstreamConfig> upstreams_;
  HttpClient client_;
};

}  // namespace parley::upstream
