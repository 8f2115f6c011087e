// The gateway's prefix hashes (prefix-affinity routing): requests that share a conversation
// prefix share the leading hashes; what does not reach the prompt does not change them.
#include <gtest/gtest.h>

#include "api/anthropic-request.h"
#include "api/openai-request.h"
#include "upstream/prefix-hash.h"

namespace parley::upstream {
namespace {

std::vector<uint64_t> hashes_of(const std::string& body, size_t max_hashes = 32) {
  auto j = json::parse(body);
  EXPECT_TRUE(j.ok()) << body;
  auto req = api::parse_anthropic_request(*j, api::AnthropicEndpoint::messages);
  EXPECT_TRUE(req.ok()) << req.error().message;
  return prefix_hashes(*req, max_hashes);
}

std::string request(const std::string& messages, const std::string& extra = "") {
  return R"({"model":"m","max_tokens":16,"system":"You are terse.",)" + extra + R"("messages":[)" + messages + "]}";
}

const std::string kTurn1 = R"({"role":"user","content":"What is 2+2?"})";
const std::string kTurn2 = kTurn1 + R"(,{"role":"assistant","content":"4"},{"role":"user","content":"And 3+3?"})";

TEST(PrefixHash, OneHashForTheHeadThenOnePerMessage) {
  EXPECT_EQ(hashes_of(request(kTurn1)).size(), 2u);
  EXPECT_EQ(hashes_of(request(kTurn2)).size(), 4u);
}

TEST(PrefixHash, TheNextTurnStartsWithThePreviousTurnsHashes) {
  std::vector<uint64_t> a = hashes_of(request(kTurn1));
  std::vector<uint64_t> b = hashes_of(request(kTurn2));
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0], a[0]);
  EXPECT_EQ(b[1], a[1]);
  EXPECT_NE(b[2], b[1]);
  // A different question after the same head shares only hash 0.
  std::vector<uint64_t> c = hashes_of(request(R"({"role":"user","content":"What is 5+5?"})"));
  EXPECT_EQ(c[0], a[0]);
  EXPECT_NE(c[1], a[1]);
}

TEST(PrefixHash, TheSystemPromptToolsAndModelDecideTheFirstHash) {
  const uint64_t base = hashes_of(request(kTurn1))[0];
  std::string other_system = R"({"model":"m","max_tokens":16,"system":"You are verbose.","messages":[)" + kTurn1 + "]}";
  EXPECT_NE(hashes_of(other_system)[0], base);
  std::string other_model = R"({"model":"n","max_tokens":16,"system":"You are terse.","messages":[)" + kTurn1 + "]}";
  EXPECT_NE(hashes_of(other_model)[0], base);
  const std::string tool = R"("tools":[{"name":"calc","description":"adds","input_schema":{"type":"object"}}],)";
  const uint64_t with_tool = hashes_of(request(kTurn1, tool))[0];
  EXPECT_NE(with_tool, base);
  const std::string other_tool = R"("tools":[{"name":"calc","description":"multiplies","input_schema":{"type":"object"}}],)";
  EXPECT_NE(hashes_of(request(kTurn1, other_tool))[0], with_tool);
  // The same messages after a different head differ everywhere.
  EXPECT_NE(hashes_of(other_system)[1], hashes_of(request(kTurn1))[1]);
}

TEST(PrefixHash, CacheControlAndSamplingDoNotChangeTheHashes) {
  const std::vector<uint64_t> plain = hashes_of(request(kTurn2));
  EXPECT_EQ(hashes_of(request(kTurn2, R"("temperature":0.2,"top_k":5,"top_p":0.9,"stream":true,)"
                                      R"("stop_sequences":["END"],"metadata":{"user_id":"u1"},)")),
            plain);
  std::string max_tokens = request(kTurn2);
  max_tokens.replace(max_tokens.find("16"), 2, "900");
  EXPECT_EQ(hashes_of(max_tokens), plain);
  // cache_control on the system block and on the last user block, with TTLs.
  const std::string cached =
      R"({"model":"m","max_tokens":16,"system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[)" +
      kTurn1 +
      R"(,{"role":"assistant","content":"4"},{"role":"user","content":[{"type":"text","text":"And 3+3?","cache_control":{"type":"ephemeral"}}]}]})";
  EXPECT_EQ(hashes_of(cached), plain);
}

TEST(PrefixHash, ToolCallsAndResultsAreHashed) {
  const std::string call =
      kTurn1 + R"(,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"calc","input":{"a":2}}]},)";
  const uint64_t a = hashes_of(request(call + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"4"}]})"))[3];
  const uint64_t b = hashes_of(request(call + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"5"}]})"))[3];
  EXPECT_NE(a, b);
  const std::string other_args =
      kTurn1 + R"(,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"calc","input":{"a":3}}]},)";
  EXPECT_NE(hashes_of(request(other_args + R"({"role":"user","content":"ok"})"))[2],
            hashes_of(request(call + R"({"role":"user","content":"ok"})"))[2]);
}

TEST(PrefixHash, LongConversationsKeepTheHeadAndTheTail) {
  std::string messages = kTurn1;
  for (int i = 0; i < 20; i++) {
    messages += R"(,{"role":"assistant","content":"a)" + std::to_string(i) + R"("},{"role":"user","content":"u)" +
                std::to_string(i) + R"("})";
  }
  const std::vector<uint64_t> all = hashes_of(request(messages), 100);
  ASSERT_EQ(all.size(), 42u);
  const std::vector<uint64_t> kept = hashes_of(request(messages), 8);
  ASSERT_EQ(kept.size(), 8u);
  EXPECT_EQ(kept[0], all[0]);
  EXPECT_EQ(std::vector<uint64_t>(kept.begin() + 1, kept.end()), std::vector<uint64_t>(all.end() - 7, all.end()));
  EXPECT_TRUE(prefix_hashes(api::ChatRequest{}, 0).empty());
}

// The chain is over the IR, so an OpenAI client's conversation hashes like the same Anthropic one.
TEST(PrefixHash, BothClientApisHashTheSameConversationAlike) {
  auto j = json::parse(R"({"model":"m","max_tokens":16,"messages":[{"role":"system","content":"You are terse."},)"
                       R"({"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"},)"
                       R"({"role":"user","content":"And 3+3?"}]})");
  ASSERT_TRUE(j.ok());
  auto req = api::parse_openai_request(*j);
  ASSERT_TRUE(req.ok()) << req.error().message;
  EXPECT_EQ(prefix_hashes(*req), hashes_of(request(kTurn2)));
}

}  // namespace
}  // namespace parley::upstream
