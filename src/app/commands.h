// Subcommands of the `parley` executable. Each add_*_command registers its options on the app
// and, when chosen on the command line, stores the function that runs it in `run`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/dtype.h"

namespace CLI {
class App;
}
namespace parley::model {
class Model;
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
// Prints "<who>: cpu <brand> (<flags>), kernels <path>" to stderr: what the run measured on
// (with the model: and what was repacked for that path at load).
void log_cpu_path(const char* who, const model::Model* model = nullptr);

// -t/--threads and --pin-threads of serve, run and bench.
struct ThreadFlags {
  int32_t threads = 0;  // 0: one per physical core (default_threads())
  bool pin = false;
};
void add_thread_flags(CLI::App* sub, ThreadFlags* flags);
// Resolves threads 0 to the default; an error message (empty when fine) for a negative count
// or for pinning more threads than there are physical cores to pin them to.
std::string resolve_thread_flags(ThreadFlags& flags);

// --kv-type of serve, run and bench: the KV cache element type by name (any case), or nullopt
// for a name that is not one.
inline std::optional<DType> kv_type_from_flag(const std::string& name) {
  std::optional<DType> t = dtype_from_name(name);
  if (!t || (*t != DType::f32 && *t != DType::f16 && *t != DType::bf16 && *t != DType::q8_0)) return std::nullopt;
  return t;
}
inline constexpr const char* kKvTypeHelp =
    "KV cache element type: f16 (default), bf16 (the same 2 bytes a value, f32's range, coarser), "
    "q8_0 (34 bytes per 32 values, 53% of f16, 8-bit blocks; the head size must be a multiple of 32) "
    "or f32 (twice f16, exact)";
inline constexpr const char* kKvTypeError = "--kv-type must be f32, f16, bf16 or q8_0";

}  // namespace parley::app
