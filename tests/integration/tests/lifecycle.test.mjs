// Server lifecycle with the real engine: a client that goes away cancels its generation, a full
// queue answers 529 overloaded_error, SIGTERM ends in-flight streams with an error event and
// the process exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, parseSse } from '../lib/server.mjs';

const longRequest = (extra = {}) => JSON.stringify({
  model: 'claude-x', max_tokens: 40000, stream: true, messages: [{ role: 'user', content: 'Go on forever' }], ...extra,
});

// Opens a stream and resolves once `n` content deltas arrived; returns the reader and the text.
async function openStream(url, n = 2, signal) {
  const res = await fetch(url + '/v1/messages', {
    method: 'POST', body: longRequest(), signal,
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while ((text.match(/content_block_delta/g) ?? []).length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  return { reader, decoder, text };
}

async function readRest({ reader, decoder, text }) {
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += decoder.decode(value);
  }
}

test('a client that disconnects cancels its generation; a full queue gives 529', async () => {
  const server = await startServer({ model: 'qwen', args: ['--ctx', '45000', '--parallel', '1', '--queue', '1'] });
  try {
    const abort = new AbortController();
    const first = await openStream(server.url, 2, abort.signal);
    // One request runs, one more may wait; the third is refused at once.
    const waiting = fetch(server.url + '/v1/messages', {
      method: 'POST', body: JSON.stringify({ model: 'claude-x', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] }),
      headers: { 'content-type': 'application/json' },
    });
    await new Promise((r) => setTimeout(r, 200));
    const client = new Anthropic({ baseURL: server.url, apiKey: 'x', maxRetries: 0 });
    await assert.rejects(client.messages.create({ model: 'claude-x', max_tokens: 1, messages: [{ role: 'user', content: 'y' }] }),
      (e) => e instanceof Anthropic.OverloadedError && e.status === 529 && e.type === 'overloaded_error');
    // Going away frees the engine: the waiting request gets its turn and completes.
    abort.abort();
    first.reader.cancel().catch(() => {});
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.equal((await res.json()).type, 'message');
    const log = server.log();
    assert.match(log, /POST \/v1\/messages -> 200 stream ended early/);
  } finally {
    await server.stop();
  }
});

test('SIGTERM: in-flight streams end with an error event, then the process exits 0', async () => {
  const server = await startServer({ model: 'qwen', args: ['--ctx', '45000'] });
  const stream = await openStream(server.url, 2);
  server.proc.kill('SIGTERM');
  const text = await readRest(stream);
  const frames = parseSse(text);
  const last = frames.at(-1);
  assert.equal(last.event, 'error', text.slice(-300));
  const body = JSON.parse(last.data);
  assert.equal(body.error.type, 'overloaded_error');
  assert.match(body.error.message, /shutting down/);
  assert.ok(!frames.some((f) => f.event === 'message_stop'));
  const { code } = await server.exited;
  assert.equal(code, 0);
});
