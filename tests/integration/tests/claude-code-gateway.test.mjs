// Claude Code (headless `claude -p`) through a gateway `parley serve` in front of upstream
// `parley serve` processes, over `openai-chat` (the gateway translates Claude Code's Anthropic
// requests to OpenAI chat and the chunks back) and over `anthropic` (relayed, tool_use ids and
// all). The assertions are the direct tests' (claude-code.test.mjs): the run completes, every
// request is accepted by the gateway and by the upstream, and a Glob tool_use that came from the
// upstream's model is executed by Claude Code. Claude Code is pointed at the upstream's model id
// with ANTHROPIC_MODEL / ANTHROPIC_SMALL_FAST_MODEL, which the gateway routes by id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { runClaude, claudeEnv, accessLines, runGlobSession, skipWithoutClaude as skip } from '../lib/claude.mjs';

// An upstream on `model` with `args`, a gateway in front of it over `protocol`, and Claude
// Code's environment pointed at the gateway and the upstream's model id.
async function throughGateway(model, args, protocol, fn) {
  const upstream = await startServer({ model, args: ['--ctx', '49152', '-t', '2', ...args] });
  const gateway = await startServer({ args: ['--ctx', '512', '--upstream', `up=${upstream.url}`,
    '--upstream-protocol', `up=${protocol}`, '--upstream-models', `up=${model}-it`] });
  try {
    const env = claudeEnv(gateway);
    env.ANTHROPIC_MODEL = `${model}-it`;  // the upstream's model id (its file stem)
    env.ANTHROPIC_SMALL_FAST_MODEL = `${model}-it`;
    env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
    await fn(env, gateway, upstream);
  } finally {
    assert.equal((await gateway.stop()).code, 0);
    assert.equal((await upstream.stop()).code, 0);
  }
}

function checkAccepted(srv, from, detail) {
  const requests = accessLines(srv, from);
  assert.ok(requests.some((l) => l.includes('/v1/')), `${detail}\nno requests logged`);
  for (const line of requests) assert.doesNotMatch(line, /-> [45]\d\d|ended early|client gone/, detail);
  return requests;
}

for (const protocol of ['openai-chat', 'anthropic']) {
  test(`claude -p completes through a gateway over ${protocol}`, { skip }, async () => {
    await throughGateway('qwen', ['--max-output', '8', '--max-output-ends-turn'], protocol, async (env, gateway, upstream) => {
      const started = Date.now();
      const r = await runClaude(['-p', 'say hi using the Bash tool', '--output-format', 'json', '--allowedTools', 'Bash'], env, 240000);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const detail = `exit ${r.code} ${r.signal ?? ''} after ${seconds}s\nstdout: ${r.out.slice(0, 2000)}\nstderr: ${r.err.slice(0, 2000)}\n` +
        `gateway:\n${accessLines(gateway, 0).join('\n')}\nupstream:\n${accessLines(upstream, 0).join('\n')}`;
      assert.equal(r.code, 0, detail);
      const result = JSON.parse(r.out);
      assert.equal(result.type, 'result', detail);
      assert.equal(result.is_error, false, detail);
      const g = checkAccepted(gateway, 0, detail);
      const u = checkAccepted(upstream, 0, detail);
      // What reached the upstream is what the protocol says: OpenAI chat or Anthropic Messages.
      const path = protocol === 'openai-chat' ? '/v1/chat/completions' : '/v1/messages';
      assert.ok(u.some((l) => l.includes(`POST ${path}`)), detail);
      console.log(`claude -p via gateway (${protocol}): exit 0 in ${seconds}s, gateway ${g.filter((l) => l.includes('/v1/messages')).length} /v1/messages, ` +
        `upstream ${u.filter((l) => l.includes(path)).length} ${path}`);
    });
  });

  test(`claude -p executes a Glob tool_use from the upstream's model, through a gateway over ${protocol}`, { skip }, async () => {
    await throughGateway('steer', ['--no-parallel-tool-calls'], protocol, async (env) => {
      console.log(`claude -p via gateway (${protocol}) ran ${await runGlobSession(env)}`);
    });
  });
}
