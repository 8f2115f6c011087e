// The official @anthropic-ai/sdk against the real `parley serve` (real engine, tokenizer and
// chat template on a generated model: the text is nonsense, the protocol must be exact).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, rawRequest, parseSse, streamedText } from '../lib/server.mjs';

let server;
let client;

before(async () => {
  server = await startServer({ args: ['--alias', 'smol-alias', '--alias', 'claude-smol'] });
  client = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, 'parley serve exits 0 on SIGTERM');
});

const user = (text) => [{ role: 'user', content: text }];

test('messages.create: a complete Message with honest usage', async () => {
  const { data: msg, response } = await client.messages
    .create({ model: 'claude-sonnet-5', max_tokens: 12, messages: user('Hello!') })
    .withResponse();
  assert.match(msg.id, /^msg_[A-Za-z0-9]{24}$/);
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.model, 'claude-sonnet-5', 'the model is echoed');
  assert.ok(['end_turn', 'max_tokens'].includes(msg.stop_reason));
  assert.equal(msg.stop_sequence, null);
  assert.ok(msg.usage.output_tokens >= 1 && msg.usage.output_tokens <= 12);
  assert.match(response.headers.get('request-id'), /^req_/);
  const count = await client.messages.countTokens({ model: 'claude-sonnet-5', messages: user('Hello!') });
  assert.ok(count.input_tokens > 5);
  assert.equal(msg.usage.input_tokens + msg.usage.cache_read_input_tokens +
    msg.usage.cache_creation_input_tokens, count.input_tokens, 'count_tokens = prompt tokens');
});

test('messages.stream: text events, finalMessage, and the raw event order', async () => {
  const stream = client.messages.stream({ model: 'smol-it', max_tokens: 16, messages: user('Tell me a story'), seed: 5 });
  let text = '';
  stream.on('text', (delta) => { text += delta; });
  const final = await stream.finalMessage();
  assert.equal(final.content.length === 0 ? '' : final.content[0].text, text);
  assert.ok(['end_turn', 'max_tokens'].includes(final.stop_reason));

  // The same request (same seed) as raw events: exact grammar, and the same text.
  const raw = await client.messages.create({ model: 'smol-it', max_tokens: 16, messages: user('Tell me a story'), seed: 5, stream: true });
  const events = [];
  for await (const ev of raw) events.push(ev);
  const rawText = streamedText(assert, events);
  assert.equal(rawText, text, 'same seed, same text');
  const delta = events.at(-2);
  assert.equal(delta.usage.output_tokens, final.usage.output_tokens);
});

test('stop_sequences: stop_reason stop_sequence, the string is not in the text', async () => {
  const base = { model: 'smol-it', max_tokens: 40, seed: 11, messages: user('Write something') };
  const free = await client.messages.create(base);
  const text = free.content[0]?.text ?? '';
  // Pick a stop string from the middle of what this seed generates.
  const mid = Math.floor(text.length / 2);
  const stop = text.slice(mid, mid + 3);
  assert.ok(stop.trim().length > 0, `generated text too short to test: ${JSON.stringify(text)}`);
  const stopped = await client.messages.create({ ...base, stop_sequences: ['\u0001never', stop] });
  assert.equal(stopped.stop_reason, 'stop_sequence');
  assert.equal(stopped.stop_sequence, stop);
  const got = stopped.content[0]?.text ?? '';
  assert.equal(got, text.slice(0, text.indexOf(stop)));
});

test('max_tokens: stop_reason max_tokens with exactly max_tokens output tokens', async () => {
  const msg = await client.messages.create({ model: 'smol-it', max_tokens: 3, seed: 2, messages: user('Count') });
  if (msg.stop_reason === 'max_tokens') assert.equal(msg.usage.output_tokens, 3);
  else assert.equal(msg.stop_reason, 'end_turn');
});

test('context: too long → the wording Claude Code compacts on; too little room → model_context_window_exceeded', async () => {
  const long = 'lorem ipsum '.repeat(2000);
  await assert.rejects(client.messages.create({ model: 'smol-it', max_tokens: 10, messages: user(long) }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError);
    assert.match(e.message, /prompt is too long: \d+ tokens > 1023 maximum/);
    assert.equal(e.type, 'invalid_request_error');
    return true;
  });
  const count = await client.messages.countTokens({ model: 'smol-it', messages: user('word '.repeat(960)) });
  assert.ok(count.input_tokens > 900 && count.input_tokens < 1024, `${count.input_tokens}`);
  // Streaming: the SDK refuses max_tokens 32000 without it (as Claude Code always streams).
  const msg = await client.messages.stream({ model: 'smol-it', max_tokens: 32000, seed: 3, messages: user('word '.repeat(960)) }).finalMessage();
  if (msg.stop_reason !== 'end_turn') {
    assert.equal(msg.stop_reason, 'model_context_window_exceeded');
    assert.equal(msg.usage.input_tokens + msg.usage.cache_read_input_tokens + msg.usage.output_tokens, 1024);
  }
});

test('cache_control: creation up to the breakpoint, then reads on the next turn', async () => {
  // A system prompt long enough for whole KV blocks, with a breakpoint, as Claude Code sends it.
  const system = [{ type: 'text', text: 'You are a careful assistant. '.repeat(40), cache_control: { type: 'ephemeral' } }];
  const first = await client.messages.create({ model: 'smol-it', max_tokens: 2, system, messages: user('First question, unique 7431') });
  const sum = (u) => u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
  const count1 = await client.messages.countTokens({ model: 'smol-it', system, messages: user('First question, unique 7431') });
  assert.equal(sum(first.usage), count1.input_tokens);
  assert.ok(first.usage.cache_creation_input_tokens > 200, `system prompt written: ${JSON.stringify(first.usage)}`);
  assert.equal(first.usage.cache_creation.ephemeral_5m_input_tokens, first.usage.cache_creation_input_tokens);
  // The user turn after the breakpoint is input.
  assert.ok(first.usage.input_tokens > 3, JSON.stringify(first.usage));
  // The next request with the same system prompt reads it, streaming or not.
  const stream = client.messages.stream({ model: 'smol-it', max_tokens: 2, system, messages: user('Another question') });
  const second = await stream.finalMessage();
  assert.ok(second.usage.cache_read_input_tokens >= first.usage.cache_creation_input_tokens - 16,
    `read what was written (less a partial block): ${JSON.stringify(second.usage)}`);
  const count2 = await client.messages.countTokens({ model: 'smol-it', system, messages: user('Another question') });
  assert.equal(sum(second.usage), count2.input_tokens);
  // Without any breakpoint nothing is reported as written, reads are still honest.
  const plain = await client.messages.create({ model: 'smol-it', max_tokens: 2, system: system[0].text, messages: user('Third') });
  assert.equal(plain.usage.cache_creation_input_tokens, 0);
  assert.ok(plain.usage.cache_read_input_tokens > 200);
});

test('prefill: a final assistant message is continued', async () => {
  const msg = await client.messages.create({
    model: 'smol-it', max_tokens: 4, messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Well,' }],
  });
  assert.equal(msg.type, 'message');
  const count = await client.messages.countTokens({ model: 'smol-it', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Well,' }] });
  assert.equal(msg.usage.input_tokens + msg.usage.cache_read_input_tokens, count.input_tokens);
});

test('models.list / retrieve with pagination and aliases', async () => {
  const ids = [];
  for await (const m of client.models.list({ limit: 1 })) ids.push(m.id);
  // claude-parley-<model>: listed for Claude Code's /model picker (it keeps ids containing "claude").
  assert.deepEqual(ids, ['smol-it', 'smol-alias', 'claude-smol', 'claude-parley-smol-it']);
  const page = await client.models.list({ limit: 2 });
  assert.equal(page.has_more, true);
  assert.equal(page.first_id, 'smol-it');
  assert.equal(page.last_id, 'smol-alias');
  const m = await client.models.retrieve('smol-alias');
  assert.equal(m.id, 'smol-alias');
  assert.equal(m.type, 'model');
  assert.equal(m.max_input_tokens, 1024);
  const mapped = await client.models.retrieve('claude-opus-4-8');
  assert.equal(mapped.id, 'smol-it');
  await assert.rejects(client.models.retrieve('gpt-4'), Anthropic.NotFoundError);
});

test('error classes per status, each with a request id', async () => {
  await assert.rejects(client.messages.create({ model: 'gpt-4', max_tokens: 5, messages: user('x') }),
    (e) => e instanceof Anthropic.NotFoundError && e.type === 'not_found_error' && /^req_/.test(e.requestID));
  await assert.rejects(client.messages.create({ model: 'smol-it', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'bogus' }] }] }),
    (e) => e instanceof Anthropic.BadRequestError && e.message.includes('messages.0.content.0.type: unknown content block type'));
  await assert.rejects(client.messages.create({ model: 'smol-it', messages: user('x') }),
    (e) => e instanceof Anthropic.BadRequestError && e.message.includes('max_tokens: field required'));
  await assert.rejects(client.messages.create({
    model: 'smol-it', max_tokens: 5,
    messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }],
  }), (e) => e instanceof Anthropic.BadRequestError && e.message.includes('messages.0.content.0: the model smol-it cannot take an image'));
  await assert.rejects(client.messages.create({
    model: 'smol-it', max_tokens: 5,
    messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }] }],
  }), (e) => e instanceof Anthropic.BadRequestError && e.message.includes('cannot take a PDF document'));
});

test('Claude Code request shapes: system blocks, system-role message, thinking, tools, betas', async () => {
  const msg = await client.beta.messages.create({
    model: 'claude-haiku-4-5', max_tokens: 8, betas: ['context-management-2025-06-27', 'totally-unknown-beta-2099'],
    system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.330.abc; cc_entrypoint=cli;' },
      { type: 'text', text: 'You are helpful.', cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
      { role: 'system', content: 'Agents: none' }],
    tools: [{ name: 'Bash', description: 'run', input_schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { command: { type: 'string' } }, required: ['command'], additionalProperties: false } }],
    thinking: { type: 'adaptive' },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    output_config: { effort: 'high' },
    metadata: { user_id: JSON.stringify({ session_id: 'x' }) },
  });
  assert.equal(msg.type, 'message');
});

test('malformed input: a precise 4xx every time, and the server keeps serving', async () => {
  const cases = [
    ['{"model":', 400, /invalid JSON at byte 9/],
    ['{"model":"claude-x","max_tokens":1e999,"messages":[]}', 400, /invalid JSON at byte 33/],
    ['{"model":"claude-x","max_tokens":123456789012345678901234567890,"messages":[{"role":"user","content":"x"}]}', 400, /max_tokens: integer out of range/],
    ['{"model":"claude-x","max_tokens":5,"messages":{"role":"user"}}', 400, /messages: expected an array, got an object/],
    ['{"model":["x"],"max_tokens":5,"messages":[]}', 400, /model: expected a string, got an array/],
    ['['.repeat(100000) + ']'.repeat(100000), 400, /nesting too deep/],
    [Buffer.concat([Buffer.from('{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]), 400, /invalid JSON at byte \d+.*UTF-8/],
    ['"just a string"', 400, /request body must be a JSON object, got a string/],
  ];
  for (const [body, status, pattern] of cases) {
    const r = await rawRequest(server.url, { body });
    assert.equal(r.status, status, String(body).slice(0, 60));
    assert.equal(r.json.type, 'error');
    assert.match(r.json.error.message, pattern);
    assert.equal(r.json.request_id, r.headers.get('request-id'));
  }
  const big = await rawRequest(server.url, { body: 'x'.repeat(33 * 1024 * 1024) });
  assert.equal(big.status, 413);
  assert.equal(big.json.error.type, 'request_too_large');
  const ok = await client.messages.create({ model: 'smol-it', max_tokens: 2, messages: user('still there?') });
  assert.equal(ok.type, 'message');
});

test('HEAD / and /health answer without credentials; query strings are ignored', async () => {
  const head = await fetch(server.url + '/', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.match(head.headers.get('request-id'), /^req_/);
  const health = await rawRequest(server.url, { method: 'GET', path: '/health' });
  assert.equal(health.json.status, 'ok');
  const beta = await rawRequest(server.url, { path: '/v1/messages/count_tokens?beta=true', body: JSON.stringify({ model: 'claude-x', messages: user('hi') }) });
  assert.equal(beta.status, 200);
  assert.ok(beta.json.input_tokens > 0);
});

test('SSE on the wire: named events, ping right after message_start, no [DONE]', async () => {
  const r = await rawRequest(server.url, { body: JSON.stringify({ model: 'claude-x', max_tokens: 4, stream: true, messages: user('hi') }) });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const frames = parseSse(r.text);
  for (const f of frames) assert.equal(JSON.parse(f.data).type, f.event, 'event name = data.type');
  assert.equal(frames[0].event, 'message_start');
  assert.equal(frames[1].event, 'ping');
  assert.ok(!r.text.includes('[DONE]'));
});

test('auth: --api-key accepts x-api-key and Bearer, the SDK raises AuthenticationError otherwise', async () => {
  const guarded = await startServer({ args: ['--api-key', 'sk-ant-test'] });
  try {
    const wrong = new Anthropic({ baseURL: guarded.url, apiKey: 'nope', maxRetries: 0 });
    await assert.rejects(wrong.messages.create({ model: 'smol-it', max_tokens: 2, messages: user('x') }),
      (e) => e instanceof Anthropic.AuthenticationError && e.status === 401 && e.type === 'authentication_error');
    await assert.rejects(wrong.messages.countTokens({ model: 'smol-it', messages: user('x') }), Anthropic.AuthenticationError);
    const byKey = new Anthropic({ baseURL: guarded.url, apiKey: 'sk-ant-test', maxRetries: 0 });
    const msg = await byKey.messages.create({ model: 'smol-it', max_tokens: 2, messages: user('x') });
    assert.equal(msg.type, 'message');
    const byToken = new Anthropic({ baseURL: guarded.url, apiKey: null, authToken: 'sk-ant-test', maxRetries: 0 });
    const count = await byToken.messages.countTokens({ model: 'smol-it', messages: user('x') });
    assert.ok(count.input_tokens > 0);
  } finally {
    const { code } = await guarded.stop();
    assert.equal(code, 0);
  }
});

test('GET /metrics: Prometheus text after a request, no auth', async () => {
  await client.messages.create({ model: 'claude-x', max_tokens: 4, messages: user('Hi') });
  const res = await fetch(server.url + '/metrics');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# ')) continue;
    assert.match(line, /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? \S+$/, line);
  }
  const ok = text.match(/^parley_requests_total\{endpoint="\/v1\/messages",status="200"\} (\d+)$/m);
  assert.ok(ok && Number(ok[1]) >= 1, text);
  assert.match(text, /^parley_generated_tokens_total [1-9]\d*$/m);
  assert.match(text, /^parley_kv_blocks\{state="free"\} \d+$/m);
});
