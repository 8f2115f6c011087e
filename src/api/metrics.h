// The server's Prometheus metrics (GET /metrics): request counts by endpoint and status, and
// token latency histograms, recorded by the HTTP threads; the engine's gauges and token
// counters come from engine::Client::stats() at scrape time. Thread-safe: one mutex, held only
// to bump a counter or copy them out.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/upstreams.h"
#include "engine/client.h"

namespace parley::api {

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The `endpoint` label of a request path: a fixed set, so a client cannot grow the series
// (every /v1/models/{id} is /v1/models; anything unknown is "other").
std::string_view metrics_endpoint(std::string_view path);

// A Prometheus histogram with fixed upper bounds (+Inf implied). Not thread-safe by itself.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // HELP/TYPE, then cumulative _bucket{le=...} lines, _sum and _count.
  void render(std::string& out, std::string_view name, std::string_view help) const;
  int64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bucket, not cumulative; the last one is +Inf
  double sum_ = 0;
  int64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void count_request(std::string_view path, int status);
  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);
  // The exposition text: this registry's series, the engine's, and the gateway's per-upstream
  // ones when there is a gateway.
  std::string render(const engine::EngineStats& engine, const GatewayStats* gateway = nullptr) const;

 private:
  struct RequestCount {
    std::string_view endpoint;  // one of metrics_endpoint()'s literals
    int status = 0;
    int64_t n = 0;
  };
  mutable std::mutex mu_;
  std::vector<RequestCount> requests_;  // few: endpoints x statuses seen
  Histogram ttft_;
  Histogram itl_;
};

}  // namespace parley::api
