// The gateway: api::Upstreams over configured upstreams. A request for a model id goes to one
// of the upstreams that list it (its replicas), chosen by the Router (prefix affinity within a
// load bound, health, concurrency limits); it is translated for that upstream's protocol
// (protocol.h), POSTed by the HttpClient, and its streamed answer read back (a StreamReader)
// into the server's own emitters (upstream-source.h). Failures before the answer started are
// retried, on another replica when there is one.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "api/upstreams.h"
#include "upstream/config.h"
#include "upstream/http-client.h"
#include "upstream/router.h"

namespace parley::upstream {

// The error a non-2xx upstream answer becomes in the client's API: the status's kind
// (400 invalid_request, 401 authentication, 403 permission, 404 not_found, 413, 429 rate_limit,
// 503/529 overloaded, other 5xx api_error) and the upstream's message (from any of the common
// envelopes), with `secret` scrubbed from it.
api::ApiError map_upstream_error(const UpstreamConfig& upstream, int status, std::string_view body);

class Gateway final : public api::Upstreams {
 public:
  // `clock`: monotonic seconds (null: the steady clock). Starts the active health checks.
  Gateway(std::vector<UpstreamConfig> upstreams, GatewayOptions options = {}, std::function<double()> clock = {});

  bool serves(std::string_view model) const override;
  bool relays_thinking_signatures(std::string_view model) const override;
  std::vector<std::string> model_ids() const override;
  std::unique_ptr<api::GenerationSource> start(const api::ChatRequest& req, const api::UpstreamCall& call,
                                               api::ApiError& err) override;
  api::GatewayStats stats() const override;

  // For the sources (upstream-source.cpp): the Router's calls under the gateway's lock.
  ReplicaPick pick(std::string_view model, const std::vector<uint64_t>& hashes, const std::vector<int>& tried);
  // Gives back the slot of an attempt that ended with `status` ("200", "error", ...; "": one
  // never sent, not counted).
  void release(int upstream, AttemptOutcome outcome, bool probe, const std::string& status);
  void count_retry(int upstream);
  const UpstreamConfig& upstream(int index) const { return upstreams_[static_cast<size_t>(index)]; }
  const GatewayOptions& options() const { return options_; }
  HttpClient& client() { return client_; }

 private:
  void start_health_checks();
  void health_check(int index);

  std::vector<UpstreamConfig> upstreams_;
  GatewayOptions options_;
  std::function<double()> clock_;
  mutable std::mutex mu_;  // guards router_ (requests arrive on several threads)
  Router router_;
  // Last, so destroyed first: its thread, which runs the health checks' callbacks, stops
  // before the router goes.
  HttpClient client_;
};

}  // namespace parley::upstream
