#include "api/metrics.h"

#include <cstdio>
#include <cstdlib>

#include "base/check.h"

namespace parley::api {

namespace {

// Shortest text that reads back as the same double (Prometheus parses Go floats).
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  for (int p = 6; p < 17; p++) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", p, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, const std::string& value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

void scalar(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            const std::string& value) {
  header(out, name, type, help);
  sample(out, name, {}, value);
}

// A label value: upstream names come from the operator's flags, but are escaped all the same.
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void render_gateway(std::string& out, const GatewayStats& g) {
  auto each = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
    header(out, name, type, help);
    for (const UpstreamStats& u : g.upstreams) {
      sample(out, name, "upstream=\"" + label_value(u.name) + "\"", value(u));
    }
  };
  header(out, "parley_upstream_requests_total", "counter",
         "Gateway attempts by upstream and outcome (its HTTP status, error: no answer, cancelled).");
  for (const UpstreamStats& u : g.upstreams) {
    for (const auto& [status, n] : u.requests) {
      sample(out, "parley_upstream_requests_total",
             "upstream=\"" + label_value(u.name) + "\",status=\"" + label_value(status) + "\"", std::to_string(n));
    }
  }
  each("parley_upstream_in_flight", "gauge", "Gateway requests in flight per upstream.",
       [](const UpstreamStats& u) { return std::to_string(u.in_flight); });
  each("parley_upstream_healthy", "gauge", "1 while the upstream takes requests, 0 while it is ejected.",
       [](const UpstreamStats& u) { return std::string(u.healthy ? "1" : "0"); });
  each("parley_upstream_ejections_total", "counter",
       "Times the upstream was ejected (consecutive failures, a failed trial, a failing health check).",
       [](const UpstreamStats& u) { return std::to_string(u.ejections); });
  each("parley_upstream_retries_total", "counter", "Attempts that failed on the upstream before the answer and were retried.",
       [](const UpstreamStats& u) { return std::to_string(u.retries); });
  scalar(out, "parley_upstream_affinity_hits_total", "counter",
         "Gateway requests routed to the replica that last served their prefix.", std::to_string(g.affinity_hits));
  scalar(out, "parley_upstream_affinity_misses_total", "counter",
         "Gateway requests with no usable prefix owner (unknown, unavailable or over the load bound).",
         std::to_string(g.affinity_misses));
}

}  // namespace

std::string_view metrics_endpoint(std::string_view path) {
  if (path == "/v1/messages") return "/v1/messages";
  if (path == "/v1/chat/completions") return "/v1/chat/completions";
  if (path == "/v1/messages/count_tokens") return "/v1/messages/count_tokens";
  if (path == "/v1/models" || path.substr(0, 11) == "/v1/models/") return "/v1/models";
  return "other";
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (size_t i = 1; i < bounds_.size(); i++) PARLEY_CHECK(bounds_[i - 1] < bounds_[i]);
}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) i++;  // le: upper bounds are inclusive
  counts_[i]++;
  sum_ += value;
  count_++;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view help) const {
  header(out, name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  int64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); i++) {
    cumulative += counts_[i];
    std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    sample(out, bucket, "le=\"" + le + "\"", std::to_string(cumulative));
  }
  sample(out, std::string(name) + "_sum", {}, number(sum_));
  sample(out, std::string(name) + "_count", {}, std::to_string(count_));
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}) {}

void Metrics::count_request(std::string_view path, int status) {
  const std::string_view endpoint = metrics_endpoint(path);
  std::lock_guard lock(mu_);
  for (RequestCount& c : requests_) {
    if (c.endpoint == endpoint && c.status == status) {
      c.n++;
      return;
    }
  }
  requests_.push_back({endpoint, status, 1});
}

void Metrics::observe_time_to_first_token(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void Metrics::observe_inter_token_latency(double seconds) {
  std::lock_guard lock(mu_);
  itl_.observe(seconds);
}

std::string Metrics::render(const engine::EngineStats& e, const GatewayStats* gateway) const {
  std::string out;
  out.reserve(4096);
  {
    std::lock_guard lock(mu_);
    header(out, "parley_requests_total", "counter", "HTTP requests by endpoint and status code.");
    for (const RequestCount& c : requests_) {
      std::string labels =
          "endpoint=\"" + std::string(c.endpoint) + "\",status=\"" + std::to_string(c.status) + "\"";
      sample(out, "parley_requests_total", labels, std::to_string(c.n));
    }
    ttft_.render(out, "parley_time_to_first_token_seconds",
                 "Seconds from submitting a request to the engine to handling its first token.");
    itl_.render(out, "parley_inter_token_latency_seconds",
                "Seconds between consecutive tokens of a request.");
  }
  scalar(out, "parley_prompt_tokens_total", "counter", "Prompt tokens of the requests started.",
         std::to_string(e.n_tokens_prompt));
  scalar(out, "parley_cached_prompt_tokens_total", "counter", "Prompt tokens served from the prefix cache.",
         std::to_string(e.n_tokens_cached));
  scalar(out, "parley_generated_tokens_total", "counter", "Tokens generated.",
         std::to_string(e.n_tokens_generated));
  scalar(out, "parley_prefix_cache_hit_ratio", "gauge", "Cached prompt tokens / prompt tokens so far.",
         number(e.n_tokens_prompt > 0
                    ? static_cast<double>(e.n_tokens_cached) / static_cast<double>(e.n_tokens_prompt)
                    : 0.0));
  scalar(out, "parley_queue_depth", "gauge", "Requests waiting to run (new or preempted).",
         std::to_string(e.n_waiting));
  scalar(out, "parley_running_sequences", "gauge", "Sequences being prefilled or decoded.",
         std::to_string(e.n_running));
  header(out, "parley_kv_blocks", "gauge",
         "KV cache blocks by state (used: held by sequences; cached: prefix cache, reusable).");
  sample(out, "parley_kv_blocks", "state=\"used\"", std::to_string(e.n_kv_blocks_used));
  sample(out, "parley_kv_blocks", "state=\"cached\"", std::to_string(e.n_kv_blocks_cached));
  sample(out, "parley_kv_blocks", "state=\"free\"", std::to_string(e.n_kv_blocks_free));
  scalar(out, "parley_preemptions_total", "counter", "Sequences preempted for lack of KV blocks.",
         std::to_string(e.n_preempted));
  scalar(out, "parley_kv_evictions_total", "counter", "Prefix-cache blocks evicted.",
         std::to_string(e.n_kv_evicted));
  if (gateway != nullptr) render_gateway(out, *gateway);
  return out;
}

}  // namespace parley::api
