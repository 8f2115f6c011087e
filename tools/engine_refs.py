#!/usr/bin/python3
"""Writes the engine's committed reference logits (tests/data/engine/refs/): for each
architecture x weight type, a make-model model, the logits of a 64-token prompt from
(a) the numpy reference forward (ref_forward.py) and (b) llama.cpp through node-llama-cpp
(../shared/bench/peer_logits.mjs, F32 KV cache, no flash attention).

usage: /usr/bin/python3 tools/engine_refs.py [--parley build/eng/parley] [--peer-dir /tmp/peer]
                                             [--types F32,Q8_0,...,MIXED] [--archs llama,qwen2,qwen3]
                                             [--greedy N]
Writes <arch>-<type>.numpy.bin and <arch>-<type>.llamacpp.bin; see refs/README.md for the format.
--greedy N writes nothing: it prints numpy's greedy continuation of N tokens past the prompt (for
reference-test.cpp's ReferenceGreedy) and checks that llama.cpp's logits over prompt +
continuation pick the same tokens.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_forward  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
OUT = os.path.join(ROOT, "tests", "data", "engine", "refs")
TOP_K = 32

# Shapes every weight type can hold (K-quant rows are multiples of 256). Kept in sync with
# tests/model/reference-test.cpp (kCases).
SHAPES = {
    "llama": ["--arch", "llama", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
              "--ffn", "512", "--rope-theta", "10000"],
    "qwen2": ["--arch", "qwen2", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
              "--ffn", "512", "--rope-theta", "1000000", "--rms-eps", "1e-6", "--tied"],
    "qwen3": ["--arch", "qwen3", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
              "--head-dim", "128", "--ffn", "512", "--rope-theta", "1000000", "--rms-eps", "1e-6", "--tied"],
    # Mixture of experts: 16 experts of width 256, 4 per token (the rest as qwen3, untied).
    "qwen3moe": ["--arch", "qwen3moe", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
                 "--head-dim", "128", "--ffn", "1024", "--experts", "16", "--experts-used", "4",
                 "--expert-ffn", "256", "--rope-theta", "1000000", "--rms-eps", "1e-6"],
    # The same with every expert used (4 of 4): no routing decision, so the quantized types
    # check the expert matrices without a router near-tie flipping an expert.
    "qwen3moeall": ["--arch", "qwen3moe", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
                    "--head-dim", "128", "--ffn", "1024", "--experts", "4", "--experts-used", "4",
                    "--expert-ffn", "256", "--rope-theta", "1000000", "--rms-eps", "1e-6"],
    # Gemma 3: 6 layers (5 local with a window of 16, then 1 global), so the 64-token prompt
    # crosses the window; q/k norms, post norms, GeGLU, tied.
    "gemma3": ["--arch", "gemma3", "--layers", "6", "--embd", "256", "--heads", "4", "--kv-heads", "2",
               "--head-dim", "64", "--ffn", "512", "--sliding-window", "16", "--rope-theta", "1000000",
               "--rms-eps", "1e-6", "--tied"],
    # Granite: the llama block with Granite-3.3-2B's multipliers (embedding 12, residual 0.22,
    # attention 1/64 in place of 1/sqrt(64), logits / 8), tied.
    "granite": ["--arch", "granite", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
                "--ffn", "512", "--rope-theta", "10000", "--tied"],
    # SmolLM3: 4 layers, so layer 3 has no rope and layers 0-2 do; tied, SmolLM3-3B's rope base.
    "smollm3": ["--arch", "smollm3", "--layers", "4", "--embd", "256", "--heads", "4", "--kv-heads", "2",
                "--ffn", "512", "--rope-theta", "5000000", "--rms-eps", "1e-6", "--tied"],
    # Phi-3 / Phi-4-mini: fused attn_qkv and gate/up, 48 of 64 dims rotated (neox), LongRoPE from
    # 64 to 2048 positions (the references' context of 256 takes the long factors; attention
    # factor 1.354), and a sliding_window key of 16 that llama.cpp (and Parley) ignore. Named so
    # that llama.cpp does not take it for Phi-3 by general.name ("phi3" / "phi-3"), which makes it
    # look up Phi-3's special tokens (<|endoftext|>) in the vocabulary (llama-vocab.cpp).
    "phi3": ["--arch", "phi3", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
             "--ffn", "512", "--rope-dim", "48", "--ctx", "2048", "--longrope", "64", "--sliding-window", "16", "--name", "phi-random"],
    # The same with LongRoPE from 512: a context of 256 takes the short factors (F32 only).
    "phi3short": ["--arch", "phi3", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
                  "--ffn", "512", "--rope-dim", "48", "--ctx", "2048", "--longrope", "512", "--sliding-window", "16", "--name", "phi-random"],
    # gpt-oss (the tiny-gpt-oss preset): 2 layers (0 slides with a window of 16 < the prompt, 1
    # is full), sinks, biases, YaRN 32 over 512 positions, 16 experts of 256, 4 per token.
    "gptoss": ["--arch", "gpt-oss", "--layers", "2", "--embd", "256", "--heads", "8", "--kv-heads", "2",
               "--head-dim", "64", "--ffn", "256", "--ctx", "16384", "--experts", "16", "--experts-used", "4",
               "--expert-ffn", "256", "--sliding-window", "16", "--rope-theta", "150000", "--rope-yarn", "32,512",
               "--rms-eps", "1e-5"],
    # The same with every expert used (4 of 4): the weight types without a routing decision.
    "gptossall": ["--arch", "gpt-oss", "--layers", "2", "--embd", "256", "--heads", "8", "--kv-heads", "2",
                  "--head-dim", "64", "--ffn", "256", "--ctx", "16384", "--experts", "4", "--experts-used", "4",
                  "--expert-ffn", "256", "--sliding-window", "16", "--rope-theta", "150000", "--rope-yarn", "32,512",
                  "--rms-eps", "1e-5"],
    # gptoss over a 200-token prompt (PROMPT_LEN): the window of 16 starts inside later key tiles
    # and blocks, every sink against many keys.
    "gptosslong": None,
    "gptossmx": None,
    # gpt-oss-20b's attention shape (64/8 heads of 64, window 128, YaRN 32 over 4096) on a narrow
    # model (512 wide, 8 experts of 256, 2 per token) over a 600-token prompt (PROMPT_LEN): the
    # real window, far past, in F32.
    "gptosswide": ["--arch", "gpt-oss", "--layers", "2", "--embd", "512", "--heads", "64", "--kv-heads", "8",
                   "--head-dim", "64", "--ffn", "256", "--ctx", "131072", "--experts", "8", "--experts-used", "2",
                   "--expert-ffn", "256", "--sliding-window", "128", "--rope-theta", "150000",
                   "--rope-yarn", "32,4096", "--rms-eps", "1e-5"],
    # Llama-3 rope frequency scaling (rope_freqs.weight), F32 only.
    "llama3rope": ["--arch", "llama", "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
                   "--ffn", "512", "--rope-theta", "500000", "--rope-llama3", "8,1,4,64"],
}
SHAPES["gptosslong"] = SHAPES["gptoss"]
# gptossall with the experts in MXFP4 (as real gpt-oss files carry them) and every other matrix in
# the given type: F16 as convert_hf_to_gguf.py writes a gpt-oss checkpoint, Q8_0 as llama.cpp's
# MXFP4_MOE quantization does.
SHAPES["gptossmx"] = SHAPES["gptossall"] + ["--tensor-type", "_exps.weight=MXFP4"]
PROMPT_LEN = {"gptosslong": 200, "gptosswide": 600}  # others: 64
SEED = "7"

# Mixed files (per-tensor types differ, as in llama.cpp's _M mixes and unsloth's "UD" files):
# the make-model type options of each, by the name that stands in for the type. Kept in sync
# with tests/model/reference-test.cpp (mixed_types).
MIXES = {
    "MIXED": ["--type", "Q4_K", "--output-type", "Q6_K", "--tensor-type", "attn_q=IQ4_XS",
              "--tensor-type", "attn_k=Q5_K", "--tensor-type", "attn_v=Q6_K", "--tensor-type", "attn_output=Q8_0",
              "--tensor-type", "blk.1.ffn_up=MXFP4", "--tensor-type", "ffn_up=IQ4_NL", "--tensor-type", "ffn_down=Q5_K"],
}


def prompt(n_vocab, n=64):
    """BOS then LCG ids in [3, n_vocab) (the shape of peer_bench.mjs's prompt)."""
    out, s = [1], 12345
    while len(out) < n:
        s = (s * 1103515245 + 12345) % 2147483648
        out.append(3 + s % (n_vocab - 3))
    return out


def model_hash(path):
    """sum of (u32 word i) * (2i + 1) mod 2^64 over the zero-padded file, plus its size: cheap in
    numpy and C++, and any changed byte changes it (reference-test.cpp computes the same)."""
    data = open(path, "rb").read()
    data += b"\0" * (-len(data) % 4)
    w = np.frombuffer(data, dtype="<u4").astype(np.uint64)
    mult = 2 * np.arange(len(w), dtype=np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        return int((w * mult).sum(dtype=np.uint64) + np.uint64(len(data)))


def write_ref(path, mhash, tokens, logits, source):
    """PLRF v1: magic, version, model hash (model_hash), n_pos, n_vocab, k, source tag (16 bytes),
    tokens (u32 each), then per position: logsumexp (f32), k ids (u16), k logits (f32) — the k
    largest logits of that position, largest first."""
    logits = logits.astype(np.float64)
    n_pos, n_vocab = logits.shape
    with open(path, "wb") as f:
        f.write(b"PLRF" + struct.pack("<IQIII", 1, mhash, n_pos, n_vocab, TOP_K))
        f.write(source.encode().ljust(16, b"\0")[:16])
        f.write(struct.pack(f"<{n_pos}I", *tokens))
        for row in logits:
            m = row.max()
            lse = m + np.log(np.exp(row - m).sum())
            ids = np.argsort(-row, kind="stable")[:TOP_K]
            f.write(struct.pack("<f", lse))
            f.write(struct.pack(f"<{TOP_K}H", *ids))
            f.write(struct.pack(f"<{TOP_K}f", *row[ids]))


def peer_logits(args, model, tokens, tmp, name):
    peer_json = os.path.join(tmp, name + ".json")
    subprocess.run(["node", os.path.join(SHARED, "bench", "peer_logits.mjs"), model,
                    ",".join(map(str, tokens)), peer_json, "--peer-dir", args.peer_dir,
                    "--kv-type", "F32", "--flash-attention", "false"],
                   check=True, stdout=subprocess.DEVNULL)
    return np.array(json.load(open(peer_json))["logits"], dtype=np.float64)


def greedy(args, model, name, tokens, tmp):
    """numpy's greedy continuation (one full forward per token), then llama.cpp's logits over
    prompt + continuation: its argmax must give the same tokens."""
    seq, margins = list(tokens), []
    for _ in range(args.greedy):
        last = ref_forward.forward(model, seq)[-1]
        top = np.argsort(-last, kind="stable")[:2]
        margins.append(last[top[0]] - last[top[1]])
        seq.append(int(top[0]))
    gen = seq[len(tokens):]
    peer = peer_logits(args, model, seq[:-1], tmp, name + "-greedy")
    peer_gen = [int(np.argmax(row)) for row in peer[len(tokens) - 1:]]
    print(f"{name}: numpy greedy {gen} (smallest top-1 margin {min(margins):.3g}); "
          f"llama.cpp {'agrees' if peer_gen == gen else 'DIFFERS: ' + str(peer_gen)}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parley", default=os.path.join(ROOT, "build", "eng", "parley"))
    ap.add_argument("--peer-dir", default="/tmp/peer")
    ap.add_argument("--types", default="F32,F16,BF16,Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K")
    ap.add_argument("--archs", default="llama,qwen2,qwen3")
    ap.add_argument("--greedy", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    vocab = os.path.join(SHARED, "models", "stories260K.gguf")
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.archs.split(","):
            for typ in args.types.split(","):
                name = f"{arch}-{typ}"
                model = os.path.join(tmp, name + ".gguf")
                types = MIXES.get(typ, ["--type", typ])
                cmd = [args.parley, "make-model", *SHAPES[arch], *types, "--vocab-from", vocab,
                       "--seed", SEED, "-q", "-o", model]
                subprocess.run(cmd, check=True)
                h = model_hash(model)
                meta_n_vocab = 512
                tokens = prompt(meta_n_vocab, PROMPT_LEN.get(arch, 64))
                if args.greedy:
                    greedy(args, model, name, tokens, tmp)
                    continue
                margins = []
                ref = ref_forward.forward(model, tokens, margins)
                write_ref(os.path.join(OUT, name + ".numpy.bin"), h, tokens, ref, "numpy")
                peer = peer_logits(args, model, tokens, tmp, name)
                write_ref(os.path.join(OUT, name + ".llamacpp.bin"), h, tokens, peer, "llama.cpp")
                diff = np.abs(ref - peer).max()
                routing = f", smallest router margin {min(margins):.4g}" if margins else ""
                print(f"{name}: hash {h:016x}, max |numpy - llama.cpp| = {diff:.4g} "
                      f"(logit range {ref.min():.2f}..{ref.max():.2f}){routing}", flush=True)


if __name__ == "__main__":
    main()
