#include "upstream/upstream-source.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "api/generation.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "upstream/protocol.h"

namespace parley::upstream {

using api::ErrorKind;

namespace {

bool is_2xx(int status) { return status >= 200 && status < 300; }

// What an attempt that ended before its answer tells about the upstream, and whether another
// attempt may succeed: no answer (connect failure, timeout) and 5xx are failures, 429 is the
// upstream being busy (retried, not held against it), any other status is the request's own.
struct EarlyEnd {
  AttemptOutcome outcome = AttemptOutcome::success;
  bool retryable = false;
};

EarlyEnd classify(int status) {
  if (status == 0 || status >= 500) return {AttemptOutcome::failure, true};
  if (status == 429) return {AttemptOutcome::neutral, true};
  return {AttemptOutcome::success, false};
}

}  // namespace

UpstreamSource::UpstreamSource(Gateway& gateway, const api::ChatRequest& req, const api::UpstreamCall& call,
                               std::vector<uint64_t> hashes)
    : gateway_(gateway), req_(req), call_(call), hashes_(std::move(hashes)) {}

UpstreamSource::~UpstreamSource() { cancel(); }

bool UpstreamSource::begin(api::ApiError& err) {
  ReplicaPick pick = gateway_.pick(req_.model, hashes_, tried_);
  if (pick.upstream < 0) {
    const std::string model = quote_for_message(req_.model, 200);
    err = api::ApiError{ErrorKind::overloaded,
                        pick.why == NoReplica::saturated
                            ? "every upstream of model " + model + " is at its concurrency limit; retry shortly"
                            : "no healthy upstream for model " + model +
                                  " (all are ejected after failures or failing health checks); retry shortly",
                        {}};
    return false;
  }
  return start_attempt(pick, 0, err);
}

bool UpstreamSource::start_attempt(const ReplicaPick& pick, double delay_s, api::ApiError& err) {
  const UpstreamConfig& u = gateway_.upstream(pick.upstream);
  ProtocolCall pc;
  if (!prepare_call(u, req_, call_, pc, err)) {
    gateway_.release(pick.upstream, AttemptOutcome::neutral, pick.probe, "");  // never sent: not counted
    return false;
  }
  PostRequest post = std::move(pc.post);
  post.upstream = u.name;
  post.endpoint = u.endpoint;
  post.api_key = u.api_key;
  post.request_id = call_.request_id;
  post.connect_timeout_s = u.connect_timeout_s;
  post.read_timeout_s = u.read_timeout_s;
  post.delay_s = delay_s;
  post.wake = wake_;
  attempt_ = Attempt{};
  attempt_.upstream = pick.upstream;
  attempt_.probe = pick.probe;
  attempt_.reader = std::move(pc.reader);
  attempt_.call = gateway_.client().post(std::move(post));
  return true;
}

void UpstreamSource::set_wake(std::function<void()> wake) {
  wake_ = wake;
  bool pending;
  {
    std::lock_guard lock(attempt_.call->mu);
    attempt_.call->wake = wake;
    pending = attempt_.call->status != 0 || attempt_.call->done || !attempt_.call->events.empty();
  }
  if (pending && wake) wake();
}

// Acts on the current attempt's state: notes a 2xx status, or ends a failed attempt (a retry,
// or the request's final error).
void UpstreamSource::advance() {
  if (streaming_ || failed_ || finished_) return;
  int status;
  bool done;
  std::string transport_error, retry_after;
  {
    std::lock_guard lock(attempt_.call->mu);
    status = attempt_.call->status;
    done = attempt_.call->done;
    transport_error = attempt_.call->transport_error;
    retry_after = attempt_.call->retry_after;
  }
  if (is_2xx(status)) {
    streaming_ = true;
    return;
  }
  if (!done) return;
  if (status == 0 && transport_error == "cancelled") return;  // cancel() ends it
  EarlyEnd end = classify(status);
  release(end.outcome, status == 0 ? "error" : std::to_string(status));
  if (end.retryable && retry(retry_after)) return;
  failed_ = true;
}

// Starts the next attempt if the failed upstream's retries allow and a replica can take it.
bool UpstreamSource::retry(const std::string& retry_after) {
  const UpstreamConfig& failed = upstream();
  if (n_retries_ >= failed.max_retries) return false;
  double wait_s = gateway_.options().retry_backoff_s * std::pow(2.0, n_retries_);
  if (!retry_after.empty()) {
    char* end = nullptr;
    double ra = std::strtod(retry_after.c_str(), &end);
    if (end != retry_after.c_str() && *end == '\0' && ra >= 0) {
      if (ra > gateway_.options().max_retry_after_s) return false;  // the client's to decide: passed on
      wait_s = ra;
    }
  }
  const int failed_index = attempt_.upstream;
  if (std::find(tried_.begin(), tried_.end(), failed_index) == tried_.end()) tried_.push_back(failed_index);
  ReplicaPick pick = gateway_.pick(req_.model, hashes_, tried_);
  if (pick.upstream < 0) return false;
  // Another replica is not the one that failed or asked to wait: it is tried at once.
  if (pick.upstream != failed_index) wait_s = 0;
  gateway_.count_retry(failed_index);
  log_warn("%s: upstream %s failed before answering; retrying on %s in %.2f s (retry %d of %d)",
           call_.request_id.c_str(), failed.name.c_str(), gateway_.upstream(pick.upstream).name.c_str(), wait_s,
           n_retries_ + 1, failed.max_retries);
  n_retries_++;
  // Keep the failed attempt's state until the next one has started (early_error reads it).
  Attempt previous = std::move(attempt_);
  api::ApiError err;
  if (!start_attempt(pick, wait_s, err)) {
    attempt_ = std::move(previous);
    return false;
  }
  return true;
}

bool UpstreamSource::ready() {
  advance();
  return streaming_ || failed_ || finished_;
}

std::optional<api::EarlyError> UpstreamSource::early_error() const {
  if (!failed_) return std::nullopt;
  std::lock_guard lock(attempt_.call->mu);
  const CallState& c = *attempt_.call;
  if (c.status != 0) return api::EarlyError{map_upstream_error(upstream(), c.status, c.error_body), c.retry_after};
  return api::EarlyError{unreachable(c.transport_error), ""};
}

bool UpstreamSource::poll(api::GenerationSink& sink) {
  if (finished_) return true;
  advance();
  if (!streaming_ && !failed_) return false;  // waiting for an answer (or a retry's)
  StreamReader& reader = *attempt_.reader;
  if (failed_) {
    if (auto e = early_error()) reader.fail(e->error.kind, e->error.message, sink);
    finish(true);
    return true;
  }
  std::vector<std::string> events;
  bool done;
  std::string transport_error;
  {
    std::lock_guard lock(attempt_.call->mu);
    events.swap(attempt_.call->events);
    done = attempt_.call->done;
    transport_error = attempt_.call->transport_error;
  }
  for (const std::string& data : events) {
    if (reader.finished()) break;
    if (trim(data) == "[DONE]") {
      reader.end(sink);
      break;
    }
    auto chunk = json::parse(data);
    if (!chunk.ok()) {
      reader.fail(ErrorKind::api_error,
                  "upstream " + upstream().name + " sent a chunk that is not JSON: " + chunk.error().message, sink);
      break;
    }
    reader.chunk(*chunk, sink);
  }
  if (done && !reader.finished()) {
    if (transport_error.empty()) {
      reader.end(sink);
    } else {
      reader.fail(ErrorKind::api_error, "upstream " + upstream().name + ": " + transport_error, sink);
    }
  }
  if (reader.finished()) {
    // A stream that broke off counts against the upstream (it died or timed out mid-answer).
    const bool broken = done && !transport_error.empty() && transport_error != "cancelled";
    release(broken ? AttemptOutcome::failure : AttemptOutcome::success, "200");
    finish(done);
  }
  return finished_;
}

void UpstreamSource::cancel() {
  if (finished_) return;
  release(AttemptOutcome::neutral, "cancelled");
  finish(false);
}

void UpstreamSource::release(AttemptOutcome outcome, const std::string& status) {
  // No attempt started (begin() found no replica, or the request could not be expressed for
  // the chosen one, whose slot start_attempt gave back): nothing is held.
  if (attempt_.upstream < 0 || attempt_.released) return;
  attempt_.released = true;
  gateway_.release(attempt_.upstream, outcome, attempt_.probe, status);
}

void UpstreamSource::finish(bool call_done) {
  if (finished_) return;
  finished_ = true;
  if (attempt_.call == nullptr) return;  // no attempt was started
  // The answer is complete (or not wanted): whatever the upstream still sends is not read.
  if (!call_done) gateway_.client().cancel(attempt_.call);
  std::lock_guard lock(attempt_.call->mu);
  attempt_.call->wake = nullptr;  // the transport's wake target may be going away
}

api::ApiError UpstreamSource::unreachable(const std::string& why) const {
  return api::ApiError{ErrorKind::api_error, "upstream " + upstream().name + " is unreachable: " + why, {}};
}

}  // namespace parley::upstream
