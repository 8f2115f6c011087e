#include "api/service.h"

#include <algorithm>

#include "api/anthropic-request.h"
#include "api/generation-stream.h"
#include "api/openai-request.h"
#include "base/log.h"
#include "base/strings.h"

namespace parley::api {

Service::Service(ServiceConfig config, ServiceDeps deps)
    : config_(std::move(config)),
      engine_(deps.engine),
      tokenizer_(deps.tokenizer),
      prompts_(deps.renderer, deps.tokenizer),
      signer_(config_.signing_key),
      ids_(deps.seed),
      unix_time_(std::move(deps.unix_time)),
      monotonic_seconds_(std::move(deps.monotonic_seconds)),
      upstreams_(deps.upstreams),
      rng_(deps.seed ^ 0x5eed5eed5eed5eedull) {}

uint64_t Service::next_seed() {
  std::lock_guard lock(rng_mu_);
  return rng_.next_u64();
}

HttpResponse Service::error(Shape shape, const ApiError& e, const std::string& request_id) const {
  HttpResponse r;
  r.status = error_status(e.kind);
  json::Value body = shape == Shape::anthropic ? anthropic_error_json(e, request_id)
                                               : openai_error_json(e);
  r.body = json::write(body);
  r.headers.emplace_back("request-id", request_id);
  if (e.kind == ErrorKind::overloaded) r.headers.emplace_back("retry-after", "1");
  // A failure that will repeat must not be retried by the SDKs (they retry 408/409/429/5xx).
  if (r.status < 500 && e.kind != ErrorKind::rate_limit && e.kind != ErrorKind::request_timeout) {
    r.headers.emplace_back("x-should-retry", "false");
  }
  return r;
}

HttpResponse Service::json_response(const json::Value& v, const std::string& request_id) const {
  HttpResponse r;
  r.body = json::write(v);
  r.headers.emplace_back("request-id", request_id);
  return r;
}

HttpResponse Service::transport_error(const HttpRequest& request, TransportError err,
                                      std::string_view detail) {
  std::string request_id = ids_.next("req_");
  Shape shape = starts_with(request.path, "/v1/chat/") ? Shape::openai : Shape::anthropic;
  ApiError e;
  switch (err) {
    case TransportError::body_too_large: e.kind = ErrorKind::request_too_large; break;
    case TransportError::bad_request: e.kind = ErrorKind::invalid_request; break;
    case TransportError::timeout: e.kind = ErrorKind::request_timeout; break;
  }
  e.message = std::string(detail);
  HttpResponse r = error(shape, e, request_id);
  r.close = true;
  metrics_->count_request(request.path, r.status);
  return r;
}

HttpResponse Service::handle(const HttpRequest& request) {
  std::string request_id = ids_.next("req_");
  HttpResponse r = route(request, request_id);
  metrics_->count_request(request.path, r.status);
  log_debug("%s %s -> %d (%s)", request.method.c_str(), request.target.c_str(), r.status,
            request_id.c_str());
  return r;
}

bool Service::authorized(const HttpRequest& request, KeyScope& scope) const {
  scope = nullptr;
  if (config_.api_keys.empty()) return true;
  auto matches = [&](std::string_view key) {
    if (std::find(config_.api_keys.begin(), config_.api_keys.end(), key) == config_.api_keys.end()) {
      return false;
    }
    if (auto it = config_.key_models.find(key); it != config_.key_models.end()) scope = &it->second;
    return true;
  };
  if (const std::string* k = request.header("x-api-key"); k != nullptr && matches(*k)) return true;
  if (const std::string* a = request.header("authorization")) {
    std::string_view v = *a;
    if (v.size() > 7 && (starts_with(v, "Bearer ") || starts_with(v, "bearer ")) &&
        matches(trim(v.substr(7)))) {
      return true;
    }
  }
  return false;
}

bool Service::model_allowed(KeyScope scope, const std::string& id) const {
  if (scope == nullptr) return true;
  auto listed = [&](const std::string& name) {
    return std::find(scope->begin(), scope->end(), name) != scope->end();
  };
  if (listed(id)) return true;
  if (is_upstream_model(id) || !resolve_model(id)) return false;
  // A name of the local model: any of its names in the list allows them all.
  if (listed(config_.model_id)) return true;
  if (config_.map_claude_ids && listed(claude_listing_id(config_.model_id))) return true;
  return std::any_of(config_.aliases.begin(), config_.aliases.end(), listed);
}

std::optional<ApiError> Service::check_scope(KeyScope scope, const std::string& model) const {
  if (model_allowed(scope, model)) return std::nullopt;
  std::string allowed;
  for (const auto& id : *scope) allowed += (allowed.empty() ? "" : ", ") + id;
  return ApiError{ErrorKind::permission,
                  str_printf("model: this API key may not use %s (it may use: %s)",
                             quote_for_message(model, 200).c_str(), allowed.c_str()),
                  "model"};
}

HttpResponse Service::route(const HttpRequest& request, const std::string& request_id) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  Shape shape = starts_with(path, "/v1/chat/") ? Shape::openai : Shape::anthropic;
  // Claude Code probes HEAD <base URL> without credentials; health checks have none either.
  if (path == "/" && (method == "HEAD" || method == "GET")) {
    json::Value v = json::Value::object();
    v["name"] = "parley";
    v["model"] = config_.model_id;
    return json_response(v, request_id);
  }
  // Claude Code 2.1.3xx checks connectivity with HEAD /api/hello (no credentials).
  if (path == "/api/hello" && (method == "HEAD" || method == "GET")) {
    json::Value v = json::Value::object();
    v["message"] = "hello";
    return json_response(v, request_id);
  }
  if (path == "/health" && (method == "GET" || method == "HEAD")) {
    json::Value v = json::Value::object();
    v["status"] = "ok";
    return json_response(v, request_id);
  }
  // Unauthenticated like /health: Prometheus scrapers usually carry no API key.
  if (path == "/metrics" && (method == "GET" || method == "HEAD")) {
    HttpResponse r;
    r.content_type = kMetricsContentType;
    if (upstreams_ != nullptr) {
      GatewayStats gateway = upstreams_->stats();
      r.body = metrics_->render(engine_.stats(), &gateway);
    } else {
      r.body = metrics_->render(engine_.stats());
    }
    r.headers.emplace_back("request-id", request_id);
    return r;
  }
  KeyScope scope = nullptr;
  if (!authorized(request, scope)) {
    const bool given = request.header("x-api-key") || request.header("authorization");
    std::string msg = shape == Shape::openai
                          ? (given ? "Incorrect API key provided" : "Missing API key")
                          : (given ? "invalid x-api-key" : "x-api-key header is required");
    return error(shape, ApiError{ErrorKind::authentication, msg, {}}, request_id);
  }
  auto method_is = [&](const char* m) { return method == m; };
  auto wrong_method = [&](const char* allowed) {
    HttpResponse r = error(shape,
                           ApiError{ErrorKind::method_not_allowed,
                                    str_printf("%s is not allowed on %s (use %s)", method.c_str(),
                                               path.c_str(), allowed),
                                    {}},
                           request_id);
    r.headers.emplace_back("allow", allowed);
    return r;
  };
  if (path == "/v1/messages") return method_is("POST") ? messages(request, scope, request_id) : wrong_method("POST");
  if (path == "/v1/messages/count_tokens") {
    return method_is("POST") ? count_tokens(request, scope, request_id) : wrong_method("POST");
  }
  if (path == "/v1/chat/completions") {
    return method_is("POST") ? chat_completions(request, scope, request_id) : wrong_method("POST");
  }
  if (path == "/v1/models") return method_is("GET") ? list_models(request, scope, request_id) : wrong_method("GET");
  if (starts_with(path, "/v1/models/") && path.size() > 11) {
    if (!method_is("GET")) return wrong_method("GET");
    return get_model(request, scope, path.substr(11), request_id);
  }
  return error(shape,
               ApiError{ErrorKind::not_found,
                        str_printf("not found: %s %s", method.c_str(),
                                   quote_for_message(path, 200).c_str()),
                        {}},
               request_id);
}

Result<json::Value> Service::parse_body(const HttpRequest& request) const {
  if (request.body.empty()) return Error{"request body is empty (expected a JSON object)"};
  json::ParseOptions opt;
  opt.max_depth = config_.max_json_depth;
  return json::parse(request.body, opt);
}

bool Service::is_upstream_model(const std::string& id) const {
  return upstreams_ != nullptr && upstreams_->serves(id);
}

bool Service::resolve_model(const std::string& id) const {
  if (id == config_.model_id) return true;
  for (const auto& a : config_.aliases) {
    if (a == id) return true;
  }
  return config_.map_claude_ids && starts_with(id, "claude-");
}

std::vector<std::string> Service::model_ids(KeyScope scope) const {
  std::vector<std::string> ids{config_.model_id};
  for (const auto& a : config_.aliases) {
    if (std::find(ids.begin(), ids.end(), a) == ids.end()) ids.push_back(a);
  }
  // Claude Code's /model picker keeps only gateway ids containing "claude" or "anthropic":
  // this one lists the served model there (every claude-* id resolves to it anyway).
  if (config_.map_claude_ids) {
    std::string listed = claude_listing_id(config_.model_id);
    if (std::find(ids.begin(), ids.end(), listed) == ids.end()) ids.push_back(std::move(listed));
  }
  if (upstreams_ != nullptr) {
    for (auto& id : upstreams_->model_ids()) {
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::move(id));
    }
  }
  if (scope != nullptr) {
    std::erase_if(ids, [&](const std::string& id) { return !model_allowed(scope, id); });
  }
  return ids;
}

std::string claude_listing_id(std::string_view model_id) {
  std::string id = "claude-parley-";
  for (char c : model_id) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    id += keep ? c : (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : '-';
  }
  return id;
}

// Everything a request must pass before the engine sees it: model, media, template, context.
Result<Prompt> Service::prepare_prompt(const ChatRequest& req, Shape shape, ApiError& err) const {
  auto fail = [&](ApiError e) -> Result<Prompt> {
    err = std::move(e);
    return Error{err.message};
  };
  if (!resolve_model(req.model)) {
    return fail(ApiError{ErrorKind::not_found,
                         str_printf("model: %s is not served here (serving %s)",
                                    quote_for_message(req.model, 200).c_str(),
                                    config_.model_id.c_str()),
                         "model"});
  }
  if (!req.media.empty() && !config_.image_input) {
    const MediaRef& m = req.media.front();
    return fail(ApiError::invalid(
        str_printf("%s: the model %s cannot take %s: this server has no image/PDF/audio input "
                   "path yet (send text, or text documents)",
                   m.path.c_str(), config_.model_id.c_str(), m.what.c_str()),
        m.path));
  }
  for (const SignedThinking& t : req.thinking_blocks) {
    if (!signer_.verify(t.thinking, t.signature)) {
      return fail(ApiError::invalid(
          t.path + ": Invalid `signature` in `thinking` block: it was not made by this server "
                   "(or its signing key changed, see --signing-key), or the thinking text was changed",
          t.path));
    }
  }
  (void)shape;
  const chat::OutputFormat* format = config_.output_format.get();
  const bool generic_tools = format != nullptr && format->family == "generic" &&
                             !req.conversation.tools.empty() && req.tool_choice.mode != ToolChoiceMode::none;
  if (generic_tools) {
    // The template cannot show tools: our instructions and JSON envelope go into the system
    // prompt, and the same parser reads the calls back.
    ChatRequest with_tools = req;
    chat::Message sys;
    sys.role = chat::Role::system;
    chat::ContentPart part;
    part.text = chat::generic_tool_instructions(req.conversation.tools);
    sys.content.push_back(std::move(part));
    auto& msgs = with_tools.conversation.messages;
    if (!msgs.empty() && msgs.front().role == chat::Role::system) {
      chat::ContentPart sep;
      sep.text = "\n\n";
      msgs.front().content.push_back(std::move(sep));
      for (auto& p : sys.content) msgs.front().content.push_back(std::move(p));
    } else {
      msgs.insert(msgs.begin(), std::move(sys));
    }
    return prepare_prompt_rendered(with_tools, err);
  }
  return prepare_prompt_rendered(req, err);
}

Result<Prompt> Service::prepare_prompt_rendered(const ChatRequest& req, ApiError& err) const {
  auto fail = [&](ApiError e) -> Result<Prompt> {
    err = std::move(e);
    return Error{err.message};
  };
  auto prompt = prompts_.build(req);
  if (!prompt.ok()) {
    return fail(ApiError::invalid(
        starts_with(prompt.error().message, "messages")
            ? prompt.error().message
            : "the chat template failed on this conversation: " + prompt.error().message,
        "messages"));
  }
  return prompt;
}

HttpResponse Service::generate(ChatRequest req, Shape shape, const std::string& request_id) {
  if (!config_.parallel_tool_calls) req.tool_choice.disable_parallel_tool_use = true;
  if (is_upstream_model(req.model)) return generate_upstream(std::move(req), shape, request_id);
  ApiError err;
  auto prompt = prepare_prompt(req, shape, err);
  if (!prompt.ok()) return error(shape, err, request_id);
  const int64_t n_ctx = engine_.model_info().n_ctx;
  const int64_t n_prompt = static_cast<int64_t>(prompt->tokens.size());
  // At least one token must fit after the prompt.
  if (n_prompt >= n_ctx) return error(shape, prompt_too_long(n_prompt, n_ctx - 1), request_id);

  const int64_t room = n_ctx - n_prompt;
  int64_t wanted = req.max_tokens.value_or(room);  // OpenAI without max_tokens: to the context
  GenerationSpec spec;
  if (config_.max_output_tokens > 0 && config_.max_output_tokens < std::min(wanted, room)) {
    wanted = config_.max_output_tokens;
    if (config_.max_output_ends_turn) spec.budget_reason = StopReason::end_turn;
  }
  spec.prompt = std::move(prompt->tokens);
  spec.max_tokens = static_cast<int32_t>(std::min(wanted, room));
  if (room < wanted) spec.budget_reason = StopReason::context_window;
  spec.sampling.temperature = static_cast<float>(req.temperature.value_or(1.0));
  spec.sampling.top_p = static_cast<float>(req.top_p.value_or(1.0));
  spec.sampling.top_k = static_cast<int32_t>(std::min<int64_t>(req.top_k.value_or(0), INT32_MAX));
  spec.sampling.min_p = static_cast<float>(req.min_p.value_or(0.0));
  spec.sampling.seed = req.seed ? *req.seed : next_seed();
  spec.stop_sequences = req.stop_sequences;
  // One model, template and KV type per server: the model id keeps the cache's keys apart should
  // several ever share an engine.
  spec.cache_namespace = config_.model_id;
  spec.n_tokens_cache_breakpoint = prompt->n_tokens_cache_breakpoint;
  spec.cache_ttl_1h = req.cache_ttl_1h;
  spec.metrics = metrics_;
  spec.now = monotonic_seconds_;
  if (Status s = plan_output(req, *prompt, shape, spec); !s.ok()) {
    return error(shape, ApiError::invalid(s.error().message), request_id);
  }

  auto gen = std::make_unique<Generation>(engine_, tokenizer_, std::move(spec));
  if (Status s = gen->submit(); !s.ok()) {
    const ErrorCode code = s.error().code;
    bool overloaded = code == ErrorCode::overloaded || code == ErrorCode::unavailable;
    ApiError e{overloaded ? ErrorKind::overloaded : ErrorKind::invalid_request,
               overloaded ? "Overloaded: " + s.error().message : s.error().message,
               {}};
    return error(shape, e, request_id);
  }
  log_info("%s: %lld prompt tokens, max %d new%s", request_id.c_str(),
           static_cast<long long>(n_prompt), static_cast<int>(std::min(wanted, room)),
           req.stream ? ", streaming" : "");

  return stream_response(std::move(gen), req, shape, request_id);
}

HttpResponse Service::stream_response(std::unique_ptr<GenerationSource> source, const ChatRequest& req, Shape shape,
                                      const std::string& request_id) {
  HttpResponse r;
  if (shape == Shape::anthropic) {
    AnthropicStreamInfo info{ids_.next("msg_"), req.model, request_id};
    r.stream = make_anthropic_stream(std::move(source), info, req.stream);
  } else {
    OpenAIStreamInfo info{ids_.next("chatcmpl-"), req.model, request_id,
                          unix_time_ ? unix_time_() : 0, req.stream_include_usage};
    r.stream = make_openai_stream(std::move(source), info, req.stream);
  }
  // A source not ready yet (an upstream) answers once it is: SSE, or the error it failed with.
  if (req.stream && r.stream->is_sse()) {
    r.content_type = "text/event-stream; charset=utf-8";
    r.headers.emplace_back("cache-control", "no-cache");
  }
  r.headers.emplace_back("request-id", request_id);
  return r;
}

std::function<std::string()> Service::tool_id_maker(Shape shape) {
  const std::string prefix = shape == Shape::anthropic ? "toolu_" : "call_";
  return [this, prefix] { return ids_.next(prefix); };
}

std::function<std::string(std::string_view)> Service::thinking_signer() const {
  return [this](std::string_view thinking) { return signer_.sign(thinking); };
}

HttpResponse Service::messages(const HttpRequest& request, KeyScope scope, const std::string& request_id) {
  auto body = parse_body(request);
  if (!body.ok()) return error(Shape::anthropic, ApiError::invalid(body.error().message), request_id);
  auto req = parse_anthropic_request(*body, AnthropicEndpoint::messages);
  if (!req.ok()) return error(Shape::anthropic, ApiError::invalid(req.error().message), request_id);
  if (auto e = check_scope(scope, req->model)) return error(Shape::anthropic, *e, request_id);
  return generate(std::move(req).value(), Shape::anthropic, request_id);
}

HttpResponse Service::chat_completions(const HttpRequest& request, KeyScope scope, const std::string& request_id) {
  auto body = parse_body(request);
  if (!body.ok()) return error(Shape::openai, ApiError::invalid(body.error().message), request_id);
  auto req = parse_openai_request(*body);
  if (!req.ok()) {
    const std::string& m = req.error().message;
    size_t colon = m.find(": ");
    return error(Shape::openai,
                 ApiError::invalid(m, colon == std::string::npos ? "" : m.substr(0, colon)),
                 request_id);
  }
  if (auto e = check_scope(scope, req->model)) return error(Shape::openai, *e, request_id);
  return generate(std::move(req).value(), Shape::openai, request_id);
}

HttpResponse Service::count_tokens(const HttpRequest& request, KeyScope scope, const std::string& request_id) {
  auto body = parse_body(request);
  if (!body.ok()) return error(Shape::anthropic, ApiError::invalid(body.error().message), request_id);
  auto req = parse_anthropic_request(*body, AnthropicEndpoint::count_tokens);
  if (!req.ok()) return error(Shape::anthropic, ApiError::invalid(req.error().message), request_id);
  if (auto e = check_scope(scope, req->model)) return error(Shape::anthropic, *e, request_id);
  if (is_upstream_model(req->model)) {
    // An openai-chat upstream has no token counting endpoint, and this server does not have
    // its tokenizer: no number rather than a wrong one.
    return error(Shape::anthropic,
                 ApiError::invalid(str_printf("model: count_tokens is not available for %s: it is "
                                              "served by an upstream (openai-chat) that cannot count",
                                              quote_for_message(req->model, 200).c_str()),
                                   "model"),
                 request_id);
  }
  ApiError err;
  auto prompt = prepare_prompt(*req, Shape::anthropic, err);
  if (!prompt.ok()) return error(Shape::anthropic, err, request_id);
  json::Value v = json::Value::object();
  v["input_tokens"] = static_cast<int64_t>(prompt->tokens.size());
  return json_response(v, request_id);
}

}  // namespace parley::api
