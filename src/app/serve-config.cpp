#include "app/serve-config.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

#include "app/serve-upstreams.h"
#include "base/strings.h"

namespace parley::app {
namespace {

std::string where(const std::string& path, const toml::source_region& r) {
  return str_printf("%s:%u:%u", path.c_str(), static_cast<unsigned>(r.begin.line), static_cast<unsigned>(r.begin.column));
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

std::string number_text(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : str_printf("%.17g", d);
}

// A scalar as the command line would give it, or nullopt for a table, array or date.
std::optional<std::string> scalar_text(const toml::node& v) {
  if (const auto* s = v.as_string()) return s->get();
  if (const auto* i = v.as_integer()) return std::to_string(i->get());
  if (const auto* f = v.as_floating_point()) return number_text(f->get());
  if (const auto* b = v.as_boolean()) return std::string(b->get() ? "true" : "false");
  return std::nullopt;
}

// What a setting of `kind` takes, for "expected ..., got ...".
bool fits(UpstreamSetting::Kind kind, const toml::node& v) {
  switch (kind) {
    case UpstreamSetting::Kind::string: return v.is_string();
    case UpstreamSetting::Kind::number: return v.is_integer() || v.is_floating_point();
    case UpstreamSetting::Kind::integer: return v.is_integer();
    case UpstreamSetting::Kind::strings: return v.is_string();
  }
  return false;
}

const char* expected(UpstreamSetting::Kind kind) {
  switch (kind) {
    case UpstreamSetting::Kind::string: return "a string";
    case UpstreamSetting::Kind::number: return "a number";
    case UpstreamSetting::Kind::integer: return "an integer";
    case UpstreamSetting::Kind::strings: return "an array of strings";
  }
  return "";
}

std::string upstream_keys() {
  std::string keys = "name, url";
  for (const UpstreamSetting& s : upstream_settings()) keys += std::string(", ") + s.key;
  return keys;
}

Result<std::string> string_key(const std::string& path, const toml::table& t, const char* key, const std::string& what) {
  const toml::node* v = t.get(key);
  if (v == nullptr) return Error{where(path, t.source()) + ": " + what + ": missing " + key + " (required)"};
  if (!v->is_string() || v->as_string()->get().empty()) {
    return Error{where(path, v->source()) + ": " + what + ": " + key + ": expected a non-empty string, got " +
                 (v->is_string() ? "\"\"" : type_name(v->type()))};
  }
  return v->as_string()->get();
}

Result<upstream::UpstreamConfig> parse_upstream(const std::string& path, const toml::table& t) {
  PARLEY_TRY(std::string name, string_key(path, t, "name", "upstream"));
  const std::string what = "upstream " + name;
  PARLEY_TRY(std::string url, string_key(path, t, "url", what));
  auto made = new_upstream(name, url);
  if (!made.ok()) return Error{where(path, t.get("url")->source()) + ": " + what + ": url: " + made.error().message};
  upstream::UpstreamConfig u = std::move(made).value();
  const auto& settings = upstream_settings();
  for (auto&& [k, v] : t) {
    if (k.str() == "name" || k.str() == "url") continue;
    const std::string_view key = k.str();  // clang 14 cannot capture a structured binding
    auto s = std::find_if(settings.begin(), settings.end(), [&](const UpstreamSetting& e) { return key == e.key; });
    if (s == settings.end()) {
      return Error{where(path, k.source()) + ": " + what + ": unknown key " + std::string(k.str()) + " (" +
                   upstream_keys() + ")"};
    }
    const std::string at = where(path, v.source()) + ": " + what + ": " + s->key + ": ";
    std::vector<const toml::node*> values;
    if (s->kind == UpstreamSetting::Kind::strings) {
      const toml::array* a = v.as_array();
      if (a == nullptr) return Error{at + "expected an array of strings, got " + type_name(v.type())};
      for (const toml::node& e : *a) values.push_back(&e);
    } else {
      values.push_back(&v);
    }
    for (const toml::node* e : values) {
      if (!fits(s->kind, *e)) {
        return Error{where(path, e->source()) + ": " + what + ": " + s->key + ": expected " + expected(s->kind) +
                     ", got " + type_name(e->type())};
      }
      if (Status st = s->apply(u, *scalar_text(*e)); !st.ok()) {
        return Error{where(path, e->source()) + ": " + what + ": " + s->key + ": " + st.error().message};
      }
    }
  }
  if (u.models.empty()) {
    const toml::node* m = t.get("models");
    return Error{where(path, m != nullptr ? m->source() : t.source()) + ": " + what +
                 ": models: give the model ids it serves (required)"};
  }
  return u;
}

Result<ConfigKey> parse_api_key(const std::string& path, const toml::table& t, size_t n) {
  ConfigKey k;
  k.where = where(path, t.source());
  const std::string what = "api_key #" + std::to_string(n);
  PARLEY_TRY(k.key_env, string_key(path, t, "key_env", what));
  const char* key = std::getenv(k.key_env.c_str());
  if (key == nullptr || *key == '\0') {
    return Error{where(path, t.get("key_env")->source()) + ": " + what + ": key_env: the environment variable " +
                 k.key_env + " is not set or empty"};
  }
  k.key = key;
  for (auto&& [name, v] : t) {
    if (name.str() == "key_env") continue;
    if (name.str() != "models") {
      return Error{where(path, name.source()) + ": " + what + ": unknown key " + std::string(name.str()) +
                   " (key_env, models; the key itself is never written in the file)"};
    }
    const toml::array* a = v.as_array();
    if (a == nullptr) return Error{where(path, v.source()) + ": " + what + ": models: expected an array of strings, got " + type_name(v.type())};
    for (const toml::node& e : *a) {
      if (!e.is_string() || e.as_string()->get().empty()) {
        return Error{where(path, e.source()) + ": " + what + ": models: expected a non-empty string, got " +
                     (e.is_string() ? "\"\"" : type_name(e.type()))};
      }
      k.models.push_back(e.as_string()->get());
    }
    if (k.models.empty()) {
      return Error{where(path, v.source()) + ": " + what + ": models: empty (leave models out for a key that may use every model)"};
    }
  }
  return k;
}

// [server] key "ctx" -> "--ctx"; [gateway] key "eject_after" -> "--gateway-eject-after".
Status parse_options(const std::string& path, const toml::table& t, const std::string& section,
                     const std::string& prefix, std::vector<ConfigOption>* out) {
  for (auto&& [k, v] : t) {
    ConfigOption o;
    std::string name(k.str());
    o.key = section + "." + name;
    for (char& c : name) c = c == '_' ? '-' : c;
    o.option = prefix + name;
    o.where = where(path, v.source());
    std::vector<const toml::node*> values;
    if (const toml::array* a = v.as_array()) {
      for (const toml::node& e : *a) values.push_back(&e);
    } else {
      values.push_back(&v);
    }
    for (const toml::node* e : values) {
      std::optional<std::string> text = scalar_text(*e);
      if (!text) {
        return Error{where(path, e->source()) + ": " + o.key + ": expected a string, number or boolean, got " +
                     type_name(e->type())};
      }
      o.boolean = e->is_boolean();
      o.values.push_back(std::move(*text));
    }
    out->push_back(std::move(o));
  }
  return {};
}

Result<ServeConfig> parse_document(const toml::table& doc, const std::string& path) {
  ServeConfig c;
  c.path = path;
  for (auto&& [k, v] : doc) {
    const std::string at = where(path, v.source()) + ": " + std::string(k.str());
    if (k.str() == "server" || k.str() == "gateway") {
      if (!v.is_table()) return Error{at + ": expected a table [" + std::string(k.str()) + "], got " + type_name(v.type())};
      PARLEY_CHECK_OK(parse_options(path, *v.as_table(), std::string(k.str()),
                                    k.str() == "server" ? "--" : "--gateway-", &c.options));
    } else if (k.str() == "upstream") {
      if (!v.is_array_of_tables()) return Error{at + ": expected [[upstream]] tables, got " + type_name(v.type())};
      for (const toml::node& e : *v.as_array()) {
        PARLEY_TRY(upstream::UpstreamConfig u, parse_upstream(path, *e.as_table()));
        for (const auto& other : c.upstreams) {
          if (other.name == u.name) {
            return Error{where(path, e.as_table()->get("name")->source()) + ": upstream " + u.name + " is given twice"};
          }
        }
        c.upstreams.push_back(std::move(u));
      }
    } else if (k.str() == "api_key") {
      if (!v.is_array_of_tables()) return Error{at + ": expected [[api_key]] tables, got " + type_name(v.type())};
      for (const toml::node& e : *v.as_array()) {
        PARLEY_TRY(ConfigKey key, parse_api_key(path, *e.as_table(), c.api_keys.size() + 1));
        for (size_t i = 0; i < c.api_keys.size(); i++) {
          if (c.api_keys[i].key == key.key) {
            return Error{key.where + ": api_key #" + std::to_string(c.api_keys.size() + 1) +
                         ": the same key as api_key #" + std::to_string(i + 1)};
          }
        }
        c.api_keys.push_back(std::move(key));
      }
    } else {
      return Error{where(path, k.source()) + ": unknown key " + std::string(k.str()) +
                   " (expected [server], [gateway], [[upstream]] and [[api_key]])"};
    }
  }
  if (Status s = upstream::check_upstreams(c.upstreams); !s.ok()) return Error{path + ": " + s.error().message};
  return c;
}

bool is_flag(const CLI::Option& o) { return o.get_expected_max() == 0; }

}  // namespace

Result<ServeConfig> parse_serve_config(std::string_view text, const std::string& path) {
  try {
    toml::table doc = toml::parse(text, path);
    return parse_document(doc, path);
  } catch (const toml::parse_error& e) {
    return Error{where(path, e.source()) + ": " + std::string(e.description())};
  }
}

Result<ServeConfig> load_serve_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"--config: cannot open " + path};
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_serve_config(ss.str(), path);
}

Status apply_config_options(CLI::App* serve, const ServeConfig& config) {
  for (const ConfigOption& o : config.options) {
    CLI::Option* opt = serve->get_option_no_throw(o.option);
    // [server] takes serve's own options; the gateway's and the upstreams' have their sections.
    const bool server = starts_with(o.key, "server.");
    if (opt == nullptr || o.option == "--config" || o.option == "--help" ||
        (server && (starts_with(o.option, "--upstream") || starts_with(o.option, "--gateway-")))) {
      return Error{o.where + ": unknown key " + o.key +
                   (server ? " (serve's options by their long names, as in parley serve --help)" : "")};
    }
    if (opt->count() > 0) continue;  // given on the command line: that wins
    std::vector<std::string> values = o.values;
    if (is_flag(*opt) != o.boolean) {
      if (is_flag(*opt)) return Error{o.where + ": " + o.key + ": expected true or false"};
      // A boolean for an on|off option (affinity = true).
      for (auto& v : values) v = v == "true" ? "on" : "off";
    }
    try {
      for (auto& v : values) opt->add_result(v);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return Error{o.where + ": " + o.key + ": " + e.what()};
    }
  }
  return {};
}

}  // namespace parley::app
