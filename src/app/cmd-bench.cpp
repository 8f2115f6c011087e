// parley bench -m MODEL.gguf: prefill (pp) and decode (tg) speed, measured the way
// ../shared/bench/peer_bench.mjs measures llama.cpp, so the two can be compared as a ratio:
//   pp: a fresh sequence, the prompt (BOS then pseudo-random ids) evaluated as one batch, logits
//       for its last token only -> prompt tokens / second;
//   tg: on the same sequence, greedy decoding one token per step at positions
//       n_prompt .. n_prompt + n_gen - 1, starting from the prompt's last token, until n_gen
//       tokens are produced -> n_gen / second.
//   --batch B: tg with B sequences decoding together (each its own copy of the prompt, prefilled
//       untimed first), one token of each per step, as continuous batching runs B streams
//       -> B * n_gen / second (aggregate).
// Median (and min/max) over repetitions; F16 KV cache and a context of prompt + gen + 64, as
// peer_bench.mjs sets llama.cpp up.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "app/commands.h"
#include "base/check.h"
#include "base/cpu.h"
#include "base/json.h"
#include "base/memory.h"
#include "base/strings.h"
#include "kv/block-pool.h"
#include "model/forward.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "tensor/matmul.h"
#include "tensor/thread-pool.h"

namespace parley::app {
namespace {

struct BenchOptions {
  std::string model;
  int32_t n_prompt = 512;
  int32_t n_gen = 128;
  ThreadFlags threads;
  int32_t reps = 3;
  std::string kv_type = "f16";
  bool json = false;
  std::vector<int32_t> depths;  // --depths: the context-depth sweep instead of pp/tg
  int32_t batch = 1;            // --batch: sequences decoding together in tg
};

// peer_bench.mjs makePrompt: BOS then an LCG over [3, n_vocab).
std::vector<int32_t> make_prompt(int32_t n, int32_t n_vocab, int32_t bos) {
  std::vector<int32_t> out{bos};
  uint64_t s = 12345;
  while (static_cast<int32_t>(out.size()) < n) {
    s = (s * 1103515245ull + 12345ull) % 2147483648ull;
    out.push_back(3 + static_cast<int32_t>(s % static_cast<uint64_t>(n_vocab - 3)));
  }
  return out;
}

// Resident and peak resident memory of this process, from /proc/self/status (bytes).
std::pair<uint64_t, uint64_t> resident_memory() {
  std::ifstream f("/proc/self/status");
  std::string line;
  uint64_t rss = 0, hwm = 0;
  while (std::getline(f, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kb) == 1) rss = kb * 1024;
    if (std::sscanf(line.c_str(), "VmHWM: %llu kB", &kb) == 1) hwm = kb * 1024;
  }
  return {rss, hwm};
}

struct Stat {
  double min = 0, median = 0, max = 0;
};
Stat stat_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {v.front(), med, v.back()};
}

struct SyncCost {
  double jobs_per_token = 0, empty_job_us = 0, sync_us_per_token = 0, sync_fraction = 0;
  double token_ms = 0, wait_us_per_token = 0, wait_fraction = 0;
};

SyncCost measure_sync(ThreadPool& pool, uint64_t jobs, double wait_s, double total_s, int64_t tokens) {
  using Clock = std::chrono::steady_clock;
  SyncCost out;
  if (tokens < 1 || total_s <= 0) return out;
  double best = 1e9;
  const int n = 2000;
  for (int rep = 0; rep < 5; rep++) {
    auto t0 = Clock::now();
    for (int i = 0; i < n; i++) pool.parallel_for(pool.size(), [](int64_t, int64_t, int) {});
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / n);
  }
  out.jobs_per_token = static_cast<double>(jobs) / static_cast<double>(tokens);
  out.empty_job_us = best * 1e6;
  out.token_ms = total_s / static_cast<double>(tokens) * 1e3;
  out.sync_us_per_token = out.jobs_per_token * out.empty_job_us;
  out.sync_fraction = out.sync_us_per_token / (out.token_ms * 1e3);
  out.wait_us_per_token = wait_s / static_cast<double>(tokens) * 1e6;
  out.wait_fraction = out.wait_us_per_token / (out.token_ms * 1e3);
  return out;
}

// Prefill and decode speed against the depth of the context: the prompt is prefilled in chunks
// of -p tokens up to each depth (ascending), then -n tokens are decoded there (their K/V is
// overwritten by the next chunks). pp at a depth is the rate of the chunk that ends there; the
// decode's bytes per token are the weights plus the K/V of the context at the cache's type.
int depth_sweep(const BenchOptions& opt, const model::Model& m, model::Forward& fwd, const model::KvView& view,
                model::SeqKv& seq, const std::vector<int32_t>& prompt, const kv::PoolShape& kv_shape) {
  using Clock = std::chrono::steady_clock;
  const model::Config& c = m.config();
  std::vector<int32_t> depths = opt.depths;
  std::sort(depths.begin(), depths.end());
  depths.erase(std::unique(depths.begin(), depths.end()), depths.end());
  const double kv_bytes_per_pos = static_cast<double>(kv_shape.n_layer) * 2.0 * kv_shape.n_head_kv *
                                  static_cast<double>(dtype_row_bytes(kv_shape.type, kv_shape.head_dim));
  model::Batch batch;
  json::Value rows = json::Value::array();
  struct Row {
    int32_t depth;
    double pp, tg, gbs;
  };
  std::vector<Row> out;
  int32_t pos = 0;
  for (int32_t d : depths) {
    double chunk_tps = 0;
    while (pos < d) {
      const int32_t n = std::min(opt.n_prompt, d - pos);
      batch.clear();
      for (int32_t i = 0; i < n; i++) batch.add(prompt[static_cast<size_t>(pos + i)], pos + i, 0, i == n - 1);
      auto t0 = Clock::now();
      fwd.run(batch, view, {&seq, 1});
      chunk_tps = n / std::chrono::duration<double>(Clock::now() - t0).count();
      pos += n;
    }
    int32_t token = prompt[static_cast<size_t>(d - 1)];
    auto t1 = Clock::now();
    for (int32_t i = 0; i < opt.n_gen; i++) {
      batch.clear();
      batch.add(token, d + i, 0, true);
      fwd.run(batch, view, {&seq, 1});
      token = sampling::argmax(fwd.logits(0), c.n_vocab);
    }
    const double tg = opt.n_gen / std::chrono::duration<double>(Clock::now() - t1).count();
    const double bytes = static_cast<double>(m.weight_bytes()) + kv_bytes_per_pos * (d + opt.n_gen / 2.0);
    out.push_back({d, chunk_tps, tg, bytes * tg / 1e9});
    std::fprintf(stderr, "bench: depth %d: pp %.2f t/s (the chunk ending there), tg %.2f t/s (%.1f GB/s of weights + KV)\n",
                 d, chunk_tps, tg, out.back().gbs);
  }
  if (opt.json) {
    json::Value doc = json::Value::object();
    doc["model"] = opt.model;
    doc["kv_type"] = std::string(dtype_name(kv_shape.type));
    doc["chunk"] = opt.n_prompt;
    doc["n_gen"] = opt.n_gen;
    doc["kernel_path"] = std::string(cpu_path_name(cpu_path()));
    doc["cpu"] = cpu_features().brand;
    doc["cpu_flags"] = cpu_flags_string(cpu_features());
    doc["weight_bytes"] = m.weight_bytes();
    doc["kv_bytes_per_position"] = kv_bytes_per_pos;
    for (const Row& r : out) {
      json::Value v = json::Value::object();
      v["depth"] = r.depth;
      v["pp_tps"] = r.pp;
      v["tg_tps"] = r.tg;
      v["tg_gbs"] = r.gbs;
      rows.push_back(std::move(v));
    }
    doc["depths"] = std::move(rows);
    std::printf("%s\n", json::write(doc, json::WriteOptions{2}).c_str());
  } else {
    std::printf("| depth | pp t/s (chunk of %d ending there) | tg t/s | tg GB/s (weights + KV) |\n|---|---|---|---|\n",
                opt.n_prompt);
    for (const Row& r : out) std::printf("| %d | %.2f | %.2f | %.1f |\n", r.depth, r.pp, r.tg, r.gbs);
  }
  return 0;
}

int run_bench(const BenchOptions& opt) {
  using Clock = std::chrono::steady_clock;
  if (opt.n_prompt < 1 || opt.n_gen < 1 || opt.reps < 1) return fail("-p, -n and -r must be positive");
  if (opt.batch < 1 || opt.batch > 256) return fail("--batch must be 1..256 sequences");
  if (opt.batch > 1 && !opt.depths.empty()) return fail("--batch and --depths cannot be combined");
  ThreadFlags threads = opt.threads;
  if (std::string e = resolve_thread_flags(threads); !e.empty()) return fail(e);
  auto kv_type = kv_type_from_flag(opt.kv_type);
  if (!kv_type) return fail(kKvTypeError);
  auto loaded = model::Model::load(opt.model);
  if (!loaded) return fail(loaded.error().message);
  const model::Model& m = **loaded;
  const model::Config& c = m.config();
  int32_t max_depth = 0;
  for (int32_t d : opt.depths) {
    if (d < 1 || d > (1 << 20)) return fail("--depths: each depth must be 1..1048576 tokens");
    max_depth = std::max(max_depth, d);
  }
  const int32_t n_ctx = (opt.depths.empty() ? opt.n_prompt : max_depth) + opt.n_gen + 64;
  const int32_t block = 16;
  const int32_t B = opt.batch;
  auto kv = kv::BlockPool::create(
      kv::PoolShape{c.n_layer, c.n_head_kv, c.head_dim, block, B * ((n_ctx + block - 1) / block), *kv_type});
  if (!kv) return fail(kv.error().message);
  log_cpu_path("bench", &m);
  ThreadPool pool(threads.threads, threads.pin ? pin_cpus_for(threads.threads) : std::vector<int>{});
  std::fprintf(stderr, "bench: %s\n", threads_description(threads.threads, threads.pin).c_str());
  std::fprintf(stderr, "bench: huge pages for the KV cache and repacked weights: %s\n",
               !huge_pages_wanted()        ? "off (PARLEY_HUGE_PAGES=0)"
               : huge_pages_available()    ? "asked for (transparent huge pages on)"
                                           : "not available (transparent huge pages off)");
  model::Forward fwd(m, model::ForwardOptions{std::max(opt.n_prompt, B), B, n_ctx}, pool);
  model::KvView view;
  view.type = *kv_type;
  view.block_size = block;
  for (int32_t l = 0; l < c.n_layer; l++) {
    view.k.push_back((*kv)->k_layer(l));
    view.v.push_back((*kv)->v_layer(l));
  }
  std::vector<kv::BlockTable> tables;
  std::vector<model::SeqKv> seqs;
  for (int32_t b = 0; b < B; b++) {
    tables.emplace_back(**kv);
    PARLEY_CHECK(tables.back().reserve(n_ctx));
  }
  for (const kv::BlockTable& t : tables) seqs.push_back({t.blocks().data(), static_cast<int32_t>(t.blocks().size())});
  model::SeqKv& seq = seqs[0];

  int32_t bos = 1;
  if (auto b = m.file().get_uint_opt("tokenizer.ggml.bos_token_id"); b.ok() && b->has_value() &&
                                                                      **b < static_cast<uint64_t>(c.n_vocab)) {
    bos = static_cast<int32_t>(**b);
  }
  if (!opt.depths.empty()) return depth_sweep(opt, m, fwd, view, seq, make_prompt(max_depth, c.n_vocab, bos), (*kv)->shape());
  std::vector<int32_t> prompt = make_prompt(opt.n_prompt, c.n_vocab, bos);
  model::Batch batch;
  std::vector<double> pp, tg;
  uint64_t tg_jobs = 0;
  double tg_wait_s = 0, tg_total_s = 0;
  json::Value runs = json::Value::array();
  for (int32_t r = 0; r < opt.reps; r++) {
    // pp: the whole prompt as one batch on an empty sequence (the cache is simply overwritten).
    batch.clear();
    for (int32_t i = 0; i < opt.n_prompt; i++) batch.add(prompt[static_cast<size_t>(i)], i, 0, i == opt.n_prompt - 1);
    auto t0 = Clock::now();
    fwd.run(batch, view, {&seq, 1});
    double pp_s = std::chrono::duration<double>(Clock::now() - t0).count();
    // The other sequences of a batched tg get the same prompt, untimed.
    for (int32_t b = 1; b < B; b++) {
      batch.clear();
      for (int32_t i = 0; i < opt.n_prompt; i++) batch.add(prompt[static_cast<size_t>(i)], i, b, i == opt.n_prompt - 1);
      fwd.run(batch, view, seqs);
    }
    // tg: greedy, one token of each sequence per step.
    std::vector<int32_t> tokens(static_cast<size_t>(B), prompt.back());
    pool.reset_stats();
    pool.set_measure(true);
    auto t1 = Clock::now();
    for (int32_t i = 0; i < opt.n_gen; i++) {
      batch.clear();
      for (int32_t b = 0; b < B; b++) batch.add(tokens[static_cast<size_t>(b)], opt.n_prompt + i, b, true);
      fwd.run(batch, view, seqs);
      for (int32_t b = 0; b < B; b++) tokens[static_cast<size_t>(b)] = sampling::argmax(fwd.logits(b), c.n_vocab);
    }
    double tg_s = std::chrono::duration<double>(Clock::now() - t1).count();
    pool.set_measure(false);
    tg_jobs += pool.stats().jobs;
    tg_wait_s += pool.stats().wait_seconds;
    tg_total_s += tg_s;
    pp.push_back(opt.n_prompt / pp_s);
    tg.push_back(static_cast<double>(B) * opt.n_gen / tg_s);
    std::fprintf(stderr, "bench: rep %d: pp%d %.2f t/s, tg%d %.2f t/s%s\n", r + 1, opt.n_prompt, pp.back(), opt.n_gen,
                 tg.back(), B > 1 ? str_printf(" (%d sequences together, aggregate)", B).c_str() : "");
    json::Value run = json::Value::object();
    run["pp_tps"] = pp.back();
    run["tg_tps"] = tg.back();
    runs.push_back(std::move(run));
  }
  auto [rss, hwm] = resident_memory();
  // Synchronisation in a decode step: how many parallel jobs one token issues, what a job
  // costs with no work in it (publish, the workers' claims, completion; the best of 5 runs of
  // 2000), and how long the caller waited for other threads after its own chunks.
  // (per step: with --batch a step makes B tokens)
  const SyncCost sync = measure_sync(pool, tg_jobs, tg_wait_s, tg_total_s, int64_t{opt.n_gen} * opt.reps);
  if (pool.size() > 1) {
    std::fprintf(stderr,
                 "bench: decode sync: %.0f parallel jobs per token, an empty job %.2f us -> %.0f us per token "
                 "(%.1f%% of a %.2f ms token); the caller waited %.0f us per token (%.1f%%) for other threads\n",
                 sync.jobs_per_token, sync.empty_job_us, sync.sync_us_per_token, sync.sync_fraction * 100,
                 sync.token_ms, sync.wait_us_per_token, sync.wait_fraction * 100);
  }
  Stat pps = stat_of(pp), tgs = stat_of(tg);
  uint64_t file_size = m.file().file_size();
  if (opt.json) {
    auto stat_json = [](const Stat& s) {
      json::Value v = json::Value::object();
      v["min"] = s.min;
      v["median"] = s.median;
      v["max"] = s.max;
      return v;
    };
    json::Value doc = json::Value::object();
    doc["model"] = opt.model;
    doc["size_bytes"] = file_size;
    doc["threads"] = threads.threads;
    doc["pinned"] = threads.pin;
    json::Value sj = json::Value::object();
    sj["jobs_per_token"] = sync.jobs_per_token;
    sj["empty_job_us"] = sync.empty_job_us;
    sj["sync_us_per_token"] = sync.sync_us_per_token;
    sj["caller_wait_us_per_token"] = sync.wait_us_per_token;
    doc["decode_sync"] = std::move(sj);
    doc["n_prompt"] = opt.n_prompt;
    doc["n_gen"] = opt.n_gen;
    doc["batch"] = B;
    doc["reps"] = opt.reps;
    doc["kv_type"] = std::string(dtype_name(*kv_type));
    doc["matmul_path"] = std::string(matmul_path_name(MatmulPath::best));
    doc["kernel_path"] = std::string(cpu_path_name(cpu_path()));
    doc["cpu"] = cpu_features().brand;
    doc["cpu_flags"] = cpu_flags_string(cpu_features());
    doc["pp_tps"] = stat_json(pps);
    doc["tg_tps"] = stat_json(tgs);
    doc["rss_bytes"] = rss;
    doc["peak_rss_bytes"] = hwm;
    doc["kv_bytes"] = static_cast<uint64_t>((*kv)->total_bytes());
    doc["runs"] = std::move(runs);
    std::printf("%s\n", json::write(doc, json::WriteOptions{2}).c_str());
  } else {
    const std::string tg_name = B > 1 ? str_printf("tg%d x %d sequences", opt.n_gen, B) : str_printf("tg%d", opt.n_gen);
    std::printf("| model | size | threads | pp%d t/s min / median | %s t/s min / median | RSS (peak) | KV |\n",
                opt.n_prompt, tg_name.c_str());
    std::printf("|---|---|---|---|---|---|---|\n");
    std::printf("| %s | %s | %d | %.2f / %.2f | %.2f / %.2f | %s (%s) | %s %s |\n", c.name.c_str(),
                human_bytes(file_size).c_str(), threads.threads, pps.min, pps.median, tgs.min, tgs.median,
                human_bytes(rss).c_str(), human_bytes(hwm).c_str(), human_bytes((*kv)->total_bytes()).c_str(),
                std::string(dtype_name(*kv_type)).c_str());
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Runner& run) {
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Measure prefill (pp) and decode (tg) speed as llama-bench's pp512/tg128 (median of repetitions)");
  sub->add_option("-m,--model", opt->model, "GGUF model file")->required();
  sub->add_option("-p,--n-prompt", opt->n_prompt, "Prompt tokens, evaluated as one batch (pp)")->capture_default_str();
  sub->add_option("-n,--n-gen", opt->n_gen, "Tokens generated one per step after the prompt (tg)")->capture_default_str();
  add_thread_flags(sub, &opt->threads);
  sub->add_option("-r,--reps", opt->reps, "Repetitions (the median is reported)")->capture_default_str();
  sub->add_option("--kv-type", opt->kv_type, kKvTypeHelp)->capture_default_str();
  sub->add_option("--depths", opt->depths,
                  "Context-depth sweep instead of pp/tg: prefill in chunks of -p up to each depth (comma-separated, "
                  "e.g. 512,1024,2048,4096,8192,16384) and decode -n tokens there; -r is ignored")
      ->delimiter(',');
  sub->add_option("--batch", opt->batch,
                  "Sequences decoding together in tg (each with its own copy of the prompt): the aggregate tokens/s of "
                  "continuous batching")
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Print the results as JSON (per repetition, min / median / max)");
  sub->callback([opt, &run] { run = [opt] { return run_bench(*opt); }; });
}

}  // namespace parley::app
