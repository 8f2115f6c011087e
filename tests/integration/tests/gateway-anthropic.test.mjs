// Parley as a gateway over the `anthropic` protocol: a second `parley serve` fronts a first one
// that it reaches at /v1/messages (x-api-key, anthropic-version), as it would Anthropic's own
// API; driven by the official @anthropic-ai/sdk and openai packages. The events are relayed into
// the gateway's own emitters, and what the upstream makes (tool_use ids, thinking signatures) is
// passed back unchanged, so the upstream itself checks them on the next turn. The assertions are
// the openai-chat gateway's (gateway.test.mjs): event grammar, tool round trip, stop sequences,
// mapped errors, auth, and that the upstream's key never shows in the gateway's log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startServer, rawRequest, parseSse, streamedText, sharedDir } from '../lib/server.mjs';

const UPSTREAM_KEY = 'upkey-anthr0pic-5e9b1a';
let upstream;  // qwen-it with Qwen3's template (thinking), needs UPSTREAM_KEY
let gateway;   // reaches `up` over anthropic
let parleyGw;  // the same upstream over `parley` (anthropic + seed)
let keyless;   // a gateway that sends no key
let client;
let direct;

before(async () => {
  upstream = await startServer({
    model: 'qwen',
    args: ['--api-key', UPSTREAM_KEY, '--ctx', '2048', '--signing-key', 'up-key',
      '--chat-template', path.join(sharedDir, 'templates/Qwen3-0.6B.jinja')],
  });
  const up = (protocol) => ['--upstream', `up=${upstream.url}/v1`, '--upstream-models', 'up=qwen-it,no-such-model',
    '--upstream-protocol', `up=${protocol}`, '--upstream-retries', 'up=1'];
  const withKey = { env: { GW_UPSTREAM_KEY: UPSTREAM_KEY } };
  gateway = await startServer({ args: [...up('anthropic'), '--upstream-key-env', 'up=GW_UPSTREAM_KEY'], ...withKey });
  parleyGw = await startServer({ args: [...up('parley'), '--upstream-key-env', 'up=GW_UPSTREAM_KEY'], ...withKey });
  keyless = await startServer({ args: up('anthropic') });
  client = new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0 });
  direct = new Anthropic({ baseURL: upstream.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });
});

after(async () => {
  for (const s of [gateway, parleyGw, keyless, upstream]) assert.equal((await s.stop()).code, 0);
  for (const s of [gateway, parleyGw, keyless]) {
    assert.ok(!s.log().includes(UPSTREAM_KEY), 'the upstream key never appears in the gateway log');
  }
});

test('the startup log names each upstream with its protocol', () => {
  const line = (s) => s.log().split('\n').find((l) => l.startsWith('parley: upstream up:')) ?? '';
  assert.match(line(gateway), /^parley: upstream up: http:\/\/[0-9.:]+\/v1 \(anthropic\), models qwen-it, no-such-model; key from \$GW_UPSTREAM_KEY$/);
  assert.match(line(parleyGw), /\(parley\), models qwen-it/);
});

const user = (text) => [{ role: 'user', content: text }];
const prompt = (u) => u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;

test('text, non-streaming: the same answer and usage as the upstream gives directly', async () => {
  // Greedy (temperature 0): the anthropic protocol has no seed.
  const req = { model: 'qwen-it', max_tokens: 10, temperature: 0, messages: user('Hello there') };
  const via = await client.messages.create(req);
  const ref = await direct.messages.create(req);
  assert.match(via.id, /^msg_/);
  assert.equal(via.model, 'qwen-it');
  assert.deepEqual(via.content, ref.content);
  assert.equal(via.stop_reason, ref.stop_reason);
  assert.equal(via.usage.output_tokens, ref.usage.output_tokens);
  assert.equal(prompt(via.usage), prompt(ref.usage), 'the upstream prompt count');
  assert.ok(prompt(via.usage) > 5);
});

test('seed: refused by name over anthropic, passed on over parley', async () => {
  const req = { model: 'qwen-it', max_tokens: 10, seed: 4, messages: user('Hello there') };
  await assert.rejects(client.messages.create(req), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError, String(e));
    assert.match(e.message, /seed: has no equivalent on the anthropic upstream/);
    return true;
  });
  const viaParley = new Anthropic({ baseURL: parleyGw.url, apiKey: 'unused', maxRetries: 0 });
  assert.deepEqual((await viaParley.messages.create(req)).content, (await direct.messages.create(req)).content);
});

test('text, streaming: exact event grammar, same text as non-streaming', async () => {
  const req = { model: 'qwen-it', max_tokens: 12, temperature: 0, messages: user('Tell me a story') };
  const whole = await client.messages.create(req);
  const raw = await client.messages.create({ ...req, stream: true });
  const events = [];
  for await (const ev of raw) events.push(ev);
  const types = events.map((e) => e.type);
  assert.equal(streamedText(assert, events), whole.content[0]?.text ?? '');
  const delta = events.at(-2);
  assert.equal(delta.delta.stop_reason, whole.stop_reason);
  assert.equal(delta.usage.output_tokens, whole.usage.output_tokens);
  assert.equal(prompt(delta.usage), prompt(whole.usage), 'message_delta carries the prompt usage');
  assert.ok(delta.usage.cache_read_input_tokens > 0, 'the same prompt again: read from the upstream cache');
  assert.ok(events[0].message.usage.cache_read_input_tokens > 0, "message_start has the upstream's numbers");
  const wire = parseSse((await rawRequest(gateway.url, { body: JSON.stringify({ ...req, stream: true }) })).text);
  assert.deepEqual(wire.slice(0, 2).map((f) => f.event), ['message_start', 'ping']);
  assert.deepEqual(wire.filter((f) => f.event !== 'ping').map((f) => f.event), types);
  const final = await client.messages.stream(req).finalMessage();
  assert.deepEqual(final.content, whole.content);
});

const weather = {
  name: 'get_weather',
  description: 'Current weather',
  input_schema: { type: 'object', properties: { city: { type: 'string', maxLength: 20 } }, required: ['city'], additionalProperties: false },
};

test("tool round trip: the upstream's tool_use ids come back and are answered", async () => {
  const base = { model: 'qwen-it', max_tokens: 200, temperature: 0, tools: [weather] };
  const forced = { ...base, tool_choice: { type: 'tool', name: 'get_weather' }, messages: user('Weather in Paris?') };
  const first = await client.messages.create(forced);
  assert.equal(first.stop_reason, 'tool_use');
  const call = first.content.find((b) => b.type === 'tool_use');
  assert.ok(call, JSON.stringify(first.content));
  assert.match(call.id, /^toolu_[A-Za-z0-9]{24}$/);
  assert.equal(typeof call.input.city, 'string');
  // The upstream's own ids: a direct request gets a fresh one of the same shape, not this one
  // (they are made per answer), and the same input.
  const ref = await direct.messages.create(forced);
  assert.deepEqual(ref.content.find((b) => b.type === 'tool_use').input, call.input);

  const raw = await client.messages.create({ ...forced, stream: true });
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
  assert.deepEqual(uses.map(([, i]) => JSON.parse(json[i])), uses.map(([b]) => b.input), 'greedy: same calls');

  const one = await client.messages.create({
    ...base, tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true }, messages: user('Weather in Paris?'),
  });
  assert.equal(one.stop_reason, 'tool_use');
  assert.equal(one.content.filter((b) => b.type === 'tool_use').length, 1);

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
  assert.ok(second.usage.cache_read_input_tokens > 0, JSON.stringify(second.usage));
});

test("thinking: the upstream's signature is relayed unchanged and checked by the upstream", async () => {
  const budget = 1024;
  const req = { model: 'qwen-it', max_tokens: budget + 8, temperature: 0, thinking: { type: 'enabled', budget_tokens: budget }, messages: user('think') };
  const msg = await client.messages.create(req);
  assert.equal(msg.content[0].type, 'thinking');
  const ref = await direct.messages.create(req);
  assert.equal(msg.content[0].signature, ref.content[0].signature, "the upstream's signature, not the gateway's");
  const history = [...user('think'), { role: 'assistant', content: msg.content }, ...user('again')];
  const ok = await client.messages.create({ model: 'qwen-it', max_tokens: 4, messages: history });
  assert.ok(ok.id);
  const tampered = structuredClone(history);
  tampered[1].content[0].thinking += ' (edited)';
  await assert.rejects(client.messages.create({ model: 'qwen-it', max_tokens: 4, messages: tampered }),
    (e) => e instanceof Anthropic.BadRequestError && /messages\.1\.content\.0: Invalid `signature`/.test(e.message));
});

test('stop_sequences: stop_reason stop_sequence and the string cut, through the gateway', async () => {
  const base = { model: 'qwen-it', max_tokens: 40, temperature: 0, messages: user('Write something') };
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
  const long = 'lorem ipsum '.repeat(3000);
  await assert.rejects(client.messages.create({ model: 'qwen-it', max_tokens: 10, messages: user(long) }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError, String(e));
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.message, /prompt is too long: \d+ tokens > 2047 maximum/);
    return true;
  });
  const r = await rawRequest(gateway.url, {
    body: JSON.stringify({ model: 'qwen-it', max_tokens: 10, stream: true, messages: user(long) }),
  });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.match(r.json.request_id, /^req_/);
  await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 5, messages: user('hi') }),
    (e) => e instanceof Anthropic.NotFoundError);
  // Images go through as blocks: the upstream (no vision) refuses them itself, naming the block.
  await assert.rejects(client.messages.create({
    model: 'qwen-it', max_tokens: 5,
    messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }],
  }), (e) => e instanceof Anthropic.BadRequestError && /messages\.0\.content\.0/.test(e.message));
  // What the gateway only holds folded is refused before sending, naming the field.
  await assert.rejects(client.messages.create({
    model: 'qwen-it', max_tokens: 5, messages: user('hi'), tools: [{ type: 'web_search_20250305', name: 'web_search' }],
  }), (e) => e instanceof Anthropic.BadRequestError && /^.*tools\.0: the Anthropic-defined tool/.test(e.message));
});

test('auth: the key from --upstream-key-env is sent as x-api-key; without it the upstream refuses', async () => {
  const ok = await client.messages.create({ model: 'qwen-it', max_tokens: 2, messages: user('hi') });
  assert.equal(ok.type, 'message');
  const noKey = new Anthropic({ baseURL: keyless.url, apiKey: 'unused', maxRetries: 0 });
  await assert.rejects(noKey.messages.create({ model: 'qwen-it', max_tokens: 2, messages: user('hi') }), (e) => {
    assert.ok(e instanceof Anthropic.AuthenticationError, String(e));
    assert.match(e.message, /upstream up refused the gateway's credentials/);
    return true;
  });
});

test('OpenAI chat clients reach the anthropic upstream too', async () => {
  const oai = new OpenAI({ baseURL: gateway.url + '/v1', apiKey: 'unused', maxRetries: 0 });
  const req = { model: 'qwen-it', max_tokens: 6, temperature: 0, messages: user('Hello there') };
  const r = await oai.chat.completions.create(req);
  assert.equal(r.object, 'chat.completion');
  const ref = await direct.messages.create(req);
  assert.equal(r.choices[0].message.content, ref.content[0]?.text ?? '');
  assert.equal(r.usage.prompt_tokens, prompt(ref.usage));
  const stream = await oai.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, r.choices[0].message.content);
  // A tool call from the upstream, answered by its id in a tool message.
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: weather.input_schema } }];
  const call = await oai.chat.completions.create({
    model: 'qwen-it', max_tokens: 200, temperature: 0, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } },
    messages: user('Weather in Paris?'),
  });
  const tc = call.choices[0].message.tool_calls[0];
  assert.equal(call.choices[0].finish_reason, 'tool_calls');
  const next = await oai.chat.completions.create({
    model: 'qwen-it', max_tokens: 4, temperature: 0, tools,
    messages: [...user('Weather in Paris?'), call.choices[0].message, { role: 'tool', tool_call_id: tc.id, content: '18 C' }],
  });
  assert.equal(next.object, 'chat.completion');
  // No max_tokens: the anthropic API requires it, so the gateway says so.
  await assert.rejects(oai.chat.completions.create({ model: 'qwen-it', messages: user('hi') }),
    (e) => e.status === 400 && /max_tokens: required/.test(e.message));
});
