// Load test of the real `parley serve` (bounded, loopback only): N concurrent clients for D
// seconds, each looping over Messages requests (mostly `stream: true`) built from a few shared
// prefixes (sometimes cut short, so the radix cache splits inside a cached path) and a random
// suffix, with random `max_tokens`, and random disconnects (AbortController: before the response
// headers, before the first token, or mid-stream). Every request that is not aborted is checked:
// HTTP 200, a well-formed SSE sequence (message_start, content blocks opened / delta'd / closed
// with consecutive indices, message_delta, message_stop, nothing after), Anthropic's usage
// arithmetic (input + cache_creation + cache_read = the prompt tokens of count_tokens and of
// message_start; cache_read in whole 16-token blocks and < the prompt), output_tokens within
// max_tokens, stop_reason end_turn or max_tokens. A 529 is acceptable only when the server says
// its queue is full and the client really had that many requests outstanding; anything else is a
// failure, printed with its detail.
//
// Meanwhile it samples the server's resident memory (/proc/PID/status VmRSS) and /metrics every
// few seconds. At the end it waits for the server to go idle (running 0, queue 0) and checks that
// no KV block leaked: blocks used = 0, and used + cached + free = the pool's total in every sample
// (the total is the startup log's "N positions" / 16, the engine's block size; with --url it is
// the first sample's sum). The engine's own check_invariants() runs after every step in debug
// builds only (NDEBUG off), so against the release binary the metrics arithmetic is the check.
// Exit status 1 on any failure, leak, or RSS growth after warm-up beyond --rss-tolerance %.
//
//   node bench/load-test/load-test.mjs [--clients 64] [--duration 300] [--model qwen]
//        [--parallel 8] [--ctx 4096] [--kv-positions 8192] [--queue 64] [--threads 2]
//        [--url http://127.0.0.1:8080 [--pid PID]] [--out FILE.json]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuInfo, makeModel, startServer } from '../lib/serve.mjs';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },                 // use a running server instead of starting one
    pid: { type: 'string' },                 // with --url: the server's pid, for RSS
    model: { type: 'string', default: 'qwen' },
    clients: { type: 'string', default: '64' },
    duration: { type: 'string', default: '300' },
    threads: { type: 'string', default: '2' },
    parallel: { type: 'string', default: '8' },
    ctx: { type: 'string', default: '4096' },
    'kv-positions': { type: 'string', default: '8192' },
    queue: { type: 'string', default: '64' },
    prefixes: { type: 'string', default: '600,1200,2000,3000' },  // shared prefix sizes, tokens
    'cut-prob': { type: 'string', default: '0.25' },      // a prefix cut at a random line
    'abort-prob': { type: 'string', default: '0.15' },
    'nonstream-prob': { type: 'string', default: '0.1' },
    'min-tokens': { type: 'string', default: '8' },
    'max-tokens': { type: 'string', default: '64' },
    'count-prob': { type: 'string', default: '1' },       // requests checked against count_tokens
    sample: { type: 'string', default: '2' },             // seconds between RSS/metrics samples
    warmup: { type: 'string', default: '0.2' },           // RSS "warm" = the sample at this share of the run
    'rss-tolerance': { type: 'string', default: '10' },   // % growth after warm-up allowed
    'request-timeout': { type: 'string', default: '120' },
    'idle-timeout': { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});

const N = Number(opt.clients);
const durationS = Number(opt.duration);
const minTok = Number(opt['min-tokens']);
const maxTok = Number(opt['max-tokens']);
const BLOCK = 16;  // engine::EngineOptions::block_size (no flag changes it)

// ---- deterministic randomness (the choices; timing is the machine's) --------------------------
function rng(seed) {
  let a = (seed >>> 0) || 1;
  const next = () => {  // mulberry32
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));  // inclusive
  next.pick = (xs) => xs[Math.floor(next() * xs.length)];
  return next;
}

const WORDS = ('request server token cache block prefix stream client model layer thread queue ' +
  'latency memory kernel vector matrix buffer socket header payload schema parser grammar sample ' +
  'decode prefill batch radix eviction preempt scheduler engine context window budget answer ' +
  'question system user assistant tool result error retry timeout signal metric counter gauge ' +
  'histogram bucket throughput the a of to and in is for on with as by at from this that it be ' +
  'are was not or an which can will has have its into each when only one two three four five').split(' ');
const EXTRA = ['é', 'ß', 'ñ', '東京', 'Ωmega', '😀', '→', '“quoted”', '{"k": 1}', '<b>', '\t', 'x\ny'];

function sentence(r, nWords) {
  const w = [];
  for (let i = 0; i < nWords; i++) w.push(r() < 0.03 ? r.pick(EXTRA) : r.pick(WORDS));
  return w.join(' ');
}

// A shared prefix: a system prompt of numbered lines (so it can be cut at a line).
function prefixLines(k, nLines) {
  const r = rng(1000 + k);
  const lines = [`You are assistant ${'ABCDEFGH'[k % 8]}${k}. Reference document ${k} follows.`];
  for (let i = 0; i < nLines; i++) lines.push(`${k}.${i}: ${sentence(r, r.int(8, 16))}.`);
  return lines;
}

// ---- HTTP helpers --------------------------------------------------------------------------
const HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };

async function countTokens(url, body, signal) {
  const res = await fetch(`${url}/v1/messages/count_tokens`, {
    method: 'POST', headers: HEADERS, signal,
    body: JSON.stringify({ model: body.model, system: body.system, messages: body.messages }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`count_tokens HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text).input_tokens;
}

function parseMetrics(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const sp = line.lastIndexOf(' ');
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

async function metrics(url) {
  const res = await fetch(`${url}/metrics`);
  const m = parseMetrics(await res.text());
  const g = (k) => m.get(k) ?? 0;
  return {
    raw: m,
    used: g('parley_kv_blocks{state="used"}'),
    cached: g('parley_kv_blocks{state="cached"}'),
    free: g('parley_kv_blocks{state="free"}'),
    running: g('parley_running_sequences'),
    waiting: g('parley_queue_depth'),
    preemptions: g('parley_preemptions_total'),
    evictions: g('parley_kv_evictions_total'),
    prompt: g('parley_prompt_tokens_total'),
    cachedPrompt: g('parley_cached_prompt_tokens_total'),
    generated: g('parley_generated_tokens_total'),
    hitRatio: g('parley_prefix_cache_hit_ratio'),
  };
}

function rssKiB(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number((s.match(/^VmRSS:\s*(\d+)\s*kB/m) || [])[1]);
  } catch {
    return null;
  }
}

// The `parley` child of this process (bench/lib/serve.mjs does not expose the process).
function findServerPid() {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (Number(rest[1]) === process.pid && comm.startsWith('parley')) return Number(d);
    } catch { /* gone */ }
  }
  return null;
}

// What undici says about a failed fetch / body read, and the local port (the server log names
// every connection by its peer address, so the port finds this request's lines there).
function errInfo(e) {
  const c = e?.cause;
  const sock = c?.socket;
  const port = sock?.localPort ?? null;
  const s = `${c?.code || e?.name || 'error'}: ${c?.message || e?.message}` +
    (sock ? ` (local port ${sock.localPort}, ${sock.bytesWritten} bytes written, ${sock.bytesRead} read)` : '');
  return { s, port };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))];
};
const mib = (kib) => (kib / 1024).toFixed(1);

// ---- SSE validation ------------------------------------------------------------------------
// Folds the stream and returns a list of protocol violations (empty = well formed).
class SseChecker {
  constructor() {
    this.errors = [];
    this.state = 'start';  // start -> message -> (block) -> delta -> stopped
    this.open = null;      // index of the open block
    this.nBlocks = 0;
    this.blocks = [];
    this.startUsage = null;
    this.finalUsage = null;
    this.stopReason = null;
    this.nDeltas = 0;
    this.events = [];      // types, for the failure detail
  }
  err(s) { if (this.errors.length < 8) this.errors.push(s); }
  frame(text) {
    let name = null;
    let data = null;
    for (const line of text.split('\n')) {
      if (line.startsWith('event: ')) name = line.slice(7);
      else if (line.startsWith('data: ')) data = line.slice(6);
      else if (line !== '') this.err(`unexpected SSE line ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (data === null) { this.err(`frame without data: ${JSON.stringify(text.slice(0, 80))}`); return null; }
    let ev;
    try { ev = JSON.parse(data); } catch (e) { this.err(`bad JSON in data: ${data.slice(0, 120)}`); return null; }
    if (name !== ev.type) this.err(`event name ${name} != data.type ${ev.type}`);
    this.events.push(ev.type === 'content_block_delta' ? 'd' : ev.type);
    this.event(ev);
    return ev;
  }
  event(ev) {
    if (this.state === 'stopped') { this.err(`${ev.type} after message_stop`); return; }
    switch (ev.type) {
      case 'ping':
        if (this.state === 'start') this.err('ping before message_start');
        return;
      case 'message_start':
        if (this.state !== 'start') { this.err('second message_start'); return; }
        this.state = 'message';
        if (ev.message?.type !== 'message' || ev.message?.role !== 'assistant' || !Array.isArray(ev.message?.content) ||
            ev.message.content.length !== 0 || ev.message.stop_reason !== null) {
          this.err(`malformed message_start ${JSON.stringify(ev.message).slice(0, 200)}`);
        }
        this.startUsage = ev.message?.usage ?? null;
        return;
      case 'content_block_start':
        if (this.state !== 'message') { this.err(`content_block_start in state ${this.state}`); return; }
        if (this.open !== null) this.err(`content_block_start ${ev.index} while ${this.open} is open`);
        if (ev.index !== this.nBlocks) this.err(`content_block_start index ${ev.index}, expected ${this.nBlocks}`);
        this.open = ev.index;
        this.blocks[ev.index] = { ...ev.content_block };
        this.nBlocks++;
        return;
      case 'content_block_delta': {
        if (this.open === null || ev.index !== this.open) { this.err(`delta for block ${ev.index}, open ${this.open}`); return; }
        const b = this.blocks[ev.index];
        const want = { text: 'text_delta', thinking: 'thinking_delta', tool_use: 'input_json_delta' }[b.type];
        const ok = ev.delta?.type === want || (b.type === 'thinking' && ev.delta?.type === 'signature_delta');
        if (!ok) this.err(`${ev.delta?.type} in a ${b.type} block`);
        if (ev.delta?.type === 'text_delta') {
          if (typeof ev.delta.text !== 'string' || ev.delta.text === '') this.err('empty text_delta');
          b.text += ev.delta.text;
        }
        this.nDeltas++;
        return;
      }
      case 'content_block_stop':
        if (this.open === null || ev.index !== this.open) this.err(`content_block_stop ${ev.index}, open ${this.open}`);
        this.open = null;
        return;
      case 'message_delta':
        if (this.state !== 'message') { this.err(`message_delta in state ${this.state}`); return; }
        if (this.open !== null) this.err(`message_delta while block ${this.open} is open`);
        this.state = 'delta';
        this.stopReason = ev.delta?.stop_reason;
        this.finalUsage = ev.usage ?? null;
        return;
      case 'message_stop':
        if (this.state !== 'delta') this.err(`message_stop in state ${this.state}`);
        this.state = 'stopped';
        return;
      case 'error':
        this.err(`error event ${JSON.stringify(ev.error)}`);
        return;
      default:
        this.err(`unknown event ${ev.type}`);
    }
  }
  finish() {
    if (this.state !== 'stopped') this.err(`stream ended in state ${this.state} (no message_stop)`);
    return this.errors;
  }
}

// Checks usage / stop_reason of a finished message (streamed or not). Returns violations.
function checkResult({ usage, startUsage, stopReason, content }, req, expectedPrompt) {
  const errs = [];
  if (!usage) return ['no usage'];
  const num = (x) => (Number.isInteger(x) && x >= 0);
  for (const k of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens']) {
    if (!num(usage[k])) errs.push(`usage.${k} = ${usage[k]}`);
  }
  const prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
  if (expectedPrompt != null && prompt !== expectedPrompt) {
    errs.push(`input ${usage.input_tokens} + cache_read ${usage.cache_read_input_tokens} + cache_creation ${usage.cache_creation_input_tokens} = ${prompt} != count_tokens ${expectedPrompt}`);
  }
  if (startUsage) {
    const s = startUsage.input_tokens + startUsage.cache_read_input_tokens + startUsage.cache_creation_input_tokens;
    if (s !== prompt) errs.push(`message_start prompt ${s} != final prompt ${prompt}`);
  }
  if (usage.cache_read_input_tokens % BLOCK !== 0) errs.push(`cache_read ${usage.cache_read_input_tokens} not whole ${BLOCK}-token blocks`);
  if (usage.cache_read_input_tokens >= prompt && prompt > 0) errs.push(`cache_read ${usage.cache_read_input_tokens} >= prompt ${prompt}`);
  if (!['end_turn', 'max_tokens'].includes(stopReason)) errs.push(`stop_reason ${stopReason}`);
  if (usage.output_tokens > req.max_tokens) errs.push(`output_tokens ${usage.output_tokens} > max_tokens ${req.max_tokens}`);
  if (stopReason === 'max_tokens' && usage.output_tokens !== req.max_tokens) errs.push(`max_tokens stop after ${usage.output_tokens} of ${req.max_tokens}`);
  // end_turn may come as the very first token (the model's end token is not counted as output).
  if (usage.output_tokens < 1 && stopReason !== 'end_turn') errs.push(`output_tokens ${usage.output_tokens}`);
  if (!Array.isArray(content)) errs.push('content not an array');
  else if (content.some((b) => b.type !== 'text')) errs.push(`non-text block ${content.map((b) => b.type)}`);
  return errs;
}

// ---- main ----------------------------------------------------------------------------------
const cpu = cpuInfo();
let server = null;
let url = opt.url;
let pid = opt.pid ? Number(opt.pid) : null;
let totalBlocks = null;
let serverLine = '';
if (!url) {
  const modelPath = makeModel(opt.model);
  server = await startServer(modelPath, ['--host', '127.0.0.1', '--threads', opt.threads, '--parallel', opt.parallel,
    '--ctx', opt.ctx, '--kv-positions', opt['kv-positions'], '--queue', opt.queue]);
  url = server.url;
  pid = findServerPid();
  serverLine = (server.log().split('\n').find((l) => /positions of/.test(l)) || '').trim();
  const pos = Number((serverLine.match(/\((\d+) positions of/) || [])[1]);
  if (pos > 0) totalBlocks = pos / BLOCK;
}
if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(url)) {
  console.error(`load-test: refusing ${url}: loopback only`);
  process.exit(2);
}

const failures = [];
const failureKinds = new Map();
function fail(kind, detail) {
  failureKinds.set(kind, (failureKinds.get(kind) || 0) + 1);
  failures.push({ kind, ...detail });
}

let exitCode = 0;
const lines = [];
const log = (s) => { lines.push(s); console.log(s); };
try {
  log(`load-test: ${N} clients, ${durationS} s, model ${opt.model}${opt.url ? ` at ${url}` : ''}, max_tokens ${minTok}-${maxTok}, ` +
    `abort ${opt['abort-prob']}, non-streaming ${opt['nonstream-prob']}, prefixes ${opt.prefixes} tokens (cut ${opt['cut-prob']})`);
  log(`cpu: ${cpu.model} (${cpu.cpus} cpus; ${cpu.flags}); load at start ${cpu.load.map((x) => x.toFixed(2)).join(' ')}`);
  if (server) log(`server: parley serve --threads ${opt.threads} --parallel ${opt.parallel} --ctx ${opt.ctx} --kv-positions ${opt['kv-positions']} --queue ${opt.queue}; pid ${pid}`);
  if (serverLine) log(`server: ${serverLine}`);

  // Shared prefixes, sized with the server's own token count.
  const targets = opt.prefixes.split(',').map(Number);
  const prefixes = [];
  for (let k = 0; k < targets.length; k++) {
    let n = Math.max(4, Math.round(targets[k] / 20));
    let lines_ = prefixLines(k, n);
    for (let it = 0; it < 2; it++) {
      const c = await countTokens(url, { model: 'local-model', system: lines_.join('\n'), messages: [{ role: 'user', content: 'hi' }] });
      n = Math.max(4, Math.round(n * targets[k] / c));
      lines_ = prefixLines(k, n);
    }
    const c = await countTokens(url, { model: 'local-model', system: lines_.join('\n'), messages: [{ role: 'user', content: 'hi' }] });
    prefixes.push({ lines: lines_, tokens: c });
  }
  log(`prefixes: ${prefixes.map((p) => `${p.tokens} tokens (${p.lines.length} lines)`).join(', ')}`);

  const m0 = await metrics(url);
  const sum0 = m0.used + m0.cached + m0.free;
  if (totalBlocks === null) totalBlocks = sum0;
  if (sum0 !== totalBlocks) fail('kv_blocks_sum', { detail: `before the run used+cached+free = ${sum0} != total ${totalBlocks}` });
  log(`kv pool: ${totalBlocks} blocks of ${BLOCK} (${server ? 'startup log positions / 16' : 'used+cached+free at start'}); ` +
    `before the run used ${m0.used} cached ${m0.cached} free ${m0.free}`);

  // Counters.
  const st = {
    ok: 0, okStream: 0, okPlain: 0, aborted: 0, abortedPhase: { headers: 0, first_token: 0, mid_stream: 0, plain: 0 },
    r529: 0, outputTokens: 0, promptTokens: 0, cacheRead: 0, ttft: [], abortsPlanned: 0, abortsLate: 0,
    stopReasons: {}, countChecked: 0,
  };
  let inflight = 0;
  const recentAborts = [];  // times of aborts (cancels the server may not have processed yet)

  const t0 = performance.now();
  const deadline = t0 + durationS * 1000;
  const samples = [];
  let sampling = true;
  let serverDied = null;

  async function sampler() {
    while (sampling) {
      const t = (performance.now() - t0) / 1000;
      const rss = pid ? rssKiB(pid) : null;
      if (pid && rss === null && server) { serverDied = serverDied || `the server process ${pid} is gone at ${t.toFixed(1)} s`; }
      try {
        const m = await metrics(url);
        samples.push({ t: +t.toFixed(1), rss_kib: rss, used: m.used, cached: m.cached, free: m.free, running: m.running, waiting: m.waiting });
        const sum = m.used + m.cached + m.free;
        if (sum !== totalBlocks) fail('kv_blocks_sum', { detail: `at ${t.toFixed(1)} s used ${m.used} + cached ${m.cached} + free ${m.free} = ${sum} != ${totalBlocks}` });
      } catch (e) {
        samples.push({ t: +t.toFixed(1), rss_kib: rss, metrics_error: String(e.cause?.code || e.message) });
      }
      await sleep(Number(opt.sample) * 1000);
    }
  }

  async function oneRequest(r, clientId, seq) {
    const pk = r.int(0, prefixes.length - 1);
    const p = prefixes[pk];
    const cut = r() < Number(opt['cut-prob']) ? r.int(1, p.lines.length - 1) : p.lines.length;
    const system = p.lines.slice(0, cut).join('\n');
    const suffix = `Client ${clientId} request ${seq}: ${sentence(r, r.int(5, 200))}?`;
    const stream = r() >= Number(opt['nonstream-prob']);
    const body = { model: 'local-model', max_tokens: r.int(minTok, maxTok), system, messages: [{ role: 'user', content: suffix }] };
    if (r() < 0.3) body.temperature = 0;
    if (r() < 0.2) body.top_k = r.int(1, 50);
    let plan = null;  // when to disconnect
    if (r() < Number(opt['abort-prob'])) {
      const k = r.int(0, 2);
      if (!stream || k === 0) plan = { kind: 'time', ms: stream ? r.int(0, 30) : r.int(0, 1500) };
      else if (k === 1) plan = { kind: 'time', ms: r.int(30, 2000) };
      else plan = { kind: 'deltas', n: r.int(1, Math.max(1, body.max_tokens - 1)) };
    }
    const shape = { stream, prefix: pk, cut_lines: cut, of_lines: p.lines.length, max_tokens: body.max_tokens,
      suffix_chars: suffix.length, temperature: body.temperature, top_k: body.top_k, abort: plan };

    const ac = new AbortController();
    let expectedPrompt = null;
    if (r() < Number(opt['count-prob'])) {
      try {
        expectedPrompt = await countTokens(url, body, AbortSignal.timeout(Number(opt['request-timeout']) * 1000));
      } catch (e) {
        fail('count_tokens', { shape, detail: String(e.cause?.code || e.message) });
        return;
      }
    }
    if (plan) st.abortsPlanned++;
    let abortedByUs = false;
    let timedOut = false;
    let phase = 'headers';
    const abortNow = () => {
      abortedByUs = true;
      recentAborts.push(performance.now());
      ac.abort();
    };
    const timers = [];
    if (plan?.kind === 'time') timers.push(setTimeout(abortNow, plan.ms));
    timers.push(setTimeout(() => { timedOut = true; ac.abort(); }, Number(opt['request-timeout']) * 1000));
    const ts = performance.now();
    inflight++;
    const wasAborted = () => {
      st.aborted++;
      st.abortedPhase[stream ? phase : 'plain']++;
    };
    try {
      let res;
      try {
        res = await fetch(`${url}/v1/messages?beta=true`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ ...body, stream }), signal: ac.signal });
      } catch (e) {
        if (abortedByUs) return wasAborted();
        const ei = errInfo(e);
        return fail(timedOut ? 'timeout' : 'fetch', { shape, port: ei.port, ms: Math.round(performance.now() - ts), detail: `before headers: ${ei.s}` });
      }
      phase = 'first_token';
      if (res.status !== 200) {
        let text = '';
        try { text = await res.text(); } catch (e) { if (abortedByUs) return wasAborted(); }
        if (res.status === 529) {
          // Acceptable only if the queue was really full: the server says so and the client had
          // at least that many requests outstanding (in flight, or aborted in the last 2 s).
          const m = text.match(/(\d+) requests are waiting to start \(queue capacity (\d+)\)/);
          const now = performance.now();
          while (recentAborts.length && recentAborts[0] < now - 2000) recentAborts.shift();
          const outstanding = inflight - 1 + recentAborts.length;
          if (m && Number(m[1]) >= Number(m[2]) && outstanding >= Number(m[2])) { st.r529++; return; }
          return fail('529_not_full', { shape, detail: `529 with ${outstanding} requests outstanding: ${text.slice(0, 300)}` });
        }
        return fail(`http_${res.status}`, { shape, detail: text.slice(0, 300) });
      }
      if (!stream) {
        let text;
        try { text = await res.text(); } catch (e) {
          if (abortedByUs) return wasAborted();
          const ei = errInfo(e);
          return fail(timedOut ? 'timeout' : 'body', { shape, port: ei.port, ms: Math.round(performance.now() - ts), detail: ei.s });
        }
        if (abortedByUs) st.abortsLate++;
        let msg;
        try { msg = JSON.parse(text); } catch { return fail('json', { shape, detail: text.slice(0, 300) }); }
        const errs = [];
        if (msg.type !== 'message' || msg.role !== 'assistant') errs.push(`type ${msg.type} role ${msg.role}`);
        errs.push(...checkResult({ usage: msg.usage, startUsage: null, stopReason: msg.stop_reason, content: msg.content }, body, expectedPrompt));
        if (errs.length) return fail('response', { shape, detail: errs.join('; ') });
        if (expectedPrompt != null) st.countChecked++;
        st.ok++; st.okPlain++;
        st.outputTokens += msg.usage.output_tokens;
        st.promptTokens += msg.usage.input_tokens + msg.usage.cache_read_input_tokens + msg.usage.cache_creation_input_tokens;
        st.cacheRead += msg.usage.cache_read_input_tokens;
        st.stopReasons[msg.stop_reason] = (st.stopReasons[msg.stop_reason] || 0) + 1;
        return;
      }
      const chk = new SseChecker();
      const decoder = new TextDecoder();
      let buf = '';
      let ttft = null;
      try {
        for await (const chunk of res.body) {
          buf += decoder.decode(chunk, { stream: true });
          let cut_;
          while ((cut_ = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, cut_);
            buf = buf.slice(cut_ + 2);
            const ev = chk.frame(frame);
            if (ev?.type === 'content_block_delta') {
              if (ttft === null) ttft = performance.now() - ts;
              phase = 'mid_stream';
              if (plan?.kind === 'deltas' && chk.nDeltas >= plan.n && !abortedByUs) abortNow();
            }
          }
          if (abortedByUs) break;
        }
      } catch (e) {
        if (abortedByUs) return wasAborted();
        const ei = errInfo(e);
        return fail(timedOut ? 'timeout' : 'stream', { shape, port: ei.port, ms: Math.round(performance.now() - ts),
          detail: `${ei.s} after ${chk.events.length} events [${chk.events.join(',').slice(-300)}]` });
      }
      if (abortedByUs && chk.state !== 'stopped') return wasAborted();
      if (abortedByUs) st.abortsLate++;
      if (buf.trim() !== '') chk.err(`trailing bytes ${JSON.stringify(buf.slice(0, 80))}`);
      const errs = chk.finish();
      const content = chk.blocks.filter(Boolean);
      if (chk.finalUsage) errs.push(...checkResult({ usage: chk.finalUsage, startUsage: chk.startUsage, stopReason: chk.stopReason, content }, body, expectedPrompt));
      else errs.push('no message_delta usage');
      if (errs.length) return fail('sse', { shape, detail: `${errs.join('; ')}; events ${chk.events.join(',').slice(0, 300)}` });
      if (expectedPrompt != null) st.countChecked++;
      st.ok++; st.okStream++;
      const u = chk.finalUsage;
      st.outputTokens += u.output_tokens;
      st.promptTokens += u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
      st.cacheRead += u.cache_read_input_tokens;
      st.stopReasons[chk.stopReason] = (st.stopReasons[chk.stopReason] || 0) + 1;
      if (ttft !== null) st.ttft.push(ttft);
    } finally {
      inflight--;
      for (const t of timers) clearTimeout(t);
    }
  }

  async function client(i) {
    const r = rng(Number(opt.seed) * 100003 + i);
    await sleep(r.int(0, 1000));  // not all at the same instant
    for (let seq = 0; performance.now() < deadline && !serverDied; seq++) {
      try {
        await oneRequest(r, i, seq);
      } catch (e) {
        fail('client', { detail: e.stack });
      }
    }
  }

  const samplerDone = sampler();
  await Promise.all(Array.from({ length: N }, (_, i) => client(i)));
  const wall = (performance.now() - t0) / 1000;

  // Drain: the server must go idle (every aborted request cancelled, nothing stuck).
  let idle = null;
  const tIdle0 = performance.now();
  let last = null;
  while (performance.now() - tIdle0 < Number(opt['idle-timeout']) * 1000) {
    try { last = await metrics(url); } catch (e) { last = null; break; }
    if (last.running === 0 && last.waiting === 0) { idle = (performance.now() - tIdle0) / 1000; break; }
    await sleep(250);
  }
  await sleep(300);  // one more engine loop round
  let mEnd = null;
  try { mEnd = await metrics(url); } catch (e) { serverDied = serverDied || `/metrics failed after the run: ${e.cause?.code || e.message}`; }
  sampling = false;
  await samplerDone;
  const rssEnd = pid ? rssKiB(pid) : null;

  if (idle === null) fail('not_idle', { detail: `after ${opt['idle-timeout']} s: running ${last?.running} waiting ${last?.waiting}` });
  let leak = null;
  if (mEnd) {
    const sum = mEnd.used + mEnd.cached + mEnd.free;
    leak = { used: mEnd.used, cached: mEnd.cached, free: mEnd.free, total: totalBlocks };
    if (mEnd.used !== 0) fail('kv_leak', { detail: `idle but ${mEnd.used} KV blocks still used (cached ${mEnd.cached}, free ${mEnd.free})` });
    if (sum !== totalBlocks) fail('kv_blocks_sum', { detail: `at the end used+cached+free = ${sum} != ${totalBlocks}` });
  }
  // The server still answers after the storm.
  try {
    const h = await fetch(`${url}/health`);
    if (h.status !== 200) fail('health', { detail: `GET /health ${h.status}` });
  } catch (e) {
    serverDied = serverDied || `GET /health failed after the run: ${e.cause?.code || e.message}`;
  }
  if (serverDied) fail('server_died', { detail: serverDied });

  // RSS: warm = the first sample at or after warmup share of the run; end = after the drain.
  const rssSamples = samples.filter((s) => s.rss_kib);
  const warmS = samples.find((s) => s.t >= Number(opt.warmup) * durationS && s.rss_kib);
  const rssWarm = warmS?.rss_kib ?? null;
  const rssMax = rssSamples.length ? Math.max(...rssSamples.map((s) => s.rss_kib)) : null;
  const afterWarm = rssSamples.filter((s) => warmS && s.t >= warmS.t);
  const rssMaxAfterWarm = afterWarm.length ? Math.max(...afterWarm.map((s) => s.rss_kib)) : null;
  let rssGrowthPct = null;
  if (rssWarm && rssEnd) {
    rssGrowthPct = 100 * (rssEnd - rssWarm) / rssWarm;
    if (rssGrowthPct > Number(opt['rss-tolerance'])) {
      fail('rss_growth', { detail: `RSS ${mib(rssWarm)} MiB at ${warmS.t} s -> ${mib(rssEnd)} MiB at the end (+${rssGrowthPct.toFixed(1)} % > ${opt['rss-tolerance']} %)` });
    }
  }

  // Server-side request counts by status.
  const byStatus = {};
  if (mEnd) {
    for (const [k, v] of mEnd.raw) {
      const m = k.match(/^parley_requests_total\{endpoint="([^"]+)",status="(\d+)"\}$/);
      if (m && v - (m0.raw.get(k) || 0) > 0) byStatus[`${m[1]} ${m[2]}`] = v - (m0.raw.get(k) || 0);
    }
  }

  const d = (k) => (mEnd ? mEnd[k] - m0[k] : null);
  const gen = d('generated');
  const served = d('prompt');
  const cachedServed = d('cachedPrompt');
  const summary = {
    clients: N, duration_s: durationS, wall_s: +wall.toFixed(1), model: opt.model,
    server: server ? { threads: +opt.threads, parallel: +opt.parallel, ctx: +opt.ctx, kv_positions: +opt['kv-positions'], queue: +opt.queue } : { url },
    requests: { ok: st.ok, ok_stream: st.okStream, ok_nonstream: st.okPlain, aborted: st.aborted, aborted_phase: st.abortedPhase,
      aborts_planned: st.abortsPlanned, aborts_after_completion: st.abortsLate, failed: failures.length, overloaded_529: st.r529,
      checked_against_count_tokens: st.countChecked },
    stop_reasons: st.stopReasons,
    tokens: { output_ok: st.outputTokens, generated_server: gen, prompt_ok: st.promptTokens, cache_read_ok: st.cacheRead },
    tok_s: { ok_output: +(st.outputTokens / wall).toFixed(1), generated_server: gen !== null ? +(gen / wall).toFixed(1) : null },
    ttft_ms: { p50: Math.round(pct(st.ttft, 50)), p95: Math.round(pct(st.ttft, 95)), n: st.ttft.length },
    cache: { hit_ratio_ok: st.promptTokens ? +(st.cacheRead / st.promptTokens).toFixed(3) : null,
      hit_ratio_server_run: served ? +(cachedServed / served).toFixed(3) : null, evictions: d('evictions'), preemptions: d('preemptions') },
    queue: { max_waiting: Math.max(0, ...samples.map((s) => s.waiting ?? 0)), max_running: Math.max(0, ...samples.map((s) => s.running ?? 0)) },
    kv_end: leak, idle_after_s: idle !== null ? +idle.toFixed(2) : null,
    rss_mib: pid ? { warm: rssWarm ? +mib(rssWarm) : null, warm_at_s: warmS?.t ?? null, end: rssEnd ? +mib(rssEnd) : null,
      growth_mib: rssWarm && rssEnd ? +mib(rssEnd - rssWarm) : null, growth_pct: rssGrowthPct !== null ? +rssGrowthPct.toFixed(1) : null,
      max_after_warm: rssMaxAfterWarm ? +mib(rssMaxAfterWarm) : null, max: rssMax ? +mib(rssMax) : null } : null,
    server_requests_by_status: byStatus,
    failure_kinds: Object.fromEntries(failureKinds),
    cpu: cpu.model, load_end: cpuInfo().load.map((x) => +x.toFixed(2)),
  };

  log('');
  log(`requests: ${st.ok} ok (${st.okStream} streamed, ${st.okPlain} not), ${st.aborted} aborted by the client ` +
    `(before headers ${st.abortedPhase.headers}, before the first token ${st.abortedPhase.first_token}, mid-stream ${st.abortedPhase.mid_stream}, non-streamed ${st.abortedPhase.plain}; ` +
    `${st.abortsLate} more planned aborts came after the end), ${failures.length} failed, ${st.r529} x 529 (queue full)`);
  log(`checked against count_tokens: ${st.countChecked} of ${st.ok}; stop reasons ${JSON.stringify(st.stopReasons)}`);
  log(`tokens: ${st.outputTokens} generated in ok requests, ${gen} by the server (incl. aborted) in ${wall.toFixed(1)} s: ` +
    `${summary.tok_s.ok_output} tok/s ok, ${summary.tok_s.generated_server} tok/s server`);
  log(`TTFT (send -> first content_block_delta, streamed ok requests): p50 ${summary.ttft_ms.p50} ms, p95 ${summary.ttft_ms.p95} ms (n ${st.ttft.length})`);
  log(`prefix cache: hit ratio ${summary.cache.hit_ratio_ok} (cache_read / prompt of ok requests), ${summary.cache.hit_ratio_server_run} (server, all started requests); ` +
    `${summary.cache.evictions} blocks evicted, ${summary.cache.preemptions} preemptions`);
  log(`queue: max ${summary.queue.max_waiting} waiting, ${summary.queue.max_running} running (samples every ${opt.sample} s)`);
  if (leak) log(`kv at the end (idle after ${summary.idle_after_s} s): used ${leak.used}, cached ${leak.cached}, free ${leak.free}; ` +
    `used + cached + free = ${leak.used + leak.cached + leak.free} of ${totalBlocks} => ${leak.used === 0 && leak.used + leak.cached + leak.free === totalBlocks ? 'no leaked block' : 'LEAK'}`);
  if (summary.rss_mib) {
    const r = summary.rss_mib;
    log(`RSS: ${r.warm} MiB at ${r.warm_at_s} s (warm), ${r.end} MiB at the end: ${r.growth_mib >= 0 ? '+' : ''}${r.growth_mib} MiB (${r.growth_pct} %); ` +
      `max after warm-up ${r.max_after_warm}, max ${r.max} MiB`);
    log(`RSS samples (s: MiB): ${rssSamples.filter((_, i) => i % Math.max(1, Math.ceil(rssSamples.length / 15)) === 0).map((s) => `${s.t}: ${mib(s.rss_kib)}`).join(', ')}`);
  }
  log(`server requests by status (this run): ${JSON.stringify(byStatus)}`);
  if (server) {
    // The server logs every request's end; its disconnects should match the client's aborts.
    const sl = server.log().split('\n').filter((l) => l.includes('POST /v1/messages?'));
    const early = sl.filter((l) => l.includes('stream ended early')).length;
    const gone = sl.filter((l) => l.includes('client gone')).length;
    summary.server_log = { streams_ended_early: early, nonstreamed_client_gone: gone };
    log(`server log: ${early} streams "ended early" (client: ${st.abortedPhase.headers + st.abortedPhase.first_token + st.abortedPhase.mid_stream} streams aborted, ` +
      `${failureKinds.get('stream') || 0} cut off), ${gone} non-streamed "client gone" (client: ${st.abortedPhase.plain} aborted, ${failureKinds.get('fetch') || 0} failed before headers)`);
  }
  if (failures.length) {
    log(`FAILURES by kind: ${JSON.stringify(summary.failure_kinds)}`);
    const slog = server ? server.log().split('\n') : [];
    for (const f of failures.slice(0, 20)) {
      log(`  ${f.kind}${f.ms != null ? ` after ${f.ms} ms` : ''}: ${f.detail}${f.shape ? ` | request ${JSON.stringify(f.shape)}` : ''}`);
      // That connection's history in the server log (one line per request it carried).
      if (f.port) for (const l of slog.filter((x) => x.includes(`127.0.0.1:${f.port} `)).slice(-6)) log(`      server: ${l.trim()}`);
    }
    exitCode = 1;
  }
  if (st.ok === 0) { log('FAILED: no request succeeded'); exitCode = 1; }
  const serverErrs = server ? server.log().split('\n').filter((l) => /error|warn|fatal|check|abort/i.test(l)) : [];
  if (serverErrs.length) {
    log(`server log (${serverErrs.length} warning/error lines, first 10):`);
    for (const l of serverErrs.slice(0, 10)) log(`  ${l}`);
  }
  log(`result: ${exitCode === 0 ? 'PASS' : 'FAIL'}`);
  console.log(`JSON ${JSON.stringify(summary)}`);
  if (opt.out) fs.writeFileSync(opt.out, JSON.stringify({ ...summary, samples, failures }, null, 2));
} catch (e) {
  console.error(e.stack || e);
  if (server) console.error(`server log tail:\n${server.log().split('\n').slice(-30).join('\n')}`);
  exitCode = 1;
} finally {
  if (server) await server.stop();
}
process.exit(exitCode);
