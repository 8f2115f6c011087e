// Shared by the bench/ scripts: generates a model with `parley make-model`, starts the real
// `parley serve` on it, streams a Messages request and times it. Plain fetch, no dependencies.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const parley = process.env.PARLEY_BIN || path.join(repoRoot, 'build/release/parley');
const workDir = process.env.PARLEY_BENCH_DIR || path.join(os.tmpdir(), 'parley-bench-models');

const qwenTokenizer = ['--tokenizer', path.join(sharedDir, 'tokenizers/Qwen2.5-0.5B-Instruct'),
  '--template', path.join(sharedDir, 'templates/Qwen2.5-7B-Instruct.jinja')];

// `qwen` is tests/integration's recipe (so small that the model is not the bottleneck);
// `qwen-wide` has enough layers and width that prefill dominates a request's time.
export const recipes = {
  qwen: ['--arch', 'qwen2', '--layers', '1', '--embd', '64', '--heads', '2', '--kv-heads', '1',
    '--ffn', '64', '--tied', '--type', 'Q8_0', '--seed', '3', '--ctx', '65536', ...qwenTokenizer],
  'qwen-wide': ['--arch', 'qwen2', '--layers', '4', '--embd', '256', '--heads', '4', '--kv-heads', '2',
    '--ffn', '768', '--tied', '--type', 'Q8_0', '--seed', '3', '--ctx', '65536', ...qwenTokenizer],
  // The shape of docs/bench-baseline.md's qwen3-0.6B Q4_0 (28 layers, 1024 wide, ~267 MB): a
  // decode step streams all the weights, as with the models people run.
  'qwen3-0.6b': ['--preset', 'bench-qwen3-0.6b-q4_0', '--seed', '3', '--ctx', '8192', ...qwenTokenizer],
};

export function makeModel(name) {
  if (!recipes[name]) throw new Error(`unknown model recipe ${name}; have ${Object.keys(recipes)}`);
  fs.mkdirSync(workDir, { recursive: true });
  const out = path.join(workDir, `${name}-bench.gguf`);
  if (!fs.existsSync(out)) {
    execFileSync(parley, ['make-model', '-q', '-o', out, '--name', `${name}-bench`, ...recipes[name]],
      { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return out;
}

export function cpuInfo() {
  let model = 'unknown';
  let flags = '';
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    model = (text.match(/^model name\s*:\s*(.*)$/m) || [])[1] || model;
    const f = ((text.match(/^flags\s*:\s*(.*)$/m) || [])[1] || '').split(' ');
    flags = ['avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((x) => f.includes(x)).join(' ');
  } catch { /* not Linux */ }
  return { model, flags: flags || 'none of avx2/avx512/amx', cpus: os.cpus().length, load: os.loadavg() };
}

export async function startServer(modelPath, args = []) {
  const proc = spawn(parley, ['serve', '-m', modelPath, '--port', '0', '--seed', '1', '--alias', 'local-model', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parley serve did not start:\n${log}`)), 120000);
    proc.stderr.on('data', (chunk) => {
      log += chunk.toString();
      const m = log.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`parley serve exited ${code}:\n${log}`)); });
  });
  const exited = new Promise((resolve) => proc.on('exit', () => resolve()));
  return {
    url,
    pid: proc.pid,
    log: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

// Streams one request and folds the SSE events into a message. Times: ttft_delta_ms = first
// content_block_delta; ttft_event_ms = first event after message_start (content_block_start).
export async function streamMessage(url, body, headers = {}) {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = '';
  let ttftDelta = null;
  let ttftEvent = null;
  let message = null;
  const blocks = [];
  const partialJson = [];
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const line = frame.split('\n').find((l) => l.startsWith('data: '));
      if (!line) continue;
      const ev = JSON.parse(line.slice(6));
      const now = performance.now() - t0;
      if (ev.type === 'message_start') message = ev.message;
      else if (ev.type !== 'ping' && ttftEvent === null) ttftEvent = now;
      if (ev.type === 'content_block_delta' && ttftDelta === null) ttftDelta = now;
      if (ev.type === 'content_block_start') {
        blocks[ev.index] = { ...ev.content_block };
        partialJson[ev.index] = '';
      } else if (ev.type === 'content_block_delta') {
        const b = blocks[ev.index];
        const d = ev.delta;
        if (d.type === 'text_delta') b.text += d.text;
        else if (d.type === 'thinking_delta') b.thinking += d.thinking;
        else if (d.type === 'signature_delta') b.signature = d.signature;
        else if (d.type === 'input_json_delta') partialJson[ev.index] += d.partial_json;
      } else if (ev.type === 'content_block_stop') {
        const b = blocks[ev.index];
        if (b.type === 'tool_use') {
          // A call cut by max_tokens has an unfinished input: kept as text.
          try { b.input = partialJson[ev.index] ? JSON.parse(partialJson[ev.index]) : {}; } catch { b.input = null; b.partial_json = partialJson[ev.index]; }
        }
      } else if (ev.type === 'message_delta') {
        message.stop_reason = ev.delta.stop_reason;
        message.usage = { ...message.usage, ...ev.usage };
      } else if (ev.type === 'error') {
        throw new Error(`stream error: ${JSON.stringify(ev.error)}`);
      }
    }
  }
  message.content = blocks.filter(Boolean);
  return { message, ttft_delta_ms: ttftDelta, ttft_event_ms: ttftEvent, total_ms: performance.now() - t0 };
}
