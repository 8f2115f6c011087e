// The /metrics registry: exposition text shape, cumulative histogram buckets, endpoint labels.
#include "api/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

namespace parley::api {
namespace {

// name -> value for every sample line ("name{labels} value"); fails on any other line.
std::map<std::string, double> parse(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_]+="[^"]*"(,[a-zA-Z_]+="[^"]*")*\})?) (\S+)$)");
  static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, comment)) continue;
    EXPECT_TRUE(std::regex_match(line, m, sample)) << line;
    if (m.empty()) continue;
    const std::string v = m[4];
    out[m[1]] = v == "+Inf" ? 1e308 : std::stod(v);
  }
  return out;
}

TEST(Metrics, EndpointLabels) {
  EXPECT_EQ(metrics_endpoint("/v1/messages"), "/v1/messages");
  EXPECT_EQ(metrics_endpoint("/v1/messages/count_tokens"), "/v1/messages/count_tokens");
  EXPECT_EQ(metrics_endpoint("/v1/chat/completions"), "/v1/chat/completions");
  EXPECT_EQ(metrics_endpoint("/v1/models/abc"), "/v1/models");
  EXPECT_EQ(metrics_endpoint("/nope"), "other");
}

TEST(Metrics, RenderParsesAndCounts) {
  Metrics m;
  m.count_request("/v1/messages", 200);
  m.count_request("/v1/messages", 200);
  m.count_request("/v1/models/x", 404);
  for (double v : {0.005, 0.02, 0.02, 3.0, 100.0}) m.observe_time_to_first_token(v);
  m.observe_inter_token_latency(0.003);
  engine::EngineStats e;
  e.n_tokens_prompt = 40;
  e.n_tokens_cached = 10;
  e.n_kv_blocks_free = 7;
  const std::string text = m.render(e);
  auto s = parse(text);
  EXPECT_EQ(s["parley_requests_total{endpoint=\"/v1/messages\",status=\"200\"}"], 2);
  EXPECT_EQ(s["parley_requests_total{endpoint=\"/v1/models\",status=\"404\"}"], 1);
  EXPECT_EQ(s["parley_prompt_tokens_total"], 40);
  EXPECT_EQ(s["parley_cached_prompt_tokens_total"], 10);
  EXPECT_DOUBLE_EQ(s["parley_prefix_cache_hit_ratio"], 0.25);
  EXPECT_EQ(s["parley_kv_blocks{state=\"free\"}"], 7);
  EXPECT_EQ(s["parley_time_to_first_token_seconds_count"], 5);
  EXPECT_DOUBLE_EQ(s["parley_time_to_first_token_seconds_sum"], 103.045);
  EXPECT_EQ(s["parley_time_to_first_token_seconds_bucket{le=\"0.01\"}"], 1);
  EXPECT_EQ(s["parley_time_to_first_token_seconds_bucket{le=\"0.025\"}"], 3);
  EXPECT_EQ(s["parley_time_to_first_token_seconds_bucket{le=\"5\"}"], 4);
  EXPECT_EQ(s["parley_time_to_first_token_seconds_bucket{le=\"+Inf\"}"], 5);
  EXPECT_EQ(s["parley_inter_token_latency_seconds_count"], 1);
  // Buckets are cumulative: never decreasing, ending at _count.
  double prev = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("parley_time_to_first_token_seconds_bucket", 0) != 0) continue;
    double v = std::stod(line.substr(line.rfind(' ') + 1));
    EXPECT_GE(v, prev) << line;
    prev = v;
  }
  EXPECT_EQ(prev, 5);
  for (const char* name : {"parley_queue_depth", "parley_running_sequences", "parley_preemptions_total",
                           "parley_kv_evictions_total", "parley_generated_tokens_total"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace parley::api
