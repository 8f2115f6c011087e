// Running Claude Code itself (headless `claude -p`) against a server: shared by the direct and
// the gateway tests.
import assert from 'node:assert/strict';
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

// Claude Code offers only Glob (--tools Glob, allowed), a read-only tool, in a project holding
// one file, and runs to --max-turns 4 (exit 1 by design when the model calls a tool every turn).
// Asserts that at least one Glob call the server returned was executed by Glob itself: its result
// answers that call and is Glob's own output (a file list, "No files found", or its own error
// such as a missing directory), not Claude Code's "No such tool" / permission refusal. Returns a
// line describing the calls.
export async function runGlobSession(env) {
  env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
  env.ENABLE_TOOL_SEARCH = 'false';  // no DeferredToolPlaceholder tool: Glob is the only one
  fs.writeFileSync(path.join(env.PWD, 'notes.txt'), 'hello\n');
  const r = await runClaude(['-p', 'list the files here', '--output-format', 'stream-json', '--verbose',
    '--tools', 'Glob', '--allowedTools', 'Glob', '--max-turns', '4'], env, 240000);
  const detail = `exit ${r.code}\nstdout: ${r.out.slice(0, 3000)}\nstderr: ${r.err.slice(0, 1500)}`;
  const events = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const calls = new Map();  // tool_use id -> the call, from the server's answers
  const results = [];
  for (const ev of events) {
    for (const block of ev.message?.content ?? []) {
      if (ev.type === 'assistant' && block.type === 'tool_use') calls.set(block.id, block);
      if (ev.type === 'user' && block.type === 'tool_result') results.push(block);
    }
  }
  const executed = results.filter((res) => calls.get(res.tool_use_id)?.name === 'Glob');
  assert.ok(executed.length >= 1, detail);
  for (const res of executed) {
    const text = typeof res.content === 'string' ? res.content : JSON.stringify(res.content);
    assert.doesNotMatch(text, /No such tool|permission|not allowed/i, detail);
    assert.match(calls.get(res.tool_use_id).id, /^toolu_/);
  }
  assert.equal(events.at(-1).type, 'result', detail);
  return `${executed.length} Glob call(s): ` +
    executed.map((res) => `${JSON.stringify(calls.get(res.tool_use_id).input)} -> ${JSON.stringify(res.content).slice(0, 60)}`).join('; ');
}
