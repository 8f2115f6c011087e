// parley serve -m MODEL.gguf: the Anthropic Messages API (and OpenAI chat completions) over
// HTTP for one model: load the model, its tokenizer and chat template, start the engine, serve
// until SIGINT/SIGTERM, then finish gracefully.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "api/service.h"
#include "api/template-renderer.h"
#include "app/commands.h"
#include "base/cpu.h"
#include "app/loaded-model.h"
#include "app/serve-config.h"
#include "app/serve-keys.h"
#include "app/serve-upstreams.h"
#include "base/log.h"
#include "base/strings.h"
#include "engine/engine.h"
#include "http/server.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "upstream/gateway.h"

namespace parley::app {
namespace {

struct ServeOptions {
  std::string config;  // --config FILE: read into the options below before run_serve
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> api_keys;
  std::vector<std::string> api_key_models;  // KEY=ID[,ID...]
  std::vector<std::string> aliases;
  bool no_claude_ids = false;
  int32_t ctx = 0;
  ThreadFlags threads;
  int32_t parallel = 4;
  int32_t kv_positions = 0;
  std::string kv_type = "f16";
  bool no_prefix_cache = false;
  std::string cache_dir;
  double cache_dir_max_gb = 20;
  int32_t cache_dir_min_tokens = 256;
  double cache_dir_interval = 60;
  int32_t queue = 64;
  int32_t max_output = 0;
  bool max_output_ends_turn = false;
  bool no_parallel_tool_calls = false;
  std::string chat_template;
  uint64_t max_body_mb = 32;
  int http_threads = 2;
  double ping_seconds = 2.0;
  double timeout_seconds = 600.0;
  std::optional<uint64_t> seed;
  std::string signing_key;
  UpstreamFlags upstream;  // gateway: --upstream NAME=URL and its settings
};

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double monotonic_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot open " + path};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int run_serve(const ServeOptions& opt, std::vector<upstream::UpstreamConfig> file_upstreams,
              const std::vector<ConfigKey>& file_keys) {
  if (opt.model.empty()) return fail("serve: give the model with -m/--model (or model in [server] of --config)");
  if (opt.port < 0 || opt.port > 65535) return fail("--port must be between 0 and 65535");
  if (!(opt.ping_seconds >= 0.05)) return fail("--ping-interval must be at least 0.05 seconds");
  if (!(opt.timeout_seconds >= 1)) return fail("--timeout must be at least 1 second");
  if (opt.http_threads < 1 || opt.http_threads > 64) return fail("--http-threads must be 1..64");
  if (opt.max_output < 0) return fail("--max-output must not be negative");
  ThreadFlags threads = opt.threads;
  if (std::string e = resolve_thread_flags(threads); !e.empty()) return fail(e);
  // Gateway upstreams are checked (and their keys read) before the model loads.
  auto upstreams = upstreams_from_flags(opt.upstream, std::move(file_upstreams), opt.config);
  if (!upstreams.ok()) return fail(upstreams.error().message);
  auto gateway_options = gateway_options_from_flags(opt.upstream);
  if (!gateway_options.ok()) return fail(gateway_options.error().message);
  // Client keys limited to models: checked against the ids served here (local names, upstream
  // ids) before the model loads.
  const std::string local_id = std::filesystem::path(opt.model).stem().string();
  auto served = [&](const std::string& id) {
    if (id == local_id || std::find(opt.aliases.begin(), opt.aliases.end(), id) != opt.aliases.end()) return true;
    if (!opt.no_claude_ids && id.rfind("claude-", 0) == 0) return true;
    return std::any_of(upstreams->begin(), upstreams->end(), [&](const upstream::UpstreamConfig& u) {
      return std::find(u.models.begin(), u.models.end(), id) != u.models.end();
    });
  };
  std::vector<std::string> api_keys = opt.api_keys;
  for (const ConfigKey& k : file_keys) {
    if (std::find(api_keys.begin(), api_keys.end(), k.key) != api_keys.end()) {
      return fail(k.where + ": api_key from $" + k.key_env + " is also given with --api-key");
    }
    api_keys.push_back(k.key);
  }
  auto key_models = key_models_from_flags(opt.api_key_models, api_keys, served);
  if (!key_models.ok()) return fail(key_models.error().message);
  for (const ConfigKey& k : file_keys) {
    if (k.models.empty()) continue;
    if (key_models->count(k.key) != 0) {
      return fail(k.where + ": api_key from $" + k.key_env + " is limited in the file and by --api-key-models");
    }
    for (const std::string& id : k.models) {
      if (!served(id)) return fail(k.where + ": api_key from $" + k.key_env + ": model " + id + " is not served here");
    }
    key_models->emplace(k.key, k.models);
  }
  if (opt.max_body_mb < 1 || opt.max_body_mb > 4096) return fail("--max-body-mb must be 1..4096");
  if (!opt.cache_dir.empty() && opt.no_prefix_cache) {
    return fail("--cache-dir needs the prefix cache (drop --no-prefix-cache)");
  }
  if (!(opt.cache_dir_max_gb > 0)) return fail("--cache-dir-max-gb must be positive");
  if (opt.cache_dir_min_tokens < 1) return fail("--cache-dir-min-tokens must be at least 1");
  if (!(opt.cache_dir_interval >= 1)) return fail("--cache-dir-interval must be at least 1 second");
  const std::optional<DType> kv_type = kv_type_from_flag(opt.kv_type);
  if (!kv_type) return fail(kKvTypeError);
  auto loaded = load_model_with_tokenizer(opt.model);
  if (!loaded) return fail(loaded.error().message);
  const std::shared_ptr<const model::Model>& model = loaded->model;
  const tokenizer::VocabSpec& vocab = loaded->vocab;
  const tokenizer::Tokenizer& tok = loaded->tok;

  std::string template_source = vocab.chat_template;
  if (!opt.chat_template.empty()) {
    auto src = read_text_file(opt.chat_template);
    if (!src) return fail(src.error().message);
    template_source = std::move(*src);
  }
  if (template_source.empty()) {
    return fail(opt.model + " has no chat template (tokenizer.chat_template); give one with "
                "--chat-template FILE.jinja");
  }
  auto tpl = chat::ChatTemplate::parse(template_source, api::special_tokens_of(tok));
  if (!tpl) {
    return fail((opt.chat_template.empty() ? opt.model : opt.chat_template) + ": " +
                tpl.error().message);
  }
  api::TemplateRenderer renderer(std::move(*tpl), unix_now);

  engine::EngineOptions eo;
  eo.n_threads = threads.threads;
  eo.pin_threads = threads.pin;
  eo.n_ctx = opt.ctx;
  eo.max_seqs = opt.parallel;
  eo.kv_positions = opt.kv_positions;
  eo.kv_type = *kv_type;
  eo.prefix_cache = !opt.no_prefix_cache;
  eo.cache_dir = opt.cache_dir;
  eo.cache_dir_max_bytes = static_cast<uint64_t>(opt.cache_dir_max_gb * double(1ull << 30));
  eo.cache_dir_min_tokens = opt.cache_dir_min_tokens;
  eo.cache_dir_interval_s = opt.cache_dir_interval;
  eo.queue_capacity = opt.queue;
  auto started = engine::Engine::start(model, eo);
  if (!started) {
    std::string msg = started.error().message;
    if (msg.rfind("cannot allocate", 0) == 0) msg += " (a smaller --ctx or --kv-positions needs less)";
    return fail(msg);
  }
  engine::Engine& eng = **started;

  const model::Config& c = model->config();
  const engine::EngineInfo& info = eng.engine_info();
  const chat::Capabilities& caps = renderer.chat_template().capabilities();
  std::fprintf(stderr, "parley: %s: %s, %d layers, %d wide, vocab %d, %s of weights\n",
               c.name.c_str(), model::arch_name(c.arch), c.n_layer, c.n_embd, c.n_vocab,
               human_bytes(model->weight_bytes()).c_str());
  log_cpu_path("parley", model.get());
  std::string ctx_source = opt.ctx > 0 ? "--ctx" : "the model's trained context";
  if (opt.ctx <= 0 && info.n_ctx < c.n_ctx_train) {
    ctx_source = "the model's " + std::to_string(c.n_ctx_train) + ", capped by --kv-positions " +
                 std::to_string(opt.kv_positions);
  }
  std::fprintf(stderr,
               "parley: context %d tokens (%s), KV cache %s (%d positions of %s, prefix cache %s), "
               "%d parallel, %s; chat template: %s%s%s\n",
               info.n_ctx, ctx_source.c_str(), human_bytes(info.kv_bytes).c_str(),
               info.kv_positions, std::string(dtype_name(eo.kv_type)).c_str(), eo.prefix_cache ? "on" : "off",
               opt.parallel, threads_description(threads.threads, threads.pin).c_str(),
               opt.chat_template.empty() ? "from the GGUF" : opt.chat_template.c_str(),
               caps.tools ? ", renders tools" : ", no tools",
               caps.enable_thinking ? ", thinking switch" : "");

  api::ServiceConfig cfg;
  cfg.model_id = local_id;
  cfg.display_name = c.name.empty() ? cfg.model_id : c.name;
  cfg.aliases = opt.aliases;
  cfg.map_claude_ids = !opt.no_claude_ids;
  cfg.api_keys = api_keys;
  cfg.key_models = std::move(key_models).value();
  cfg.max_output_tokens = opt.max_output;
  cfg.max_output_ends_turn = opt.max_output_ends_turn;
  cfg.parallel_tool_calls = !opt.no_parallel_tool_calls;
  uint64_t seed = opt.seed ? *opt.seed : (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                             std::random_device{}();
  auto format = std::make_shared<chat::OutputFormat>(chat::detect_output_format(template_source));
  cfg.output_format = format;
  cfg.signing_key = opt.signing_key;
  if (cfg.signing_key.empty()) {
    // A fresh secret per start: thinking blocks from before a restart are refused (400) unless
    // --signing-key keeps the key.
    std::random_device rd;
    for (int i = 0; i < 8; i++) cfg.signing_key += std::to_string(rd()) + ".";
  }
  std::fprintf(stderr, "parley: output format: %s (tool calls%s%s)\n", format->family.c_str(),
               format->calls.triggers.empty() ? " as text only" : (" after " + format->calls.triggers[0]).c_str(),
               format->reasoning.think_open.empty() ? "" : (", thinking in " + format->reasoning.think_open).c_str());
  std::unique_ptr<upstream::Gateway> gateway;
  if (!upstreams->empty()) {
    for (const auto& u : *upstreams) std::fprintf(stderr, "parley: upstream %s\n", describe_upstream(u).c_str());
    gateway = std::make_unique<upstream::Gateway>(std::move(upstreams).value(), *gateway_options);
  }
  api::ServiceDeps deps{eng, tok, renderer, seed, unix_now, monotonic_now};
  deps.upstreams = gateway.get();
  api::Service service(cfg, std::move(deps));

  http::ServerOptions so;
  so.host = opt.host;
  so.port = static_cast<uint16_t>(opt.port);
  so.threads = opt.http_threads;
  so.max_body_bytes = opt.max_body_mb << 20;
  so.heartbeat_interval = std::chrono::milliseconds(static_cast<int64_t>(opt.ping_seconds * 1000));
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opt.timeout_seconds * 1000));
  so.read_timeout = so.write_timeout = so.idle_timeout = timeout;
  so.handle_signals = true;
  http::Server server(so, service);
  if (Status s = server.listen(); !s.ok()) return fail(s.error().message);

  std::string host = opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
  std::string url = "http://" + host + ":" + std::to_string(server.port());
  std::string client_host = opt.host == "0.0.0.0" || opt.host == "::" ? "127.0.0.1" : host;
  std::string client_url = "http://" + client_host + ":" + std::to_string(server.port());
  std::string ids = cfg.model_id;
  for (const auto& a : cfg.aliases) ids += ", " + a;
  if (cfg.map_claude_ids) ids += ", any claude-*";
  if (gateway) {
    for (const auto& id : gateway->model_ids()) ids += ", " + id + " (upstream)";
  }
  std::string auth;
  if (!cfg.api_keys.empty()) {
    auth = " (API key required";
    if (!cfg.key_models.empty()) auth += str_printf("; %zu of %zu keys limited to some models", cfg.key_models.size(), cfg.api_keys.size());
    auth += ")";
  }
  std::fprintf(stderr, "parley: serving model ids: %s%s\n", ids.c_str(), auth.c_str());
  std::fprintf(stderr, "parley: listening on %s (POST /v1/messages, /v1/messages/count_tokens, "
               "/v1/chat/completions; GET /v1/models, /health)\n", url.c_str());
  std::fprintf(stderr, "parley: use it with Claude Code:\n");
  std::fprintf(stderr, "ANTHROPIC_BASE_URL=%s claude\n", client_url.c_str());
  if (!cfg.api_keys.empty()) {
    std::fprintf(stderr, "parley: (with ANTHROPIC_API_KEY set to one of the --api-key values)\n");
  }
  std::fflush(stderr);
  server.run();
  std::fprintf(stderr, "parley: stopped\n");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, Runner& run) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand(
      "serve", "Serve the Anthropic Messages API (and OpenAI chat completions) for a GGUF model");
  sub->add_option("--config", opt->config,
                  "TOML file with serve's settings ([server]: any option here by its long name), the "
                  "gateway's ([gateway]) and its upstreams ([[upstream]] tables); options given on the command "
                  "line win, --upstream adds upstreams beside the file's (README: Configuration file)");
  sub->add_option("-m,--model", opt->model, "GGUF model file (required, here or in --config)");
  sub->add_option("--host", opt->host, "address to listen on (default 127.0.0.1)");
  sub->add_option("--port", opt->port, "port to listen on; 0 picks a free one (default 8080)");
  sub->add_option("--api-key", opt->api_keys,
                  "require this key in x-api-key or Authorization: Bearer (repeatable; "
                  "default: no auth)");
  sub->add_option("--api-key-models", opt->api_key_models,
                  "KEY=MODEL[,MODEL...]: that --api-key may use only these model ids (repeatable, "
                  "one per key; a local model's id, alias or claude-* name allows all its names; "
                  "others get 403 permission_error, and /v1/models lists only these; default: "
                  "every key may use every model)");
  sub->add_option("--alias", opt->aliases,
                  "another model id for the served model, listed by /v1/models (repeatable)");
  sub->add_flag("--no-claude-ids", opt->no_claude_ids,
                "do not map every claude-* model id to the served model (default: mapped, so "
                "Claude Code's sonnet/haiku/opus requests all work)");
  sub->add_option("--ctx", opt->ctx,
                  "context length in tokens (default: the model's trained context, at most "
                  "--kv-positions when that is given; Claude Code needs ~30000+)");
  add_thread_flags(sub, &opt->threads);
  sub->add_option("--parallel", opt->parallel, "sequences generated together (default 4)");
  sub->add_option("--kv-positions", opt->kv_positions,
                  "KV cache capacity in positions over all sequences (default: one full context)");
  sub->add_option("--kv-type", opt->kv_type, kKvTypeHelp);
  sub->add_flag("--no-prefix-cache", opt->no_prefix_cache,
                "recompute every prompt from scratch instead of reusing the KV blocks of prefixes "
                "seen before (default: reused, so an agent's resent history is not prefilled again)");
  sub->add_option("--cache-dir", opt->cache_dir,
                  "keep the prefix cache in this directory across restarts: cached prefixes are written "
                  "there periodically and at shutdown, and read back when a prompt starts with one "
                  "(default: none, the cache lives in memory only)");
  sub->add_option("--cache-dir-max-gb", opt->cache_dir_max_gb,
                  "bound on this model's files in --cache-dir, least recently used deleted first "
                  "(default 20)");
  sub->add_option("--cache-dir-min-tokens", opt->cache_dir_min_tokens,
                  "cached prefixes shorter than this are not written to --cache-dir (default 256)");
  sub->add_option("--cache-dir-interval", opt->cache_dir_interval,
                  "seconds between writes of new cached prefixes to --cache-dir (default 60; also at "
                  "shutdown)");
  sub->add_option("--queue", opt->queue,
                  "requests waiting to start before new ones get 529 overloaded_error (default 64)");
  sub->add_option("--max-output", opt->max_output,
                  "cap on generated tokens per request, whatever max_tokens asks (default: none); "
                  "a capped request ends with stop_reason max_tokens");
  sub->add_flag("--max-output-ends-turn", opt->max_output_ends_turn,
                "a request stopped by --max-output ends with stop_reason end_turn instead, as if "
                "the model had ended its turn (Claude Code treats max_tokens as a failed turn; "
                "useful with tiny test models that never stop on their own)");
  sub->add_flag("--no-parallel-tool-calls", opt->no_parallel_tool_calls,
                "at most one tool call per answer, as if every request set "
                "disable_parallel_tool_use (OpenAI: parallel_tool_calls false): the turn ends after "
                "the first call (small models often garble parallel calls)");
  sub->add_option("--signing-key", opt->signing_key,
                  "secret for the HMAC-SHA256 signatures of thinking blocks; clients send them "
                  "back with the history and a bad one is a 400 (default: a random key per start, "
                  "so thinking blocks from before a restart are refused)");
  sub->add_option("--chat-template", opt->chat_template,
                  "Jinja chat template file to use instead of the GGUF's tokenizer.chat_template");
  sub->add_option("--max-body-mb", opt->max_body_mb,
                  "largest request body in MiB; larger ones get 413 (default 32, as the real API)");
  sub->add_option("--http-threads", opt->http_threads,
                  "threads for HTTP, templating and tokenizing (default 2)");
  sub->add_option("--ping-interval", opt->ping_seconds,
                  "seconds of stream silence before an SSE ping (default 2)");
  sub->add_option("--timeout", opt->timeout_seconds,
                  "seconds allowed for reading a request, for one write, and for an idle "
                  "keep-alive connection (default 600)");
  sub->add_option("--seed", opt->seed,
                  "seed for request ids and for requests without their own seed (default: random)");
  add_upstream_flags(sub, &opt->upstream);
  sub->callback([&run, opt, sub] {
    run = [opt, sub] {
      std::vector<upstream::UpstreamConfig> file_upstreams;
      std::vector<ConfigKey> file_keys;
      if (!opt->config.empty()) {
        auto config = load_serve_config(opt->config);
        if (!config.ok()) return fail(config.error().message);
        if (Status s = apply_config_options(sub, *config); !s.ok()) return fail(s.error().message);
        std::fprintf(stderr, "parley: settings from %s\n", opt->config.c_str());
        file_upstreams = std::move(config->upstreams);
        file_keys = std::move(config->api_keys);
      }
      return run_serve(*opt, std::move(file_upstreams), file_keys);
    };
  });
}

}  // namespace parley::app
