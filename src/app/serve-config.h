// `parley serve --config FILE`: a TOML file with the serve settings ([server], any of serve's
// options by its long name), the gateway's ([gateway]: --gateway-*) and its upstreams
// ([[upstream]]: one table per --upstream and its --upstream-* settings) and client keys
// ([[api_key]]: --api-key and --api-key-models, the key read from an environment variable). Parsed and checked
// once, before the model loads; every refusal names FILE:LINE:COLUMN and the key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "upstream/config.h"

namespace CLI {
class App;
}

namespace parley::app {

// A [server] or [gateway] setting, as the command line would give it to its option.
struct ConfigOption {
  std::string option;               // "--ctx", "--gateway-affinity"
  std::string key;                  // "server.ctx": for messages
  std::vector<std::string> values;  // one per array element; a number written out
  bool boolean = false;             // values are "true"/"false"
  std::string where;                // "FILE:LINE:COLUMN" of the value
};

// An [[api_key]] table: a client key read from key_env now (never written in the file), and the
// model ids it may use (empty: every model).
struct ConfigKey {
  std::string key;
  std::string key_env;
  std::vector<std::string> models;
  std::string where;  // "FILE:LINE:COLUMN" of the table
};

struct ServeConfig {
  std::string path;
  // The [[upstream]] tables in order, each checked as its flags would be (keys read from their
  // environment variables now), and the set checked as a whole (upstream::check_upstreams).
  std::vector<upstream::UpstreamConfig> upstreams;
  std::vector<ConfigOption> options;  // [server], then [gateway]
  std::vector<ConfigKey> api_keys;    // [[api_key]] tables in order
};

// The file's settings from its text, or "PATH:LINE:COLUMN: what is wrong" (one line).
Result<ServeConfig> parse_serve_config(std::string_view text, const std::string& path);
Result<ServeConfig> load_serve_config(const std::string& path);

// Gives each option of `serve` named by the file its value where the command line gave it none
// (the command line wins), through the option's own conversion and checks; a key naming no
// option (or --config, or a per-upstream flag) is an error with its location.
Status apply_config_options(CLI::App* serve, const ServeConfig& config);

}  // namespace parley::app
