// GET /v1/models and /v1/models/{id}: Anthropic's shape (cursor pagination with before_id,
// after_id, limit; has_more, first_id, last_id) when the request carries anthropic-version,
// OpenAI's list otherwise.
#include <algorithm>
#include <cstdlib>
#include <optional>

#include "api/service.h"
#include "base/strings.h"

namespace parley::api {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding ('+' is a space); bad escapes are kept as is.
std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
        hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The last value of `key` in a query string, decoded; nullopt when absent.
std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  std::optional<std::string> found;
  for (std::string_view part : split(query, '&')) {
    size_t eq = part.find('=');
    std::string name = url_decode(part.substr(0, eq));
    if (name == key) found = eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
  }
  return found;
}

}  // namespace

json::Value Service::model_json(const std::string& id, Shape shape) const {
  json::Value m = json::Value::object();
  m["id"] = id;
  if (shape == Shape::openai) {
    m["object"] = "model";
    m["created"] = 0;
    m["owned_by"] = "parley";
    return m;
  }
  m["type"] = "model";
  if (is_upstream_model(id)) {
    // Served by an upstream: its limits are the upstream's and not known here.
    m["display_name"] = id;
    m["created_at"] = "1970-01-01T00:00:00Z";
    return m;
  }
  m["display_name"] = config_.display_name.empty() ? config_.model_id : config_.display_name;
  m["created_at"] = "1970-01-01T00:00:00Z";  // release time unknown for a local file
  const int32_t n_ctx = engine_.model_info().n_ctx;
  m["max_input_tokens"] = n_ctx;
  m["max_tokens"] = config_.max_output_tokens > 0 ? std::min(config_.max_output_tokens, n_ctx) : n_ctx;
  return m;
}

HttpResponse Service::list_models(const HttpRequest& request, KeyScope scope, const std::string& request_id) {
  std::vector<std::string> ids = model_ids(scope);
  if (request.header("anthropic-version") == nullptr) {
    json::Value v = json::Value::object();
    v["object"] = "list";
    v["data"] = json::Value::array();
    for (const auto& id : ids) v["data"].push_back(model_json(id, Shape::openai));
    return json_response(v, request_id);
  }
  int64_t limit = 20;
  if (auto l = query_param(request.query, "limit")) {
    char* end = nullptr;
    long long n = std::strtoll(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || n < 1 || n > 1000) {
      return error(Shape::anthropic,
                   ApiError::invalid("limit: must be an integer between 1 and 1000, got " +
                                     quote_for_message(*l)),
                   request_id);
    }
    limit = n;
  }
  auto after = query_param(request.query, "after_id");
  auto before = query_param(request.query, "before_id");
  if (after && before) {
    return error(Shape::anthropic,
                 ApiError::invalid("after_id and before_id cannot be given together"), request_id);
  }
  // The page is a window [begin, end) of the list (newest first; here: served id, then aliases).
  int64_t n = static_cast<int64_t>(ids.size());
  int64_t begin = 0, end = n;
  auto index_of = [&](const std::string& id) -> int64_t {
    auto it = std::find(ids.begin(), ids.end(), id);
    return it == ids.end() ? -1 : it - ids.begin();
  };
  if (after) {
    int64_t i = index_of(*after);
    if (i < 0) {
      return error(Shape::anthropic, ApiError::invalid("after_id: unknown model id " + quote_for_message(*after)), request_id);
    }
    begin = i + 1;
    end = std::min(n, begin + limit);
  } else if (before) {
    int64_t i = index_of(*before);
    if (i < 0) {
      return error(Shape::anthropic, ApiError::invalid("before_id: unknown model id " + quote_for_message(*before)), request_id);
    }
    end = i;
    begin = std::max<int64_t>(0, end - limit);
  } else {
    end = std::min(n, limit);
  }
  json::Value v = json::Value::object();
  v["data"] = json::Value::array();
  for (int64_t i = begin; i < end; i++) v["data"].push_back(model_json(ids[i], Shape::anthropic));
  // has_more: more items lie in the paging direction.
  v["has_more"] = before ? begin > 0 : end < n;
  v["first_id"] = begin < end ? json::Value(ids[begin]) : json::Value();
  v["last_id"] = begin < end ? json::Value(ids[end - 1]) : json::Value();
  return json_response(v, request_id);
}

HttpResponse Service::get_model(const HttpRequest& request, KeyScope scope, const std::string& raw_id,
                                const std::string& request_id) {
  std::string id = url_decode(raw_id);
  Shape shape = request.header("anthropic-version") ? Shape::anthropic : Shape::openai;
  // A model the key may not use is not found for it (as if it were not served).
  if ((!resolve_model(id) && !is_upstream_model(id)) || !model_allowed(scope, id)) {
    ApiError e{ErrorKind::not_found,
               str_printf("model: %s not found", quote_for_message(id, 200).c_str()), "model"};
    return error(shape, e, request_id);
  }
  // A listed id answers as itself; a mapped claude-* id resolves to the served model.
  std::vector<std::string> ids = model_ids();
  bool listed = std::find(ids.begin(), ids.end(), id) != ids.end();
  return json_response(model_json(listed ? id : config_.model_id, shape), request_id);
}

}  // namespace parley::api
