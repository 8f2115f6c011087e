// The API service end to end below HTTP: real tokenizer (SmolLM2's), a ChatML renderer, and a
// scripted engine. Golden SSE transcripts for text, stop sequence and max_tokens are compared
// byte for byte with tests/data/api/*.sse (ids are deterministic: the seed is passed in).
// PARLEY_UPDATE_GOLDEN=1 rewrites them.
#include "api/service.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "api/fake-engine.h"
#include "base/log.h"
#include "base/strings.h"
#include "support/test-support.h"
#include "tokenizer/vocab-spec.h"

namespace parley::api {
namespace {

class ChatMLRenderer final : public PromptRenderer {
 public:
  Result<std::string> render(const chat::Conversation& c, const RenderFlags& flags) const override {
    std::string out;
    for (const auto& m : c.messages) {
      out += "<|im_start|>" + std::string(chat::role_name(m.role)) + "\n" + m.text() + "<|im_end|>\n";
    }
    if (flags.add_generation_prompt) out += "<|im_start|>assistant\n";
    // Prefill: end right after the final message's text (drop its "<|im_end|>\n").
    if (flags.continue_final_message) out.resize(out.size() - std::string("<|im_end|>\n").size());
    return out;
  }
};

const char* kTokenizer = "tokenizers/SmolLM2-135M-Instruct/tokenizer.json";

class ServiceTest : public ::testing::Test {
 protected:
  // The tokenizer is loaded once for the suite (seconds under ASan).
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(test::shared_dir() / kTokenizer)) return;
    auto spec = tokenizer::vocab_from_hf((test::shared_dir() / kTokenizer).string());
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    auto tok = tokenizer::Tokenizer::from_spec(*spec);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    shared_tokenizer_ = new tokenizer::Tokenizer(std::move(tok).value());
  }
  static void TearDownTestSuite() {
    delete shared_tokenizer_;
    shared_tokenizer_ = nullptr;
  }

  void SetUp() override {
    set_log_level(LogLevel::warn);
    PARLEY_REQUIRE_SHARED(kTokenizer);
    ASSERT_NE(shared_tokenizer_, nullptr);
    tokenizer_ = shared_tokenizer_;
    engine_ = std::make_unique<test::FakeEngine>(256);
    set_script("Hello there! The answer is 42. STOP here, and more text follows.", true);
    make_service({});
  }

  void make_service(std::vector<std::string> keys, int32_t max_output = 0,
                    std::map<std::string, std::vector<std::string>, std::less<>> key_models = {},
                    Upstreams* upstreams = nullptr) {
    ServiceConfig cfg;
    cfg.key_models = std::move(key_models);
    cfg.model_id = "smol-test";
    cfg.display_name = "Smol test";
    cfg.aliases = {"claude-local", "local"};
    cfg.api_keys = std::move(keys);
    cfg.max_output_tokens = max_output;
    cfg.output_format = format_;
    cfg.signing_key = "test-key";
    ServiceDeps deps{*engine_, *tokenizer_, renderer_, 42, [] { return int64_t{1700000000}; }};
    deps.upstreams = upstreams;
    service_ = std::make_unique<Service>(cfg, deps);
  }

  void set_script(const std::string& text, bool eos) {
    engine_->script = tokenizer_->encode(text);
    if (eos) engine_->script.push_back(tokenizer_->eog_ids().at(0));
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "", HeaderList headers = {}) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    req.headers = std::move(headers);
    if (req.header("anthropic-version") == nullptr && !starts_with(req.path, "/v1/chat/")) {
      req.headers.emplace_back("anthropic-version", "2023-06-01");
    }
    req.body = body;
    return service_->handle(req);
  }

  // Runs a streamed or deferred response to the end: (status, body).
  std::pair<int, std::string> finish(HttpResponse r) {
    if (!r.stream) return {r.status, r.body};
    r.stream->start([] {});
    std::string out;
    for (int i = 0; i < 100 && !r.stream->poll(out); i++) {
    }
    if (r.stream->is_sse()) return {r.status, out};
    HttpResponse final = r.stream->result();
    return {final.status, final.body};
  }

  json::Value finish_json(HttpResponse r) {
    auto [status, body] = finish(std::move(r));
    auto v = json::parse(body);
    EXPECT_TRUE(v.ok()) << body;
    return v.ok() ? *v : json::Value();
  }

  void check_golden(const std::string& name, const std::string& actual) {
    auto path = test::source_dir() / "tests/data/api" / name;
    if (std::getenv("PARLEY_UPDATE_GOLDEN")) {
      std::filesystem::create_directories(path.parent_path());
      test::write_file(path, actual);
    }
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " (PARLEY_UPDATE_GOLDEN=1 creates it)";
    EXPECT_EQ(test::read_file(path), actual) << "golden " << name;
  }

  static inline tokenizer::Tokenizer* shared_tokenizer_ = nullptr;
  std::shared_ptr<const chat::OutputFormat> format_;
  ChatMLRenderer renderer_;
  tokenizer::Tokenizer* tokenizer_ = nullptr;
  std::unique_ptr<test::FakeEngine> engine_;
  std::unique_ptr<Service> service_;
};

std::string header_of(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

const std::string kHello =
    R"({"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hello"}]})";

TEST_F(ServiceTest, GoldenStreamText) {
  auto [status, sse] = finish(call("POST", "/v1/messages?beta=true", kHello));
  EXPECT_EQ(status, 200);
  check_golden("stream-text.sse", sse);
}

TEST_F(ServiceTest, GoldenStreamStopSequence) {
  auto [status, sse] = finish(call("POST", "/v1/messages",
      R"({"model":"claude-local","max_tokens":64,"stream":true,"stop_sequences":["STOP","zzz"],"messages":[{"role":"user","content":"Say hello"}]})"));
  EXPECT_EQ(status, 200);
  check_golden("stream-stop-sequence.sse", sse);
  EXPECT_NE(sse.find("\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"STOP\""), std::string::npos);
  EXPECT_EQ(sse.find("STOP here"), std::string::npos);  // the stop string is not output
  EXPECT_EQ(engine_->cancelled.size(), 1u);              // the rest is not generated
}

TEST_F(ServiceTest, GoldenStreamMaxTokens) {
  auto [status, sse] = finish(call("POST", "/v1/messages",
      R"({"model":"smol-test","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"Say hello"}]})"));
  EXPECT_EQ(status, 200);
  check_golden("stream-max-tokens.sse", sse);
  EXPECT_NE(sse.find("\"stop_reason\":\"max_tokens\""), std::string::npos);
  EXPECT_NE(sse.find("\"output_tokens\":5,"), std::string::npos);
}

TEST_F(ServiceTest, GoldenOpenAIStream) {
  auto [status, sse] = finish(call("POST", "/v1/chat/completions",
      R"({"model":"local","max_tokens":6,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]})"));
  EXPECT_EQ(status, 200);
  check_golden("openai-stream.sse", sse);
}

TEST_F(ServiceTest, NonStreamingIsTheFoldOfTheStream) {
  std::string body = kHello;
  body.replace(body.find("\"stream\":true"), 13, "\"stream\":false");
  json::Value msg = finish_json(call("POST", "/v1/messages", body));
  EXPECT_EQ(msg.find("type")->as_string(), "message");
  EXPECT_TRUE(starts_with(msg.find("id")->as_string(), "msg_"));
  EXPECT_EQ(msg.find("model")->as_string(), "claude-sonnet-4-5");  // echoed
  EXPECT_EQ(msg.find("stop_reason")->as_string(), "end_turn");
  EXPECT_EQ(msg.find("content")->as_array().at(0).find("text")->as_string(),
            "Hello there! The answer is 42. STOP here, and more text follows.");
  // Usage arithmetic: input + cache_creation + cache_read = prompt tokens = count_tokens.
  const json::Value& u = *msg.find("usage");
  json::Value count = finish_json(call("POST", "/v1/messages/count_tokens",
      R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Say hello"}]})"));
  EXPECT_EQ(u.find("input_tokens")->as_int() + u.find("cache_read_input_tokens")->as_int() +
                u.find("cache_creation_input_tokens")->as_int(),
            count.find("input_tokens")->as_int());
  EXPECT_EQ(static_cast<int64_t>(engine_->last.prompt.size()), count.find("input_tokens")->as_int());
  EXPECT_EQ(u.find("output_tokens")->as_int(), static_cast<int64_t>(engine_->script.size()) - 1);
}

TEST_F(ServiceTest, CacheHitsAreReportedWithTheDocumentedArithmetic) {
  engine_->n_cached = 7;
  std::string body = kHello;
  body.replace(body.find("\"stream\":true"), 13, "\"stream\":false");
  json::Value msg = finish_json(call("POST", "/v1/messages", body));
  const json::Value& u = *msg.find("usage");
  EXPECT_EQ(u.find("cache_read_input_tokens")->as_int(), 7);
  EXPECT_EQ(u.find("input_tokens")->as_int() + 7, static_cast<int64_t>(engine_->last.prompt.size()));
}

// cache_control: what the engine newly caches up to the last breakpoint is creation, the rest
// after it is input; the TTL of the breakpoint splits the creation detail.
TEST_F(ServiceTest, CacheBreakpointsReportCreationUpToTheBreakpoint) {
  engine_->n_cached = 2;
  const std::string body =
      R"({"model":"claude-x","max_tokens":5,"system":[{"type":"text","text":"Be brief.",)"
      R"("cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":)"
      R"([{"type":"text","text":"Say hello"},{"type":"text","text":" and bye"}]}]})";
  json::Value msg = finish_json(call("POST", "/v1/messages", body));
  const json::Value& u = *msg.find("usage");
  const int64_t n_prompt = static_cast<int64_t>(engine_->last.prompt.size());
  const int32_t bp = engine_->last.cache_breakpoint;
  // "<|im_start|>system\nBe brief." is the cached part; the user turn and the generation prompt follow.
  auto system_tokens = tokenizer_->encode("<|im_start|>system\nBe brief.", tokenizer::EncodeOptions{false, true});
  EXPECT_EQ(bp, static_cast<int32_t>(system_tokens.size()));
  EXPECT_EQ(u.find("cache_read_input_tokens")->as_int(), 2);
  EXPECT_EQ(u.find("cache_creation_input_tokens")->as_int(), bp - 2);
  EXPECT_EQ(u.find("input_tokens")->as_int(), n_prompt - bp);
  EXPECT_EQ(u.find("cache_creation")->find("ephemeral_1h_input_tokens")->as_int(), bp - 2);
  EXPECT_EQ(u.find("cache_creation")->find("ephemeral_5m_input_tokens")->as_int(), 0);

  // The automatic (top-level) breakpoint: the end of the last block.
  std::string automatic = body;
  automatic.replace(automatic.find(R"("max_tokens")"), 0, R"("cache_control":{"type":"ephemeral"},)");
  json::Value msg2 = finish_json(call("POST", "/v1/messages", automatic));
  const json::Value& u2 = *msg2.find("usage");
  const int32_t bp2 = engine_->last.cache_breakpoint;
  EXPECT_GT(bp2, bp);
  // Only "<|im_end|>\n<|im_start|>assistant\n" remains after it.
  auto tail = tokenizer_->encode("<|im_end|>\n<|im_start|>assistant\n", tokenizer::EncodeOptions{false, true});
  EXPECT_EQ(u2.find("input_tokens")->as_int(), static_cast<int64_t>(tail.size()));
  EXPECT_EQ(u2.find("cache_creation")->find("ephemeral_5m_input_tokens")->as_int(), bp2 - 2);
  EXPECT_EQ(u2.find("input_tokens")->as_int() + u2.find("cache_read_input_tokens")->as_int() +
                u2.find("cache_creation_input_tokens")->as_int(),
            static_cast<int64_t>(engine_->last.prompt.size()));
}

TEST_F(ServiceTest, PromptTooLongUsesClaudeCodesWording) {
  std::string big(3000, 'x');
  std::string body = R"({"model":"m-ignored","max_tokens":10,"messages":[{"role":"user","content":")" +
                     big + R"("}]})";
  body.replace(body.find("m-ignored"), 9, "claude-x");
  HttpResponse r = call("POST", "/v1/messages", body);
  EXPECT_EQ(r.status, 400);
  auto v = json::parse(r.body);
  ASSERT_TRUE(v.ok());
  const std::string& msg = v->find("error")->find("message")->as_string();
  EXPECT_TRUE(starts_with(msg, "prompt is too long: ")) << msg;
  EXPECT_TRUE(ends_with(msg, " tokens > 255 maximum")) << msg;
  EXPECT_EQ(v->find("error")->find("type")->as_string(), "invalid_request_error");
  EXPECT_EQ(v->find("request_id")->as_string(), header_of(r, "request-id"));
}

TEST_F(ServiceTest, FillingTheContextStopsWithModelContextWindowExceeded) {
  // ~240 prompt tokens, 256 context, 32000 asked for (what Claude Code sends).
  std::string words;
  for (int i = 0; i < 235; i++) words += " cat";
  std::string script;
  for (int i = 0; i < 100; i++) script += " dog";
  set_script(script, true);
  json::Value msg = finish_json(call("POST", "/v1/messages",
      R"({"model":"claude-x","max_tokens":32000,"messages":[{"role":"user","content":")" + words + R"("}]})"));
  EXPECT_EQ(msg.find("stop_reason")->as_string(), "model_context_window_exceeded");
  const json::Value& u = *msg.find("usage");
  EXPECT_EQ(u.find("input_tokens")->as_int() + u.find("output_tokens")->as_int(), 256);
}

TEST_F(ServiceTest, OperatorOutputCapGivesMaxTokens) {
  make_service({}, 3);
  json::Value msg = finish_json(call("POST", "/v1/messages",
      R"({"model":"claude-x","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]})"));
  EXPECT_EQ(msg.find("stop_reason")->as_string(), "max_tokens");
  EXPECT_EQ(msg.find("usage")->find("output_tokens")->as_int(), 3);
}

TEST_F(ServiceTest, MaxTokensZeroAnswersWithoutGenerating) {
  json::Value msg = finish_json(call("POST", "/v1/messages",
      R"({"model":"claude-x","max_tokens":0,"messages":[{"role":"user","content":"hi"}]})"));
  EXPECT_EQ(msg.find("stop_reason")->as_string(), "max_tokens");
  EXPECT_EQ(msg.find("content")->size(), 0u);
  EXPECT_EQ(msg.find("usage")->find("output_tokens")->as_int(), 0);
  EXPECT_GT(msg.find("usage")->find("input_tokens")->as_int(), 0);
  EXPECT_TRUE(engine_->last.prompt.empty());  // the engine was not asked
}

TEST_F(ServiceTest, OverloadedIs529WithRetryAfter) {
  engine_->overloaded = true;
  HttpResponse r = call("POST", "/v1/messages", kHello);
  EXPECT_EQ(r.status, 529);
  EXPECT_EQ(header_of(r, "retry-after"), "1");
  EXPECT_NE(r.body.find("\"type\":\"overloaded_error\""), std::string::npos);
  HttpResponse o = call("POST", "/v1/chat/completions",
                        R"({"model":"local","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(o.status, 529);
}

TEST_F(ServiceTest, EngineFailureMidStreamIsAnErrorEvent) {
  engine_->fail_after_script = true;
  set_script("partial", false);
  auto [status, sse] = finish(call("POST", "/v1/messages", kHello));
  EXPECT_EQ(status, 200);
  EXPECT_NE(sse.find("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"scripted failure\"}"),
            std::string::npos) << sse;
  EXPECT_EQ(sse.find("message_stop"), std::string::npos);
}

TEST_F(ServiceTest, PrefillContinuesTheAssistantMessage) {
  finish(call("POST", "/v1/messages",
      R"({"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Sure, the answer"}]})"));
  std::string prompt = tokenizer_->decode(engine_->last.prompt, true);
  EXPECT_TRUE(ends_with(prompt, "<|im_start|>assistant\nSure, the answer")) << prompt;
}

TEST_F(ServiceTest, AuthAcceptsBothHeadersAndAnswers401InEachShape) {
  make_service({"secret"});
  EXPECT_EQ(call("POST", "/v1/messages", kHello).status, 401);
  EXPECT_EQ(call("POST", "/v1/messages", kHello, {{"x-api-key", "wrong"}}).status, 401);
  EXPECT_EQ(call("POST", "/v1/messages", kHello, {{"x-api-key", "secret"}}).status, 200);
  EXPECT_EQ(call("POST", "/v1/messages", kHello, {{"authorization", "Bearer secret"}}).status, 200);
  HttpResponse a = call("GET", "/v1/models", "", {{"x-api-key", "nope"}});
  EXPECT_TRUE(starts_with(a.body, "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",")) << a.body;
  HttpResponse o = call("POST", "/v1/chat/completions", "{}", {{"authorization", "Bearer nope"}});
  EXPECT_EQ(o.status, 401);
  EXPECT_TRUE(starts_with(o.body, "{\"error\":{\"message\":\"Incorrect API key provided\"")) << o.body;
  // Claude Code's HEAD / preconnect and health checks carry no key.
  EXPECT_EQ(call("HEAD", "/").status, 200);
  EXPECT_EQ(call("HEAD", "/api/hello").status, 200);
  EXPECT_EQ(call("GET", "/health").status, 200);
  EXPECT_EQ(call("GET", "/metrics").status, 200);  // scrapers carry no key either
}

// Upstream ids for the key-scope test; a request that gets through is refused by name here.
class NamedUpstreams final : public Upstreams {
 public:
  bool serves(std::string_view model) const override { return model == "up-a" || model == "up-b"; }
  std::vector<std::string> model_ids() const override { return {"up-a", "up-b"}; }
  std::unique_ptr<GenerationSource> start(const ChatRequest& req, const UpstreamCall&, ApiError& err) override {
    err = ApiError::invalid("reached upstream for " + req.model);
    return nullptr;
  }
};

TEST_F(ServiceTest, KeysLimitedToModelsGet403AndSeeOnlyTheirModels) {
  NamedUpstreams up;
  // "local" (an alias) allows every name of the local model, claude-* included; "up" one upstream id.
  make_service({"all", "local", "up"}, 0, {{"local", {"local"}}, {"up", {"up-b"}}}, &up);
  auto ids_for = [&](const std::string& key) {
    json::Value v = finish_json(call("GET", "/v1/models", "", {{"x-api-key", key}}));
    std::string ids;
    for (const auto& m : v["data"].as_array()) ids += m.find("id")->as_string() + " ";
    return ids;
  };
  EXPECT_EQ(ids_for("all"), "smol-test claude-local local claude-parley-smol-test up-a up-b ");
  EXPECT_EQ(ids_for("local"), "smol-test claude-local local claude-parley-smol-test ");
  EXPECT_EQ(ids_for("up"), "up-b ");
  auto msg = [](const std::string& model) {
    return R"({"model":")" + model + R"(","max_tokens":4,"messages":[{"role":"user","content":"hi"}]})";
  };
  EXPECT_EQ(finish(call("POST", "/v1/messages", msg("claude-sonnet-4-5"), {{"x-api-key", "local"}})).first, 200);
  EXPECT_EQ(finish(call("POST", "/v1/messages", msg("smol-test"), {{"authorization", "Bearer local"}})).first, 200);
  HttpResponse denied = call("POST", "/v1/messages", msg("up-a"), {{"x-api-key", "local"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body.find("{\"type\":\"error\",\"error\":{\"type\":\"permission_error\",\"message\":"
                             "\"model: this API key may not use 'up-a' (it may use: local)\""), 0u) << denied.body;
  EXPECT_EQ(call("POST", "/v1/messages", msg("claude-x"), {{"x-api-key", "up"}}).status, 403);
  EXPECT_EQ(call("POST", "/v1/messages", msg("up-a"), {{"x-api-key", "up"}}).status, 403);
  HttpResponse through = call("POST", "/v1/messages", msg("up-b"), {{"x-api-key", "up"}});
  EXPECT_EQ(through.status, 400);
  EXPECT_NE(through.body.find("reached upstream for up-b"), std::string::npos) << through.body;
  EXPECT_EQ(call("POST", "/v1/messages/count_tokens", msg("smol-test"), {{"x-api-key", "up"}}).status, 403);
  EXPECT_EQ(call("POST", "/v1/messages/count_tokens", msg("local"), {{"x-api-key", "local"}}).status, 200);
  HttpResponse o = call("POST", "/v1/chat/completions", msg("smol-test"), {{"authorization", "Bearer up"}});
  EXPECT_EQ(o.status, 403);
  EXPECT_TRUE(starts_with(o.body, "{\"error\":{\"message\":\"model: this API key may not use")) << o.body;
  // A model the key may not use is not found for it; an unlimited key sees every model.
  EXPECT_EQ(call("GET", "/v1/models/up-a", "", {{"x-api-key", "up"}}).status, 404);
  EXPECT_EQ(call("GET", "/v1/models/up-b", "", {{"x-api-key", "up"}}).status, 200);
  EXPECT_EQ(call("GET", "/v1/models/claude-opus-4", "", {{"x-api-key", "local"}}).status, 200);
  EXPECT_EQ(call("GET", "/v1/models/smol-test", "", {{"x-api-key", "up"}}).status, 404);
  EXPECT_EQ(call("GET", "/v1/models/up-a", "", {{"x-api-key", "all"}}).status, 200);
  EXPECT_EQ(call("POST", "/v1/messages", msg("up-a"), {{"x-api-key", "all"}}).status, 400);  // reached the upstream
}

TEST_F(ServiceTest, MetricsCountRequestsAndTokenLatency) {
  double t = 100;
  ServiceConfig cfg;
  cfg.model_id = "smol-test";
  ServiceDeps deps{*engine_, *tokenizer_, renderer_, 42, [] { return int64_t{1700000000}; },
                   [&t] { return t += 0.5; }};
  service_ = std::make_unique<Service>(cfg, deps);
  auto value = [](const std::string& text, const std::string& series) {
    size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size() + 2));
  };
  const std::string ok = "parley_requests_total{endpoint=\"/v1/messages\",status=\"200\"}";
  EXPECT_EQ(value(call("GET", "/metrics").body, ok), -1.0);
  auto [status, body] = finish(call("POST", "/v1/messages", kHello));
  ASSERT_EQ(status, 200) << body;
  finish(call("POST", "/v1/messages", "{"));
  HttpResponse m = call("GET", "/metrics");
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(value(m.body, ok), 1);
  EXPECT_EQ(value(m.body, "parley_requests_total{endpoint=\"/v1/messages\",status=\"400\"}"), 1);
  EXPECT_EQ(value(m.body, "parley_requests_total{endpoint=\"other\",status=\"200\"}"), 1);
  const double n_tokens = static_cast<double>(engine_->script.size() - 1);  // the EOS is no token event
  EXPECT_EQ(value(m.body, "parley_generated_tokens_total"), n_tokens);
  // Each clock read adds 0.5 s: submit, then one read per token.
  EXPECT_EQ(value(m.body, "parley_time_to_first_token_seconds_count"), 1);
  EXPECT_EQ(value(m.body, "parley_time_to_first_token_seconds_sum"), 0.5);
  EXPECT_EQ(value(m.body, "parley_inter_token_latency_seconds_count"), n_tokens - 1);
  EXPECT_EQ(value(m.body, "parley_inter_token_latency_seconds_bucket{le=\"0.5\"}"), n_tokens - 1);
}

TEST_F(ServiceTest, RoutingErrorsAndRequestIds) {
  HttpResponse nf = call("GET", "/v2/nothing");
  EXPECT_EQ(nf.status, 404);
  EXPECT_TRUE(starts_with(header_of(nf, "request-id"), "req_"));
  EXPECT_NE(nf.body.find("\"request_id\":\"" + header_of(nf, "request-id") + "\""), std::string::npos);
  HttpResponse wm = call("GET", "/v1/messages");
  EXPECT_EQ(wm.status, 405);
  EXPECT_EQ(header_of(wm, "allow"), "POST");
  HttpResponse unknown_model = call("POST", "/v1/messages",
      R"({"model":"gpt-4","max_tokens":5,"messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(unknown_model.status, 404);
  EXPECT_NE(unknown_model.body.find("not_found_error"), std::string::npos);
}

TEST_F(ServiceTest, MalformedBodiesGetPrecise400s) {
  struct Case {
    std::string body;
    std::string message_start;
  } cases[] = {
      {"{\"model\":", "invalid JSON at byte 9 (line 1, column 10): unexpected end of input"},
      {"", "request body is empty"},
      {R"({"model":"claude-x","max_tokens":1e999,"messages":[]})", "invalid JSON at byte 33"},
      {R"({"model":"claude-x","max_tokens":99999999999999999999,"messages":[{"role":"user","content":"x"}]})", "max_tokens: integer out of range"},
      {R"({"model":"claude-x","max_tokens":5,"messages":"hi"})", "messages: expected an array, got a string"},
      {R"({"model":7,"max_tokens":5,"messages":[]})", "model: expected a string, got an integer"},
      {std::string(R"({"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":")") +
           "\xff\xfe" + "\"}]}",
       "invalid JSON at byte"},
      {std::string(200, '[') + std::string(200, ']'), "invalid JSON at byte 128 (line 1, column 129): nesting too deep"},
      {R"({"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]})",
       "messages.0.content.0: the model smol-test cannot take an image (image/png)"},
  };
  for (const auto& c : cases) {
    HttpResponse r = call("POST", "/v1/messages", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    auto v = json::parse(r.body);
    ASSERT_TRUE(v.ok());
    const std::string& msg = v->find("error")->find("message")->as_string();
    EXPECT_TRUE(starts_with(msg, c.message_start)) << msg << "\nfor body: " << c.body.substr(0, 80);
    EXPECT_EQ(header_of(r, "x-should-retry"), "false");
  }
  HttpResponse o = call("POST", "/v1/chat/completions",
                        R"({"model":"local","messages":[{"role":"user","content":[{"type":"bogus"}]}]})");
  EXPECT_EQ(o.status, 400);
  auto v = json::parse(o.body);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->find("error")->find("param")->as_string(), "messages[0].content[0].type");
}

TEST_F(ServiceTest, ModelsInBothShapesWithPagination) {
  json::Value list = *json::parse(call("GET", "/v1/models?limit=2").body);
  ASSERT_EQ(list.find("data")->size(), 2u);
  EXPECT_EQ(list.find("data")->as_array()[0].find("id")->as_string(), "smol-test");
  EXPECT_EQ(list.find("data")->as_array()[0].find("type")->as_string(), "model");
  EXPECT_EQ(list.find("data")->as_array()[0].find("max_input_tokens")->as_int(), 256);
  EXPECT_TRUE(list.find("has_more")->as_bool());
  EXPECT_EQ(list.find("first_id")->as_string(), "smol-test");
  EXPECT_EQ(list.find("last_id")->as_string(), "claude-local");
  json::Value next = *json::parse(call("GET", "/v1/models?limit=2&after_id=claude-local").body);
  ASSERT_EQ(next.find("data")->size(), 2u);
  EXPECT_EQ(next.find("first_id")->as_string(), "local");
  // Listed for Claude Code's /model picker (it keeps only ids containing "claude").
  EXPECT_EQ(next.find("last_id")->as_string(), "claude-parley-smol-test");
  EXPECT_FALSE(next.find("has_more")->as_bool());
  EXPECT_EQ(claude_listing_id("Qwen3 Coder/30B"), "claude-parley-qwen3-coder-30b");
  json::Value prev = *json::parse(call("GET", "/v1/models?limit=1&before_id=local").body);
  EXPECT_EQ(prev.find("first_id")->as_string(), "claude-local");
  EXPECT_TRUE(prev.find("has_more")->as_bool());
  EXPECT_EQ(call("GET", "/v1/models?limit=0").status, 400);
  // No anthropic-version: OpenAI's list.
  HttpRequest req;
  req.method = "GET";
  req.target = req.path = "/v1/models";
  json::Value oai = *json::parse(service_->handle(req).body);
  EXPECT_EQ(oai.find("object")->as_string(), "list");
  EXPECT_EQ(oai.find("data")->as_array()[0].find("object")->as_string(), "model");
  // Retrieve: listed ids, mapped claude-* ids, unknown ids.
  json::Value one = *json::parse(call("GET", "/v1/models/local").body);
  EXPECT_EQ(one.find("id")->as_string(), "local");
  json::Value mapped = *json::parse(call("GET", "/v1/models/claude-opus-4-8").body);
  EXPECT_EQ(mapped.find("id")->as_string(), "smol-test");
  EXPECT_EQ(call("GET", "/v1/models/gpt-4").status, 404);
}

TEST_F(ServiceTest, OpenAINonStreaming) {
  json::Value c = finish_json(call("POST", "/v1/chat/completions",
      R"({"model":"local","max_tokens":4,"messages":[{"role":"system","content":"s"},{"role":"user","content":"x"}]})"));
  EXPECT_EQ(c.find("object")->as_string(), "chat.completion");
  EXPECT_EQ(c.find("created")->as_int(), 1700000000);
  const json::Value& choice = c.find("choices")->as_array().at(0);
  EXPECT_EQ(choice.find("finish_reason")->as_string(), "length");
  EXPECT_EQ(c.find("usage")->find("completion_tokens")->as_int(), 4);
}

// Tool calls and thinking through the whole API layer: the hermes/Qwen format's parser reads
// the scripted output; ids, signatures and stop reasons come from the service.
class ServiceToolsTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (IsSkipped()) return;
    // Qwen3's: hermes tool calls with <think> reasoning (detect_output_format finds it there).
    auto f = chat::output_format_for_family("hermes");
    f.reasoning = {"<think>", "</think>"};
    format_ = std::make_shared<chat::OutputFormat>(f);
    make_service({});
  }
};

const std::string kTools =
    R"("tools":[{"name":"Bash","description":"run","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}])";

std::string tool_request(const std::string& extra, bool stream) {
  return std::string(R"({"model":"claude-x","max_tokens":200,"stream":)") + (stream ? "true" : "false") + "," + kTools +
         extra + R"(,"messages":[{"role":"user","content":"list files"}]})";
}

TEST_F(ServiceToolsTest, AToolCallBecomesAToolUseBlock) {
  set_script("Let me look.<tool_call>\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls -la\"}}\n</tool_call>", true);
  json::Value msg = finish_json(call("POST", "/v1/messages", tool_request("", false)));
  const auto& content = msg["content"].as_array();
  ASSERT_EQ(content.size(), 2u) << json::write(msg);
  EXPECT_EQ(content[0].find("text")->as_string(), "Let me look.");
  EXPECT_EQ(content[1].find("type")->as_string(), "tool_use");
  EXPECT_EQ(content[1].find("name")->as_string(), "Bash");
  EXPECT_EQ(content[1].find("id")->as_string().rfind("toolu_", 0), 0u);
  EXPECT_EQ(json::write(*content[1].find("input")), R"({"command":"ls -la"})");
  EXPECT_EQ(msg["stop_reason"].as_string(), "tool_use");

  // Streamed: tool_use start with an empty input, then input_json_delta fragments.
  auto [status, sse] = finish(call("POST", "/v1/messages", tool_request("", true)));
  EXPECT_EQ(status, 200);
  EXPECT_NE(sse.find(R"("content_block":{"type":"tool_use","id":"toolu_)"), std::string::npos) << sse;
  EXPECT_NE(sse.find(R"("type":"input_json_delta","partial_json":)"), std::string::npos) << sse;
  EXPECT_NE(sse.find(R"("stop_reason":"tool_use")"), std::string::npos);
  EXPECT_EQ(sse.find("<tool_call>"), std::string::npos);
}

TEST_F(ServiceToolsTest, OpenAIGetsToolCalls) {
  set_script("<tool_call>\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"pwd\"}}\n</tool_call>", true);
  json::Value c = finish_json(call("POST", "/v1/chat/completions",
      R"({"model":"local","messages":[{"role":"user","content":"where"}],"tools":[{"type":"function","function":{"name":"Bash","parameters":{"type":"object"}}}]})"));
  const json::Value& choice = c["choices"].as_array().at(0);
  EXPECT_EQ(choice.find("finish_reason")->as_string(), "tool_calls");
  const json::Value& calls = *choice.find("message")->find("tool_calls");
  ASSERT_EQ(calls.size(), 1u) << json::write(c);
  EXPECT_EQ(calls.as_array()[0].find("id")->as_string().rfind("call_", 0), 0u);
  EXPECT_EQ(calls.as_array()[0].find("function")->find("arguments")->as_string(), R"({"command": "pwd"})");
}

TEST_F(ServiceToolsTest, DisableParallelToolUseEndsTheTurnAfterOneCall) {
  const std::string one = "<tool_call>\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"a\"}}\n</tool_call>\n";
  set_script(one + one, true);
  json::Value both = finish_json(call("POST", "/v1/messages", tool_request("", false)));
  EXPECT_EQ(both["content"].size(), 2u) << json::write(both);
  json::Value msg = finish_json(call("POST", "/v1/messages",
      tool_request(R"(,"tool_choice":{"type":"auto","disable_parallel_tool_use":true})", false)));
  EXPECT_EQ(msg["content"].size(), 1u) << json::write(msg);
  EXPECT_EQ(msg["stop_reason"].as_string(), "tool_use");
}

TEST_F(ServiceToolsTest, ToolChoiceNoneLeavesMarkersAsText) {
  const std::string out = "<tool_call>\n{\"name\": \"Bash\", \"arguments\": {}}\n</tool_call>";
  set_script(out, true);
  json::Value msg = finish_json(call("POST", "/v1/messages", tool_request(R"(,"tool_choice":{"type":"none"})", false)));
  ASSERT_EQ(msg["content"].size(), 1u) << json::write(msg);
  EXPECT_EQ(msg["content"].as_array()[0].find("type")->as_string(), "text");
  EXPECT_EQ(msg["stop_reason"].as_string(), "end_turn");
}

TEST_F(ServiceToolsTest, ThinkingIsSignedAndTheSignatureIsChecked) {
  set_script("<think>\nThe user wants a greeting.\n</think>\n\nHello!", true);
  json::Value msg = finish_json(call("POST", "/v1/messages",
      R"({"model":"claude-x","max_tokens":100,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]})"));
  const auto& content = msg["content"].as_array();
  ASSERT_EQ(content.size(), 2u) << json::write(msg);
  EXPECT_EQ(content[0].find("type")->as_string(), "thinking");
  const std::string thinking = content[0].find("thinking")->as_string();
  const std::string signature = content[0].find("signature")->as_string();
  EXPECT_NE(thinking.find("The user wants a greeting."), std::string::npos);
  EXPECT_EQ(signature, ThinkingSigner("test-key").sign(thinking));
  EXPECT_EQ(content[1].find("text")->as_string(), "Hello!");
  // Thinking on: the opener is forced from the first token and the budget's end is forced.
  EXPECT_EQ(engine_->last.constraints.size(), 2u);

  auto replay = [&](const std::string& sig, const std::string& text) {
    json::Value block = json::Value::object();
    block["type"] = "thinking";
    block["thinking"] = text;
    block["signature"] = sig;
    return std::string(R"({"model":"claude-x","max_tokens":10,"messages":[{"role":"user","content":"hi"},)") +
           R"({"role":"assistant","content":[)" + json::write(block) + R"(,{"type":"text","text":"Hello!"}]},)" +
           R"({"role":"user","content":"again"}]})";
  };
  EXPECT_EQ(call("POST", "/v1/messages", replay(signature, thinking)).status, 200);
  HttpResponse bad = call("POST", "/v1/messages", replay(signature, thinking + " (edited)"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("messages.1.content.0: Invalid `signature` in `thinking` block"), std::string::npos) << bad.body;
  EXPECT_EQ(call("POST", "/v1/messages/count_tokens", replay("forged", thinking)).status, 400);
}

}  // namespace
}  // namespace parley::api
