// Gateway overhead: what a request and a streamed token cost when they go through `parley serve
// --upstream` instead of straight to the upstream, side by side in one run.
//   node bench/gateway-overhead/gateway-overhead.mjs [--requests 300] [--tokens 2000] [--out FILE]
// Two upstreams:
//  - canned: a tiny OpenAI-chat server in this process that answers at once (a fixed JSON body,
//    or a stream of --tokens one-word chunks). The model costs nothing, so the difference
//    between "direct" and "via gateway" is the gateway's own work: parsing the Anthropic request,
//    translating it, one upstream connection, reading each chunk and writing it as an event.
//  - parley: a real `parley serve` on the tiny `qwen` model over the `parley` protocol, the
//    same request sent direct and through the gateway (max_tokens 1: latency, not model time).
// Gateway CPU time is read from /proc/PID/stat (utime + stime) around each phase.
import http from 'node:http';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuInfo, makeModel, startServer } from '../lib/serve.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const REQUESTS = Number(arg('--requests', 300));
const TOKENS = Number(arg('--tokens', 2000));
const OUT = arg('--out', null);
const WARMUP = 20;

// --- the canned OpenAI-chat upstream (its own process, so that it does not share this client's
// event loop) ----------------------------------------------------------------------------------
function serveCanned() {
  const completion = JSON.stringify({
    id: 'chatcmpl-1', object: 'chat.completion', created: 0, model: 'canned',
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
  });
  const chunk = (delta, finish = null) => `data: ${JSON.stringify({
    id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: 'canned',
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"object":"list","data":[{"id":"canned","object":"model"}]}');
        return;
      }
      const r = JSON.parse(body);
      if (!r.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(completion);
        return;
      }
      // The gateway asks for a stream whatever its client asked: as many chunks as max_tokens.
      const n = Math.min(TOKENS, r.max_completion_tokens ?? r.max_tokens ?? TOKENS);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let out = chunk({ role: 'assistant', content: '' });
      for (let i = 0; i < n; i++) out += chunk({ content: ' w' + (i % 10) });
      out += chunk({}, 'length');
      out += `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: 'canned', choices: [],
        usage: { prompt_tokens: 9, completion_tokens: n, total_tokens: 9 + n } })}\n\n`;
      out += 'data: [DONE]\n\n';
      res.end(out);  // all at once: the gateway, not this server, is what paces the client
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(`canned http://127.0.0.1:${server.address().port}`));
}

function cannedUpstream() {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve-canned', '--tokens', String(TOKENS)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => proc.stdout.on('data', (c) => {
    const m = String(c).match(/canned (http:\S+)/);
    if (m) resolve({ url: m[1], close: () => proc.kill('SIGTERM') });
  }));
}

// --- timing helpers --------------------------------------------------------------------------
const ticks = 100;  // USER_HZ
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / ticks;  // utime, stime (fields 14, 15)
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function post(url, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const u = new URL(url + path);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers } }, (res) => {
      let n = 0;
      let text = '';
      res.on('data', (c) => { n += c.length; if (res.statusCode !== 200) text += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode} ${text}`));
        else resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: n });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
async function series(n, fn) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const ms = [];
  for (let i = 0; i < n; i++) ms.push((await fn()).ms);
  return ms;
}
const fmt = (x) => x.toFixed(3);

// --- the run ---------------------------------------------------------------------------------
async function main() {
const canned = await cannedUpstream();
const real = await startServer(makeModel('qwen'), ['--ctx', '2048', '-t', '1']);
const gateway = await startServer(makeModel('qwen-wide'), ['--ctx', '2048', '-t', '1', '--no-claude-ids',
  '--upstream', `canned=${canned.url}`, '--upstream-models', 'canned=canned',
  '--upstream', `up=${real.url}`, '--upstream-protocol', 'up=parley', '--upstream-models', 'up=qwen-bench']);
const user = [{ role: 'user', content: 'Say hello' }];
const anth = (model, extra = {}) => ({ model, max_tokens: 1, temperature: 0, messages: user, ...extra });
const oai = (model, extra = {}) => ({ model, max_tokens: 1, temperature: 0, messages: user, ...extra });
const results = { date: new Date().toISOString(), cpu: cpuInfo(), requests: REQUESTS, tokens: TOKENS, rows: [] };
const row = (name, direct, via, unit, cpu) => {
  const r = { name, direct_median_ms: median(direct), via_median_ms: median(via), direct_p90_ms: pct(direct, 0.9),
    via_p90_ms: pct(via, 0.9), added_median_ms: median(via) - median(direct), unit, gateway_cpu_ms: cpu };
  results.rows.push(r);
  console.log(`${name.padEnd(44)} direct ${fmt(r.direct_median_ms)} ms (p90 ${fmt(r.direct_p90_ms)})  ` +
    `via gateway ${fmt(r.via_median_ms)} ms (p90 ${fmt(r.via_p90_ms)})  added ${fmt(r.added_median_ms)} ms${unit}` +
    `  gateway CPU ${fmt(cpu)} ms${unit}`);
};
console.log(`gateway overhead, ${results.date}, CPU: ${results.cpu.model} (${results.cpu.cpus} cpus, ${results.cpu.flags})`);
try {
  // 1. Small non-streaming requests, the canned upstream: OpenAI direct vs Anthropic via gateway.
  const d1 = await series(REQUESTS, () => post(canned.url, '/v1/chat/completions', oai('canned')));
  let c0 = cpuSeconds(gateway.pid);
  const v1 = await series(REQUESTS, () => post(gateway.url, '/v1/messages', anth('canned')));
  row('request, canned openai-chat upstream', d1, v1, '/request', (cpuSeconds(gateway.pid) - c0) * 1000 / (REQUESTS + WARMUP));
  // 2. The same through the gateway's OpenAI surface (OpenAI in, OpenAI out: parsed and rebuilt).
  c0 = cpuSeconds(gateway.pid);
  const v2 = await series(REQUESTS, () => post(gateway.url, '/v1/chat/completions', oai('canned')));
  row('request, OpenAI surface, canned upstream', d1, v2, '/request', (cpuSeconds(gateway.pid) - c0) * 1000 / (REQUESTS + WARMUP));
  // 3. A real parley upstream (parley protocol), max_tokens 1.
  const d3 = await series(REQUESTS, () => post(real.url, '/v1/messages', anth('qwen-bench')));
  c0 = cpuSeconds(gateway.pid);
  const v3 = await series(REQUESTS, () => post(gateway.url, '/v1/messages', anth('qwen-bench')));
  row('request, real parley upstream (max_tokens 1)', d3, v3, '/request', (cpuSeconds(gateway.pid) - c0) * 1000 / (REQUESTS + WARMUP));
  // 4. Streams of TOKENS chunks from the canned upstream: time to the last byte, per token.
  const n = 20;
  const d4 = await series(n, () => post(canned.url, '/v1/chat/completions', oai('canned', { stream: true, max_tokens: TOKENS })));
  c0 = cpuSeconds(gateway.pid);
  const v4 = await series(n, () => post(gateway.url, '/v1/messages', anth('canned', { stream: true, max_tokens: TOKENS })));
  const cpu4 = (cpuSeconds(gateway.pid) - c0) * 1000 / ((n + WARMUP) * TOKENS);
  row(`stream of ${TOKENS} tokens, canned, per token`, d4.map((x) => x / TOKENS), v4.map((x) => x / TOKENS), '/token', cpu4);
} finally {
  await gateway.stop();
  await real.stop();
  canned.close();
  agent.destroy();
}
if (OUT) fs.writeFileSync(OUT, JSON.stringify(results, null, 2));
}

if (process.argv.includes('--serve-canned')) {
  serveCanned();
} else {
  await main();
}
