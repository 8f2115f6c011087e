#include "upstream/config.h"

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

}  // namespace parley::upstream
