#include "upstream/config.h"

#include <algorithm>

#include "base/strings.h"

namespace parley::upstream {

Result<Url> parse_url(std::string_view url) {
  std::string_view rest = url;
  if (starts_with(rest, "https://")) {
    return Error{"https:// upstreams are not supported yet (no TLS client in this build): use "
                 "http://, e.g. through a local TLS-terminating proxy"};
  }
  if (!starts_with(rest, "http://")) return Error{"the URL must start with http://"};
  rest.remove_prefix(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return Error{"credentials in the URL are not accepted (use --upstream-key-env)"};
  }
  Url u;
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5) return Error{"bad port in the URL"};
    uint32_t p = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return Error{"bad port in the URL"};
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return Error{"bad port in the URL"};
    u.port = static_cast<uint16_t>(p);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return Error{"the URL has no host"};
  u.host = std::string(authority);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  // A base URL given with the OpenAI prefix (".../v1") is the same server.
  if (ends_with(path, "/v1")) path.remove_suffix(3);
  u.base_path = std::string(path);
  return u;
}

Status check_upstreams(const std::vector<UpstreamConfig>& upstreams) {
  for (size_t i = 0; i < upstreams.size(); i++) {
    const UpstreamConfig& a = upstreams[i];
    if (!(a.weight > 0)) return Error{"upstream " + a.name + ": weight must be > 0"};
    if (a.max_concurrent < 0) return Error{"upstream " + a.name + ": max_concurrent must be >= 0"};
    if (a.health_interval_s < 0) return Error{"upstream " + a.name + ": health_interval_s must be >= 0"};
    for (size_t j = 0; j < i; j++) {
      const UpstreamConfig& b = upstreams[j];
      if (a.name == b.name) return Error{"upstream " + a.name + " is given twice"};
      const bool a_relays = a.protocol != Protocol::openai_chat;
      if (a_relays == (b.protocol != Protocol::openai_chat)) continue;
      for (const std::string& m : a.models) {
        if (std::find(b.models.begin(), b.models.end(), m) != b.models.end()) {
          return Error{"model " + m + " is served by " + b.name + " and " + a.name +
                       ": replicas of one model cannot mix openai-chat with anthropic/parley (thinking "
                       "signatures are made by this server for one and by the upstream for the other)"};
        }
      }
    }
  }
  return {};
}

}  // namespace parley::upstream
