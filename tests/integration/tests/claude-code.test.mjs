// Claude Code itself (headless `claude -p`) against the real `parley serve`. On a random model
// the answer is nonsense; what is tested is that every request Claude Code sends is accepted
// and every response (streamed SSE) parses, so the run completes with exit status 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { haveClaude, runClaude, claudeEnv, accessLines, runGlobSession, skipWithoutClaude as skip } from '../lib/claude.mjs';

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

// Two runs: with Claude Code's non-essential traffic off (the main request only) and on (it
// also probes HEAD /api/hello and may ask for a session title).
for (const nonessential of [false, true]) {
  const name = `claude -p --output-format json completes against parley serve (non-essential traffic ${nonessential ? 'on' : 'off'})`;
  test(name, { skip }, async () => {
    const env = claudeEnv(server);
    if (!nonessential) env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
    const logStart = server.log().length;
    const started = Date.now();
    const r = await runClaude(['-p', 'say hi using the Bash tool', '--output-format', 'json', '--allowedTools', 'Bash'], env, 240000);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const requests = accessLines(server, logStart);
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

// Claude Code runs a tool that Parley returned. How the model is steered, honestly: the fixture
// model (recipe `steer`) is the random `qwen` model with two output biases (make-model --steer),
// so it opens a "<tool_call>" at once and closes strings quickly; the grammar makes the call a
// schema-valid call of a tool in the request; --no-parallel-tool-calls ends the turn after it.
// Claude Code offers only Glob (runGlobSession in lib/claude.mjs).
test('claude -p executes a tool_use that Parley returned (Glob), and gets its result back', { skip }, async () => {
  const steered = await startServer({ model: 'steer', args: ['--ctx', '49152', '--no-parallel-tool-calls', '-t', '2'] });
  try {
    console.log(`claude -p ran ${await runGlobSession(claudeEnv(steered))} from Parley`);
  } finally {
    await steered.stop();
  }
});
