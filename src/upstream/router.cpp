#include "upstream/router.h"

#include <algorithm>

#include "base/check.h"

namespace parley::upstream {

Router::Router(const std::vector<UpstreamConfig>& upstreams, const GatewayOptions& options) : options_(options) {
  for (size_t i = 0; i < upstreams.size(); i++) {
    Replica r;
    r.name = upstreams[i].name;
    r.weight = upstreams[i].weight > 0 ? upstreams[i].weight : 1;
    r.max_concurrent = upstreams[i].max_concurrent;
    upstreams_.push_back(std::move(r));
    for (const std::string& m : upstreams[i].models) {
      std::vector<int>& set = replicas_[m];
      if (std::find(set.begin(), set.end(), static_cast<int>(i)) == set.end()) set.push_back(static_cast<int>(i));
    }
  }
}

bool Router::available(int upstream, double now) const {
  const Replica& r = upstreams_[static_cast<size_t>(upstream)];
  if (r.check_failing) return false;
  if (!r.ejected) return true;
  return now >= r.ejected_until && !r.probing;  // half-open: one trial at a time
}

bool Router::healthy(int upstream) const {
  const Replica& r = upstreams_[static_cast<size_t>(upstream)];
  return !r.ejected && !r.check_failing;
}

bool Router::usable(int upstream, double now) const {
  const Replica& r = upstreams_[static_cast<size_t>(upstream)];
  return available(upstream, now) && (r.max_concurrent <= 0 || r.outstanding < r.max_concurrent);
}

ReplicaPick Router::pick(std::string_view model, const std::vector<uint64_t>& hashes, const std::vector<int>& tried,
                         double now) {
  ReplicaPick out;
  auto it = replicas_.find(model);
  if (it == replicas_.end()) return out;
  const std::vector<int>& set = it->second;
  std::vector<int> usable_now, untried;
  for (int u : set) {
    if (!usable(u, now)) continue;
    usable_now.push_back(u);
    if (std::find(tried.begin(), tried.end(), u) == tried.end()) untried.push_back(u);
  }
  if (usable_now.empty()) {
    bool any_available = false;
    for (int u : set) any_available = any_available || available(u, now);
    out.why = any_available ? NoReplica::saturated : NoReplica::ejected;
    return out;
  }
  const std::vector<int>& candidates = untried.empty() ? usable_now : untried;
  int chosen = -1;
  if (options_.affinity) {
    chosen = owner_within_bound(hashes, candidates, set, now);
    out.affinity_hit = chosen >= 0;
    (out.affinity_hit ? affinity_hits_ : affinity_misses_)++;
  }
  if (chosen < 0) chosen = least_loaded(candidates);
  if (options_.affinity) remember(hashes, chosen);
  Replica& r = upstreams_[static_cast<size_t>(chosen)];
  r.outstanding++;
  if (r.ejected) {
    r.probing = true;
    out.probe = true;
  }
  out.upstream = chosen;
  return out;
}

// The owner of the longest prefix that is a candidate and would stay within the load bound,
// else -1. The bound is relative to the model's available replicas (consistent hashing with
// bounded loads): an owner may run ahead of the mean by the factor, never by less than the floor.
int Router::owner_within_bound(const std::vector<uint64_t>& hashes, const std::vector<int>& candidates,
                               const std::vector<int>& model_replicas, double now) {
  int64_t total = 1;  // this request
  int n_available = 0;
  for (int u : model_replicas) {
    if (!available(u, now)) continue;
    total += upstreams_[static_cast<size_t>(u)].outstanding;
    n_available++;
  }
  if (n_available == 0) return -1;
  const double mean = static_cast<double>(total) / n_available;
  const double bound = std::max(static_cast<double>(options_.affinity_load_floor), options_.affinity_load_factor * mean);
  for (size_t i = hashes.size(); i-- > 0;) {
    auto it = owners_.find(hashes[i]);
    if (it == owners_.end()) continue;
    const int owner = it->second->upstream;
    if (std::find(candidates.begin(), candidates.end(), owner) == candidates.end()) continue;
    if (upstreams_[static_cast<size_t>(owner)].outstanding + 1 <= bound) return owner;
  }
  return -1;
}

// Least outstanding per unit of weight; ties by smooth weighted round robin (nginx's): each tied
// replica gains its weight, the one with the most is chosen and pays the tied total, so idle
// replicas take turns in proportion to their weights.
int Router::least_loaded(const std::vector<int>& candidates) {
  PARLEY_CHECK(!candidates.empty());
  double best = 0;
  std::vector<int> tied;
  for (int u : candidates) {
    const Replica& r = upstreams_[static_cast<size_t>(u)];
    const double load = r.outstanding / r.weight;
    if (tied.empty() || load < best - 1e-9) {
      best = load;
      tied.assign(1, u);
    } else if (load <= best + 1e-9) {
      tied.push_back(u);
    }
  }
  double total_weight = 0;
  int chosen = tied[0];
  for (int u : tied) {
    Replica& r = upstreams_[static_cast<size_t>(u)];
    r.rr_current += r.weight;
    total_weight += r.weight;
    if (r.rr_current > upstreams_[static_cast<size_t>(chosen)].rr_current) chosen = u;
  }
  upstreams_[static_cast<size_t>(chosen)].rr_current -= total_weight;
  return chosen;
}

void Router::remember(const std::vector<uint64_t>& hashes, int upstream) {
  if (options_.affinity_entries == 0) return;
  for (uint64_t h : hashes) {
    if (auto it = owners_.find(h); it != owners_.end()) {
      it->second->upstream = upstream;
      lru_.splice(lru_.begin(), lru_, it->second);
      continue;
    }
    lru_.push_front(Owner{h, upstream});
    owners_[h] = lru_.begin();
    if (lru_.size() > options_.affinity_entries) {
      owners_.erase(lru_.back().hash);
      lru_.pop_back();
    }
  }
}

void Router::eject(Replica& r, double now) {
  r.ejected = true;
  r.ejected_until = now + options_.eject_cooldown_s;
  r.ejections++;
}

void Router::release(int upstream, AttemptOutcome outcome, bool probe, double now) {
  Replica& r = upstreams_[static_cast<size_t>(upstream)];
  PARLEY_CHECK(r.outstanding > 0);
  r.outstanding--;
  if (probe) r.probing = false;
  switch (outcome) {
    case AttemptOutcome::success:
      r.consecutive_failures = 0;
      r.ejected = false;  // the half-open trial (or any answer) re-admits
      break;
    case AttemptOutcome::failure:
      r.consecutive_failures++;
      if (r.ejected) {
        if (probe) eject(r, now);  // the trial failed: another cool-down
      } else if (options_.eject_after_failures > 0 && r.consecutive_failures >= options_.eject_after_failures) {
        eject(r, now);
      }
      break;
    case AttemptOutcome::neutral: break;
  }
}

void Router::health_check(int upstream, bool ok, double now) {
  (void)now;
  Replica& r = upstreams_[static_cast<size_t>(upstream)];
  if (ok) {
    r.check_failing = false;
    r.ejected = false;
    r.consecutive_failures = 0;
    return;
  }
  if (!r.check_failing && !r.ejected) r.ejections++;
  r.check_failing = true;
}

void Router::count_attempt(int upstream, const std::string& status) {
  auto& attempts = upstreams_[static_cast<size_t>(upstream)].attempts;
  for (auto& [s, n] : attempts) {
    if (s == status) {
      n++;
      return;
    }
  }
  attempts.emplace_back(status, 1);
}

void Router::count_retry(int upstream) { upstreams_[static_cast<size_t>(upstream)].retries++; }

api::GatewayStats Router::stats() const {
  api::GatewayStats s;
  for (const Replica& r : upstreams_) {
    api::UpstreamStats u;
    u.name = r.name;
    u.in_flight = r.outstanding;
    u.healthy = healthy(static_cast<int>(&r - upstreams_.data()));
    u.ejections = r.ejections;
    u.retries = r.retries;
    u.requests = r.attempts;
    s.upstreams.push_back(std::move(u));
  }
  s.affinity_hits = affinity_hits_;
  s.affinity_misses = affinity_misses_;
  return s;
}

}  // namespace parley::upstream
