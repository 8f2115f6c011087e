// `parley serve --config FILE`: a gateway whose model, port and upstream all come from a TOML
// file serves an upstream parley's model through the official @anthropic-ai/sdk, with the
// upstream's key read from the environment variable the file names (never in its log).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, makeModel } from '../lib/server.mjs';

const UPSTREAM_KEY = 'upkey-c0nfig-7d2e';
const CLIENT_KEY = 'client-c0nfig-all';     // [[api_key]] without models
const LOCAL_KEY = 'client-c0nfig-local';    // [[api_key]] limited to the local model
let upstream;
let gateway;
let dir;

before(async () => {
  upstream = await startServer({ model: 'qwen', args: ['--api-key', UPSTREAM_KEY, '--ctx', '1024'] });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-config-'));
  const file = path.join(dir, 'parley.toml');
  fs.writeFileSync(file, `[server]
model = ${JSON.stringify(makeModel('smol'))}
port = 0
no_claude_ids = true

[gateway]
affinity = false

[[upstream]]
name = "up"
url = "${upstream.url}/v1"
protocol = "parley"
models = ["qwen-it"]
key_env = "GW_UPSTREAM_KEY"
retries = 1

[[api_key]]
key_env = "GW_CLIENT_KEY"

[[api_key]]
key_env = "GW_CLIENT_LOCAL_KEY"
models = ["smol-it"]
`);
  gateway = await startServer({ model: null, args: ['--config', file],
    env: { GW_UPSTREAM_KEY: UPSTREAM_KEY, GW_CLIENT_KEY: CLIENT_KEY, GW_CLIENT_LOCAL_KEY: LOCAL_KEY } });
});

after(async () => {
  for (const s of [gateway, upstream]) assert.equal((await s.stop()).code, 0);
  for (const key of [UPSTREAM_KEY, CLIENT_KEY, LOCAL_KEY]) assert.ok(!gateway.log().includes(key), 'no key appears in the gateway log');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the gateway configured by --config serves the upstream model through the Anthropic SDK', async () => {
  assert.match(gateway.log(), /parley: settings from .*parley\.toml/);
  assert.match(gateway.log(), /parley: upstream up: http:\/\/[0-9.:]+\/v1 \(parley\), models qwen-it; key from \$GW_UPSTREAM_KEY/);
  const client = new Anthropic({ baseURL: gateway.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  const models = (await client.models.list()).data.map((m) => m.id);
  assert.ok(models.includes('qwen-it') && models.includes('smol-it'), models.join(', '));
  const req = { model: 'qwen-it', max_tokens: 8, temperature: 0, messages: [{ role: 'user', content: 'Hello there' }] };
  const via = await client.messages.create(req);
  const direct = new Anthropic({ baseURL: upstream.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });
  const ref = await direct.messages.create(req);
  assert.equal(via.model, 'qwen-it');
  assert.deepEqual(via.content, ref.content, 'the same greedy answer as the upstream gives directly');
  // [server] no_claude_ids = true reached the option: claude-* ids are not mapped.
  await assert.rejects(client.messages.create({ ...req, model: 'claude-sonnet-4-5' }), (e) => e.status === 404);
});

test('[[api_key]] tables: keys from the environment, one limited to the local model', async () => {
  assert.match(gateway.log(), /API key required; 1 of 2 keys limited to some models/);
  const as = (key) => new Anthropic({ baseURL: gateway.url, apiKey: key, maxRetries: 0 });
  await assert.rejects(as('unused').models.list(), (e) => e instanceof Anthropic.AuthenticationError);
  await assert.rejects(as(UPSTREAM_KEY).models.list(), (e) => e instanceof Anthropic.AuthenticationError);
  assert.deepEqual((await as(LOCAL_KEY).models.list()).data.map((m) => m.id), ['smol-it']);
  const local = await as(LOCAL_KEY).messages.create({ model: 'smol-it', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(local.model, 'smol-it');
  await assert.rejects(as(LOCAL_KEY).messages.create({ model: 'qwen-it', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof Anthropic.PermissionDeniedError && /may not use 'qwen-it'/.test(e.message));
});
