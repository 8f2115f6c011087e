// Subcommands of the `parley` executable. Each add_*_command registers its options on the app
// and, when chosen on the command line, stores the function that runs it in `run`.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace parley::app {

using Runner = std::function<int()>;

void add_inspect_command(CLI::App& app, Runner& run);
void add_make_model_command(CLI::App& app, Runner& run);
void add_tokenize_command(CLI::App& app, Runner& run);
void add_template_command(CLI::App& app, Runner& run);
void add_run_command(CLI::App& app, Runner& run);
void add_bench_command(CLI::App& app, Runner& run);
void add_serve_command(CLI::App& app, Runner& run);

// Prints "parley: <message>" to stderr and returns the exit code for errors (1).
int fail(const std::string& message);

}  // namespace parley::app
