#!/usr/bin/python3
"""parley bench and llama.cpp (../shared/bench/peer_bench.mjs) on the same models, side by side in
one run, as ratios. Each model is measured `--rounds` times alternating parley / llama.cpp; the
medians of all repetitions are compared. The machine's load average is recorded before and after
(the machine is shared: compare ratios, never absolute numbers across runs).

usage: /usr/bin/python3 tools/bench_vs_llamacpp.py MODEL.gguf [...] [--parley build/eng/parley]
           [--threads 2] [--reps 3] [--rounds 1] [--peer-dir /tmp/peer] [--json OUT.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


def load():
    return open("/proc/loadavg").read().split()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--parley", default=os.path.join(ROOT, "build", "eng", "parley"))
    ap.add_argument("--threads", default="2")
    ap.add_argument("--reps", default="3")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--peer-dir", default="/tmp/peer")
    ap.add_argument("--json")
    args = ap.parse_args()
    results = []
    for model in args.models:
        ours = {"pp": [], "tg": []}
        peer = {"pp": [], "tg": []}
        loads = [load()]
        rss = kv = 0
        for _ in range(args.rounds):
            out = subprocess.run([args.parley, "bench", "-m", model, "-t", args.threads, "-r", args.reps, "--json"],
                                 check=True, capture_output=True, text=True).stdout
            doc = json.loads(out)
            ours["pp"] += [r["pp_tps"] for r in doc["runs"]]
            ours["tg"] += [r["tg_tps"] for r in doc["runs"]]
            rss, kv = max(rss, doc["peak_rss_bytes"]), doc["kv_bytes"]
            loads.append(load())
            with tempfile.NamedTemporaryFile(suffix=".json") as f:
                subprocess.run(["node", os.path.join(SHARED, "bench", "peer_bench.mjs"), model, "--threads", args.threads,
                                "--reps", args.reps, "--json", f.name, "--peer-dir", args.peer_dir],
                               check=True, capture_output=True)
                pdoc = json.load(open(f.name))
            for r in pdoc["results"][0]["runs"]:
                peer["pp"].append(r["pp_tps"])
                peer["tg"].append(r["tg_tps"])
            loads.append(load())
        med = {k: statistics.median(v) for k, v in ours.items()}
        pmed = {k: statistics.median(v) for k, v in peer.items()}
        size = os.path.getsize(model)
        results.append({"model": os.path.basename(model), "size_bytes": size, "parley": ours, "llama_cpp": peer,
                        "parley_median": med, "llama_cpp_median": pmed,
                        "ratio": {k: med[k] / pmed[k] for k in med}, "peak_rss_bytes": rss, "kv_bytes": kv,
                        "load_avg": loads})
    print(f"threads {args.threads}, {args.reps} reps x {args.rounds} rounds, medians (tokens/s)")
    print("| model | parley pp512 | llama.cpp pp512 | ratio | parley tg128 | llama.cpp tg128 | ratio "
          "| parley peak RSS | file + KV | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        m, p, q = r["parley_median"], r["llama_cpp_median"], r["ratio"]
        print(f"| {r['model']} | {m['pp']:.1f} | {p['pp']:.1f} | {q['pp']:.2f}x | {m['tg']:.2f} | {p['tg']:.2f} "
              f"| {q['tg']:.2f}x | {r['peak_rss_bytes'] / 1e6:.0f} MB | {(r['size_bytes'] + r['kv_bytes']) / 1e6:.0f} MB "
              f"| {' / '.join(r['load_avg'])} |")
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
