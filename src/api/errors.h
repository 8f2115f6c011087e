// API errors: one typed value, written in the Anthropic envelope
// {"type":"error","error":{"type","message"},"request_id"} or the OpenAI one
// {"error":{"message","type","param","code"}}. The HTTP status follows the error type
// (anthropic-api.md §7.2); deterministic request problems are never 5xx.
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"

namespace parley::api {

enum class ErrorKind {
  invalid_request,    // 400 invalid_request_error
  authentication,     // 401 authentication_error
  permission,         // 403 permission_error
  not_found,          // 404 not_found_error
  method_not_allowed, // 405 invalid_request_error
  request_timeout,    // 408 timeout_error
  request_too_large,  // 413 request_too_large
  rate_limit,         // 429 rate_limit_error
  api_error,          // 500 api_error
  overloaded,         // 529 overloaded_error
};

struct ApiError {
  ErrorKind kind = ErrorKind::invalid_request;
  std::string message;
  std::string param;  // OpenAI: the offending parameter ("messages[2].content"), may be empty

  static ApiError invalid(std::string message, std::string param = {}) {
    return {ErrorKind::invalid_request, std::move(message), std::move(param)};
  }
};

int error_status(ErrorKind kind);
const char* anthropic_error_type(ErrorKind kind);  // "invalid_request_error", ...
const char* openai_error_type(ErrorKind kind);     // "invalid_request_error", "server_error", ...

// {"type":"error","error":{"type":...,"message":...},"request_id":...}
json::Value anthropic_error_json(const ApiError& e, std::string_view request_id);
// {"error":{"message":...,"type":...,"param":...,"code":...}}
json::Value openai_error_json(const ApiError& e);

// The exact wording Claude Code parses to trigger auto-compaction (anthropic-api.md §7.3).
ApiError prompt_too_long(int64_t n_prompt, int64_t n_max);

}  // namespace parley::api
