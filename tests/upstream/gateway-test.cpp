// The Gateway's refusals before any attempt: every replica full or ejected (529
// overloaded_error), a request the chosen replica's protocol cannot express (400), an unknown
// model (404) — each leaving no slot held. Nothing here reaches the network: the upstream's
// address is never connected to.
#include <gtest/gtest.h>

#include "api/anthropic-request.h"
#include "upstream/gateway.h"

namespace parley::upstream {
namespace {

UpstreamConfig upstream(const std::string& name, int max_concurrent = 0) {
  UpstreamConfig u;
  u.name = name;
  u.url = "http://127.0.0.1:9";
  u.endpoint.host = "127.0.0.1";
  u.endpoint.port = 9;
  u.models = {"m"};
  u.max_concurrent = max_concurrent;
  return u;
}

api::ChatRequest parse(const std::string& body) {
  auto j = json::parse(body);
  EXPECT_TRUE(j.ok());
  auto req = api::parse_anthropic_request(*j, api::AnthropicEndpoint::messages);
  EXPECT_TRUE(req.ok()) << req.error().message;
  return *req;
}

const std::string kHello = R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})";

int64_t in_flight(const Gateway& g, size_t i) { return g.stats().upstreams[i].in_flight; }

TEST(Gateway, EveryReplicaFullIsA529AndHoldsNoSlot) {
  Gateway g({upstream("a", 1), upstream("b", 1)});
  ReplicaPick pa = g.pick("m", {}, {});
  ReplicaPick pb = g.pick("m", {}, {});
  ASSERT_GE(pa.upstream, 0);
  ASSERT_GE(pb.upstream, 0);
  api::ApiError err;
  EXPECT_EQ(g.start(parse(kHello), api::UpstreamCall{}, err), nullptr);
  EXPECT_EQ(err.kind, api::ErrorKind::overloaded);
  EXPECT_NE(err.message.find("every upstream of model 'm' is at its concurrency limit"), std::string::npos)
      << err.message;
  EXPECT_EQ(in_flight(g, 0), 1);
  EXPECT_EQ(in_flight(g, 1), 1);
  g.release(pa.upstream, AttemptOutcome::success, false, "200");
  g.release(pb.upstream, AttemptOutcome::success, false, "200");
  EXPECT_EQ(in_flight(g, 0), 0);
  EXPECT_EQ(in_flight(g, 1), 0);
}

TEST(Gateway, EveryReplicaEjectedIsA529) {
  GatewayOptions o;
  o.eject_after_failures = 1;
  o.eject_cooldown_s = 1000;
  Gateway g({upstream("a")}, o);
  ReplicaPick p = g.pick("m", {}, {});
  ASSERT_EQ(p.upstream, 0);
  g.release(0, AttemptOutcome::failure, false, "error");
  api::GatewayStats s = g.stats();
  EXPECT_FALSE(s.upstreams[0].healthy);
  EXPECT_EQ(s.upstreams[0].ejections, 1);
  api::ApiError err;
  EXPECT_EQ(g.start(parse(kHello), api::UpstreamCall{}, err), nullptr);
  EXPECT_EQ(err.kind, api::ErrorKind::overloaded);
  EXPECT_NE(err.message.find("no healthy upstream for model 'm'"), std::string::npos) << err.message;
  EXPECT_EQ(in_flight(g, 0), 0);
}

TEST(Gateway, ARequestTheReplicaCannotExpressGivesBackItsSlot) {
  Gateway g({upstream("a", 1)});
  api::ApiError err;
  api::ChatRequest image = parse(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]})");
  EXPECT_EQ(g.start(image, api::UpstreamCall{}, err), nullptr);
  EXPECT_EQ(err.kind, api::ErrorKind::invalid_request);
  EXPECT_EQ(in_flight(g, 0), 0);
  EXPECT_TRUE(g.stats().upstreams[0].requests.empty()) << "nothing was sent";
  // The slot is free again for the next request.
  EXPECT_EQ(g.pick("m", {}, {}).upstream, 0);
}

TEST(Gateway, AnUnknownModelIsNotFound) {
  Gateway g({upstream("a")});
  api::ApiError err;
  EXPECT_EQ(g.start(parse(R"({"model":"x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})"),
                    api::UpstreamCall{}, err),
            nullptr);
  EXPECT_EQ(err.kind, api::ErrorKind::not_found);
  EXPECT_FALSE(g.serves("x"));
  EXPECT_TRUE(g.serves("m"));
}

}  // namespace
}  // namespace parley::upstream
