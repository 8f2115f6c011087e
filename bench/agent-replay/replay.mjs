// Replays a 20-turn Claude-Code-shaped session against the real `parley serve`, once with the
// global prefix cache and once with --no-prefix-cache, and records per turn the time to first
// token, the prompt tokens and usage.cache_read_input_tokens.
//
// The first turn is Claude Code's captured first request (24 tools, 3-block system prompt with
// the billing header, the mid-conversation role:system message). Each later turn appends what
// the server answered and a new user message of a few hundred tokens (tool_result when the
// answer held a tool_use, else text). Between turns go the side requests Claude Code sends with
// their own system prompts: session-title generation (output_config json_schema) and a tiny
// quota-check-like request. A per-slot cache loses the conversation to them; a global one must not.
//
// Mode `restart` (not in the default modes): serve with --cache-dir, run the session, stop the
// server (SIGTERM: the cache is written at shutdown), start it again on the same directory and
// send turn 1 of a new session: it should be served from the disk cache (cache_read ~ prompt).
//
//   node bench/agent-replay/replay.mjs [--model qwen|qwen-wide] [--turns 20] [--max-tokens 24]
//        [--threads 2] [--modes cache,nocache,restart] [--out bench/agent-replay/results-MODEL.json]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuInfo, makeModel, sharedDir, startServer, streamMessage } from '../lib/serve.mjs';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'qwen' },
    turns: { type: 'string', default: '20' },
    'max-tokens': { type: 'string', default: '24' },
    threads: { type: 'string', default: '2' },
    modes: { type: 'string', default: 'cache,nocache' },
    out: { type: 'string' },
  },
});
const nTurns = Number(opt.turns);
const maxTokens = Number(opt['max-tokens']);
const here = path.dirname(new URL(import.meta.url).pathname);
const outPath = opt.out || path.join(here, `results-${opt.model}.json`);

// --- the captured requests -------------------------------------------------------------------
const captures = fs.readFileSync(path.join(sharedDir, 'docs/claude-code-captures.jsonl'), 'utf8')
  .split('\n').filter(Boolean).map((l) => JSON.parse(l))
  .filter((c) => c.method === 'POST' && c.path === '/v1/messages')
  .map((c) => ({ ...c, body: typeof c.body === 'string' ? JSON.parse(c.body) : c.body }));
const mainFirst = captures.find((c) => c.body.tools?.length === 24 && c.body.messages.length === 2
  && Array.isArray(c.body.system) && c.body.system.length === 3);
const titleReq = captures.find((c) => c.body.tools?.length === 0 && c.body.output_config?.format?.type === 'json_schema');
if (!mainFirst || !titleReq) throw new Error('captures: main first turn or title request not found');

const quotaBody = {  // Claude Code's quota check is max_tokens 1 on the small model, its own prompt
  model: 'local-model', max_tokens: 1, system: 'You check API quota. Reply with one word.',
  messages: [{ role: 'user', content: 'quota' }], stream: true,
};

// A deterministic tool-result-ish payload of a few hundred tokens for turn `t`.
function userPayload(t) {
  const lines = [];
  for (let i = 0; i < 24; i++) {
    lines.push(`src/module-${t}/file-${i}.cpp:${10 * i + t}: int handle_${t}_${i}(const Request& r) { return r.size() * ${i + 3}; }`);
  }
  return lines.join('\n');
}

// Moves Claude Code's third cache_control marker to the last block of the last message.
function withMarkerOnLast(messages) {
  const out = structuredClone(messages);
  for (const m of out) {
    if (Array.isArray(m.content)) for (const b of m.content) delete b.cache_control;
  }
  const last = out[out.length - 1];
  if (Array.isArray(last.content)) last.content[last.content.length - 1].cache_control = { type: 'ephemeral' };
  return out;
}

function nextUserMessage(assistant, t) {
  const toolUses = assistant.content.filter((b) => b.type === 'tool_use');
  if (toolUses.length > 0) {
    return { role: 'user', content: toolUses.map((b) => ({ tool_use_id: b.id, type: 'tool_result', content: userPayload(t), is_error: false })) };
  }
  return { role: 'user', content: [{ type: 'text', text: `Here is the next file listing (turn ${t}):\n${userPayload(t)}` }] };
}

async function runSession(url, turns = nTurns) {
  const body = structuredClone(mainFirst.body);
  body.max_tokens = maxTokens;
  let messages = body.messages;
  const rows = [];
  for (let t = 1; t <= turns; t++) {
    let side = null;
    if (t >= 2) {  // the side request goes between the previous answer and this turn
      const sideBody = t % 2 === 0 ? { ...structuredClone(titleReq.body), max_tokens: maxTokens } : quotaBody;
      const s = await streamMessage(url, sideBody);
      side = { kind: t % 2 === 0 ? 'title' : 'quota', prompt: s.message.usage.input_tokens + (s.message.usage.cache_read_input_tokens || 0), ms: Math.round(s.total_ms) };
    }
    const r = await streamMessage(url, { ...body, messages: withMarkerOnLast(messages) });
    const u = r.message.usage;
    rows.push({
      turn: t,
      prompt_tokens: (u.input_tokens || 0) + (u.cache_read_input_tokens || 0) + (u.cache_creation_input_tokens || 0),
      input_tokens: u.input_tokens,
      cache_read_input_tokens: u.cache_read_input_tokens || 0,
      output_tokens: u.output_tokens,
      ttft_delta_ms: r.ttft_delta_ms === null ? null : Math.round(r.ttft_delta_ms),
      ttft_event_ms: r.ttft_event_ms === null ? null : Math.round(r.ttft_event_ms),
      total_ms: Math.round(r.total_ms),
      stop_reason: r.message.stop_reason,
      blocks: r.message.content.map((b) => b.type).join('+'),
      side,
    });
    const a = { role: 'assistant', content: r.message.content };
    messages = [...messages, a, nextUserMessage(a, t)];
    const row = rows[rows.length - 1];
    process.stderr.write(`  turn ${t}: prompt ${row.prompt_tokens}, cache_read ${row.cache_read_input_tokens}, ttft ${row.ttft_delta_ms} ms\n`);
  }
  return rows;
}

function table(name, rows) {
  const out = [`${name}`, '| turn | prompt tok | cache_read | prev prompt | TTFT delta ms | TTFT event ms | total ms | side req before |',
    '|---|---|---|---|---|---|---|---|'];
  rows.forEach((r, i) => {
    const prev = i > 0 ? rows[i - 1].prompt_tokens : '-';
    const side = r.side ? `${r.side.kind} (${r.side.prompt} tok, ${r.side.ms} ms)` : '-';
    out.push(`| ${r.turn} | ${r.prompt_tokens} | ${r.cache_read_input_tokens} | ${prev} | ${r.ttft_delta_ms} | ${r.ttft_event_ms} | ${r.total_ms} | ${side} |`);
  });
  return out.join('\n');
}

const modelPath = makeModel(opt.model);
const cpu = cpuInfo();
const result = { model: opt.model, model_path: modelPath, turns: nTurns, max_tokens: maxTokens, threads: Number(opt.threads), cpu, runs: {} };
const lines = [];
lines.push(`agent-replay: model ${opt.model}, ${nTurns} turns, max_tokens ${maxTokens}, threads ${opt.threads}`);
lines.push(`cpu: ${cpu.model} (${cpu.cpus} cpus; ${cpu.flags}); load at start ${cpu.load.map((x) => x.toFixed(2)).join(' ')}`);
lines.push('TTFT delta = first content_block_delta; TTFT event = first event after message_start');
for (const mode of opt.modes.split(',')) {
  if (mode === 'restart') {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cache-dir-'));
    const args = ['--threads', opt.threads, '--parallel', '1', '--cache-dir', cacheDir];
    process.stderr.write(`${mode}: parley serve ${args.join(' ')}, then a restart\n`);
    try {
      let server = await startServer(modelPath, args);
      let before;
      try { before = await runSession(server.url); } finally { await server.stop(); }
      server = await startServer(modelPath, args);
      try {
        const after = await runSession(server.url, 1);  // turn 1 of a new session after the restart
        const diskLine = server.log().split('\n').find((l) => /disk cache .*indexed/.test(l)) || '';
        result.runs[mode] = { args, server_line: diskLine.trim(), rows: before, after_restart: after };
        lines.push('', `server after restart: ${diskLine.trim()}`, table(`${mode} before the restart (${args.join(' ')})`, before),
          table('turn 1 of a new session after the restart', after));
      } finally {
        await server.stop();
      }
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
    continue;
  }
  const args = ['--threads', opt.threads, '--parallel', '1', ...(mode === 'nocache' ? ['--no-prefix-cache'] : [])];
  process.stderr.write(`${mode}: parley serve ${args.join(' ')}\n`);
  const server = await startServer(modelPath, args);
  try {
    const rows = await runSession(server.url);
    const serverLine = server.log().split('\n').find((l) => /prefix cache/.test(l)) || '';
    result.runs[mode] = { args, server_line: serverLine.trim(), rows };
    lines.push('', `server: ${serverLine.trim()}`, table(`${mode} (${args.join(' ')})`, rows));
  } finally {
    await server.stop();
  }
}

// The targets.
const summary = {};
for (const [mode, run] of Object.entries(result.runs)) {
  if (run.after_restart) {
    const a = run.after_restart[0];
    const t1 = run.rows[0];
    summary[mode] = { turn1_before_ms: t1.ttft_delta_ms, turn1_after_restart_ms: a.ttft_delta_ms, after_restart_cache_read: a.cache_read_input_tokens, after_restart_prompt: a.prompt_tokens };
    lines.push(`${mode}: turn 1 after the restart: cache_read ${a.cache_read_input_tokens} of ${a.prompt_tokens} prompt tokens, TTFT ${a.ttft_delta_ms} ms (before the restart, turn 1: ${t1.ttft_delta_ms} ms)`);
    continue;
  }
  const rows = run.rows;
  const t2 = rows[1]?.ttft_delta_ms;
  const tl = rows[rows.length - 1]?.ttft_delta_ms;
  const covered = rows.slice(1).every((r, i) => r.cache_read_input_tokens >= rows[i].prompt_tokens - 64);
  summary[mode] = { ttft_turn2_ms: t2, ttft_last_ms: tl, ratio_last_over_2: +(tl / t2).toFixed(2), cache_read_covers_previous_prompt: covered };
  lines.push(`${mode}: TTFT turn ${rows.length} / turn 2 = ${tl} / ${t2} ms = ${(tl / t2).toFixed(2)}x; cache_read >= previous prompt - 64 on every turn: ${covered}`);
}
result.summary = summary;
lines.push(`load at end ${cpuInfo().load.map((x) => x.toFixed(2)).join(' ')}`);
fs.writeFileSync(outPath, JSON.stringify(result, null, 2));
console.log(lines.join('\n'));
console.log(`json: ${outPath}`);
