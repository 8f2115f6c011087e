// Running Claude Code itself (headless `claude -p`) against a server: shared by the direct and
// the gateway tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const claudeBin = path.resolve(here, '../node_modules/.bin/claude');
export const haveClaude = fs.existsSync(claudeBin);
export const skipWithoutClaude = !haveClaude && 'SKIPPED: @anthropic-ai/claude-code is not installed (npm unreachable)';

export function runClaude(args, env, timeoutMs) {
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

// A fresh HOME and project directory per run, pointed at `srv`.
export function claudeEnv(srv) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cc-'));
  const home = path.join(work, 'home');
  const cwd = path.join(work, 'project');
  fs.mkdirSync(home);
  fs.mkdirSync(cwd);
  return {
    PATH: process.env.PATH,
    PWD: cwd,
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    ANTHROPIC_BASE_URL: srv.url,
    ANTHROPIC_API_KEY: 'dummy-key',
    DISABLE_AUTOUPDATER: '1',
    IS_SANDBOX: '1',  // running as root in CI
  };
}

// The access-log lines a server wrote since `from` (its log's length then).
export function accessLines(srv, from) {
  return srv.log().slice(from).split('\n').filter((l) => /:\d+ (POST|GET|HEAD) \/.* -> /.test(l));
}

// The Glob calls of a `--output-format stream-json` run that Claude Code executed: the
// tool_result answers a tool_use the server returned, with Glob's own output.
export function executedGlobCalls(out) {
  const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const calls = new Map();  // tool_use id -> the call, from the server's answers
  const results = [];
  for (const ev of events) {
    for (const block of ev.message?.content ?? []) {
      if (ev.type === 'assistant' && block.type === 'tool_use') calls.set(block.id, block);
      if (ev.type === 'user' && block.type === 'tool_result') results.push(block);
    }
  }
  const executed = results.filter((res) => calls.get(res.tool_use_id)?.name === 'Glob');
  return { events, calls, executed };
}
