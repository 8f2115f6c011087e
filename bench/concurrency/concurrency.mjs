// Concurrency on the real `parley serve --parallel 8`:
//  A. decode throughput: 8 simultaneous streaming requests vs 1 alone, aggregate generated
//     tokens/s (output tokens of all requests / wall time from the first send to the last end).
//  B. shared prefix: 8 requests with the same ~4k-token system prompt and different questions,
//     temperature 0. Sum of cache_read_input_tokens should be ~7 x the prefix (rounded down to
//     KV blocks), and each output must equal the same request run alone on a server without
//     the prefix cache. B runs twice: all 8 sent at once, and one first then 7 at once.
//
//   node bench/concurrency/concurrency.mjs [--model qwen-wide|qwen3-0.6b] [--threads 2] [--tokens 64]
//        [--kv-type f16|bf16|q8_0|f32] [--throughput-only] [--out bench/concurrency/results-MODEL.json]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuInfo, makeModel, startServer, streamMessage } from '../lib/serve.mjs';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'qwen-wide' },
    threads: { type: 'string', default: '2' },
    tokens: { type: 'string', default: '64' },
    // The servers' --kv-type (q8_0 halves the K/V each decode step reads).
    'kv-type': { type: 'string', default: 'f16' },
    out: { type: 'string' },
    // Only part A (B's reference runs prefill 8 x 4k tokens without the cache: minutes on a
    // model of real size).
    'throughput-only': { type: 'boolean', default: false },
  },
});
const here = path.dirname(new URL(import.meta.url).pathname);
const kvSuffix = opt['kv-type'] === 'f16' ? '' : `-${opt['kv-type']}`;
const outPath = opt.out || path.join(here, `results-${opt.model}${kvSuffix}.json`);
const kvArgs = ['--kv-type', opt['kv-type']];
const nTokens = Number(opt.tokens);
const N = 8;

function question(i) {
  return `Request ${i}: summarise what the function handle_${i * 7} does and list ${i + 2} risks.`;
}

// ~4k tokens of shared system prompt (sized by the server's own count below).
function sharedPrefix(nLines) {
  const lines = ['You are a code reviewer. The repository index follows.'];
  for (let i = 0; i < nLines; i++) {
    lines.push(`src/area-${i % 13}/file-${i}.cpp: int handle_${i}(const Request& r) { return r.size() * ${i + 3}; }`);
  }
  return lines.join('\n');
}

const body = (system, q, extra = {}) => ({
  model: 'local-model', max_tokens: nTokens, temperature: 0, system,
  messages: [{ role: 'user', content: q }], ...extra,
});

async function timeAll(url, bodies) {
  const t0 = performance.now();
  const results = await Promise.all(bodies.map((b) => streamMessage(url, b)));
  const wall = performance.now() - t0;
  const out = results.reduce((s, r) => s + r.message.usage.output_tokens, 0);
  return { wall_ms: Math.round(wall), output_tokens: out, tok_s: +(out / (wall / 1000)).toFixed(1), results };
}

const text = (r) => r.message.content.map((b) => b.text ?? b.thinking ?? JSON.stringify(b.input)).join('|');

const modelPath = makeModel(opt.model);
const cpu = cpuInfo();
const lines = [`concurrency: model ${opt.model}, threads ${opt.threads}, KV ${opt['kv-type']}, ${nTokens} output tokens a request`,
  `cpu: ${cpu.model} (${cpu.cpus} cpus; ${cpu.flags}); load at start ${cpu.load.map((x) => x.toFixed(2)).join(' ')}`];
const result = { model: opt.model, threads: Number(opt.threads), kv_type: opt['kv-type'], cpu };

// Reference outputs: each request alone, no prefix cache.
const ref = opt['throughput-only'] ? null : await startServer(modelPath, ['--threads', opt.threads, '--parallel', '1', '--no-prefix-cache', ...kvArgs]);
let prefix;
const alone = [];
if (ref) try {
  let nLines = 130;
  const probe = await streamMessage(ref.url, body(sharedPrefix(nLines), question(0), { max_tokens: 1 }));
  nLines = Math.round(nLines * 4096 / probe.message.usage.input_tokens);
  prefix = sharedPrefix(nLines);
  for (let i = 0; i < N; i++) alone.push(await streamMessage(ref.url, body(prefix, question(i))));
} finally {
  await ref.stop();
}
const promptTokens = alone.map((r) => r.message.usage.input_tokens);
if (ref) lines.push(`B prompts: ${promptTokens.join(', ')} tokens (shared system prompt + a different question each)`);

const server = await startServer(modelPath, ['--threads', opt.threads, '--parallel', String(N), ...kvArgs]);
try {
  lines.push(`server: ${(server.log().split('\n').find((l) => /prefix cache/.test(l)) || '').trim()}`);
  // A. throughput. Distinct short prompts so that nothing is shared; warm up once.
  const distinct = (i) => body(`You are assistant number ${i}.`, `Write a long story about the number ${i * 37}.`, { temperature: 1, top_k: 40 });
  await streamMessage(server.url, { ...distinct(99), max_tokens: 4 });
  const one = await timeAll(server.url, [distinct(0)]);
  const eight = await timeAll(server.url, Array.from({ length: N }, (_, i) => distinct(i + 1)));
  const ratio = +(eight.tok_s / one.tok_s).toFixed(2);
  result.throughput = { one: { ...one, results: undefined }, eight: { ...eight, results: undefined }, ratio };
  lines.push('', 'A. decode throughput (aggregate generated tokens / wall time)',
    '| requests | output tokens | wall ms | tokens/s |', '|---|---|---|---|',
    `| 1 | ${one.output_tokens} | ${one.wall_ms} | ${one.tok_s} |`,
    `| 8 at once | ${eight.output_tokens} | ${eight.wall_ms} | ${eight.tok_s} |`,
    `ratio 8 / 1: ${ratio}x (target >= 3x)`);

  // B. shared prefix, two ways. B2's system prompt starts with two extra words so that it does
  // not find B1's prefix in the cache and starts cold.
  result.shared = {};
  for (const [name, staggered] of ref ? [['all 8 at once', false], ['1 first, then 7 at once', true]] : []) {
    const sys = staggered ? `Variant B2. ${prefix}` : prefix;
    const bodies = Array.from({ length: N }, (_, i) => body(sys, question(i)));
    let rs;
    const t0 = performance.now();
    if (staggered) {
      const first = await streamMessage(server.url, bodies[0]);
      rs = [first, ...await Promise.all(bodies.slice(1).map((b) => streamMessage(server.url, b)))];
    } else {
      rs = await Promise.all(bodies.map((b) => streamMessage(server.url, b)));
    }
    const wall = Math.round(performance.now() - t0);
    const reads = rs.map((r) => r.message.usage.cache_read_input_tokens || 0);
    const sum = reads.reduce((a, b) => a + b, 0);
    // Only B1's prompts are the alone runs' prompts, so only B1's outputs are compared.
    const same = staggered ? null : rs.map((r, i) => text(r) === text(alone[i]));
    result.shared[name] = { wall_ms: wall, cache_read: reads, sum, prompt_tokens: rs.map((r) => r.message.usage.input_tokens + (r.message.usage.cache_read_input_tokens || 0)), identical_to_alone: same, outputs: rs.map(text) };
    lines.push('', `B. shared ~4k prefix, ${name} (temperature 0), wall ${wall} ms`,
      '| request | prompt tokens | cache_read | output = alone run |', '|---|---|---|---|',
      ...rs.map((r, i) => `| ${i} | ${r.message.usage.input_tokens + reads[i]} | ${reads[i]} | ${same ? same[i] : '-'} |`),
      `sum cache_read ${sum}; 7 x prefix would be ~${7 * (promptTokens[0] - 30)}`);
  }
} finally {
  await server.stop();
}
result.alone_outputs = alone.map(text);
lines.push(`load at end ${cpuInfo().load.map((x) => x.toFixed(2)).join(' ')}`);
fs.writeFileSync(outPath, JSON.stringify(result, null, 2));
console.log(lines.join('\n'));
console.log(`json: ${outPath}`);
