// `parley serve` as a gateway: the --upstream* flags, read once into UpstreamConfigs. The
// per-upstream settings are one table (upstream_settings) that the flags and the [[upstream]]
// tables of --config (serve-config.h) both go through, so a value is checked, and refused with
// the same message, whichever way it comes.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "upstream/config.h"

namespace CLI {
class App;
}

namespace parley::app {

struct UpstreamFlags {
  std::vector<std::string> upstreams;        // NAME=URL
  std::vector<std::string> models;           // NAME=ID[,ID...]
  std::vector<std::string> key_envs;         // NAME=ENVVAR
  std::vector<std::string> protocols;        // NAME=openai-chat
  std::vector<std::string> connect_timeouts; // NAME=SECONDS
  std::vector<std::string> read_timeouts;    // NAME=SECONDS
  std::vector<std::string> retries;          // NAME=N
  std::vector<std::string> weights;          // NAME=W
  std::vector<std::string> max_concurrent;   // NAME=N
  std::vector<std::string> health_intervals; // NAME=SECONDS
  // Gateway-wide (GatewayOptions).
  std::string affinity = "on";  // on|off
  int eject_after = 3;
  double eject_cooldown_s = 10;
};

// One per-upstream setting: its key in a [[upstream]] table, its flag, the TOML type a file
// gives it, and how its value (as the flag takes it: a file's number is written out) is parsed
// and checked.
struct UpstreamSetting {
  enum class Kind { string, number, integer, strings };
  const char* key;   // "weight"
  const char* flag;  // "--upstream-weight"
  Kind kind;
  std::vector<std::string> UpstreamFlags::*args;
  // Sets the value on u, or an error without a prefix ("expected a positive number, got '0'").
  // The `strings` kind is applied once per element.
  Status (*apply)(upstream::UpstreamConfig& u, const std::string& value);
};
const std::vector<UpstreamSetting>& upstream_settings();

// A new upstream at url, or an error (without a prefix) about the URL.
Result<upstream::UpstreamConfig> new_upstream(std::string name, std::string url);

void add_upstream_flags(CLI::App* serve, UpstreamFlags* flags);

// The configured upstreams (keys read from their environment variables now): those of a
// --config file (config_path; each already checked on its own) and then those of the flags, or
// an error naming the flag. A name in both is an error; the per-upstream flags name upstreams
// of --upstream only. Never puts a key into a message.
Result<std::vector<upstream::UpstreamConfig>> upstreams_from_flags(
    const UpstreamFlags& flags, std::vector<upstream::UpstreamConfig> from_file = {},
    const std::string& config_path = "");

// The gateway-wide settings, or an error naming the flag.
Result<upstream::GatewayOptions> gateway_options_from_flags(const UpstreamFlags& flags);

// "NAME: URL (PROTOCOL), models a, b; weight W; at most N in flight; health check every S s;
// key from $VAR" (the settings that differ from the defaults) for the startup log.
std::string describe_upstream(const upstream::UpstreamConfig& u);

}  // namespace parley::app
