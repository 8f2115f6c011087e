// Starts the real `parley serve` on generated models (random weights, real tokenizers and chat
// templates from ../shared) and stops it again. Everything here talks to a real process over
// a real socket: no fake engine.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const parley = process.env.PARLEY_BIN || path.join(repoRoot, 'build/release/parley');
const workDir = process.env.PARLEY_IT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'parley-it-'));

// Model recipes: small and fast on 2 cores. `smol` answers most tests; `qwen` renders tools
// (Qwen2.5's template), which is what Claude Code's 20-30K-token prompts need.
const recipes = {
  smol: {
    ctx: 1024,
    args: ['--arch', 'llama', '--layers', '2', '--embd', '64', '--heads', '4', '--kv-heads', '2',
      '--ffn', '128', '--tied', '--seed', '7', '--name', 'smol-it',
      '--tokenizer', path.join(sharedDir, 'tokenizers/SmolLM2-135M-Instruct/tokenizer.json'),
      '--template', path.join(sharedDir, 'templates/SmolLM2-Instruct.jinja')],
  },
  qwen: {
    ctx: 65536,
    args: ['--arch', 'qwen2', '--layers', '1', '--embd', '64', '--heads', '2', '--kv-heads', '1',
      '--ffn', '64', '--tied', '--type', 'Q8_0', '--seed', '3', '--name', 'qwen-it',
      '--tokenizer', path.join(sharedDir, 'tokenizers/Qwen2.5-0.5B-Instruct'),
      '--template', path.join(sharedDir, 'templates/Qwen2.5-7B-Instruct.jinja')],
  },
  // `qwen` with two output biases and nothing else changed (make-model --steer): "<tool_call>"
  // is by far the likeliest token everywhere and '"' the likeliest inside a string, so the
  // random model opens a call at once and its string arguments are short. The grammar does the
  // rest (a schema-valid call of one of the request's tools).
  steer: {
    ctx: 65536,
    args: ['--arch', 'qwen2', '--layers', '1', '--embd', '64', '--heads', '2', '--kv-heads', '1',
      '--ffn', '64', '--type', 'Q8_0', '--seed', '3', '--name', 'steer-it',
      '--steer', '<tool_call>=18', '--steer', '"=13',
      '--tokenizer', path.join(sharedDir, 'tokenizers/Qwen2.5-0.5B-Instruct'),
      '--template', path.join(sharedDir, 'templates/Qwen2.5-7B-Instruct.jinja')],
  },
};

export function makeModel(name) {
  const recipe = recipes[name];
  const out = path.join(workDir, `${name}-it.gguf`);  // the file stem is the served model id
  if (!fs.existsSync(out)) {
    execFileSync(parley, ['make-model', '-q', '-o', out, '--ctx', String(recipe.ctx), ...recipe.args],
      { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return out;
}

// Starts `parley serve` on `port` (0: a free one); resolves once it listens. model: null gives
// neither -m nor --port (a --config file in args does).
export async function startServer({ model = 'smol', args = [], env = {}, port = 0 } = {}) {
  const head = model === null ? [] : ['-m', makeModel(model), '--port', String(port)];
  const proc = spawn(parley, ['serve', ...head, '--seed', '1', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parley serve did not start:\n${log}`)), 60000);
    proc.stderr.on('data', (chunk) => {
      log += chunk.toString();
      const m = log.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`parley serve exited with ${code}:\n${log}`));
    });
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    proc,
    exited,
    log: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

// Raw HTTP helper for what the SDKs refuse to send (broken JSON, huge bodies, ...).
export async function rawRequest(url, { method = 'POST', path: p = '/v1/messages', body, headers = {} } = {}) {
  const res = await fetch(url + p, {
    method,
    body,
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

// Parses an SSE body into [{event, data}] frames.
export function parseSse(text) {
  return text.split('\n\n').filter((f) => f.trim() !== '').map((frame) => {
    const out = { event: null, data: null };
    for (const line of frame.split('\n')) {
      if (line.startsWith('event: ')) out.event = line.slice(7);
      else if (line.startsWith('data: ')) out.data = line.slice(6);
    }
    return out;
  });
}

// The streamed event grammar of one text answer, as the SDK yields it: message_start first,
// message_delta then message_stop last, text blocks with consecutive indices, one open at a
// time, every delta to the open one. Returns the text.
export function streamedText(assert, events) {
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(types.at(-2), 'message_delta');
  let text = '';
  let open = -1;
  let next = 0;
  for (const e of events) {
    if (e.type === 'content_block_start') { assert.equal(open, -1); assert.equal(e.index, next); open = e.index; }
    if (e.type === 'content_block_delta') { assert.equal(e.index, open); text += e.delta.text; }
    if (e.type === 'content_block_stop') { assert.equal(e.index, open); open = -1; next++; }
  }
  return text;
}
