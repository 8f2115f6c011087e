// `parley serve` as a gateway: the --upstream* flags, read once into UpstreamConfigs.
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

void add_upstream_flags(CLI::App* serve, UpstreamFlags* flags);

// The configured upstreams (keys read from their environment variables now), or an error
// naming the flag. Never puts a key into a message.
Result<std::vector<upstream::UpstreamConfig>> upstreams_from_flags(const UpstreamFlags& flags);

// The gateway-wide settings, or an error naming the flag.
Result<upstream::GatewayOptions> gateway_options_from_flags(const UpstreamFlags& flags);

// "NAME: URL (PROTOCOL), models a, b; weight W; at most N in flight; health check every S s;
// key from $VAR" (the settings that differ from the defaults) for the startup log.
std::string describe_upstream(const upstream::UpstreamConfig& u);

}  // namespace parley::app
