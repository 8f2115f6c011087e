// The gateway's Router as the pure state machine it is: replica choice (prefix affinity within
// the load bound, least outstanding per weight with smooth weighted round robin, concurrency
// limits, a request's tried replicas) and health (passive ejection, cool-down, the half-open
// trial, active health checks), time passed in. No network.
#include <gtest/gtest.h>

#include <map>

#include "upstream/router.h"

namespace parley::upstream {
namespace {

UpstreamConfig replica(const std::string& name, double weight = 1, int max_concurrent = 0) {
  UpstreamConfig u;
  u.name = name;
  u.models = {"m"};
  u.weight = weight;
  u.max_concurrent = max_concurrent;
  return u;
}

std::vector<UpstreamConfig> replicas(int n, int max_concurrent = 0) {
  std::vector<UpstreamConfig> out;
  for (int i = 0; i < n; i++) out.push_back(replica("r" + std::to_string(i), 1, max_concurrent));
  return out;
}

GatewayOptions affinity_off() {
  GatewayOptions o;
  o.affinity = false;
  return o;
}

const std::vector<int> kNoneTried;

// One request start to end: picks, then releases with `outcome`; returns the replica.
int serve(Router& r, const std::vector<uint64_t>& hashes, double now = 0,
          AttemptOutcome outcome = AttemptOutcome::success) {
  ReplicaPick p = r.pick("m", hashes, kNoneTried, now);
  if (p.upstream >= 0) r.release(p.upstream, outcome, p.probe, now);
  return p.upstream;
}

TEST(Router, UnknownModelHasNoReplica) {
  Router r(replicas(2), GatewayOptions{});
  ReplicaPick p = r.pick("other", {1}, kNoneTried, 0);
  EXPECT_EQ(p.upstream, -1);
  EXPECT_EQ(p.why, NoReplica::unknown_model);
  EXPECT_TRUE(r.serves("m"));
  EXPECT_FALSE(r.serves("other"));
}

// Three conversations started while the others run spread over the replicas; each later turn
// (its history grown: the previous turn's hashes are its leading ones) goes back to where its
// prefix was served, even when every replica is idle.
TEST(Router, AConversationStaysOnItsReplicaAsItsHistoryGrows) {
  Router r(replicas(3), GatewayOptions{});
  ReplicaPick a = r.pick("m", {10, 11}, kNoneTried, 0);
  ReplicaPick b = r.pick("m", {20, 21}, kNoneTried, 0);
  ReplicaPick c = r.pick("m", {30, 31}, kNoneTried, 0);
  EXPECT_FALSE(a.affinity_hit);
  std::vector<int> first = {a.upstream, b.upstream, c.upstream};
  EXPECT_EQ(first, (std::vector<int>{0, 1, 2}));  // least outstanding: each to an idle one
  for (const ReplicaPick& p : {a, b, c}) r.release(p.upstream, AttemptOutcome::success, p.probe, 0);

  for (int turn = 2; turn <= 5; turn++) {
    for (int conv = 0; conv < 3; conv++) {
      std::vector<uint64_t> hashes;
      const uint64_t base = 10 * static_cast<uint64_t>(conv + 1);
      hashes.push_back(base);
      for (int k = 1; k < 2 * turn; k++) hashes.push_back(base * 1000 + static_cast<uint64_t>(k));
      hashes[1] = base + 1;  // the first user message, as in turn 1
      ReplicaPick p = r.pick("m", hashes, kNoneTried, 0);
      EXPECT_EQ(p.upstream, first[static_cast<size_t>(conv)]) << "turn " << turn << " conversation " << conv;
      EXPECT_TRUE(p.affinity_hit);
      r.release(p.upstream, AttemptOutcome::success, p.probe, 0);
    }
  }
  api::GatewayStats s = r.stats();
  EXPECT_EQ(s.affinity_hits, 12);
  EXPECT_EQ(s.affinity_misses, 3);
}

// The longest known prefix wins: a request that shares only the system prompt with one replica's
// conversation but its whole history with another's goes to the latter.
TEST(Router, TheLongestKnownPrefixDecides) {
  Router r(replicas(2), GatewayOptions{});
  ReplicaPick a = r.pick("m", {1, 2}, kNoneTried, 0);        // -> 0
  ReplicaPick b = r.pick("m", {1, 5, 6, 7}, kNoneTried, 0);  // shares 1 with a: to 0, within the bound
  ASSERT_EQ(a.upstream, 0);
  ASSERT_EQ(b.upstream, 0);
  r.release(0, AttemptOutcome::success, false, 0);
  r.release(0, AttemptOutcome::success, false, 0);
  // Conversation {1,2} moves to replica 1 (its retry after a failure on 0).
  ReplicaPick moved = r.pick("m", {1, 2, 3}, {0}, 0);
  ASSERT_EQ(moved.upstream, 1);
  r.release(1, AttemptOutcome::success, false, 0);
  // {1,2,3,4}: hash 3 (owned by 1) is longer than hash 1 or 2's.
  ReplicaPick p = r.pick("m", {1, 2, 3, 4}, kNoneTried, 0);
  EXPECT_EQ(p.upstream, 1);
  EXPECT_TRUE(p.affinity_hit);
  r.release(1, AttemptOutcome::success, false, 0);
  // Hash 1 now belongs to 1, but {1,5,6,7,8} still goes where its longer prefix (7) was served.
  EXPECT_EQ(serve(r, {1, 5, 6, 7, 8}), 0);
}

// The owner is passed over once it would run ahead of max(floor 2, 1.5 x the mean in flight).
TEST(Router, TheLoadBoundPassesOverAnOverloadedOwner) {
  Router r(replicas(2), GatewayOptions{});
  const std::vector<uint64_t> h = {7, 8};
  ReplicaPick p1 = r.pick("m", h, kNoneTried, 0);  // no owner: least loaded -> 0
  ReplicaPick p2 = r.pick("m", h, kNoneTried, 0);  // owner 0 at 1: 2 <= max(2, 1.5 x 1) -> 0
  ReplicaPick p3 = r.pick("m", h, kNoneTried, 0);  // owner 0 at 2: 3 > max(2, 1.5 x 1.5) -> 1
  EXPECT_EQ(p1.upstream, 0);
  EXPECT_FALSE(p1.affinity_hit);
  EXPECT_EQ(p2.upstream, 0);
  EXPECT_TRUE(p2.affinity_hit);
  EXPECT_EQ(p3.upstream, 1);
  EXPECT_FALSE(p3.affinity_hit);
  // The prefix now belongs to 1 (it served it last), which is within the bound.
  ReplicaPick p4 = r.pick("m", h, kNoneTried, 0);
  EXPECT_EQ(p4.upstream, 1);
  EXPECT_TRUE(p4.affinity_hit);
  api::GatewayStats s = r.stats();
  EXPECT_EQ(s.upstreams[0].in_flight, 2);
  EXPECT_EQ(s.upstreams[1].in_flight, 2);
  EXPECT_EQ(s.affinity_hits, 2);
  EXPECT_EQ(s.affinity_misses, 2);
}

TEST(Router, AffinityOffRotatesRoundRobinOverIdleReplicas) {
  Router r(replicas(3), affinity_off());
  std::vector<int> order;
  for (int i = 0; i < 6; i++) order.push_back(serve(r, {42, 43}));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 0, 1, 2}));
  api::GatewayStats s = r.stats();
  EXPECT_EQ(s.affinity_hits, 0);
  EXPECT_EQ(s.affinity_misses, 0);
}

TEST(Router, AffinityOffPrefersTheLeastOutstanding) {
  Router r(replicas(3), affinity_off());
  ReplicaPick a = r.pick("m", {}, kNoneTried, 0);
  ReplicaPick b = r.pick("m", {}, kNoneTried, 0);
  EXPECT_NE(a.upstream, b.upstream);
  r.release(a.upstream, AttemptOutcome::success, false, 0);
  // The idle ones (a's and the third) are preferred over b's, which is busy.
  for (int i = 0; i < 4; i++) EXPECT_NE(serve(r, {}), b.upstream);
}

TEST(Router, WeightsShareIdleTurnsAndLoad) {
  std::vector<UpstreamConfig> u = {replica("big", 3), replica("small", 1)};
  {
    Router r(u, affinity_off());
    std::map<int, int> n;
    for (int i = 0; i < 8; i++) n[serve(r, {})]++;
    EXPECT_EQ(n[0], 6);
    EXPECT_EQ(n[1], 2);
  }
  {
    // Held requests: least outstanding per unit of weight, so 3:1 in flight.
    Router r(u, affinity_off());
    for (int i = 0; i < 8; i++) ASSERT_GE(r.pick("m", {}, kNoneTried, 0).upstream, 0);
    api::GatewayStats s = r.stats();
    EXPECT_EQ(s.upstreams[0].in_flight, 6);
    EXPECT_EQ(s.upstreams[1].in_flight, 2);
  }
}

TEST(Router, MaxConcurrentSaturates) {
  Router r(replicas(2, /*max_concurrent=*/1), GatewayOptions{});
  ReplicaPick a = r.pick("m", {1}, kNoneTried, 0);
  ReplicaPick b = r.pick("m", {1}, kNoneTried, 0);  // the owner is full: the other one
  EXPECT_EQ(a.upstream, 0);
  EXPECT_EQ(b.upstream, 1);
  ReplicaPick c = r.pick("m", {1}, kNoneTried, 0);
  EXPECT_EQ(c.upstream, -1);
  EXPECT_EQ(c.why, NoReplica::saturated);
  r.release(a.upstream, AttemptOutcome::success, false, 0);
  EXPECT_EQ(r.pick("m", {1}, kNoneTried, 0).upstream, 0);
  // A full replica is still healthy.
  EXPECT_TRUE(r.healthy(0));
  EXPECT_TRUE(r.healthy(1));
}

TEST(Router, ConsecutiveFailuresEjectThenOneTrialAfterTheCoolDown) {
  GatewayOptions o;
  o.eject_after_failures = 3;
  o.eject_cooldown_s = 10;
  Router r(replicas(1), o);
  // A success in between resets the count.
  serve(r, {}, 0, AttemptOutcome::failure);
  serve(r, {}, 0, AttemptOutcome::failure);
  serve(r, {}, 0, AttemptOutcome::success);
  serve(r, {}, 0, AttemptOutcome::failure);
  serve(r, {}, 0, AttemptOutcome::failure);
  EXPECT_TRUE(r.healthy(0));
  serve(r, {}, 1, AttemptOutcome::failure);
  EXPECT_FALSE(r.healthy(0));
  EXPECT_EQ(r.stats().upstreams[0].ejections, 1);

  ReplicaPick none = r.pick("m", {}, kNoneTried, 5);
  EXPECT_EQ(none.upstream, -1);
  EXPECT_EQ(none.why, NoReplica::ejected);

  // After the cool-down: one trial at a time (half-open).
  ReplicaPick trial = r.pick("m", {}, kNoneTried, 11);
  EXPECT_EQ(trial.upstream, 0);
  EXPECT_TRUE(trial.probe);
  EXPECT_EQ(r.pick("m", {}, kNoneTried, 11).upstream, -1);
  // It fails: ejected again for another cool-down.
  r.release(0, AttemptOutcome::failure, true, 12);
  EXPECT_FALSE(r.healthy(0));
  EXPECT_EQ(r.stats().upstreams[0].ejections, 2);
  EXPECT_EQ(r.pick("m", {}, kNoneTried, 21).upstream, -1);
  // The next trial succeeds: re-admitted, no trial any more.
  trial = r.pick("m", {}, kNoneTried, 22);
  ASSERT_EQ(trial.upstream, 0);
  EXPECT_TRUE(trial.probe);
  r.release(0, AttemptOutcome::success, true, 22);
  EXPECT_TRUE(r.healthy(0));
  ReplicaPick normal = r.pick("m", {}, kNoneTried, 22);
  EXPECT_EQ(normal.upstream, 0);
  EXPECT_FALSE(normal.probe);
  ReplicaPick second = r.pick("m", {}, kNoneTried, 22);
  EXPECT_EQ(second.upstream, 0);
}

TEST(Router, ACancelledTrialLetsAnotherOneThrough) {
  GatewayOptions o;
  o.eject_after_failures = 1;
  Router r(replicas(1), o);
  serve(r, {}, 0, AttemptOutcome::failure);
  ReplicaPick trial = r.pick("m", {}, kNoneTried, 100);
  ASSERT_TRUE(trial.probe);
  r.release(0, AttemptOutcome::neutral, true, 100);
  EXPECT_FALSE(r.healthy(0));
  ReplicaPick again = r.pick("m", {}, kNoneTried, 100);
  EXPECT_EQ(again.upstream, 0);
  EXPECT_TRUE(again.probe);
}

TEST(Router, NeutralOutcomesAndZeroEjectAfterNeverEject) {
  {
    Router r(replicas(1), GatewayOptions{});
    for (int i = 0; i < 10; i++) serve(r, {}, 0, AttemptOutcome::neutral);  // 429s, cancels
    EXPECT_TRUE(r.healthy(0));
  }
  {
    GatewayOptions o;
    o.eject_after_failures = 0;
    Router r(replicas(1), o);
    for (int i = 0; i < 10; i++) serve(r, {}, 0, AttemptOutcome::failure);
    EXPECT_TRUE(r.healthy(0));
    EXPECT_EQ(r.stats().upstreams[0].ejections, 0);
  }
}

TEST(Router, AnEjectedReplicaIsPassedOverForTheOthers) {
  GatewayOptions o;
  o.eject_after_failures = 1;
  Router r(replicas(2), o);
  ReplicaPick a = r.pick("m", {5, 6}, kNoneTried, 0);
  ASSERT_EQ(a.upstream, 0);
  r.release(0, AttemptOutcome::failure, false, 0);
  // The conversation's owner is ejected: the other replica takes it (and then owns it).
  ReplicaPick b = r.pick("m", {5, 6, 7}, kNoneTried, 1);
  EXPECT_EQ(b.upstream, 1);
  EXPECT_FALSE(b.affinity_hit);
  EXPECT_FALSE(b.probe);
  r.release(1, AttemptOutcome::success, false, 1);
  EXPECT_EQ(serve(r, {5, 6, 7, 8}, 2), 1);
}

TEST(Router, HealthChecksEjectAndReadmit) {
  Router r(replicas(2), affinity_off());
  r.health_check(0, false, 0);
  EXPECT_FALSE(r.healthy(0));
  r.health_check(0, false, 1);  // still failing: one ejection
  EXPECT_EQ(r.stats().upstreams[0].ejections, 1);
  EXPECT_FALSE(r.stats().upstreams[0].healthy);
  // No cool-down trial while its checks fail, however long.
  for (int i = 0; i < 4; i++) EXPECT_EQ(serve(r, {}, 1000), 1);
  r.health_check(0, true, 1001);
  EXPECT_TRUE(r.healthy(0));
  std::map<int, int> n;
  for (int i = 0; i < 4; i++) n[serve(r, {}, 1001)]++;
  EXPECT_EQ(n[0], 2);
  EXPECT_EQ(n[1], 2);
  // Every replica failing its check: the request is refused as ejected, not saturated.
  r.health_check(0, false, 1002);
  r.health_check(1, false, 1002);
  ReplicaPick none = r.pick("m", {}, kNoneTried, 1002);
  EXPECT_EQ(none.upstream, -1);
  EXPECT_EQ(none.why, NoReplica::ejected);
}

TEST(Router, APassingHealthCheckReadmitsAPassivelyEjectedReplica) {
  GatewayOptions o;
  o.eject_after_failures = 1;
  o.eject_cooldown_s = 1000;
  Router r(replicas(1), o);
  serve(r, {}, 0, AttemptOutcome::failure);
  EXPECT_FALSE(r.healthy(0));
  r.health_check(0, true, 1);
  EXPECT_TRUE(r.healthy(0));
  ReplicaPick p = r.pick("m", {}, kNoneTried, 1);
  EXPECT_EQ(p.upstream, 0);
  EXPECT_FALSE(p.probe);
}

TEST(Router, TriedReplicasAreAvoidedWhileAnotherIsLeft) {
  Router r(replicas(3), GatewayOptions{});
  ASSERT_EQ(serve(r, {9}), 0);
  // The owner (0) failed this request: another one, even though 0 owns the prefix.
  ReplicaPick p = r.pick("m", {9}, {0}, 0);
  EXPECT_NE(p.upstream, 0);
  EXPECT_GE(p.upstream, 0);
  r.release(p.upstream, AttemptOutcome::success, false, 0);
  ReplicaPick q = r.pick("m", {9}, {0, 1}, 0);
  EXPECT_EQ(q.upstream, 2);
  r.release(2, AttemptOutcome::success, false, 0);
  // All tried: any usable one again (the retry goes back to a replica that failed).
  ReplicaPick any = r.pick("m", {9}, {0, 1, 2}, 0);
  EXPECT_GE(any.upstream, 0);
  r.release(any.upstream, AttemptOutcome::success, false, 0);
  // A single replica: retried there.
  Router solo(replicas(1), GatewayOptions{});
  EXPECT_EQ(solo.pick("m", {9}, {0}, 0).upstream, 0);
}

TEST(Router, TheAffinityTableKeepsTheMostRecentEntries) {
  GatewayOptions o;
  o.affinity_entries = 4;
  Router r(replicas(2), o);
  ReplicaPick a = r.pick("m", {100, 101}, kNoneTried, 0);
  ReplicaPick b = r.pick("m", {200, 201}, kNoneTried, 0);
  ASSERT_EQ(a.upstream, 0);
  ASSERT_EQ(b.upstream, 1);
  r.release(0, AttemptOutcome::success, false, 0);
  r.release(1, AttemptOutcome::success, false, 0);
  // Two more hashes push out the least recent two (a's).
  serve(r, {300, 301});
  ReplicaPick b2 = r.pick("m", {200, 201, 202}, kNoneTried, 0);
  EXPECT_TRUE(b2.affinity_hit);
  EXPECT_EQ(b2.upstream, 1);
  r.release(1, AttemptOutcome::success, false, 0);
  ReplicaPick a2 = r.pick("m", {100, 101, 102}, kNoneTried, 0);
  EXPECT_FALSE(a2.affinity_hit);
}

TEST(Router, StatsCountAttemptsByStatusAndRetries) {
  Router r(replicas(2), GatewayOptions{});
  ReplicaPick p = r.pick("m", {}, kNoneTried, 0);
  EXPECT_EQ(r.stats().upstreams[static_cast<size_t>(p.upstream)].in_flight, 1);
  r.count_attempt(0, "200");
  r.count_attempt(0, "200");
  r.count_attempt(0, "error");
  r.count_retry(0);
  api::GatewayStats s = r.stats();
  ASSERT_EQ(s.upstreams.size(), 2u);
  EXPECT_EQ(s.upstreams[0].name, "r0");
  EXPECT_EQ(s.upstreams[0].requests, (std::vector<std::pair<std::string, int64_t>>{{"200", 2}, {"error", 1}}));
  EXPECT_EQ(s.upstreams[0].retries, 1);
  EXPECT_TRUE(s.upstreams[1].requests.empty());
}

}  // namespace
}  // namespace parley::upstream
