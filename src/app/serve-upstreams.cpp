#include "app/serve-upstreams.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <optional>

#include "base/strings.h"

namespace parley::app {
namespace {

struct Pair {
  std::string name, value;
};

Result<Pair> split_pair(const std::string& flag, const std::string& arg) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Error{flag + ": expected NAME=VALUE, got " + quote_for_message(arg)};
  }
  return Pair{arg.substr(0, eq), arg.substr(eq + 1)};
}

// The whole of v as a number (nothing before or after it), or nullopt.
std::optional<double> parse_double(const std::string& v) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') return std::nullopt;
  return d;
}

// The whole of v as an integer in [lo, hi], or nullopt.
std::optional<int> parse_int(const std::string& v, long lo, long hi) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi) return std::nullopt;
  return static_cast<int>(n);
}

Result<double> parse_seconds(const std::string& v) {
  std::optional<double> s = parse_double(v);
  if (!s || !(*s > 0)) return Error{"expected a positive number of seconds, got " + quote_for_message(v)};
  return *s;
}

using Kind = UpstreamSetting::Kind;

Status apply_models(upstream::UpstreamConfig& u, const std::string& v) {
  for (std::string_view id : split(v, ',')) {
    id = trim(id);
    if (id.empty()) return Error{"empty model id"};
    u.models.emplace_back(id);
  }
  return {};
}

Status apply_key_env(upstream::UpstreamConfig& u, const std::string& v) {
  const char* key = std::getenv(v.c_str());
  if (key == nullptr || *key == '\0') return Error{"the environment variable " + v + " is not set or empty"};
  u.api_key = key;
  u.api_key_env = v;
  return {};
}

Status apply_protocol(upstream::UpstreamConfig& u, const std::string& v) {
  if (v == "openai-chat") {
    u.protocol = upstream::Protocol::openai_chat;
  } else if (v == "anthropic" || v == "parley") {
    u.protocol = v == "anthropic" ? upstream::Protocol::anthropic : upstream::Protocol::parley;
  } else {
    return Error{"unknown protocol " + quote_for_message(v) + " (openai-chat, anthropic or parley)"};
  }
  return {};
}

Status apply_connect_timeout(upstream::UpstreamConfig& u, const std::string& v) {
  PARLEY_TRY(u.connect_timeout_s, parse_seconds(v));
  return {};
}

Status apply_read_timeout(upstream::UpstreamConfig& u, const std::string& v) {
  PARLEY_TRY(u.read_timeout_s, parse_seconds(v));
  return {};
}

Status apply_retries(upstream::UpstreamConfig& u, const std::string& v) {
  std::optional<int> n = parse_int(v, 0, 10);
  if (!n) return Error{"expected 0..10, got " + quote_for_message(v)};
  u.max_retries = *n;
  return {};
}

Status apply_weight(upstream::UpstreamConfig& u, const std::string& v) {
  std::optional<double> w = parse_double(v);
  if (!w || !(*w > 0) || *w > 1e6) return Error{"expected a positive number, got " + quote_for_message(v)};
  u.weight = *w;
  return {};
}

Status apply_max_concurrent(upstream::UpstreamConfig& u, const std::string& v) {
  std::optional<int> n = parse_int(v, 0, 1000000);
  if (!n) return Error{"expected 0 (unlimited) or a count, got " + quote_for_message(v)};
  u.max_concurrent = *n;
  return {};
}

Status apply_health_interval(upstream::UpstreamConfig& u, const std::string& v) {
  std::optional<double> s = parse_double(v);
  if (!s || !(*s >= 0)) return Error{"expected seconds (0: none), got " + quote_for_message(v)};
  u.health_interval_s = *s;
  return {};
}

}  // namespace

void add_upstream_flags(CLI::App* sub, UpstreamFlags* f) {
  sub->add_option("--upstream", f->upstreams,
                  "gateway: an upstream engine NAME=http://HOST:PORT[/PREFIX] (vLLM, SGLang, llama-server, "
                  "an Anthropic-compatible server, another parley; a final /v1 is optional) that serves the model ids given by --upstream-models (repeatable)");
  sub->add_option("--upstream-models", f->models,
                  "NAME=ID[,ID...]: model ids sent to upstream NAME, passed on as they are (required per upstream)");
  sub->add_option("--upstream-key-env", f->key_envs,
                  "NAME=ENVVAR: send the key in this environment variable (Authorization: Bearer for "
                  "openai-chat, x-api-key for anthropic and parley; read at start; never logged)");
  sub->add_option("--upstream-protocol", f->protocols,
                  "NAME=PROTOCOL: openai-chat (the default: POST /v1/chat/completions), anthropic (Anthropic's API "
                  "or any Anthropic-compatible server: POST /v1/messages), or parley (another parley: the "
                  "anthropic protocol, plus Parley's seed extension)");
  sub->add_option("--upstream-connect-timeout", f->connect_timeouts, "NAME=SECONDS to connect (default 10)");
  sub->add_option("--upstream-read-timeout", f->read_timeouts,
                  "NAME=SECONDS of silence allowed while its answer streams (default 600)");
  sub->add_option("--upstream-retries", f->retries,
                  "NAME=N retries when an attempt on NAME fails before its answer started (connect failure, timeout, "
                  "429, 5xx): on another replica of the model when there is one (default 2)");
  sub->add_option("--upstream-weight", f->weights,
                  "NAME=W: NAME's share of new requests among equally loaded replicas of a model (default 1)");
  sub->add_option("--upstream-max-concurrent", f->max_concurrent,
                  "NAME=N requests in flight on NAME at most (default 0: unlimited); when every replica of a model "
                  "is full, requests get 529 overloaded_error");
  sub->add_option("--upstream-health-interval", f->health_intervals,
                  "NAME=SECONDS between health checks of NAME (GET /v1/models; a failing one ejects NAME until one "
                  "passes; default 0: none)");
  sub->add_option("--gateway-affinity", f->affinity,
                  "on (default): requests go to the replica that served their prefix (within a load bound), to "
                  "reuse its KV cache; off: least outstanding requests, round robin among equals")
      ->check(CLI::IsMember({"on", "off"}));
  sub->add_option("--gateway-eject-after", f->eject_after,
                  "eject an upstream after N consecutive failures (connect failure, timeout, 5xx, broken stream; "
                  "default 3, 0: never)")
      ->check(CLI::Range(0, 1000));
  sub->add_option("--gateway-eject-cooldown", f->eject_cooldown_s,
                  "SECONDS an ejected upstream gets no requests before one trial request (default 10)")
      ->check(CLI::PositiveNumber);
}

Result<upstream::GatewayOptions> gateway_options_from_flags(const UpstreamFlags& f) {
  upstream::GatewayOptions o;
  if (f.affinity != "on" && f.affinity != "off") {
    return Error{"--gateway-affinity: expected on or off, got " + quote_for_message(f.affinity)};
  }
  o.affinity = f.affinity == "on";
  if (f.eject_after < 0) return Error{"--gateway-eject-after: expected >= 0"};
  o.eject_after_failures = f.eject_after;
  if (!(f.eject_cooldown_s > 0)) return Error{"--gateway-eject-cooldown: expected a positive number of seconds"};
  o.eject_cooldown_s = f.eject_cooldown_s;
  return o;
}

const std::vector<UpstreamSetting>& upstream_settings() {
  static const std::vector<UpstreamSetting> settings = {
      {"models", "--upstream-models", Kind::strings, &UpstreamFlags::models, apply_models},
      {"key_env", "--upstream-key-env", Kind::string, &UpstreamFlags::key_envs, apply_key_env},
      {"protocol", "--upstream-protocol", Kind::string, &UpstreamFlags::protocols, apply_protocol},
      {"connect_timeout", "--upstream-connect-timeout", Kind::number, &UpstreamFlags::connect_timeouts,
       apply_connect_timeout},
      {"read_timeout", "--upstream-read-timeout", Kind::number, &UpstreamFlags::read_timeouts, apply_read_timeout},
      {"retries", "--upstream-retries", Kind::integer, &UpstreamFlags::retries, apply_retries},
      {"weight", "--upstream-weight", Kind::number, &UpstreamFlags::weights, apply_weight},
      {"max_concurrent", "--upstream-max-concurrent", Kind::integer, &UpstreamFlags::max_concurrent,
       apply_max_concurrent},
      {"health_interval", "--upstream-health-interval", Kind::number, &UpstreamFlags::health_intervals,
       apply_health_interval},
  };
  return settings;
}

Result<upstream::UpstreamConfig> new_upstream(std::string name, std::string url) {
  upstream::UpstreamConfig u;
  PARLEY_TRY(u.endpoint, upstream::parse_url(url));
  u.name = std::move(name);
  u.url = std::move(url);
  return u;
}

Result<std::vector<upstream::UpstreamConfig>> upstreams_from_flags(const UpstreamFlags& f,
                                                                   std::vector<upstream::UpstreamConfig> from_file,
                                                                   const std::string& config_path) {
  std::vector<upstream::UpstreamConfig> out = std::move(from_file);
  const size_t n_from_file = out.size();
  auto find = [&](const std::string& name) -> upstream::UpstreamConfig* {
    for (auto& u : out) {
      if (u.name == name) return &u;
    }
    return nullptr;
  };
  auto in_file = [&](const upstream::UpstreamConfig* u) { return u != nullptr && u < out.data() + n_from_file; };
  for (const auto& arg : f.upstreams) {
    PARLEY_TRY(Pair p, split_pair("--upstream", arg));
    if (const upstream::UpstreamConfig* u = find(p.name)) {
      if (in_file(u)) return Error{"--upstream: " + p.name + " is also defined in " + config_path};
      return Error{"--upstream: " + p.name + " is given twice"};
    }
    auto u = new_upstream(p.name, p.value);
    if (!u.ok()) return Error{"--upstream " + p.name + ": " + u.error().message};
    out.push_back(std::move(u).value());
  }
  // Each per-upstream flag names an upstream given with --upstream.
  for (const UpstreamSetting& s : upstream_settings()) {
    for (const auto& arg : f.*s.args) {
      PARLEY_TRY(Pair p, split_pair(s.flag, arg));
      upstream::UpstreamConfig* u = find(p.name);
      if (u == nullptr || in_file(u)) {
        return Error{std::string(s.flag) + ": no --upstream named " + quote_for_message(p.name) +
                     (u != nullptr ? " (" + p.name + " is defined in " + config_path + ": set " + s.key + " there)" : "")};
      }
      if (Status st = s.apply(*u, p.value); !st.ok()) {
        return Error{std::string(s.flag) + " " + u->name + ": " + st.error().message};
      }
    }
  }
  for (size_t i = n_from_file; i < out.size(); i++) {
    const std::string& name = out[i].name;
    if (out[i].models.empty()) return Error{"--upstream " + name + ": give its model ids with --upstream-models " + name + "=ID,..."};
  }
  PARLEY_CHECK_OK(upstream::check_upstreams(out));
  return out;
}

std::string describe_upstream(const upstream::UpstreamConfig& u) {
  std::string models;
  for (const auto& m : u.models) models += (models.empty() ? "" : ", ") + m;
  const char* protocol = u.protocol == upstream::Protocol::openai_chat ? "openai-chat"
                         : u.protocol == upstream::Protocol::anthropic ? "anthropic"
                                                                         : "parley";
  std::string extra;
  if (u.weight != 1) extra += str_printf("; weight %g", u.weight);
  if (u.max_concurrent > 0) extra += str_printf("; at most %d in flight", u.max_concurrent);
  if (u.health_interval_s > 0) extra += str_printf("; health check every %g s", u.health_interval_s);
  if (!u.api_key_env.empty()) extra += "; key from $" + u.api_key_env;
  return str_printf("%s: %s (%s), models %s%s", u.name.c_str(), u.url.c_str(), protocol, models.c_str(), extra.c_str());
}

}  // namespace parley::app
