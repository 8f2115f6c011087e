// Claude Code itself (headless `claude -p`) against the real `parley serve`. On a random model
// the answer is nonsense; what is tested is that every request Claude Code sends is accepted
// and every response (streamed SSE) parses, so the run completes with exit status 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const claudeBin = path.resolve(here, '../node_modules/.bin/claude');
const haveClaude = fs.existsSync(claudeBin);

let server;

before(async () => {
  if (!haveClaude) return;
  // Qwen2.5's template renders Claude Code's ~25 tool definitions: a 12-30K-token prompt that
  // the context holds. A random model never ends its turn by itself, so the output cap keeps the
  // 32000 tokens Claude Code asks for short; Claude Code treats stop_reason max_tokens as a
  // failed turn (it retries, then exits 1), so capped turns end with end_turn
  // (--max-output-ends-turn, documented in the README).
  server = await startServer({ model: 'qwen', args: ['--ctx', '49152', '--max-output', '8', '--max-output-ends-turn', '-t', '2'] });
});

after(async () => {
  if (server) {
    const { code } = await server.stop();
    assert.equal(code, 0);
  }
});

function runClaude(args, env, timeoutMs) {
  return new Promise((resolve) => {
    const proc = spawn(claudeBin, args, { env, cwd: env.PWD, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c) => { out += c; });
    proc.stderr.on('data', (c) => { err += c; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

const skip = !haveClaude && 'SKIPPED: @anthropic-ai/claude-code is not installed (npm unreachable)';

// Two runs: with Claude Code's non-essential traffic off (the main request only) and on (it
// also probes HEAD /api/hello and may ask for a session title).
for (const nonessential of [false, true]) {
  const name = `claude -p --output-format json completes against parley serve (non-essential traffic ${nonessential ? 'on' : 'off'})`;
  test(name, { skip }, async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cc-'));
    const home = path.join(work, 'home');
    const cwd = path.join(work, 'project');
    fs.mkdirSync(home);
    fs.mkdirSync(cwd);
    const env = {
      PATH: process.env.PATH,
      PWD: cwd,
      HOME: home,
      CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
      ANTHROPIC_BASE_URL: server.url,
      ANTHROPIC_API_KEY: 'dummy-key',
      DISABLE_AUTOUPDATER: '1',
      IS_SANDBOX: '1',  // running as root in CI
    };
    if (!nonessential) env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
    const logStart = server.log().length;
    const started = Date.now();
    const r = await runClaude(['-p', 'say hi using the Bash tool', '--output-format', 'json', '--allowedTools', 'Bash'], env, 240000);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const log = server.log().slice(logStart);
    const requests = log.split('\n').filter((l) => /:\d+ (POST|GET|HEAD) \/.* -> /.test(l));  // access log lines
    const detail = `exit ${r.code} ${r.signal ?? ''} after ${seconds}s\nstdout: ${r.out.slice(0, 2000)}\nstderr: ${r.err.slice(0, 2000)}\nserver:\n${requests.join('\n')}`;
    assert.equal(r.code, 0, detail);
    const result = JSON.parse(r.out);
    assert.equal(result.type, 'result', detail);
    assert.equal(result.is_error, false, detail);
    // Every request Claude Code sent was answered without an error status or a broken stream.
    const messages = requests.filter((l) => l.includes('/v1/messages'));
    assert.ok(messages.length >= 1, detail);
    for (const line of requests) {
      assert.doesNotMatch(line, /-> [45]\d\d|ended early|client gone/, detail);
    }
    console.log(`claude -p: exit 0 in ${seconds}s, ${messages.length} /v1/messages request(s), result ${JSON.stringify(result.result).slice(0, 60)}\n${requests.join('\n')}`);
  });
}
