// Parley as a gateway: a second `parley serve` fronts a first one over `openai-chat` (the
// upstream speaks OpenAI chat at /v1/chat/completions), driven by the official
// @anthropic-ai/sdk. The gateway translates Anthropic requests to OpenAI chat and the streamed
// chunks back into its own Anthropic emitter, so the assertions are the direct tests' ones:
// exact event order, tool round trip, stop sequences, mapped errors, auth, and that the
// upstream's key never shows in the gateway's log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, rawRequest, parseSse, streamedText } from '../lib/server.mjs';

const UPSTREAM_KEY = 'upkey-s3cret-7f1d2c';
let upstream;   // qwen-it (renders tools), needs UPSTREAM_KEY
let gateway;    // smol-it locally, qwen-it (and a model the upstream lacks) through `up`
let keyless;    // a gateway that sends no key
let client;
let direct;

before(async () => {
  upstream = await startServer({ model: 'qwen', args: ['--api-key', UPSTREAM_KEY, '--ctx', '1024'] });
  const up = ['--upstream', `up=${upstream.url}`, '--upstream-models', 'up=qwen-it,no-such-model',
    '--upstream-retries', 'up=1'];
  gateway = await startServer({
    args: [...up, '--upstream-key-env', 'up=GW_UPSTREAM_KEY'],
    env: { GW_UPSTREAM_KEY: UPSTREAM_KEY },
  });
  keyless = await startServer({ args: up });
  client = new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0 });
  direct = new Anthropic({ baseURL: upstream.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });
});

after(async () => {
  for (const s of [gateway, keyless, upstream]) assert.equal((await s.stop()).code, 0);
  // Checked last, over everything the tests made the gateways log.
  for (const s of [gateway, keyless]) {
    assert.ok(!s.log().includes(UPSTREAM_KEY), 'the upstream key never appears in the gateway log');
  }
});

const user = (text) => [{ role: 'user', content: text }];

test('models: the upstream ids are listed beside the local model', async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  assert.ok(ids.includes('smol-it') && ids.includes('qwen-it') && ids.includes('no-such-model'), ids.join(','));
  const m = await client.models.retrieve('qwen-it');
  assert.equal(m.id, 'qwen-it');
});

test('text, non-streaming: the same answer and usage as the upstream gives directly', async () => {
  const req = { model: 'qwen-it', max_tokens: 10, seed: 4, messages: user('Hello there') };
  const via = await client.messages.create(req);
  const ref = await direct.messages.create(req);
  assert.match(via.id, /^msg_/);
  assert.equal(via.model, 'qwen-it');
  assert.deepEqual(via.content, ref.content, 'same seed, same text');
  assert.equal(via.stop_reason, ref.stop_reason);
  assert.equal(via.usage.output_tokens, ref.usage.output_tokens);
  const prompt = (u) => u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
  assert.equal(prompt(via.usage), prompt(ref.usage), 'the upstream prompt count');
  assert.ok(via.usage.input_tokens > 5);
});

test('text, streaming: exact event grammar, same text as non-streaming', async () => {
  const req = { model: 'qwen-it', max_tokens: 12, seed: 9, messages: user('Tell me a story') };
  const whole = await client.messages.create(req);
  const raw = await client.messages.create({ ...req, stream: true });
  const events = [];
  for await (const ev of raw) events.push(ev);
  const types = events.map((e) => e.type);
  const text = streamedText(assert, events);
  assert.equal(text, whole.content[0]?.text ?? '');
  const delta = events.at(-2);
  assert.equal(delta.delta.stop_reason, whole.stop_reason);
  assert.equal(delta.usage.output_tokens, whole.usage.output_tokens);
  const prompt = (u) => u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
  assert.equal(prompt(delta.usage), prompt(whole.usage), 'message_delta carries the prompt usage');
  assert.ok(delta.usage.cache_read_input_tokens > 0, 'the same prompt again: read from the upstream cache');
  // On the wire (the SDK hides pings): message_start, then a ping at once, as the real API.
  const wire = parseSse((await rawRequest(gateway.url, { body: JSON.stringify({ ...req, stream: true }) })).text);
  assert.deepEqual(wire.slice(0, 2).map((f) => f.event), ['message_start', 'ping']);
  assert.deepEqual(wire.filter((f) => f.event !== 'ping').map((f) => f.event), types);
  // The SDK's accumulation gives the same message.
  const final = await client.messages.stream(req).finalMessage();
  assert.deepEqual(final.content, whole.content);
});

const weather = {
  name: 'get_weather',
  description: 'Current weather',
  input_schema: { type: 'object', properties: { city: { type: 'string', maxLength: 20 } }, required: ['city'], additionalProperties: false },
};

test('tool round trip with a forced tool_choice', async () => {
  const base = { model: 'qwen-it', max_tokens: 200, seed: 1, tools: [weather] };
  const first = await client.messages.create({
    ...base, tool_choice: { type: 'tool', name: 'get_weather' }, messages: user('Weather in Paris?'),
  });
  assert.equal(first.stop_reason, 'tool_use');
  const call = first.content.find((b) => b.type === 'tool_use');
  assert.ok(call, JSON.stringify(first.content));
  assert.match(call.id, /^toolu_[A-Za-z0-9]{24}$/);
  assert.equal(call.name, 'get_weather');
  assert.equal(typeof call.input.city, 'string');

  // Streamed, each input arrives as input_json_delta fragments of its own block.
  const raw = await client.messages.create({
    ...base, stream: true, tool_choice: { type: 'tool', name: 'get_weather' }, messages: user('Weather in Paris?'),
  });
  const json = {};
  let open = null;
  for await (const ev of raw) {
    if (ev.type === 'content_block_start') open = ev.index;
    if (ev.type === 'content_block_stop') open = null;
    if (ev.type === 'content_block_delta' && ev.delta.type === 'input_json_delta') {
      assert.equal(ev.index, open);
      json[ev.index] = (json[ev.index] ?? '') + ev.delta.partial_json;
    }
  }
  const uses = first.content.map((b, i) => [b, i]).filter(([b]) => b.type === 'tool_use');
  assert.deepEqual(uses.map(([, i]) => JSON.parse(json[i])), uses.map(([b]) => b.input), 'same seed, same calls');

  // disable_parallel_tool_use → parallel_tool_calls: false upstream: exactly one call.
  const one = await client.messages.create({
    ...base, tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true }, messages: user('Weather in Paris?'),
  });
  assert.equal(one.stop_reason, 'tool_use');
  assert.equal(one.content.filter((b) => b.type === 'tool_use').length, 1);

  // The next turn sends the call and its result back (ids are the gateway's toolu_ ones).
  const second = await client.messages.create({
    ...base, max_tokens: 8,
    messages: [
      ...user('Weather in Paris?'),
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '18 C, sunny' }] },
    ],
  });
  assert.equal(second.type, 'message');
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(second.stop_reason));
  // The upstream's prefix cache shows through (prompt_tokens_details.cached_tokens).
  assert.ok(second.usage.cache_read_input_tokens > 0, JSON.stringify(second.usage));
});

test('stop_sequences: stop_reason stop_sequence and the string cut, through the gateway', async () => {
  const base = { model: 'qwen-it', max_tokens: 40, seed: 11, messages: user('Write something') };
  const free = await client.messages.create(base);
  const text = free.content[0]?.text ?? '';
  const mid = Math.floor(text.length / 2);
  const stop = text.slice(mid, mid + 3);
  assert.ok(stop.trim().length > 0, `generated text too short to test: ${JSON.stringify(text)}`);
  const stopped = await client.messages.create({ ...base, stop_sequences: ['\u0001never', stop] });
  assert.equal(stopped.stop_reason, 'stop_sequence');
  assert.equal(stopped.stop_sequence, stop);
  assert.equal(stopped.content[0]?.text ?? '', text.slice(0, text.indexOf(stop)));
});

test('upstream errors keep their status and envelope (streaming too)', async () => {
  const long = 'lorem ipsum '.repeat(1500);
  await assert.rejects(client.messages.create({ model: 'qwen-it', max_tokens: 10, messages: user(long) }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError, String(e));
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.message, /prompt is too long: \d+ tokens > 1023 maximum/);
    return true;
  });
  // A streamed request gets the status too: the SSE header waits for the upstream's answer.
  const r = await rawRequest(gateway.url, {
    body: JSON.stringify({ model: 'qwen-it', max_tokens: 10, stream: true, messages: user(long) }),
  });
  assert.equal(r.status, 400);
  assert.equal(r.json.type, 'error');
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.match(r.json.request_id, /^req_/);
  assert.equal(r.headers.get('x-should-retry'), 'false');
  // A model the upstream does not serve: its 404.
  await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 5, messages: user('hi') }),
    (e) => e instanceof Anthropic.NotFoundError);
  // What OpenAI chat cannot be sent: a 400 naming the block.
  await assert.rejects(client.messages.create({
    model: 'qwen-it', max_tokens: 5,
    messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }],
  }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError);
    assert.match(e.message, /messages\.0\.content\.0: an image .* is not translated/);
    return true;
  });
  // count_tokens cannot be answered for an upstream model.
  await assert.rejects(client.messages.countTokens({ model: 'qwen-it', messages: user('hi') }),
    (e) => e instanceof Anthropic.BadRequestError);
});

test('auth: the key from --upstream-key-env is sent; without it the upstream refuses', async () => {
  const ok = await client.messages.create({ model: 'qwen-it', max_tokens: 2, messages: user('hi') });
  assert.equal(ok.type, 'message');
  const noKey = new Anthropic({ baseURL: keyless.url, apiKey: 'unused', maxRetries: 0 });
  await assert.rejects(noKey.messages.create({ model: 'qwen-it', max_tokens: 2, messages: user('hi') }), (e) => {
    assert.ok(e instanceof Anthropic.AuthenticationError, String(e));
    assert.match(e.message, /upstream up refused the gateway's credentials/);
    return true;
  });
  // The local model still answers on the same gateway.
  const local = await noKey.messages.create({ model: 'smol-it', max_tokens: 2, messages: user('hi') });
  assert.equal(local.model, 'smol-it');
});

test('OpenAI chat clients go through the same upstream path', async () => {
  const r = await rawRequest(gateway.url, {
    path: '/v1/chat/completions',
    headers: { 'anthropic-version': '' },
    body: JSON.stringify({ model: 'qwen-it', max_tokens: 6, seed: 4, messages: user('Hello there') }),
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(typeof r.json.choices[0].message.content, 'string');
  assert.ok(r.json.usage.prompt_tokens > 5);
  const s = await rawRequest(gateway.url, {
    path: '/v1/chat/completions',
    body: JSON.stringify({ model: 'qwen-it', max_tokens: 4, stream: true, messages: user('Hi') }),
  });
  const frames = parseSse(s.text);
  assert.equal(frames.at(-1).data, '[DONE]');
});

test('an unreachable upstream is a 5xx api_error after the retries', async () => {
  const dead = await startServer({ args: ['--upstream', 'gone=http://127.0.0.1:1', '--upstream-models', 'gone=dead-model',
    '--upstream-retries', 'gone=1'] });
  try {
    const c = new Anthropic({ baseURL: dead.url, apiKey: 'unused', maxRetries: 0 });
    await assert.rejects(c.messages.create({ model: 'dead-model', max_tokens: 2, messages: user('hi') }), (e) => {
      assert.equal(e.status, 500);
      assert.match(e.message, /upstream gone is unreachable/);
      return true;
    });
  } finally {
    assert.equal((await dead.stop()).code, 0);
  }
});

test('client keys limited to models: 403 permission_error elsewhere, /v1/models lists only theirs; separate from the upstream key', async () => {
  const scoped = await startServer({
    args: ['--upstream', `up=${upstream.url}`, '--upstream-models', 'up=qwen-it', '--upstream-key-env', 'up=GW_UPSTREAM_KEY',
      '--api-key', 'client-all', '--api-key', 'client-up', '--api-key', 'client-local',
      '--api-key-models', 'client-up=qwen-it', '--api-key-models', 'client-local=smol-it'],
    env: { GW_UPSTREAM_KEY: UPSTREAM_KEY },
  });
  try {
    const as = (key) => new Anthropic({ baseURL: scoped.url, apiKey: key, maxRetries: 0 });
    const ids = async (key) => (await as(key).models.list()).data.map((m) => m.id);
    assert.deepEqual(await ids('client-up'), ['qwen-it']);
    assert.deepEqual(await ids('client-local'), ['smol-it', 'claude-parley-smol-it']);
    assert.deepEqual(await ids('client-all'), ['smol-it', 'claude-parley-smol-it', 'qwen-it']);
    const up = await as('client-up').messages.create({ model: 'qwen-it', max_tokens: 2, messages: user('hi') });
    assert.equal(up.type, 'message');
    // Claude Code's ids map to the local model, so a key limited to it may use them.
    const local = await as('client-local').messages.create({ model: 'claude-haiku-4-5', max_tokens: 2, messages: user('hi') });
    assert.equal(local.type, 'message');
    for (const [key, model] of [['client-up', 'smol-it'], ['client-up', 'claude-haiku-4-5'], ['client-local', 'qwen-it']]) {
      await assert.rejects(as(key).messages.create({ model, max_tokens: 2, messages: user('hi') }), (e) => {
        assert.ok(e instanceof Anthropic.PermissionDeniedError, String(e));
        assert.equal(e.error.error.type, 'permission_error');
        assert.match(e.message, new RegExp(`this API key may not use '${model}'`));
        return true;
      });
    }
    await assert.rejects(as('client-up').models.retrieve('smol-it'), (e) => e instanceof Anthropic.NotFoundError);
    // The upstream key is not a client key of the gateway.
    await assert.rejects(as(UPSTREAM_KEY).models.list(), (e) => e instanceof Anthropic.AuthenticationError);
    const o = await rawRequest(scoped.url, {
      path: '/v1/chat/completions',
      headers: { 'anthropic-version': '', authorization: 'Bearer client-local' },
      body: JSON.stringify({ model: 'qwen-it', max_tokens: 2, messages: user('hi') }),
    });
    assert.equal(o.status, 403, o.text);
    assert.equal(o.json.error.type, 'permission_error');
  } finally {
    assert.equal((await scoped.stop()).code, 0);
  }
  assert.ok(!scoped.log().includes('client-up') && !scoped.log().includes(UPSTREAM_KEY), 'no key in the log');
});
