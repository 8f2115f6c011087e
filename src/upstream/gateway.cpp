#include "upstream/gateway.h"

#include <algorithm>
#include <chrono>

#include "api/generation.h"
#include "base/json.h"
#include "base/strings.h"
#include "base/log.h"
#include "upstream/prefix-hash.h"
#include "upstream/protocol.h"
#include "upstream/upstream-source.h"

namespace parley::upstream {
namespace {

using api::ErrorKind;

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The message of an error body in the envelopes upstreams use: OpenAI / llama-server
// {"error":{"message"}}, Anthropic {"type":"error","error":{...}}, vLLM {"object":"error",
// "message"}, FastAPI {"detail"}; else the body's text.
std::string error_message(std::string_view body) {
  auto parsed = json::parse(body);
  if (parsed.ok() && parsed->is_object()) {
    const json::Value& v = *parsed;
    if (const json::Value* e = v.find("error")) {
      if (e->is_string()) return e->as_string();
      if (const json::Value* m = e->find("message"); m != nullptr && m->is_string()) return m->as_string();
    }
    if (const json::Value* m = v.find("message"); m != nullptr && m->is_string()) return m->as_string();
    if (const json::Value* d = v.find("detail")) return d->is_string() ? d->as_string() : json::write(*d);
  }
  std::string text(trim(body.substr(0, 500)));
  return text.empty() ? "(no message)" : text;
}

}  // namespace

api::ApiError map_upstream_error(const UpstreamConfig& upstream, int status, std::string_view body) {
  api::ApiError e;
  std::string message = scrub_secret(error_message(body), upstream.api_key);
  switch (status) {
    case 400:
    case 422: e.kind = ErrorKind::invalid_request; break;
    case 401: e.kind = ErrorKind::authentication; break;
    case 403: e.kind = ErrorKind::permission; break;
    case 404: e.kind = ErrorKind::not_found; break;
    case 408: e.kind = ErrorKind::request_timeout; break;
    case 413: e.kind = ErrorKind::request_too_large; break;
    case 429: e.kind = ErrorKind::rate_limit; break;
    case 503:
    case 529: e.kind = ErrorKind::overloaded; break;
    default: e.kind = status >= 500 ? ErrorKind::api_error : ErrorKind::invalid_request; break;
  }
  if (e.kind == ErrorKind::invalid_request || e.kind == ErrorKind::not_found || e.kind == ErrorKind::request_too_large) {
    // The request's own fault: the upstream's words as they are (Claude Code's "prompt is too
    // long" compaction trigger among them).
    e.message = std::move(message);
  } else if (e.kind == ErrorKind::authentication || e.kind == ErrorKind::permission) {
    e.message = str_printf("upstream %s refused the gateway's credentials (%d): %s", upstream.name.c_str(),
                           status, message.c_str());
  } else {
    e.message = str_printf("upstream %s: %d: %s", upstream.name.c_str(), status, message.c_str());
  }
  return e;
}

Gateway::Gateway(std::vector<UpstreamConfig> upstreams, GatewayOptions options, std::function<double()> clock)
    : upstreams_(std::move(upstreams)),
      options_(options),
      clock_(clock ? std::move(clock) : steady_seconds),
      router_(upstreams_, options_) {
  start_health_checks();
}

bool Gateway::serves(std::string_view model) const {
  std::lock_guard lock(mu_);
  return router_.serves(model);
}

bool Gateway::relays_thinking_signatures(std::string_view model) const {
  // The replicas of one model are all of one signing family (check_upstreams).
  for (const auto& u : upstreams_) {
    if (std::find(u.models.begin(), u.models.end(), model) != u.models.end()) return u.protocol != Protocol::openai_chat;
  }
  return false;
}

std::vector<std::string> Gateway::model_ids() const {
  std::vector<std::string> ids;
  for (const auto& u : upstreams_) {
    for (const auto& m : u.models) {
      if (std::find(ids.begin(), ids.end(), m) == ids.end()) ids.push_back(m);
    }
  }
  return ids;
}

std::unique_ptr<api::GenerationSource> Gateway::start(const api::ChatRequest& req, const api::UpstreamCall& call,
                                                      api::ApiError& err) {
  if (!serves(req.model)) {
    err = api::ApiError{ErrorKind::not_found, "model: " + quote_for_message(req.model, 200) + " is not served here", "model"};
    return nullptr;
  }
  std::vector<uint64_t> hashes;
  if (options_.affinity) hashes = prefix_hashes(req);
  auto source = std::make_unique<UpstreamSource>(*this, req, call, std::move(hashes));
  if (!source->begin(err)) return nullptr;
  return source;
}

api::GatewayStats Gateway::stats() const {
  std::lock_guard lock(mu_);
  return router_.stats();
}

ReplicaPick Gateway::pick(std::string_view model, const std::vector<uint64_t>& hashes, const std::vector<int>& tried) {
  const double now = clock_();
  std::lock_guard lock(mu_);
  return router_.pick(model, hashes, tried, now);
}

void Gateway::release(int upstream, AttemptOutcome outcome, bool probe, const std::string& status) {
  const double now = clock_();
  bool ejected_now;
  {
    std::lock_guard lock(mu_);
    const bool was = router_.available(upstream, now);
    if (!status.empty()) router_.count_attempt(upstream, status);
    router_.release(upstream, outcome, probe, now);
    ejected_now = was && !router_.available(upstream, now);
  }
  if (ejected_now) {
    log_warn("upstream %s ejected after %d consecutive failures (for %.0f s, then one trial request)",
             upstreams_[static_cast<size_t>(upstream)].name.c_str(), options_.eject_after_failures,
             options_.eject_cooldown_s);
  }
}

void Gateway::count_retry(int upstream) {
  std::lock_guard lock(mu_);
  router_.count_retry(upstream);
}

void Gateway::start_health_checks() {
  for (size_t i = 0; i < upstreams_.size(); i++) {
    if (upstreams_[i].health_interval_s <= 0) continue;
    client_.every(upstreams_[i].health_interval_s, [this, i] { health_check(static_cast<int>(i)); });
  }
}

// GET {base}/v1/models with the upstream's key, as its clients would list models: 2xx passes.
// Runs on the client's thread; the result reaches the router under the lock.
void Gateway::health_check(int index) {
  const UpstreamConfig& u = upstreams_[static_cast<size_t>(index)];
  GetRequest get;
  get.endpoint = u.endpoint;
  get.path = "/v1/models";
  get.api_key = u.api_key;
  get.key_as_x_api_key = u.protocol != Protocol::openai_chat;
  if (get.key_as_x_api_key) get.headers.emplace_back("anthropic-version", "2023-06-01");
  get.timeout_s = options_.health_timeout_s;
  client_.get(std::move(get), [this, index](int status, const std::string& error) {
    const bool ok = status >= 200 && status < 300;
    const UpstreamConfig& up = upstreams_[static_cast<size_t>(index)];
    const double now = clock_();
    bool was_healthy, healthy;
    {
      std::lock_guard lock(mu_);
      was_healthy = router_.healthy(index);
      router_.health_check(index, ok, now);
      healthy = router_.healthy(index);
    }
    if (was_healthy && !healthy) {
      log_warn("upstream %s ejected: its health check failed (%s)", up.name.c_str(),
               status != 0 ? str_printf("status %d", status).c_str() : error.c_str());
    } else if (!was_healthy && healthy) {
      log_info("upstream %s re-admitted: its health check passed", up.name.c_str());
    }
  });
}

}  // namespace parley::upstream
