#!/usr/bin/env node
// peer_greedy.mjs - llama.cpp's greedy continuation of a token list, through the npm package
// node-llama-cpp (its API, as ../shared/bench/peer_logits.mjs uses it), for committed reference
// data (tests/data/engine/stories260K-greedy.json).
//
// usage: node tools/peer_greedy.mjs MODEL.gguf 1,2,3 N OUT.json [--peer-dir /tmp/peer]
// OUT.json: {"model", "prompt": [...], "tokens": [...generated, EOS included when reached],
//            "text": detokenized generated tokens, "llamaCpp": release}
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const i = args.indexOf("--peer-dir");
const peerDir = i >= 0 ? args.splice(i, 2)[1] : (process.env.PEER_DIR || "/tmp/peer");
const [modelPath, promptCsv, nStr, outPath] = args;
if (!outPath) {
    console.error("usage: node peer_greedy.mjs MODEL.gguf 1,2,3 N OUT.json [--peer-dir DIR]");
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(peerDir), "package.json"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const prompt = promptCsv.split(",").filter((s) => s.length).map(Number);
const n = Number(nStr);
const context = await model.createContext({
    contextSize: prompt.length + n + 16, threads: 2, sequences: 1,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false,
});
const seq = context.getSequence();
const tokens = [];
for await (const tok of seq.evaluate(prompt, { temperature: 0 })) {
    tokens.push(tok);
    if (tokens.length >= n || tok === model.tokens.eos) break;
}
const text = model.detokenize(tokens.filter((t) => t !== model.tokens.eos));
fs.writeFileSync(outPath, JSON.stringify({
    model: path.basename(modelPath), prompt, tokens, text, llamaCpp: llama.llamaCppRelease,
}, null, 1) + "\n");
console.log(`wrote ${outPath}: ${tokens.length} tokens`);
console.log(text);
await context.dispose();
await model.dispose();
await llama.dispose();
