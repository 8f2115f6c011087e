// Golden translation tests for the gateway's openai-chat upstreams, from documented response
// shapes: Anthropic request JSON → the OpenAI chat request sent upstream, and recorded OpenAI
// streams (vLLM with reasoning_content and streamed tool_calls, llama-server, stop strings) →
// the exact Anthropic SSE (and OpenAI SSE) the server's own emitters produce.
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
#include "upstream/openai-chat-reader.h"
#include "upstream/openai-chat-request.h"
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

// Compares with the golden file, or rewrites it under PARLEY_UPDATE_GOLDEN.
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

void translate_golden(const std::string& name, bool openai_client = false) {
  auto body = json::parse(read_file(data_path(name + ".request.json")));
  ASSERT_TRUE(body.ok()) << body.error().message;
  auto req = openai_client ? api::parse_openai_request(*body)
                           : api::parse_anthropic_request(*body, api::AnthropicEndpoint::messages);
  ASSERT_TRUE(req.ok()) << req.error().message;
  json::Value out;
  api::ApiError err;
  ASSERT_TRUE(to_openai_chat(*req, OpenAIChatOptions{}, out, err)) << err.message;
  expect_golden(name + ".openai.json", json::write(out, pretty()) + "\n");
}

TEST(OpenAIChatRequest, AnthropicWithToolsThinkingAndHistory) { translate_golden("translate-tools"); }
TEST(OpenAIChatRequest, AnthropicNamedToolNoParallelStopsPrefill) { translate_golden("translate-named-tool"); }
TEST(OpenAIChatRequest, OpenAIClientRequest) { translate_golden("translate-openai-client", true); }

TEST(OpenAIChatRequest, ImagesAreRefusedNamingTheBlock) {
  auto body = json::parse(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
    {"type":"text","text":"what is this"},
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]})");
  ASSERT_TRUE(body.ok());
  auto req = api::parse_anthropic_request(*body, api::AnthropicEndpoint::messages);
  ASSERT_TRUE(req.ok()) << req.error().message;
  json::Value out;
  api::ApiError err;
  EXPECT_FALSE(to_openai_chat(*req, OpenAIChatOptions{}, out, err));
  EXPECT_EQ(err.kind, api::ErrorKind::invalid_request);
  EXPECT_EQ(err.param, "messages.0.content.1");
  EXPECT_NE(err.message.find("messages.0.content.1: an image (image/png) is not translated"), std::string::npos) << err.message;
}

TEST(OpenAIChatRequest, OperatorCapLowersMaxTokens) {
  auto body = json::parse(R"({"model":"m","max_tokens":500,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(body.ok());
  auto req = api::parse_anthropic_request(*body, api::AnthropicEndpoint::messages);
  ASSERT_TRUE(req.ok());
  json::Value out;
  api::ApiError err;
  OpenAIChatOptions o;
  o.max_output_tokens = 64;
  ASSERT_TRUE(to_openai_chat(*req, o, out, err));
  EXPECT_EQ(out.find("max_tokens")->as_int(), 64);
}

// --- streams --------------------------------------------------------------------------------

struct Replay {
  std::string sse;
  bool finished = false;
};

// Feeds the recorded stream in `split`-byte pieces through the SSE reader and the chunk reader
// into `emitter`, as the gateway does.
void replay(const std::string& name, api::Emitter& emitter, std::vector<std::string> stops, size_t split) {
  ReaderOptions o;
  o.stop_sequences = std::move(stops);
  int n_ids = 0;
  o.new_tool_id = [&n_ids] { return "toolu_gw" + std::to_string(n_ids++); };
  o.sign_thinking = [](std::string_view t) { return "sig:" + std::to_string(t.size()); };
  OpenAIChatReader reader(o);
  SseReader sse;
  const std::string bytes = read_file(data_path(name + ".sse"));
  std::vector<std::string> events;
  auto handle = [&] {
    for (const auto& d : events) {
      if (reader.finished()) break;
      if (d == "[DONE]") {
        reader.end(emitter);
        continue;
      }
      auto chunk = json::parse(d);
      ASSERT_TRUE(chunk.ok()) << chunk.error().message;
      reader.chunk(*chunk, emitter);
    }
    events.clear();
  };
  for (size_t at = 0; at < bytes.size(); at += split) {
    sse.push(std::string_view(bytes).substr(at, split), events);
    handle();
  }
  sse.finish(events);
  handle();
  // The body ended: what did not finish is a broken stream.
  if (!reader.finished()) reader.fail(api::ErrorKind::api_error, "upstream u: the answer broke off", emitter);
  EXPECT_TRUE(emitter.done());
}

void stream_golden(const std::string& name, std::vector<std::string> stops = {}) {
  std::string first;
  for (size_t split : {size_t{100000}, size_t{7}, size_t{1}}) {
    api::AnthropicSseEncoder sse;
    api::AnthropicEmitter emitter("msg_gw", "claude-gw", "req_gw", 0, sse);
    replay(name, emitter, stops, split);
    std::string got = sse.take();
    if (first.empty()) {
      first = got;
      expect_golden(name + ".anthropic.sse", got);
    } else {
      EXPECT_EQ(first, got) << "split " << split;
    }
  }
  api::OpenAISseEncoder osse;
  api::OpenAIEmitter oe("chatcmpl-gw", "gw-model", 1, true, osse);
  replay(name, oe, stops, 13);
  expect_golden(name + ".openai.sse", osse.take());
}

TEST(OpenAIChatReader, VllmReasoningAndStreamedToolCalls) { stream_golden("vllm-reasoning-tools"); }
TEST(OpenAIChatReader, LlamaServerTextWithUsageInTheFinishChunk) { stream_golden("llama-server-text"); }
TEST(OpenAIChatReader, StopStringIncludedByTheUpstreamIsCutAndReported) { stream_golden("vllm-stop", {"END"}); }
TEST(OpenAIChatReader, BrokenOffStreamEndsWithAnErrorEvent) { stream_golden("truncated"); }

TEST(OpenAIChatReader, StopReasonFromAnUpstreamThatCutTheString) {
  // parley and vLLM without include_stop_str_in_output: the string is cut, choice.stop_reason
  // names it.
  ReaderOptions o;
  o.stop_sequences = {"zz", "STOP"};
  OpenAIChatReader reader(o);
  api::AnthropicFold fold;
  api::AnthropicEmitter e("msg", "m", "req", 0, fold);
  auto c1 = json::parse(R"({"choices":[{"index":0,"delta":{"content":"abc"}}]})");
  auto c2 = json::parse(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop","stop_reason":"STOP"}],
                            "usage":{"prompt_tokens":3,"completion_tokens":2}})");
  reader.chunk(*c1, e);
  reader.chunk(*c2, e);
  reader.end(e);
  const json::Value& m = fold.message();
  EXPECT_EQ(m.find("stop_reason")->as_string(), "stop_sequence");
  EXPECT_EQ(m.find("stop_sequence")->as_string(), "STOP");
  EXPECT_EQ(m.find("usage")->find("input_tokens")->as_int(), 3);
  EXPECT_EQ(m.find("usage")->find("output_tokens")->as_int(), 2);
}

TEST(SseReader, CrLfMultiLineDataAndComments) {
  SseReader r;
  std::vector<std::string> out;
  r.push(": keep-alive\r\n\r\nevent: x\r\ndata: a\r\ndata:b\r\n\r\ndata: [DONE]", out);
  r.finish(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "a\nb");
  EXPECT_EQ(out[1], "[DONE]");
}

}  // namespace
}  // namespace parley::upstream
