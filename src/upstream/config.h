// One upstream of the gateway, as configured on `parley serve` (--upstream NAME=URL and the
// per-upstream --upstream-* flags): where it is, how it is spoken to, which model ids it serves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace parley::upstream {

// anthropic: the Messages API (POST {base}/v1/messages, x-api-key, anthropic-version);
// parley: the same, plus Parley's request extensions (seed).
enum class Protocol { openai_chat, anthropic, parley };

struct Url {
  std::string host;
  uint16_t port = 80;
  // Without a trailing '/' or a final "/v1" (both APIs' clients take the base URL with or
  // without it, and the paths sent all start with /v1): "" or "/prefix" ...
  std::string base_path;
};

// "http://host[:port][/path]". https:// is refused (no TLS in this build) with a message that
// says so; anything else is an error naming what is wrong.
Result<Url> parse_url(std::string_view url);

struct UpstreamConfig {
  std::string name;
  std::string url;  // as given (never holds the key)
  Url endpoint;
  Protocol protocol = Protocol::openai_chat;
  std::vector<std::string> models;  // model ids sent here (as is: the upstream sees the same id)
  // Sent as "Authorization: Bearer <key>" (openai-chat) or "x-api-key: <key>" (anthropic,
  // parley). Read from an environment variable at start; it is
  // never logged, never echoed in errors (scrubbed from relayed upstream messages) or metrics.
  std::string api_key;
  std::string api_key_env;  // the variable's name (may be logged)
  double connect_timeout_s = 10;
  double read_timeout_s = 600;  // silence allowed between two reads of the answer
  // Retries of a request whose attempt here failed before its answer started (connect failure,
  // timeout, 429, 5xx): on another replica of the model when one is available, else here again.
  int max_retries = 2;
  // Routing among replicas (upstreams that list the same model id): its share of new work
  // relative to the other replicas when they are equally loaded (> 0).
  double weight = 1;
  // Requests in flight here at most (0: unlimited); when every replica of a model is full the
  // request is refused with 529 overloaded_error.
  int max_concurrent = 0;
  // Seconds between active health checks (GET {base}/v1/models, 2xx passes); 0: none. A
  // failing check ejects the upstream until a check passes.
  double health_interval_s = 0;
};

// Gateway-wide routing and fault settings (one set per `parley serve`).
struct GatewayOptions {
  // Prefix affinity: a request goes to the replica that last served its longest known prefix
  // (its KV cache holds it), within the load bound below. Off: least outstanding requests,
  // round robin among equals.
  bool affinity = true;
  size_t affinity_entries = 65536;  // prefix hashes remembered (LRU), over all models
  // The load bound: the owner of a prefix is passed over when it would then have more than
  // max(affinity_load_floor, affinity_load_factor x the mean outstanding requests of the
  // model's available replicas, this one counted) in flight.
  double affinity_load_factor = 1.5;
  int affinity_load_floor = 2;
  // Passive ejection: this many consecutive failures (connect failure, timeout, 5xx, a stream
  // broken off) eject an upstream for eject_cooldown_s; then one request is let through
  // (half-open): its success re-admits the upstream, its failure ejects it again. 0: never.
  int eject_after_failures = 3;
  double eject_cooldown_s = 10;
  double health_timeout_s = 5;  // an active health check's limit (connect + answer)
  // Backoff before a retry on the same upstream (doubling per attempt); a retry on another
  // replica goes at once.
  double retry_backoff_s = 0.25;
  // An upstream's retry-after up to this many seconds is waited out (same upstream); a longer
  // one ends the retries and is passed on to the client.
  double max_retry_after_s = 5;
};

// What a set of upstreams must satisfy beyond each one's own fields: distinct names, and the
// replicas of one model id all of one signing family (openai-chat vs anthropic/parley: thinking
// signatures are made by this server for the one, by the upstream for the other, so a request
// could not be checked for a replica set that mixes them).
Status check_upstreams(const std::vector<UpstreamConfig>& upstreams);

}  // namespace parley::upstream
