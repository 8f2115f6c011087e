// Golden translation tests for the gateway's anthropic / parley upstreams: client requests (both
// APIs) → the Messages request sent upstream, field by field; and Anthropic streams of the
// documented shapes (text with cache usage, thinking with signature_delta, tool_use with
// input_json_delta, redacted_thinking, stop_sequence, ping, an error event, a broken-off
// stream) → the exact Anthropic SSE (and OpenAI SSE) the server's own emitters produce, fed in
// pieces split at every byte boundary.
//
// PARLEY_UPDATE_GOLDEN=1 rewrites the expected files (review the diff).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/anthropic-request.h"
#include "api/anthropic-stream.h"
#include "api/openai-request.h"
#include "api/openai-stream.h"
#include "upstream/anthropic-messages-reader.h"
#include "upstream/anthropic-messages-request.h"
#include "upstream/sse-reader.h"

namespace parley::upstream {
namespace {

std::string data_path(const std::string& name) {
  return std::string(PARLEY_SOURCE_DIR) + "/tests/data/upstream/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void expect_golden(const std::string& name, const std::string& got) {
  const std::string path = data_path(name);
  if (std::getenv("PARLEY_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << got;
    return;
  }
  EXPECT_EQ(read_file(path), got) << "golden file " << name;
}

json::WriteOptions pretty() {
  json::WriteOptions o;
  o.indent = 2;
  return o;
}

// --- requests -------------------------------------------------------------------------------

api::ChatRequest parse(std::string_view body, bool openai_client = false) {
  auto v = json::parse(body);
  EXPECT_TRUE(v.ok()) << v.error().message;
  auto req = openai_client ? api::parse_openai_request(*v)
                           : api::parse_anthropic_request(*v, api::AnthropicEndpoint::messages);
  EXPECT_TRUE(req.ok()) << req.error().message;
  return req.ok() ? std::move(req).value() : api::ChatRequest{};
}

json::Value translate(const api::ChatRequest& req, AnthropicMessagesOptions o = {}) {
  json::Value out;
  api::ApiError err;
  EXPECT_TRUE(to_anthropic_messages(req, o, out, err)) << err.message;
  return out;
}

// The refusal of `body`: its param and message.
api::ApiError refusal(std::string_view body, bool openai_client = false, AnthropicMessagesOptions o = {}) {
  api::ChatRequest req = parse(body, openai_client);
  json::Value out;
  api::ApiError err;
  EXPECT_FALSE(to_anthropic_messages(req, o, out, err)) << json::write(out);
  EXPECT_EQ(err.kind, api::ErrorKind::invalid_request);
  return err;
}

void translate_golden(const std::string& name, bool openai_client = false) {
  api::ChatRequest req = parse(read_file(data_path(name + ".request.json")), openai_client);
  expect_golden(name + ".anthropic.json", json::write(translate(req), pretty()) + "\n");
}

TEST(AnthropicMessagesRequest, AnthropicClientEveryBlockKind) { translate_golden("anthropic-translate-full"); }
TEST(AnthropicMessagesRequest, OpenAIClient) { translate_golden("anthropic-translate-openai-client", true); }

TEST(AnthropicMessagesRequest, ThinkingSignaturesAndToolIdsGoBackUnchanged) {
  api::ChatRequest req = parse(read_file(data_path("anthropic-translate-full.request.json")));
  json::Value out = translate(req);
  const json::Value& assistant = out.find("messages")->as_array().at(1);
  ASSERT_EQ(assistant.find("role")->as_string(), "assistant");
  const auto& blocks = assistant.find("content")->as_array();
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(blocks[0].find("type")->as_string(), "thinking");
  EXPECT_EQ(blocks[0].find("signature")->as_string(),
            "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+BQ9jkqfnyp8PaNVD4S8VhbLhDrPRLUEr/E+yPAPw==");
  EXPECT_EQ(blocks[1].find("type")->as_string(), "redacted_thinking");
  EXPECT_EQ(blocks[3].find("id")->as_string(), "toolu_01A09q90qw90lq917835lq9");
  const json::Value& results = out.find("messages")->as_array().at(2);
  EXPECT_EQ(results.find("content")->as_array().at(0).find("tool_use_id")->as_string(), "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(out.find("stream")->as_bool(), true);  // always streamed, whatever the client asked
}

TEST(AnthropicMessagesRequest, FoldedTurnsDoNotMakeBlankBlocks) {
  // Two user turns in a row are folded with a "\n\n" part: it joins the text, no blank block.
  api::ChatRequest req = parse(R"({"model":"m","max_tokens":5,"system":"a","messages":[
    {"role":"user","content":"one"},{"role":"user","content":"two"},
    {"role":"system","content":"b"}]})");
  json::Value out = translate(req);
  EXPECT_EQ(json::write(*out.find("messages")),
            R"([{"role":"user","content":[{"type":"text","text":"one\n\n"},{"type":"text","text":"two"}]}])");
  EXPECT_EQ(json::write(*out.find("system")), R"([{"type":"text","text":"a\n\n"},{"type":"text","text":"b"}])");
}

TEST(AnthropicMessagesRequest, OperatorCapLowersMaxTokensAndStandsInForAMissingOne) {
  AnthropicMessagesOptions o;
  o.max_output_tokens = 64;
  EXPECT_EQ(translate(parse(R"({"model":"m","max_tokens":500,"messages":[{"role":"user","content":"hi"}]})"), o)
                .find("max_tokens")
                ->as_int(),
            64);
  EXPECT_EQ(translate(parse(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", true), o)
                .find("max_tokens")
                ->as_int(),
            64);
  api::ApiError e = refusal(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", true);
  EXPECT_EQ(e.param, "max_tokens");
}

TEST(AnthropicMessagesRequest, SeedOnlyForParleyUpstreams) {
  const char* body = R"({"model":"m","max_tokens":5,"seed":7,"messages":[{"role":"user","content":"hi"}]})";
  api::ApiError e = refusal(body);
  EXPECT_EQ(e.param, "seed");
  EXPECT_NE(e.message.find("NAME=parley"), std::string::npos) << e.message;
  AnthropicMessagesOptions parley;
  parley.parley_extensions = true;
  EXPECT_EQ(translate(parse(body), parley).find("seed")->as_int(), 7);
}

TEST(AnthropicMessagesRequest, WhatHasNoAnthropicFieldIsRefusedByName) {
  EXPECT_EQ(refusal(R"({"model":"m","max_tokens":5,"min_p":0.1,"messages":[{"role":"user","content":"hi"}]})", true).param,
            "min_p");
  EXPECT_EQ(refusal(R"({"model":"m","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"hi"}]})", true)
                .param,
            "temperature");
  EXPECT_EQ(refusal(R"({"model":"m","max_tokens":5,"reasoning_effort":"minimal","messages":[{"role":"user","content":"hi"}]})",
                    true)
                .param,
            "reasoning_effort");
}

TEST(AnthropicMessagesRequest, FoldedContentIsRefusedNotSentLossy) {
  api::ApiError e = refusal(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],
    "tools":[{"type":"web_search_20250305","name":"web_search"}]})");
  EXPECT_EQ(e.param, "tools.0");
  EXPECT_NE(e.message.find("tools.0: the Anthropic-defined tool 'web_search_20250305' is not relayed"), std::string::npos)
      << e.message;
  e = refusal(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"},
    {"role":"assistant","content":"x","reasoning_content":"thought"},{"role":"user","content":"again"}]})",
              true);
  EXPECT_EQ(e.param, "messages[1].reasoning_content");
  e = refusal(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
    {"type":"document","source":{"type":"text","media_type":"text/plain","data":"d"},"citations":{"enabled":true}}]}]})");
  EXPECT_EQ(e.param, "messages.0.content.0.citations");
  e = refusal(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[
    {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}}]},{"role":"user","content":"q"}]})");
  EXPECT_EQ(e.param, "messages.1.content.0");
}

// --- streams --------------------------------------------------------------------------------

// Feeds the recorded stream in `split`-byte pieces through the SSE reader and the event reader
// into `emitter`, as the gateway does.
void replay(const std::string& name, api::Emitter& emitter, size_t split, bool length_ends_turn = false) {
  AnthropicReaderOptions o;
  o.upstream = "u";
  o.length_ends_turn = length_ends_turn;
  o.scrub = [](std::string s) { return s; };
  AnthropicMessagesReader reader(o);
  SseReader sse;
  const std::string bytes = read_file(data_path(name + ".sse"));
  std::vector<std::string> events;
  auto handle = [&] {
    for (const auto& d : events) {
      if (reader.finished()) break;
      auto ev = json::parse(d);
      ASSERT_TRUE(ev.ok()) << ev.error().message;
      reader.chunk(*ev, emitter);
    }
    events.clear();
  };
  for (size_t at = 0; at < bytes.size(); at += split) {
    sse.push(std::string_view(bytes).substr(at, split), events);
    handle();
  }
  sse.finish(events);
  handle();
  reader.end(emitter);  // the body ended
  EXPECT_TRUE(emitter.done());
}

void stream_golden(const std::string& name) {
  std::string whole;
  {
    api::AnthropicSseEncoder sse;
    api::AnthropicEmitter emitter("msg_gw", "claude-gw", "req_gw", 0, sse);
    replay(name, emitter, size_t{1} << 20);
    whole = sse.take();
    expect_golden(name + ".anthropic.sse", whole);
  }
  // Every split point: the bytes may arrive cut anywhere.
  const size_t size = read_file(data_path(name + ".sse")).size();
  for (size_t split = 1; split < size; split += split < 16 ? 1 : 37) {
    api::AnthropicSseEncoder sse;
    api::AnthropicEmitter emitter("msg_gw", "claude-gw", "req_gw", 0, sse);
    replay(name, emitter, split);
    ASSERT_EQ(whole, sse.take()) << "split " << split;
  }
  api::OpenAISseEncoder osse;
  api::OpenAIEmitter oe("chatcmpl-gw", "gw-model", 1, true, osse);
  replay(name, oe, 13);
  expect_golden(name + ".openai.sse", osse.take());
}

TEST(AnthropicMessagesReader, TextWithCacheUsageAndPing) { stream_golden("anthropic-text"); }
TEST(AnthropicMessagesReader, ThinkingSignatureAndStreamedToolUse) { stream_golden("anthropic-thinking-tools"); }
TEST(AnthropicMessagesReader, RedactedThinkingStopSequenceCrLf) { stream_golden("anthropic-redacted-stop"); }
TEST(AnthropicMessagesReader, ErrorEventMidStream) { stream_golden("anthropic-error"); }
TEST(AnthropicMessagesReader, BrokenOffStreamEndsWithAnErrorEvent) { stream_golden("anthropic-truncated"); }

TEST(AnthropicMessagesReader, FoldedMessageKeepsUpstreamIdsSignatureAndUsage) {
  api::AnthropicFold fold;
  api::AnthropicEmitter e("msg", "m", "req", 0, fold);
  replay("anthropic-thinking-tools", e, 64);
  const json::Value& m = fold.message();
  EXPECT_EQ(m.find("stop_reason")->as_string(), "tool_use");
  const auto& content = m.find("content")->as_array();
  ASSERT_EQ(content.size(), 4u);
  EXPECT_EQ(content[0].find("signature")->as_string(),
            "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+BQ9jkqfnyp8PaNVD4S8VhbLhDrPRLUEr/E+yPAPw==");
  EXPECT_EQ(content[2].find("id")->as_string(), "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  EXPECT_EQ(json::write(*content[2].find("input")), R"({"location":"San Francisco, CA","unit":"fahrenheit"})");
  EXPECT_EQ(json::write(*content[3].find("input")), "{}");
  EXPECT_EQ(m.find("usage")->find("input_tokens")->as_int(), 472);
  EXPECT_EQ(m.find("usage")->find("output_tokens")->as_int(), 89);

  api::AnthropicFold text;
  api::AnthropicEmitter te("msg", "m", "req", 0, text);
  replay("anthropic-text", te, 64);
  const json::Value& u = *text.message().find("usage");
  EXPECT_EQ(u.find("input_tokens")->as_int(), 25);
  EXPECT_EQ(u.find("cache_read_input_tokens")->as_int(), 2048);
  EXPECT_EQ(u.find("cache_creation_input_tokens")->as_int(), 100);
}

TEST(AnthropicMessagesReader, StopReasonsAndTheOperatorCap) {
  auto stop_of = [](std::string_view reason, bool length_ends_turn) {
    AnthropicReaderOptions o;
    o.upstream = "u";
    o.length_ends_turn = length_ends_turn;
    AnthropicMessagesReader r(o);
    api::AnthropicFold fold;
    api::AnthropicEmitter e("msg", "m", "req", 0, fold);
    for (std::string ev : {std::string(R"({"type":"message_start","message":{"usage":{"input_tokens":1}}})"),
                           R"({"type":"message_delta","delta":{"stop_reason":")" + std::string(reason) +
                               R"("},"usage":{"output_tokens":3}})",
                           std::string(R"({"type":"message_stop"})")}) {
      r.chunk(*json::parse(ev), e);
    }
    const json::Value* s = fold.message().find("stop_reason");
    return s != nullptr && s->is_string() ? s->as_string() : std::string("(none)");
  };
  EXPECT_EQ(stop_of("refusal", false), "refusal");
  EXPECT_EQ(stop_of("pause_turn", false), "pause_turn");
  EXPECT_EQ(stop_of("model_context_window_exceeded", false), "model_context_window_exceeded");
  EXPECT_EQ(stop_of("max_tokens", false), "max_tokens");
  EXPECT_EQ(stop_of("max_tokens", true), "end_turn");
  EXPECT_EQ(stop_of("something_new", false), "end_turn");
}

TEST(AnthropicMessagesReader, ErrorEventKeepsTheKindAndScrubsTheKey) {
  AnthropicReaderOptions o;
  o.upstream = "u";
  o.scrub = [](std::string s) {
    for (size_t at = s.find("sk-secret"); at != std::string::npos; at = s.find("sk-secret")) s.replace(at, 9, "***");
    return s;
  };
  AnthropicMessagesReader r(o);
  api::AnthropicSseEncoder sse;
  api::AnthropicEmitter e("msg", "m", "req", 0, sse);
  r.chunk(*json::parse(R"j({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 9 tokens > 5 maximum (key sk-secret)"}})j"),
          e);
  const std::string out = sse.take();
  EXPECT_NE(out.find(R"j("type":"invalid_request_error","message":"prompt is too long: 9 tokens > 5 maximum (key ***)")j"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("sk-secret"), std::string::npos);
}

}  // namespace
}  // namespace parley::upstream
