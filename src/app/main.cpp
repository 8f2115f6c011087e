// parley: a self-hosted LLM server speaking the Anthropic Messages API.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/commands.h"
#include "base/cpu.h"
#include "base/log.h"
#include "base/strings.h"
#include "model/model.h"

namespace parley::app {

int fail(const std::string& message) {
  std::fprintf(stderr, "parley: %s\n", message.c_str());
  return 1;
}

void log_cpu_path(const char* who, const model::Model* m) {
  const CpuFeatures& f = cpu_features();
  const bool forced = std::getenv("PARLEY_CPU") != nullptr && *std::getenv("PARLEY_CPU") != '\0';
  std::string packed;
  if (m != nullptr && m->packed().count() > 0) {
    packed = str_printf("; %zu matrices repacked for them at load (%s, %.2f s; PARLEY_REPACK=0: off)", m->packed().count(),
                        human_bytes(m->packed().bytes()).c_str(), m->pack_seconds());
  }
  std::fprintf(stderr, "%s: cpu %s (%s), kernels %s%s%s\n", who, f.brand.empty() ? "unknown" : f.brand.c_str(),
               cpu_flags_string(f).c_str(), cpu_path_name(cpu_path()), forced ? " (PARLEY_CPU)" : "", packed.c_str());
}

void add_thread_flags(CLI::App* sub, ThreadFlags* flags) {
  sub->add_option("-t,--threads", flags->threads,
                  str_printf("compute threads (default 0: one per physical core, %d here)", default_threads()));
  sub->add_flag("--pin-threads", flags->pin,
                "bind each compute thread to its own physical core (off by default: the OS places them)");
}

std::string resolve_thread_flags(ThreadFlags& flags) {
  if (flags.threads < 0 || flags.threads > 1024) return "--threads must be 0 (one per physical core) .. 1024";
  if (flags.threads == 0) flags.threads = default_threads();
  if (flags.pin && flags.threads > cpu_topology().physical()) {
    return str_printf("--pin-threads: %d threads but %d physical cores to pin them to", flags.threads,
                      cpu_topology().physical());
  }
  return "";
}

}  // namespace parley::app

int main(int argc, char** argv) {
  using namespace parley::app;
  CLI::App app{"parley — a self-hosted LLM server with the Anthropic Messages API\n"
               "(GGUF models, its own CPU inference engine)"};
  app.name("parley");
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", "parley 0.1.0");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");

  Runner run;
  add_serve_command(app, run);
  add_run_command(app, run);
  add_bench_command(app, run);
  add_inspect_command(app, run);
  add_tokenize_command(app, run);
  add_template_command(app, run);
  add_make_model_command(app, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (verbose) parley::set_log_level(parley::LogLevel::debug);
  if (!run) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  // A forced kernel path the CPU cannot run (or a misspelt one) stops here, not at the first
  // matmul; every command then runs on cpu_path().
  if (auto path = parley::cpu_path_from_env(std::getenv("PARLEY_CPU"), parley::cpu_features()); !path.ok()) {
    return fail(path.error().message);
  }
  try {
    return run();
  } catch (const std::exception& e) {
    // Library code reports errors as Results; this only catches allocation failures and the
    // like, so the user still gets one line instead of an abort.
    return fail(std::string("unexpected error: ") + e.what());
  }
}
