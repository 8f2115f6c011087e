// Commands whose implementation has not landed yet. Each says so plainly and exits 2.
// When a command lands in its own cmd-NAME.cpp, its entry here is deleted.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace parley::app {
namespace {

void add_pending(CLI::App& app, Runner& run, const char* name, const char* description) {
  CLI::App* sub = app.add_subcommand(name, std::string(description) + " (not available yet)");
  sub->allow_extras();
  sub->callback([&run, name] {
    run = [name] {
      std::fprintf(stderr, "parley: '%s' is not implemented yet in this build\n", name);
      return 2;
    };
  });
}

}  // namespace

void add_serve_command(CLI::App& app, Runner& run) {
  add_pending(app, run, "serve", "Serve the Anthropic Messages API");
}

}  // namespace parley::app
