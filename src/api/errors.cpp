#include "api/errors.h"

#include "base/strings.h"

namespace parley::api {

int error_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request: return 400;
    case ErrorKind::authentication: return 401;
    case ErrorKind::permission: return 403;
    case ErrorKind::not_found: return 404;
    case ErrorKind::method_not_allowed: return 405;
    case ErrorKind::request_timeout: return 408;
    case ErrorKind::request_too_large: return 413;
    case ErrorKind::rate_limit: return 429;
    case ErrorKind::api_error: return 500;
    case ErrorKind::overloaded: return 529;
  }
  return 500;
}

const char* anthropic_error_type(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request: return "invalid_request_error";
    case ErrorKind::authentication: return "authentication_error";
    case ErrorKind::permission: return "permission_error";
    case ErrorKind::not_found: return "not_found_error";
    // Anthropic has no type of its own for these; the docs use invalid_request_error for
    // "other 4xx not listed".
    case ErrorKind::method_not_allowed: return "invalid_request_error";
    case ErrorKind::request_timeout: return "timeout_error";
    case ErrorKind::request_too_large: return "request_too_large";
    case ErrorKind::rate_limit: return "rate_limit_error";
    case ErrorKind::api_error: return "api_error";
    case ErrorKind::overloaded: return "overloaded_error";
  }
  return "api_error";
}

const char* openai_error_type(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request:
    case ErrorKind::method_not_allowed:
    case ErrorKind::request_too_large: return "invalid_request_error";
    case ErrorKind::authentication: return "authentication_error";
    case ErrorKind::permission: return "permission_error";
    case ErrorKind::not_found: return "not_found_error";
    case ErrorKind::request_timeout: return "timeout";
    case ErrorKind::rate_limit: return "rate_limit_exceeded";
    case ErrorKind::api_error: return "server_error";
    case ErrorKind::overloaded: return "server_overloaded";
  }
  return "server_error";
}

json::Value anthropic_error_json(const ApiError& e, std::string_view request_id) {
  json::Value inner = json::Value::object();
  inner["type"] = anthropic_error_type(e.kind);
  inner["message"] = e.message;
  json::Value v = json::Value::object();
  v["type"] = "error";
  v["error"] = std::move(inner);
  v["request_id"] = std::string(request_id);
  return v;
}

json::Value openai_error_json(const ApiError& e) {
  json::Value inner = json::Value::object();
  inner["message"] = e.message;
  inner["type"] = openai_error_type(e.kind);
  inner["param"] = e.param.empty() ? json::Value() : json::Value(e.param);
  inner["code"] = e.kind == ErrorKind::not_found && starts_with(e.message, "model")
                      ? json::Value("model_not_found")
                      : json::Value();
  json::Value v = json::Value::object();
  v["error"] = std::move(inner);
  return v;
}

ApiError prompt_too_long(int64_t n_prompt, int64_t n_max) {
  return ApiError::invalid(str_printf("prompt is too long: %lld tokens > %lld maximum",
                                      static_cast<long long>(n_prompt),
                                      static_cast<long long>(n_max)));
}

}  // namespace parley::api
