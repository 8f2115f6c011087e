// The HTTP API of one served model: routing, auth, the Anthropic and OpenAI endpoints, model
// listing, and errors in each API's envelope with a request-id on every response. Pure with
// respect to transport: HttpRequest in, HttpResponse (maybe streamed) out.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/chat-request.h"
#include "api/errors.h"
#include "api/generation.h"
#include "api/http-types.h"
#include "api/ids.h"
#include "api/metrics.h"
#include "api/prompt.h"
#include "api/thinking-signer.h"
#include "api/upstreams.h"
#include "chat/output-parser.h"
#include "sampling/grammar-matcher.h"
#include "base/rng.h"
#include "engine/client.h"
#include "tokenizer/tokenizer.h"

namespace parley::api {

struct ServiceConfig {
  std::string model_id;                 // the served model's id (listed first)
  std::string display_name;
  std::vector<std::string> aliases;     // more ids for the same model (listed after model_id)
  bool map_claude_ids = true;           // any "claude-*" model id means the served model
  std::vector<std::string> api_keys;    // empty: no auth
  // Keys (of api_keys) limited to some model ids; a key not here may use every model. A local
  // model is allowed by any of its names (id, alias, claude-parley- listing id; then every
  // claude-* id mapped to it too); an upstream model by its own id.
  std::map<std::string, std::vector<std::string>, std::less<>> key_models;
  int32_t max_output_tokens = 0;        // operator cap on max_tokens per request (0: none)
  // A request stopped by that cap ends with stop_reason end_turn instead of max_tokens (Claude
  // Code treats max_tokens as a failed turn; with tiny test models every turn hits the cap).
  bool max_output_ends_turn = false;
  // false: every request is treated as disable_parallel_tool_use / parallel_tool_calls false
  // (one call per turn; small models often garble parallel calls).
  bool parallel_tool_calls = true;
  bool image_input = false;             // the model can take images (no vision path yet)
  // How the model writes reasoning and tool calls (detected from the chat template); null:
  // plain text.
  std::shared_ptr<const chat::OutputFormat> output_format;
  std::string signing_key;              // thinking block signatures (HMAC-SHA256)
  size_t max_json_depth = 128;
};

struct ServiceDeps {
  engine::Client& engine;
  const tokenizer::Tokenizer& tokenizer;
  const PromptRenderer& renderer;
  uint64_t seed = 0;                         // request ids, sampling seeds (passed in)
  std::function<int64_t()> unix_time;        // seconds since the epoch (OpenAI `created`)
  std::function<double()> monotonic_seconds; // steady clock for latency metrics (null: none)
  // Model ids served by upstream engines (gateway); asked before the local model. Null: none.
  Upstreams* upstreams = nullptr;
};

// The id /v1/models lists for Claude Code's model picker: "claude-parley-" + the model id
// (lower case; characters outside [a-z0-9._-] become '-').
std::string claude_listing_id(std::string_view model_id);

class Service final : public Handler {
 public:
  Service(ServiceConfig config, ServiceDeps deps);

  HttpResponse handle(const HttpRequest& request) override;
  HttpResponse transport_error(const HttpRequest& request, TransportError error,
                               std::string_view detail) override;

  const ServiceConfig& config() const { return config_; }
  int32_t n_ctx() const { return engine_.model_info().n_ctx; }

 private:
  enum class Shape { anthropic, openai };
  struct Prepared;  // a parsed, rendered, tokenized, limited request

  HttpResponse route(const HttpRequest& request, const std::string& request_id);
  HttpResponse error(Shape shape, const ApiError& e, const std::string& request_id) const;
  HttpResponse json_response(const json::Value& v, const std::string& request_id) const;
  // The models the request's key may use: null for all (no auth, or an unlimited key).
  using KeyScope = const std::vector<std::string>*;
  bool authorized(const HttpRequest& request, KeyScope& scope) const;
  bool model_allowed(KeyScope scope, const std::string& id) const;
  // 403 permission_error when the key may not use the request's model.
  std::optional<ApiError> check_scope(KeyScope scope, const std::string& model) const;
  // The model an id stands for; false when unknown.
  bool resolve_model(const std::string& id) const;
  std::vector<std::string> model_ids(KeyScope scope = nullptr) const;

  Result<json::Value> parse_body(const HttpRequest& request) const;
  Result<Prompt> prepare_prompt(const ChatRequest& req, Shape shape, ApiError& err) const;
  Result<Prompt> prepare_prompt_rendered(const ChatRequest& req, ApiError& err) const;
  HttpResponse generate(ChatRequest req, Shape shape, const std::string& request_id);
  // A request for an upstream's model: translated and sent there, answered by the same emitters.
  HttpResponse generate_upstream(ChatRequest req, Shape shape, const std::string& request_id);
  // The HTTP response of a started generation (local or upstream): the client API's stream,
  // SSE or the fold of it.
  HttpResponse stream_response(std::unique_ptr<GenerationSource> source, const ChatRequest& req, Shape shape,
                               const std::string& request_id);
  // What both kinds of generation give out: tool-call ids in the client API's form, and
  // thinking signatures under this server's key.
  std::function<std::string()> tool_id_maker(Shape shape);
  std::function<std::string(std::string_view)> thinking_signer() const;
  bool is_upstream_model(const std::string& id) const;
  // How the answer is read and steered: output parser, thinking, tool choice.
  Status plan_output(const ChatRequest& req, const Prompt& prompt, Shape shape, GenerationSpec& spec);
  Status plan_tools(const ChatRequest& req, const chat::OutputFormat& f, bool thinking, GenerationSpec& spec);
  Status plan_structured_output(const ChatRequest& req, const chat::OutputFormat* f, bool thinking,
                                GenerationSpec& spec);
  // The token ids text encodes to (markers: special tokens parsed).
  std::vector<engine::TokenId> marker_tokens(std::string_view text) const;
  // The vocabulary as the grammar matcher sees it (built on first use).
  std::shared_ptr<const sampling::TokenVocab> token_vocab() const;
  // A compiled grammar for `key` from a small cache, or built (null and `status` on error).
  std::shared_ptr<const sampling::CompiledGrammar> compiled_grammar(
      const std::string& key, const std::function<Result<sampling::Grammar>()>& build,
      const sampling::MatcherOptions& options, Status& status) const;

  HttpResponse messages(const HttpRequest& request, KeyScope scope, const std::string& request_id);
  HttpResponse count_tokens(const HttpRequest& request, KeyScope scope, const std::string& request_id);
  HttpResponse chat_completions(const HttpRequest& request, KeyScope scope, const std::string& request_id);
  HttpResponse list_models(const HttpRequest& request, KeyScope scope, const std::string& request_id);
  HttpResponse get_model(const HttpRequest& request, KeyScope scope, const std::string& id,
                         const std::string& request_id);
  json::Value model_json(const std::string& id, Shape shape) const;
  uint64_t next_seed();

  ServiceConfig config_;
  engine::Client& engine_;
  const tokenizer::Tokenizer& tokenizer_;
  PromptBuilder prompts_;
  ThinkingSigner signer_;
  IdGenerator ids_;
  std::function<int64_t()> unix_time_;
  std::function<double()> monotonic_seconds_;
  Upstreams* upstreams_ = nullptr;
  std::shared_ptr<Metrics> metrics_ = std::make_shared<Metrics>();
  mutable std::once_flag vocab_once_;
  mutable std::shared_ptr<const sampling::TokenVocab> vocab_;
  mutable std::mutex grammar_mu_;
  mutable std::vector<std::pair<std::string, std::shared_ptr<const sampling::CompiledGrammar>>> grammars_;
  std::mutex rng_mu_;
  Rng rng_;
};

}  // namespace parley::api
