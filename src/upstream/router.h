// Which replica of a model a gateway request goes to, and the health of each upstream: a pure
// state machine (no I/O, time passed in, not thread-safe: the Gateway holds it under its
// mutex), so every policy here is unit-tested deterministically.
//
// Choice: among the model's available replicas (not ejected, below max_concurrent, not yet
// tried by this request when another is left), the owner of the request's longest known prefix
// hash (prefix-hash.h) unless it is over the load bound (GatewayOptions); otherwise the least
// outstanding requests per unit of weight, ties shared by smooth weighted round robin (so that,
// with affinity off, sequential requests rotate over idle replicas). The choice is recorded
// as the owner of all the request's prefix hashes.
//
// Health: consecutive failures eject (passive), a cool-down later one trial request is let
// through (half-open); active health check results eject and re-admit directly.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/upstreams.h"
#include "upstream/config.h"

namespace parley::upstream {

// Why pick() found no replica.
enum class NoReplica { unknown_model, saturated, ejected };

struct ReplicaPick {
  int upstream = -1;     // index into the configured upstreams; -1: none (see `why`)
  NoReplica why = NoReplica::unknown_model;
  bool probe = false;    // the half-open trial of an ejected upstream
  bool affinity_hit = false;
};

// How an attempt ended, for passive health.
enum class AttemptOutcome {
  success,  // an answer (2xx, or a 4xx: the request's fault, not the upstream's)
  failure,  // connect failure, timeout, 5xx, a stream broken off
  neutral,  // cancelled by the client, 429 (busy, not broken)
};

class Router {
 public:
  Router(const std::vector<UpstreamConfig>& upstreams, const GatewayOptions& options);

  // Chooses a replica of `model` for a request with these prefix hashes (shortest first) and
  // takes one of its slots (release() gives it back). `tried`: upstreams this request already
  // failed on, chosen again only when no other is available.
  ReplicaPick pick(std::string_view model, const std::vector<uint64_t>& hashes, const std::vector<int>& tried,
                   double now);
  void release(int upstream, AttemptOutcome outcome, bool probe, double now);
  void health_check(int upstream, bool ok, double now);

  void count_attempt(int upstream, const std::string& status);  // "200", "error", ...
  void count_retry(int upstream);

  bool serves(std::string_view model) const { return replicas_.find(model) != replicas_.end(); }
  bool available(int upstream, double now) const;
  bool healthy(int upstream) const;  // not ejected, health check not failing
  api::GatewayStats stats() const;

 private:
  struct Replica {
    std::string name;
    double weight = 1;
    int max_concurrent = 0;
    int outstanding = 0;
    int consecutive_failures = 0;
    bool ejected = false;  // passively, until ejected_until (then half-open)
    double ejected_until = 0;
    bool probing = false;        // the half-open trial is in flight
    bool check_failing = false;  // the last active health check failed
    double rr_current = 0;       // smooth weighted round robin state
    int64_t ejections = 0, retries = 0;
    std::vector<std::pair<std::string, int64_t>> attempts;
  };
  struct Owner {
    uint64_t hash;
    int upstream;
  };

  bool usable(int upstream, double now) const;
  int owner_within_bound(const std::vector<uint64_t>& hashes, const std::vector<int>& candidates,
                         const std::vector<int>& model_replicas, double now);
  int least_loaded(const std::vector<int>& candidates);
  void remember(const std::vector<uint64_t>& hashes, int upstream);
  void eject(Replica& r, double now);

  GatewayOptions options_;
  std::vector<Replica> upstreams_;
  std::map<std::string, std::vector<int>, std::less<>> replicas_;  // model id -> upstreams
  // Prefix hash -> the upstream that last served it, most recent first, at most
  // options_.affinity_entries.
  std::list<Owner> lru_;
  std::unordered_map<uint64_t, std::list<Owner>::iterator> owners_;
  int64_t affinity_hits_ = 0, affinity_misses_ = 0;
};

}  // namespace parley::upstream
