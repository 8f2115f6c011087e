// One upstream of the gateway, as configured on `parley serve` (--upstream NAME=URL and the
// per-upstream --upstream-* flags): where it is, how it is spoken to, which model ids it serves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace parley::upstream {

// anthropic: the Messages API (POST {base}/v1/messages, x-api-key, anthropic-version);
// parley: the same, plus Parley's request extensions (seed).
enum class Protocol { openai_chat, anthropic, parley };

struct Url {
  std::string host;
  uint16_t port = 80;
  // Without a trailing '/' or a final "/v1" (both APIs' clients take the base URL with or
  // without it, and the paths sent all start with /v1): "" or "/prefix" ...
  std::string base_path;
};

// "http://host[:port][/path]". https:// is refused (no TLS in this build) with a message that
// says so; anything else is an error naming what is wrong.
Result<Url> parse_url(std::string_view url);

struct UpstreamConfig {
  std::string name;
  std::string url;  // as given (never holds the key)
  Url endpoint;
  Protocol protocol = Protocol::openai_chat;
  std::vector<std::string> models;  // model ids sent here (as is: the upstream sees the same id)
  // Sent as "Authorization: Bearer <key>" (openai-chat) or "x-api-key: <key>" (anthropic,
  // parley). Read from an environment variable at start; it is
  // never logged, never echoed in errors (scrubbed from relayed upstream messages) or metrics.
  std::string api_key;
  std::string api_key_env;  // the variable's name (may be logged)
  double connect_timeout_s = 10;
  double read_timeout_s = 600;  // silence allowed between two reads of the answer
  int max_retries = 2;          // connect failure / 429 / 5xx before the answer started
};

}  // namespace parley::upstream
