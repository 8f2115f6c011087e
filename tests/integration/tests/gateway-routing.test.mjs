// The gateway's routing among replicas, against real `parley serve` replicas on loopback (no
// mocks): prefix affinity keeps a conversation where its prefix is cached (cache_read as high as
// against one server, and clearly lower with --gateway-affinity off); a replica killed mid-run
// (its stream in flight ends with an `error` event, requests that had not started are retried on
// the others, it shows as ejected and is re-admitted by its health checks once restarted on the
// same port); every replica at --upstream-max-concurrent gives 529 overloaded_error, and no slot
// is left held afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, rawRequest, parseSse } from '../lib/server.mjs';

const MODEL = 'qwen-it';
const REPLICA_ARGS = ['--ctx', '2048'];
let replicas = [];  // shared by the affinity and concurrency tests
const started = []; // everything to stop at the end

async function serve(opts) {
  const s = await startServer(opts);
  started.push(s);
  return s;
}

// --upstream flags for replicas r0..rN of MODEL, plus per-replica extras ("--flag", "VALUE").
function upstreamArgs(servers, extra = []) {
  const args = [];
  servers.forEach((s, i) => {
    args.push('--upstream', `r${i}=${s.url}`, '--upstream-models', `r${i}=${MODEL}`);
    for (const [flag, value] of extra) args.push(flag, `r${i}=${value}`);
  });
  return args;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// The gateway's parley_upstream_* samples: [{name, labels, value}].
async function metrics(url) {
  const text = await (await fetch(url + '/metrics')).text();
  const out = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^(parley_upstream_\w+)(?:\{([^}]*)\})? (\S+)$/);
    if (!m) continue;
    const labels = {};
    for (const kv of (m[2] ?? '').split(',').filter(Boolean)) {
      const [k, v] = kv.split('=');
      labels[k] = JSON.parse(v);
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function metric(samples, name, labels = {}) {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

async function waitFor(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  replicas = await Promise.all([0, 1, 2].map(() => serve({ model: 'qwen', args: REPLICA_ARGS })));
});

after(async () => {
  for (const s of started) await s.stop();
});

// --- prefix affinity --------------------------------------------------------------------------

// A system prompt of a few hundred tokens, distinct per conversation from its first word on (so
// two conversations share no prefix), and a user message of some 40 tokens per turn.
function systemPrompt(tag) {
  const words = [];
  for (let i = 0; i < 60; i++) words.push(`rule ${i}: answer about ${tag} briefly`);
  return `${tag}. ${words.join('; ')}.`;
}
const question = (t) => `Question ${t + 1}: please list ${t + 3} facts about the number ${17 * (t + 1)} and its digits, `
  + 'one per line, and explain each of them in plain words for a curious reader.';

// Ten turns, each resending the whole history; per turn the prompt size and its cached part.
async function converse(client, tag, turns = 10) {
  const system = systemPrompt(tag);
  const messages = [];
  const rows = [];
  for (let t = 0; t < turns; t++) {
    messages.push({ role: 'user', content: question(t) });
    const r = await client.messages.create({ model: MODEL, max_tokens: 8, seed: t + 1, system, messages });
    const u = r.usage;
    rows.push({ prompt: u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens, cached: u.cache_read_input_tokens });
    const text = r.content.find((b) => b.type === 'text')?.text ?? '';
    messages.push({ role: 'assistant', content: text.trim() === '' ? 'ok' : text });
  }
  return rows;
}

const sumCached = (rows) => rows.slice(1).reduce((n, r) => n + r.cached, 0);

test('prefix affinity: each turn reads the previous turn from the cache; with affinity off it does not', async (t) => {
  const on = await serve({ args: upstreamArgs(replicas) });
  const off = await serve({ args: [...upstreamArgs(replicas), '--gateway-affinity', 'off'] });
  const direct = await converse(new Anthropic({ baseURL: replicas[0].url, apiKey: 'x', maxRetries: 0 }), 'Direct');
  const viaOn = await converse(new Anthropic({ baseURL: on.url, apiKey: 'x', maxRetries: 0 }), 'Affine');
  const viaOff = await converse(new Anthropic({ baseURL: off.url, apiKey: 'x', maxRetries: 0 }), 'Spread');
  const show = (rows) => rows.map((r) => `${r.cached}/${r.prompt}`).join(' ');
  t.diagnostic(`cache_read/prompt per turn, one server:    ${show(direct)} (sum ${sumCached(direct)})`);
  t.diagnostic(`cache_read/prompt per turn, affinity on:   ${show(viaOn)} (sum ${sumCached(viaOn)})`);
  t.diagnostic(`cache_read/prompt per turn, affinity off:  ${show(viaOff)} (sum ${sumCached(viaOff)})`);

  for (let i = 1; i < viaOn.length; i++) {
    assert.ok(viaOn[i].prompt > viaOn[i - 1].prompt, 'the history grows');
    assert.ok(viaOn[i].cached >= 0.8 * viaOn[i - 1].prompt,
      `turn ${i + 1}: cache_read ${viaOn[i].cached} covers most of the previous prompt (${viaOn[i - 1].prompt})`);
  }
  assert.ok(sumCached(viaOn) >= 0.9 * sumCached(direct), 'as much cached as against one server');
  assert.ok(sumCached(viaOff) < 0.8 * sumCached(viaOn), 'round robin over three replicas loses most of the reuse');

  // The gateway counted its affinity: every turn after the first hit the owner.
  const m = await metrics(on.url);
  assert.equal(metric(m, 'parley_upstream_affinity_hits_total'), 9);
  assert.equal(metric(m, 'parley_upstream_affinity_misses_total'), 1);
  assert.equal(metric(m, 'parley_upstream_requests_total', { status: '200' }), 10);
  const served = [0, 1, 2].filter((i) => metric(m, 'parley_upstream_requests_total', { upstream: `r${i}` }) > 0);
  assert.equal(served.length, 1, 'the whole conversation on one replica');
  const spread = await metrics(off.url);
  for (let i = 0; i < 3; i++) {
    assert.ok(metric(spread, 'parley_upstream_requests_total', { upstream: `r${i}`, status: '200' }) >= 3, 'round robin');
  }
});

// --- concurrency limits -----------------------------------------------------------------------

test('529: every replica at --upstream-max-concurrent refuses with overloaded_error; no slot is left held', async () => {
  const gw = await serve({ args: upstreamArgs(replicas.slice(0, 2), [['--upstream-max-concurrent', '1']]) });
  const body = (i, stream) => JSON.stringify({
    model: MODEL, max_tokens: 400, seed: i, stream, messages: [{ role: 'user', content: `Count to ${i}` }],
  });
  const results = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => rawRequest(gw.url, { body: body(i, i % 2 === 1) })));
  const statuses = results.map((r) => r.status);
  assert.ok(statuses.filter((s) => s === 200).length >= 2, `two slots served: ${statuses}`);
  const refused = results.filter((r) => r.status === 529);
  assert.ok(refused.length >= 1, `more requests than slots: some 529: ${statuses}`);
  assert.equal(statuses.filter((s) => s === 200 || s === 529).length, statuses.length, `only 200 or 529: ${statuses}`);
  for (const r of refused) {
    assert.equal(r.json?.type, 'error', r.text);
    assert.equal(r.json.error.type, 'overloaded_error', r.text);
    assert.match(r.json.error.message, /concurrency limit/);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(r.headers.get('content-type'), /application\/json/, 'a streamed request too gets a plain 529');
  }
  let m = await metrics(gw.url);
  assert.equal(metric(m, 'parley_upstream_in_flight'), 0, 'every slot given back');

  // A client that goes away mid-stream gives its slot back too.
  const ac = new AbortController();
  const res = await fetch(gw.url + '/v1/messages', {
    method: 'POST', signal: ac.signal,
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: MODEL, max_tokens: 1500, stream: true, messages: [{ role: 'user', content: 'Go on' }] }),
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read();
  m = await metrics(gw.url);
  assert.equal(metric(m, 'parley_upstream_in_flight'), 1);
  ac.abort();
  await waitFor('the cancelled stream to give back its slot', async () =>
    metric(await metrics(gw.url), 'parley_upstream_in_flight') === 0, 5000);
  const ok = await rawRequest(gw.url, { body: body(9, false) });
  assert.equal(ok.status, 200, 'both slots free again');
});

// --- faults -----------------------------------------------------------------------------------

// Reads an SSE response until `until(frames)` is true or it ends; the frames so far.
async function readSse(res, until = () => false) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (until(parseSse(text))) return { frames: parseSse(text), rest: reader, text };
  }
  return { frames: parseSse(text), rest: null, text };
}

async function readRest(partial) {
  let text = partial.text;
  const decoder = new TextDecoder();
  if (partial.rest) {
    for (;;) {
      const { value, done } = await partial.rest.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  }
  return parseSse(text);
}

test('faults: a killed replica ends its stream with an error event, is retried around, ejected, and re-admitted', async (t) => {
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const set = await Promise.all(ports.map((port) => serve({ model: 'qwen', args: REPLICA_ARGS, port })));
  const gw = await serve({
    args: [...upstreamArgs(set, [['--upstream-health-interval', '1'], ['--upstream-retries', '2']]),
      '--gateway-affinity', 'off'],
  });

  // A long stream; once its first text arrives, the replica serving it is killed.
  const res = await fetch(gw.url + '/v1/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: MODEL, max_tokens: 1900, stream: true, messages: [{ role: 'user', content: 'Write a long story' }] }),
  });
  assert.equal(res.status, 200);
  const partial = await readSse(res, (frames) => frames.some((f) => f.event === 'content_block_delta'));
  const busy = await metrics(gw.url);
  const victim = [0, 1, 2].find((i) => metric(busy, 'parley_upstream_in_flight', { upstream: `r${i}` }) === 1);
  assert.notEqual(victim, undefined, 'one replica serves the stream');
  set[victim].proc.kill('SIGKILL');
  await set[victim].exited;

  // Requests sent now, streamed or not, all succeed: those routed to the dead replica failed
  // before their answer started and went to another.
  const req = (i, stream) => rawRequest(gw.url, {
    body: JSON.stringify({ model: MODEL, max_tokens: 4, seed: i, stream, messages: [{ role: 'user', content: `Hi ${i}` }] }),
  });
  const burst = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => req(i, i % 2 === 0)));
  assert.deepEqual(burst.map((r) => r.status), [200, 200, 200, 200, 200, 200], burst.map((r) => r.text).join('\n'));
  for (const r of burst.filter((_, i) => i % 2 === 0)) {
    const events = parseSse(r.text).map((f) => f.event);
    assert.equal(events.at(-1), 'message_stop', 'a retried stream is a whole answer');
    assert.ok(!events.includes('error'));
  }

  // The stream in flight could not be retried (its client had part of the answer): it ends
  // with an error event.
  const frames = await readRest(partial);
  const last = frames.at(-1);
  assert.equal(last.event, 'error', frames.map((f) => f.event).join(','));
  assert.equal(JSON.parse(last.data).error.type, 'api_error');
  assert.ok(!frames.some((f) => f.event === 'message_stop'));

  const name = `r${victim}`;
  let m = await metrics(gw.url);
  // The burst was retried around the dead replica, unless its health check (every second)
  // happened to eject it in the moment between the kill and the burst.
  t.diagnostic(`retries around the killed ${name}: ${metric(m, 'parley_upstream_retries_total', { upstream: name })}`);
  if (metric(m, 'parley_upstream_retries_total', { upstream: name }) === 0) {
    assert.match(gw.log(), new RegExp(`upstream ${name} ejected: its health check failed`), 'retried or ejected first');
  }
  await waitFor(`${name} to show as ejected`, async () =>
    metric(await metrics(gw.url), 'parley_upstream_healthy', { upstream: name }) === 0, 5000);
  m = await metrics(gw.url);
  assert.ok(metric(m, 'parley_upstream_ejections_total', { upstream: name }) >= 1);
  assert.equal(metric(m, 'parley_upstream_in_flight'), 0, 'the broken stream and the failed attempts gave back their slots');
  // While it is out, requests keep succeeding on the others.
  for (let i = 0; i < 3; i++) assert.equal((await req(10 + i, false)).status, 200);

  // Restarted on the same port: its next passing health check re-admits it, and it serves again.
  set[victim] = await serve({ model: 'qwen', args: REPLICA_ARGS, port: ports[victim] });
  await waitFor(`${name} to be re-admitted`, async () =>
    metric(await metrics(gw.url), 'parley_upstream_healthy', { upstream: name }) === 1, 8000);
  const before200 = metric(await metrics(gw.url), 'parley_upstream_requests_total', { upstream: name, status: '200' });
  for (let i = 0; i < 3; i++) assert.equal((await req(20 + i, false)).status, 200);
  m = await metrics(gw.url);
  assert.ok(metric(m, 'parley_upstream_requests_total', { upstream: name, status: '200' }) > before200,
    'the re-admitted replica takes its turn again');
  assert.match(gw.log(), new RegExp(`upstream ${name} (ejected|re-admitted)`));
  assert.ok(gw.log().includes(`parley: upstream r0: ${set[0].url} (openai-chat), models ${MODEL}; health check every 1 s`), gw.log());
});
