// parley run -m MODEL.gguf -p "text": generates text from a prompt on the engine, streaming it
// to stdout as it comes, then one summary line on stderr.
#include <CLI/CLI.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>

#include "app/commands.h"
#include "base/cpu.h"
#include "app/loaded-model.h"
#include "base/strings.h"
#include "engine/engine.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace parley::app {
namespace {

struct RunOptions {
  std::string model, prompt;
  int32_t n_predict = 128;
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  std::optional<uint64_t> seed;
  ThreadFlags threads;
  int32_t ctx = 0;
  std::string kv_type = "f16";
  bool no_bos = false, parse_special = false, ignore_eos = false;
};

// Events from the engine thread, handed to the main thread (the callback must not block).
class EventQueue {
 public:
  void push(const engine::Event& e) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(e);
    }
    cv_.notify_one();
  }
  engine::Event pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !events_.empty(); });
    engine::Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<engine::Event> events_;
};

int run_run(const RunOptions& opt) {
  using Clock = std::chrono::steady_clock;
  ThreadFlags threads = opt.threads;
  if (std::string e = resolve_thread_flags(threads); !e.empty()) return fail(e);
  auto loaded = load_model_with_tokenizer(opt.model);
  if (!loaded) return fail(loaded.error().message);
  const std::shared_ptr<const model::Model>& model = loaded->model;
  const tokenizer::Tokenizer& tok = loaded->tok;

  auto kv_type = kv_type_from_flag(opt.kv_type);
  if (!kv_type) return fail(kKvTypeError);
  engine::EngineOptions eo;
  eo.n_threads = threads.threads;
  eo.pin_threads = threads.pin;
  eo.n_ctx = opt.ctx;
  eo.max_seqs = 1;
  eo.kv_type = *kv_type;
  auto started = engine::Engine::start(model, eo);
  if (!started) return fail(started.error().message);
  engine::Engine& eng = **started;
  const model::Config& c = model->config();
  const engine::EngineInfo& info = eng.engine_info();
  std::fprintf(stderr, "parley: %s: %s, %d layers, %d wide, %d/%d heads, vocab %d, %s of weights (mapped)\n",
               c.name.c_str(), model::arch_name(c.arch), c.n_layer, c.n_embd, c.n_head, c.n_head_kv, c.n_vocab,
               human_bytes(model->weight_bytes()).c_str());
  std::fprintf(stderr, "parley: context %d tokens; KV cache %s (%d positions, %s), scratch %s; %s\n",
               info.n_ctx, human_bytes(info.kv_bytes).c_str(), info.kv_positions, std::string(dtype_name(*kv_type)).c_str(),
               human_bytes(info.scratch_bytes).c_str(), threads_description(threads.threads, threads.pin).c_str());

  tokenizer::EncodeOptions enc;
  enc.add_special = !opt.no_bos;
  enc.parse_special = opt.parse_special;
  std::vector<tokenizer::TokenId> prompt = tok.encode(opt.prompt, enc);
  if (prompt.empty()) return fail("the prompt is empty (and the model adds no BOS token)");

  uint64_t seed = opt.seed ? *opt.seed : std::random_device{}();
  EventQueue queue;
  engine::GenerateRequest req;
  req.prompt = prompt;
  req.max_tokens = opt.n_predict;
  req.sampling = {opt.temperature, opt.top_k, opt.top_p, opt.min_p, seed};
  if (!opt.ignore_eos) req.stop_tokens = tok.eog_ids();
  req.on_event = [&queue](const engine::Event& e) { queue.push(e); };
  auto t0 = Clock::now();
  auto id = eng.submit(std::move(req));
  if (!id) return fail(id.error().message);

  tokenizer::IncrementalDecoder decoder(tok);
  std::optional<Clock::time_point> t_first;
  engine::Event last;
  while (true) {
    engine::Event e = queue.pop();
    if (e.kind == engine::Event::Kind::token) {
      if (!t_first) t_first = Clock::now();
      std::string text = decoder.push(e.token);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    } else if (e.kind == engine::Event::Kind::finished) {
      last = e;
      break;
    }
  }
  auto t_end = Clock::now();
  std::string rest = decoder.flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);
  if (last.reason == engine::FinishReason::error) return fail(last.error);

  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  double prefill = secs((t_first ? *t_first : t_end) - t0);
  double decode = t_first ? secs(t_end - *t_first) : 0.0;
  int32_t n_gen = last.n_generated;
  std::fprintf(stderr, "parley: prompt %zu tokens (%.1f tokens/s), generated %d tokens (%.1f tokens/s), stop: %s, seed %llu\n",
               prompt.size(), prefill > 0 ? static_cast<double>(prompt.size()) / prefill : 0.0, n_gen,
               n_gen > 1 && decode > 0 ? (n_gen - 1) / decode : 0.0, engine::finish_reason_name(last.reason),
               static_cast<unsigned long long>(seed));
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, Runner& run) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Generate text from a prompt, streamed as it is generated");
  sub->add_option("-m,--model", opt->model, "GGUF model file")->required();
  sub->add_option("-p,--prompt", opt->prompt, "Prompt text (BOS is added when the model wants it); may be empty");
  sub->add_option("-n,--n-predict", opt->n_predict, "Tokens to generate at most")->capture_default_str();
  sub->add_option("--temp", opt->temperature, "Temperature; 0 is greedy (always the most likely token)")
      ->capture_default_str();
  sub->add_option("--top-k", opt->top_k, "Keep the K most likely tokens (0: off)")->capture_default_str();
  sub->add_option("--top-p", opt->top_p, "Keep the most likely tokens up to this total probability (1: off)")
      ->capture_default_str();
  sub->add_option("--min-p", opt->min_p, "Drop tokens less likely than this fraction of the best one (0: off)")
      ->capture_default_str();
  sub->add_option("--seed", opt->seed, "Random seed (default: a random one, printed at the end); same seed, same text");
  add_thread_flags(sub, &opt->threads);
  sub->add_option("--ctx", opt->ctx, "Context length in tokens (0: the model's trained context)")->capture_default_str();
  sub->add_option("--kv-type", opt->kv_type, kKvTypeHelp)->capture_default_str();
  sub->add_flag("--no-bos", opt->no_bos, "Do not add the BOS token");
  sub->add_flag("--parse-special", opt->parse_special, "Recognise special-token text (\"<|im_start|>\") in the prompt");
  sub->add_flag("--ignore-eos", opt->ignore_eos, "Keep generating after end-of-generation tokens");
  sub->callback([opt, &run] { run = [opt] { return run_run(*opt); }; });
}

}  // namespace parley::app
