// Constrained vs free decode speed on the real `parley serve`, same model, same prompt, one run:
// free text vs a forced tool call (tool_choice tool over Claude Code's tools, so every step
// is masked by the JSON-schema grammar). The random model writes long strings, so both modes
// run to max_tokens. Decode rate = generated tokens after the first / (wall time - the wall
// time of the same request with max_tokens 1), i.e. prefill and the first token excluded (the
// prompt is cached after the warm-up). (The server's inter-token latency histogram is no good
// for this: tokens handled in one burst by the API thread count as ~0 s apart.)
//
//   node bench/constrained-decode/constrained-decode.mjs [--model qwen|qwen3-0.6b] [--tokens 128]
//        [--runs 4] [--threads 2]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuInfo, makeModel, sharedDir, startServer, streamMessage } from '../lib/serve.mjs';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'qwen3-0.6b' },
    tokens: { type: 'string', default: '128' },
    runs: { type: 'string', default: '4' },
    threads: { type: 'string', default: '2' },
  },
});
const M = Number(opt.tokens);
const R = Number(opt.runs);

function claudeCodeTools() {
  for (const line of fs.readFileSync(path.join(sharedDir, 'docs/claude-code-captures.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const row = JSON.parse(line);
    if (row.method === 'POST' && row.body && Array.isArray(row.body.tools) && row.body.tools.length >= 20) {
      return row.body.tools.filter((t) => t.input_schema);
    }
  }
  throw new Error('no Claude Code tool list in the captures');
}

// Six of Claude Code's tools (all 24 make a 16k-token prompt: minutes of prefill on a real-sized
// model for nothing this measures).
const tools = claudeCodeTools().filter((t) => ['Agent', 'Bash', 'Edit', 'Read', 'WebFetch', 'Write'].includes(t.name));
const base = { model: 'local-model', temperature: 1, tools, messages: [{ role: 'user', content: 'Do the task.' }] };
// Bash and Edit: long free-form string arguments after a few masked steps.
const modes = {
  free: { tool_choice: { type: 'none' } },
  'forced Bash': { tool_choice: { type: 'tool', name: 'Bash', disable_parallel_tool_use: true } },
  'forced Edit': { tool_choice: { type: 'tool', name: 'Edit', disable_parallel_tool_use: true } },
};

const cpu = cpuInfo();
const server = await startServer(makeModel(opt.model), ['--threads', opt.threads, '--parallel', '1']);
const lines = [`constrained-decode: model ${opt.model}, ${M} tokens, ${R} runs a mode, 1 sequence at a time`,
  `cpu: ${cpu.model} (${cpu.cpus} cpus; ${cpu.flags}); load at start ${cpu.load.map((x) => x.toFixed(2)).join(' ')}`,
  `server: ${(server.log().split('\n').find((l) => /prefix cache/.test(l)) || '').trim()}`,
  '', '| mode | runs | generated | decode tokens/s | vs free |', '|---|---|---|---|---|'];
const rates = {};
try {
  for (const [name, extra] of Object.entries(modes)) {
    await streamMessage(server.url, { ...base, ...extra, max_tokens: 4, seed: 999 });  // warm: prompt cached, grammar compiled
    let tokens = 0;
    let ms = 0;
    for (let r = 0; r < R; r++) {
      const first = await streamMessage(server.url, { ...base, ...extra, max_tokens: 1, seed: r });
      const full = await streamMessage(server.url, { ...base, ...extra, max_tokens: M, seed: r });
      tokens += full.message.usage.output_tokens - 1;
      ms += full.total_ms - first.total_ms;
    }
    rates[name] = tokens / (ms / 1000);
    lines.push(`| ${name} | ${R} | ${tokens + R} | ${rates[name].toFixed(1)} | ${(rates[name] / rates.free).toFixed(3)} |`);
  }
} finally {
  await server.stop();
}
lines.push(`load at end ${cpuInfo().load.map((x) => x.toFixed(2)).join(' ')}`);
console.log(lines.join('\n'));
