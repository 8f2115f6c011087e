// The emitters on their own: exact SSE framing and order, and that the non-streaming answer is
// the fold of the very same events.
#include <gtest/gtest.h>

#include "api/anthropic-stream.h"
#include "api/openai-stream.h"

namespace parley::api {
namespace {

// Sends the same generation to a sink; returns nothing (the sink holds the result).
void drive(Emitter& e, bool with_heartbeat_first) {
  if (with_heartbeat_first) e.heartbeat();
  // 12 prompt tokens: 4 read from the cache, 3 newly cached before a breakpoint, 5 uncached.
  e.on_started(PromptUsage{12, 4, 3, false});
  e.on_block_start(BlockStart{});
  e.on_delta("Hel");
  e.on_delta("lo \"world\"\n");
  e.on_block_stop({});
  Finish f;
  f.reason = StopReason::stop_sequence;
  f.stop_sequence = "END";
  f.prompt = PromptUsage{12, 4, 3, false};
  f.n_generated = 3;
  e.on_finished(f);
}

TEST(AnthropicEmitter, StreamsExactEventsInOrder) {
  AnthropicSseEncoder sse;
  AnthropicEmitter e("msg_1", "claude-test", "req_1", 12, sse);
  drive(e, false);
  EXPECT_TRUE(e.done());
  EXPECT_EQ(sse.take(),
            "event: message_start\n"
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
            "\"role\":\"assistant\",\"model\":\"claude-test\",\"content\":[],\"stop_reason\":null,"
            "\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"cache_creation_input_tokens\":3,"
            "\"cache_read_input_tokens\":4,\"output_tokens\":0,\"cache_creation\":{"
            "\"ephemeral_5m_input_tokens\":3,\"ephemeral_1h_input_tokens\":0},\"service_tier\":"
            "\"standard\"}}}\n\n"
            "event: ping\ndata: {\"type\":\"ping\"}\n\n"
            "event: content_block_start\n"
            "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
            "\"text\":\"\"}}\n\n"
            "event: content_block_delta\n"
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
            "\"text\":\"Hel\"}}\n\n"
            "event: content_block_delta\n"
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
            "\"text\":\"lo \\\"world\\\"\\n\"}}\n\n"
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
            "event: message_delta\n"
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\","
            "\"stop_sequence\":\"END\"},\"usage\":{\"input_tokens\":5,\"cache_creation_input_tokens\":3,"
            "\"cache_read_input_tokens\":4,\"output_tokens\":3,\"cache_creation\":{"
            "\"ephemeral_5m_input_tokens\":3,\"ephemeral_1h_input_tokens\":0}}}\n\n"
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

TEST(AnthropicEmitter, NonStreamingIsTheFold) {
  AnthropicFold fold;
  AnthropicEmitter e("msg_1", "claude-test", "req_1", 12, fold);
  drive(e, true);  // a heartbeat before the start changes nothing in the message
  HttpResponse r = fold.response("req_1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-test\","
            "\"content\":[{\"type\":\"text\",\"text\":\"Hello \\\"world\\\"\\n\"}],"
            "\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"END\",\"usage\":{"
            "\"input_tokens\":5,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":4,"
            "\"output_tokens\":3,\"cache_creation\":{\"ephemeral_5m_input_tokens\":3,"
            "\"ephemeral_1h_input_tokens\":0},\"service_tier\":\"standard\"}}");
}

TEST(AnthropicEmitter, EmptyOutputHasNoBlocks) {
  AnthropicFold fold;
  AnthropicEmitter e("msg_2", "m", "req_2", 5, fold);
  e.on_started(PromptUsage{5});
  Finish f;
  f.reason = StopReason::max_tokens;
  f.prompt.n_prompt = 5;
  e.on_finished(f);
  auto msg = json::parse(fold.response("req_2").body);
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(msg->find("content")->size(), 0u);
  EXPECT_EQ(msg->find("stop_reason")->as_string(), "max_tokens");
  EXPECT_TRUE(msg->find("stop_sequence")->is_null());
}

TEST(AnthropicEmitter, FailureMidStreamIsAnErrorEventAndEndsTheStream) {
  AnthropicSseEncoder sse;
  AnthropicEmitter e("msg_3", "m", "req_3", 5, sse);
  e.on_started(PromptUsage{5});
  e.on_block_start(BlockStart{});
  e.on_delta("partial");
  Finish f;
  f.reason = StopReason::error;
  f.error = "kv cache exhausted";
  e.on_finished(f);
  EXPECT_TRUE(e.done());
  e.on_delta("ignored");
  std::string out = sse.take();
  EXPECT_NE(out.find("event: content_block_delta"), std::string::npos);
  const std::string tail =
      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
      "\"kv cache exhausted\"},\"request_id\":\"req_3\"}\n\n";
  ASSERT_GE(out.size(), tail.size());
  EXPECT_EQ(out.substr(out.size() - tail.size()), tail);
  EXPECT_EQ(out.find("message_stop"), std::string::npos);

  AnthropicFold fold;
  AnthropicEmitter e2("msg_4", "m", "req_4", 5, fold);
  e2.on_started(PromptUsage{5});
  e2.fail(ErrorKind::overloaded, "the server is shutting down");
  HttpResponse r = fold.response("req_4");
  EXPECT_EQ(r.status, 529);
  EXPECT_EQ(r.body,
            "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"the server "
            "is shutting down\"},\"request_id\":\"req_4\"}");
}

TEST(AnthropicEmitter, ContextWindowStopReason) {
  EXPECT_STREQ(anthropic_stop_reason(StopReason::context_window), "model_context_window_exceeded");
}

TEST(OpenAIEmitter, StreamChunksThenDone) {
  OpenAISseEncoder sse;
  OpenAIEmitter e("chatcmpl-1", "m", 1700000000, true, sse);
  drive(e, false);
  std::string out = sse.take();
  EXPECT_EQ(out,
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
            "\"model\":\"m\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":{\"role\":"
            "\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
            "\"model\":\"m\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":"
            "\"Hel\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
            "\"model\":\"m\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":"
            "\"lo \\\"world\\\"\\n\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
            "\"model\":\"m\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":{},"
            "\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}],\"usage\":null}\n\n"
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
            "\"model\":\"m\",\"system_fingerprint\":null,\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
            "\"completion_tokens\":3,\"total_tokens\":15,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n"
            "data: [DONE]\n\n");
}

TEST(OpenAIEmitter, FoldIsAChatCompletion) {
  OpenAIFold fold;
  OpenAIEmitter e("chatcmpl-1", "m", 1700000000, true, fold);
  drive(e, true);
  EXPECT_EQ(fold.response("req").body,
            "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
            "\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
            "\"Hello \\\"world\\\"\\n\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
            "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15,"
            "\"prompt_tokens_details\":{\"cached_tokens\":4}},\"system_fingerprint\":null}");
}

// thinking, text, then two tool calls whose inputs stream in fragments.
void drive_blocks(Emitter& e) {
  e.on_started(PromptUsage{10});
  e.on_block_start(BlockStart{BlockKind::thinking, "", ""});
  e.on_delta("Let me ");
  e.on_delta("look.");
  e.on_block_stop("sig-1");
  e.on_block_start(BlockStart{});
  e.on_delta("Checking.");
  e.on_block_stop({});
  e.on_block_start(BlockStart{BlockKind::tool_use, "toolu_a", "Bash"});
  e.on_delta("{\"command\": ");
  e.on_delta("\"ls\"}");
  e.on_block_stop({});
  e.on_block_start(BlockStart{BlockKind::tool_use, "toolu_b", "Read"});
  e.on_delta("{\"file_path\": \"/a\", \"limit\": 3}");
  e.on_block_stop({});
  Finish f;
  f.reason = StopReason::tool_use;
  f.prompt.n_prompt = 10;
  f.n_generated = 9;
  e.on_finished(f);
}

TEST(AnthropicEmitter, ThinkingAndToolUseBlocksStreamWithIndicesInOrder) {
  AnthropicSseEncoder sse;
  AnthropicEmitter e("msg_5", "m", "req_5", 10, sse);
  drive_blocks(e);
  std::string out = sse.take();
  auto expect_in_order = [&](const std::vector<std::string>& parts) {
    size_t at = 0;
    for (const auto& p : parts) {
      size_t found = out.find(p, at);
      ASSERT_NE(found, std::string::npos) << "missing after byte " << at << ": " << p << "\n" << out;
      at = found + p.size();
    }
  };
  expect_in_order({
      R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me "}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig-1"}})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})",
      R"({"type":"content_block_stop","index":1})",
      R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_a","name":"Bash","input":{}}})",
      R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"command\": "}})",
      R"({"type":"content_block_stop","index":2})",
      R"({"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_b","name":"Read","input":{}}})",
      R"({"type":"content_block_stop","index":3})",
      R"("delta":{"stop_reason":"tool_use","stop_sequence":null})",
      R"({"type":"message_stop"})",
  });
}

TEST(AnthropicEmitter, FoldParsesToolInputsAndKeepsTheSignature) {
  AnthropicFold fold;
  AnthropicEmitter e("msg_6", "m", "req_6", 10, fold);
  drive_blocks(e);
  auto msg = json::parse(fold.response("req_6").body);
  ASSERT_TRUE(msg.ok());
  const auto& content = msg->find("content")->as_array();
  ASSERT_EQ(content.size(), 4u);
  EXPECT_EQ(json::write(content[0]), R"({"type":"thinking","thinking":"Let me look.","signature":"sig-1"})");
  EXPECT_EQ(json::write(content[1]), R"({"type":"text","text":"Checking."})");
  EXPECT_EQ(json::write(content[2]), R"({"type":"tool_use","id":"toolu_a","name":"Bash","input":{"command":"ls"}})");
  EXPECT_EQ(json::write(content[3]),
            R"({"type":"tool_use","id":"toolu_b","name":"Read","input":{"file_path":"/a","limit":3}})");
  EXPECT_EQ(msg->find("stop_reason")->as_string(), "tool_use");
}

TEST(OpenAIEmitter, ToolCallsAndReasoningStreamAndFold) {
  OpenAISseEncoder sse;
  OpenAIEmitter e("chatcmpl-2", "m", 1, false, sse);
  drive_blocks(e);
  std::string out = sse.take();
  EXPECT_NE(out.find(R"("delta":{"reasoning_content":"Let me "})"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("delta":{"tool_calls":[{"index":0,"id":"toolu_a","type":"function","function":{"name":"Bash","arguments":""}}]})"),
            std::string::npos) << out;
  EXPECT_NE(out.find(R"("delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"file_path\": \"/a\", \"limit\": 3}"}}]})"),
            std::string::npos) << out;
  EXPECT_NE(out.find(R"("finish_reason":"tool_calls")"), std::string::npos);

  OpenAIFold fold;
  OpenAIEmitter f("chatcmpl-3", "m", 1, true, fold);
  drive_blocks(f);
  auto c = json::parse(fold.response("req").body);
  ASSERT_TRUE(c.ok());
  const json::Value& choice = (*c)["choices"].as_array().at(0);
  const json::Value& message = *choice.find("message");
  EXPECT_EQ(message.find("content")->as_string(), "Checking.");
  EXPECT_EQ(message.find("reasoning_content")->as_string(), "Let me look.");
  EXPECT_EQ(json::write(*message.find("tool_calls")),
            R"([{"id":"toolu_a","type":"function","function":{"name":"Bash","arguments":"{\"command\": \"ls\"}"}},)"
            R"({"id":"toolu_b","type":"function","function":{"name":"Read","arguments":"{\"file_path\": \"/a\", \"limit\": 3}"}}])");
  EXPECT_EQ(choice.find("finish_reason")->as_string(), "tool_calls");
}

}  // namespace
}  // namespace parley::api
