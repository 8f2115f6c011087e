// serve --config: the TOML file gives the same UpstreamConfigs and GatewayOptions as the
// equivalent flags, and every refusal names FILE:LINE:COLUMN and the key.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>

#include "app/serve-config.h"
#include "app/serve-upstreams.h"

namespace parley::app {
namespace {

void expect_same(const upstream::UpstreamConfig& a, const upstream::UpstreamConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.endpoint.host, b.endpoint.host);
  EXPECT_EQ(a.endpoint.port, b.endpoint.port);
  EXPECT_EQ(a.endpoint.base_path, b.endpoint.base_path);
  EXPECT_EQ(a.protocol, b.protocol);
  EXPECT_EQ(a.models, b.models);
  EXPECT_EQ(a.api_key, b.api_key);
  EXPECT_EQ(a.api_key_env, b.api_key_env);
  EXPECT_EQ(a.connect_timeout_s, b.connect_timeout_s);
  EXPECT_EQ(a.read_timeout_s, b.read_timeout_s);
  EXPECT_EQ(a.max_retries, b.max_retries);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.max_concurrent, b.max_concurrent);
  EXPECT_EQ(a.health_interval_s, b.health_interval_s);
}

const char* const kGoodFile = R"([gateway]
affinity = false
eject_after = 5
eject_cooldown = 2.5

[[upstream]]
name = "vllm"
url = "http://10.0.0.5:8000/v1"
models = ["qwen-32b", "qwen-7b"]
key_env = "PARLEY_TEST_UPSTREAM_KEY"
connect_timeout = 3
read_timeout = 120.5
retries = 1

[[upstream]]
name = "replica"
url = "http://127.0.0.1:9001"
protocol = "parley"
models = ["smol-it"]
weight = 2
max_concurrent = 8
health_interval = 0.5
)";

TEST(ServeConfig, GivesTheSameUpstreamsAsTheFlags) {
  setenv("PARLEY_TEST_UPSTREAM_KEY", "sk-secret", 1);
  auto file = parse_serve_config(kGoodFile, "gw.toml");
  ASSERT_TRUE(file.ok()) << file.error().message;

  UpstreamFlags f;
  f.upstreams = {"vllm=http://10.0.0.5:8000/v1", "replica=http://127.0.0.1:9001"};
  f.models = {"vllm=qwen-32b,qwen-7b", "replica=smol-it"};
  f.key_envs = {"vllm=PARLEY_TEST_UPSTREAM_KEY"};
  f.connect_timeouts = {"vllm=3"};
  f.read_timeouts = {"vllm=120.5"};
  f.retries = {"vllm=1"};
  f.protocols = {"replica=parley"};
  f.weights = {"replica=2"};
  f.max_concurrent = {"replica=8"};
  f.health_intervals = {"replica=0.5"};
  auto flags = upstreams_from_flags(f);
  ASSERT_TRUE(flags.ok()) << flags.error().message;

  // Through upstreams_from_flags (as serve does), with no upstream flags beside.
  auto both = upstreams_from_flags(UpstreamFlags{}, file->upstreams, "gw.toml");
  ASSERT_TRUE(both.ok()) << both.error().message;
  ASSERT_EQ(both->size(), 2u);
  for (size_t i = 0; i < 2; i++) expect_same((*both)[i], (*flags)[i]);
  EXPECT_EQ((*both)[0].api_key, "sk-secret");
}

// A CLI app with the gateway flags and a few of serve's kinds of options.
struct TestApp {
  CLI::App app{"test"};
  UpstreamFlags flags;
  int ctx = 0;
  bool no_prefix_cache = false;
  std::vector<std::string> aliases;
  std::string host = "127.0.0.1";
  std::string config;
  TestApp() {
    app.add_option("--config", config);
    app.add_option("--ctx", ctx)->check(CLI::Range(0, 1 << 20));
    app.add_flag("--no-prefix-cache", no_prefix_cache);
    app.add_option("--alias", aliases);
    app.add_option("--host", host);
    add_upstream_flags(&app, &flags);
  }
  Status parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());
    try {
      app.parse(args);
    } catch (const CLI::Error& e) {
      return Error{e.what()};
    }
    return {};
  }
};

TEST(ServeConfig, GatewayAndServerSectionsSetTheOptions) {
  TestApp by_flags;
  ASSERT_TRUE(by_flags.parse({"--gateway-affinity", "off", "--gateway-eject-after", "5", "--gateway-eject-cooldown", "2.5"}).ok());
  auto want = gateway_options_from_flags(by_flags.flags);
  ASSERT_TRUE(want.ok());

  setenv("PARLEY_TEST_UPSTREAM_KEY", "sk-secret", 1);
  auto file = parse_serve_config(std::string(kGoodFile) + R"(
[server]
ctx = 512
no_prefix_cache = true
alias = ["a", "b"]
host = "0.0.0.0"
)", "gw.toml");
  ASSERT_TRUE(file.ok()) << file.error().message;
  TestApp by_file;
  ASSERT_TRUE(by_file.parse({"--host", "::1"}).ok());  // the command line wins
  Status s = apply_config_options(&by_file.app, *file);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto got = gateway_options_from_flags(by_file.flags);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->affinity, want->affinity);
  EXPECT_FALSE(got->affinity);
  EXPECT_EQ(got->eject_after_failures, 5);
  EXPECT_EQ(got->eject_cooldown_s, 2.5);
  EXPECT_EQ(by_file.ctx, 512);
  EXPECT_TRUE(by_file.no_prefix_cache);
  EXPECT_EQ(by_file.aliases, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(by_file.host, "::1");
}

const char* const kUpstreamHead = "[[upstream]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\nmodels = [\"x\"]\n";

TEST(ServeConfig, RefusalsNameTheFileLineColumnAndKey) {
  unsetenv("PARLEY_TEST_NO_SUCH_VAR");
  const std::string head = kUpstreamHead;
  struct Case {
    std::string text, message;
  };
  for (const Case& c : std::vector<Case>{
           {"[gateway\n", "p.toml:1:9: "},
           {"foo = 1\n", "p.toml:1:1: unknown key foo (expected [server], [gateway], [[upstream]] and [[api_key]])"},
           {"[upstream]\nname = \"a\"\n", "p.toml:1:1: upstream: expected [[upstream]] tables, got a table"},
           {head + "wieght = 2\n", "p.toml:5:1: upstream a: unknown key wieght (name, url, models, key_env,"},
           // The same check and message as --upstream-weight a=0.
           {head + "weight = 0\n", "p.toml:5:10: upstream a: weight: expected a positive number, got '0'"},
           {head + "weight = \"2\"\n", "p.toml:5:10: upstream a: weight: expected a number, got a string"},
           {head + "retries = 1.5\n", "p.toml:5:11: upstream a: retries: expected an integer, got a float"},
           {head + "retries = 11\n", "p.toml:5:11: upstream a: retries: expected 0..10, got '11'"},
           {head + "protocol = \"grpc\"\n", "p.toml:5:12: upstream a: protocol: unknown protocol 'grpc'"},
           {head + "key_env = \"PARLEY_TEST_NO_SUCH_VAR\"\n",
            "p.toml:5:11: upstream a: key_env: the environment variable PARLEY_TEST_NO_SUCH_VAR is not set or empty"},
           {"[[upstream]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\nmodels = [\"x\", 3]\n",
            "p.toml:4:16: upstream a: models: expected an array of strings, got an integer"},
           {"[[upstream]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\n",
            "p.toml:1:1: upstream a: models: give the model ids it serves (required)"},
           {"[[upstream]]\nname = \"a\"\nmodels = [\"x\"]\n", "p.toml:1:1: upstream a: missing url (required)"},
           {"[[upstream]]\nurl = \"http://127.0.0.1:1\"\n", "p.toml:1:1: upstream: missing name (required)"},
           {"[[upstream]]\nname = \"a\"\nurl = \"https://example.com\"\nmodels = [\"x\"]\n", "p.toml:3:7: upstream a: url: "},
           {head + head, "p.toml:6:8: upstream a is given twice"},
           {head + "[[upstream]]\nname = \"b\"\nurl = \"http://127.0.0.1:2\"\nmodels = [\"x\"]\nprotocol = \"anthropic\"\n",
            "p.toml: model x is served by a and b: replicas of one model cannot mix"},
           {"[server]\nport = [1, [2]]\n", "p.toml:2:12: server.port: expected a string, number or boolean, got an array"},
       }) {
    auto r = parse_serve_config(c.text, "p.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().message.substr(0, c.message.size()), c.message) << c.text;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  }
}

// [[api_key]]: the client key comes from key_env, never from the file; models is optional.
TEST(ServeConfig, ApiKeysComeFromTheEnvironment) {
  setenv("PARLEY_TEST_CLIENT_A", "ck-a", 1);
  setenv("PARLEY_TEST_CLIENT_B", "ck-b", 1);
  unsetenv("PARLEY_TEST_NO_SUCH_VAR");
  auto r = parse_serve_config("[[api_key]]\nkey_env = \"PARLEY_TEST_CLIENT_A\"\n"
                              "[[api_key]]\nkey_env = \"PARLEY_TEST_CLIENT_B\"\nmodels = [\"qwen\", \"smol\"]\n", "k.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->api_keys.size(), 2u);
  EXPECT_EQ(r->api_keys[0].key, "ck-a");
  EXPECT_TRUE(r->api_keys[0].models.empty());
  EXPECT_EQ(r->api_keys[1].key, "ck-b");
  EXPECT_EQ(r->api_keys[1].models, (std::vector<std::string>{"qwen", "smol"}));
  EXPECT_EQ(r->api_keys[1].where, "k.toml:3:1");
  struct Case {
    std::string text, message;
  };
  for (const Case& c : std::vector<Case>{
           {"[[api_key]]\nkey = \"ck-a\"\n", "k.toml:1:1: api_key #1: missing key_env (required)"},
           {"[[api_key]]\nkey_env = \"PARLEY_TEST_NO_SUCH_VAR\"\n",
            "k.toml:2:11: api_key #1: key_env: the environment variable PARLEY_TEST_NO_SUCH_VAR is not set or empty"},
           {"[[api_key]]\nkey_env = \"PARLEY_TEST_CLIENT_A\"\nkey = \"x\"\n",
            "k.toml:3:1: api_key #1: unknown key key (key_env, models; the key itself is never written in the file)"},
           {"[[api_key]]\nkey_env = \"PARLEY_TEST_CLIENT_A\"\nmodels = \"qwen\"\n",
            "k.toml:3:10: api_key #1: models: expected an array of strings, got a string"},
           {"[[api_key]]\nkey_env = \"PARLEY_TEST_CLIENT_A\"\nmodels = []\n", "k.toml:3:10: api_key #1: models: empty"},
           {"[[api_key]]\nkey_env = \"PARLEY_TEST_CLIENT_A\"\n[[api_key]]\nkey_env = \"PARLEY_TEST_CLIENT_A\"\n",
            "k.toml:3:1: api_key #2: the same key as api_key #1"},
           {"[api_key]\nkey_env = \"PARLEY_TEST_CLIENT_A\"\n", "k.toml:1:1: api_key: expected [[api_key]] tables, got a table"},
       }) {
    auto e = parse_serve_config(c.text, "k.toml");
    ASSERT_FALSE(e.ok()) << c.text;
    EXPECT_EQ(e.error().message.substr(0, c.message.size()), c.message) << c.text;
    EXPECT_EQ(e.error().message.find("ck-a"), std::string::npos) << "never the key: " << e.error().message;
  }
}

TEST(ServeConfig, OptionRefusalsNameTheFileLineColumnAndKey) {
  struct Case {
    std::string text, message;
  };
  for (const Case& c : std::vector<Case>{
           {"[server]\nnope = 1\n", "p.toml:2:8: unknown key server.nope"},
           {"[server]\nupstream = \"a=http://h:1\"\n", "p.toml:2:12: unknown key server.upstream"},
           {"[server]\nconfig = \"other.toml\"\n", "p.toml:2:10: unknown key server.config"},
           {"[gateway]\nnope = 1\n", "p.toml:2:8: unknown key gateway.nope"},
           {"[server]\nctx = \"many\"\n", "p.toml:2:7: server.ctx: "},
           {"[server]\nctx = -5\n", "p.toml:2:7: server.ctx: "},
           {"[server]\nno_prefix_cache = 1\n", "p.toml:2:19: server.no_prefix_cache: expected true or false"},
           {"[gateway]\neject_after = 5000\n", "p.toml:2:15: gateway.eject_after: "},
           {"[gateway]\naffinity = \"maybe\"\n", "p.toml:2:12: gateway.affinity: "},
       }) {
    auto file = parse_serve_config(c.text, "p.toml");
    ASSERT_TRUE(file.ok()) << file.error().message;
    TestApp app;
    ASSERT_TRUE(app.parse({}).ok());
    Status s = apply_config_options(&app.app, *file);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.error().message.substr(0, c.message.size()), c.message) << c.text;
  }
}

TEST(ServeConfig, FlagsAddUpstreamsBesideTheFile) {
  auto file = parse_serve_config(kUpstreamHead, "p.toml");
  ASSERT_TRUE(file.ok()) << file.error().message;
  UpstreamFlags f;
  f.upstreams = {"b=http://127.0.0.1:2"};
  f.models = {"b=y"};
  auto both = upstreams_from_flags(f, file->upstreams, "p.toml");
  ASSERT_TRUE(both.ok()) << both.error().message;
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0].name, "a");
  EXPECT_EQ((*both)[1].name, "b");

  f.upstreams = {"a=http://127.0.0.1:2"};
  f.models = {"a=y"};
  auto twice = upstreams_from_flags(f, file->upstreams, "p.toml");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().message, "--upstream: a is also defined in p.toml");

  UpstreamFlags g;
  g.weights = {"a=2"};
  auto set = upstreams_from_flags(g, file->upstreams, "p.toml");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message, "--upstream-weight: no --upstream named 'a' (a is defined in p.toml: set weight there)");
}

}  // namespace
}  // namespace parley::app
