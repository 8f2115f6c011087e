// The official `openai` package against the real `parley serve`: chat completions (streaming
// and not) parsed into the same chat IR as the Anthropic API, OpenAI-shaped models and errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer } from '../lib/server.mjs';

let server;
let client;

before(async () => {
  server = await startServer({ args: ['--api-key', 'sk-test', '--api-key', 'second-key'] });
  client = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'sk-test', maxRetries: 0 });
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say something.' },
];

test('chat.completions.create (non-streaming)', async () => {
  const c = await client.chat.completions.create({ model: 'smol-it', max_tokens: 6, seed: 9, messages });
  assert.equal(c.object, 'chat.completion');
  assert.match(c.id, /^chatcmpl-/);
  assert.equal(c.model, 'smol-it');
  assert.equal(c.choices.length, 1);
  assert.equal(c.choices[0].message.role, 'assistant');
  assert.equal(typeof c.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(c.choices[0].finish_reason));
  assert.ok(c.usage.prompt_tokens > 5);
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
});

test('chat.completions.create (streaming) gives the same text for the same seed', async () => {
  const plain = await client.chat.completions.create({ model: 'smol-it', max_tokens: 10, seed: 4, messages });
  const stream = await client.chat.completions.create({
    model: 'smol-it', max_tokens: 10, seed: 4, messages, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      text += ch.delta.content ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(text, plain.choices[0].message.content);
  assert.equal(finish, plain.choices[0].finish_reason);
  assert.deepEqual(usage, plain.usage);
});

test('stop strings and tool definitions are accepted', async () => {
  const c = await client.chat.completions.create({
    model: 'smol-it', max_tokens: 8, stop: ['\n\n\n'], messages,
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    tool_choice: 'auto',
  });
  assert.equal(c.object, 'chat.completion');
});

test('models in OpenAI shape; errors in OpenAI shape', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m);
  assert.equal(models[0].id, 'smol-it');
  assert.equal(models[0].object, 'model');
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4', messages }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(client.chat.completions.create({ model: 'smol-it', n: 3, messages }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'n');
  const wrong = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'nope', maxRetries: 0 });
  await assert.rejects(wrong.chat.completions.create({ model: 'smol-it', messages }), OpenAI.AuthenticationError);
  const second = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'second-key', maxRetries: 0 });
  const ok = await second.chat.completions.create({ model: 'smol-it', max_tokens: 1, messages });
  assert.equal(ok.object, 'chat.completion');
});
