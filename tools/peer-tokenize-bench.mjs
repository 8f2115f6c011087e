#!/usr/bin/env node
// peer-tokenize-bench.mjs - how fast llama.cpp (through node-llama-cpp) tokenizes a text with a
// GGUF vocabulary: the baseline bench/tokenizer-bench.cpp compares against.
// usage: node tools/peer-tokenize-bench.mjs MODEL.gguf TEXT.txt [--reps 10] [--peer-dir /tmp/peer]
// Prints one JSON line: {"tokens": N, "bytes": B, "seconds": [...per rep...]}. Each rep is one
// model.tokenize(text) call (no BOS, special tokens not parsed), timed in process CPU time
// (user + system; the machine may be shared, so wall time would measure the neighbours too).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
    const i = args.indexOf(name);
    if (i < 0) return dflt;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
};
const peerDir = opt("--peer-dir", process.env.PEER_DIR || "/tmp/peer");
const reps = Number(opt("--reps", "10"));
const [modelPath, textPath] = args;
if (!modelPath || !textPath) {
    console.error("usage: node peer-tokenize-bench.mjs MODEL.gguf TEXT.txt [--reps N] [--peer-dir DIR]");
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(peerDir), "package.json"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, vocabOnly: true });
const text = fs.readFileSync(textPath, "utf8");
let tokens = model.tokenize(text, false).length;  // warm-up
const seconds = [];
for (let r = 0; r < reps; r++) {
    const t0 = process.cpuUsage();
    tokens = model.tokenize(text, false).length;
    const d = process.cpuUsage(t0);
    seconds.push((d.user + d.system) / 1e6);
}
console.log(JSON.stringify({ tokens, bytes: Buffer.byteLength(text, "utf8"), seconds }));
await model.dispose();
await llama.dispose();
