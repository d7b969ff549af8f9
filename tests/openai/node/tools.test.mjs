// Tool calls and reasoning end to end, through the real HTTP server path of the openai
// plugin, with the official `openai` npm client. The tiny random-weight model never
// emits a tool call, so the plugin runs over tests/openai/scripted_engine.c instead: a
// fake engine that outputs, in pieces of `script_piece` bytes, the text of the last user
// message (directives in chat_template_kwargs; the convention is at the top of that file).
//
// Every case runs for piece sizes 1, 2, 3, 7 and whole, streamed and not, and checks:
// names and JSON-parsed arguments (Qwen3's JSON style and Qwen3-Coder's XML style, XML
// values typed by the tool's schema), content kept around calls, several calls (indexes
// 0, 1), finish_reason "tool_calls", no tag text leaking into content, look-alike tags
// passed through, tool_choice "none", the tool_call_parser setting, <think> blocks, and
// that a client disconnecting mid-stream cancels its request in the engine.
//
// Environment (tests/openai/CMakeLists.txt): STRIXCORE_SCRIPTED_ENGINE (the test
// program), STRIXCORE_OPENAI_PLUGIN (libstrixcore-openai.so), STRIXCORE_NODE_DIR.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { loadOpenAI, freePort, httpGet, metricValue } from './server.mjs';
import { openStream, waitFor } from './util.mjs';

const mod = loadOpenAI();
if (!mod) {
  console.log('SKIP: the openai npm package is not installed (STRIXCORE_NODE_DIR/node_modules); run the openai/node-setup test');
  process.exit(77);
}
const EXE = process.env.STRIXCORE_SCRIPTED_ENGINE;
const PLUGIN = process.env.STRIXCORE_OPENAI_PLUGIN;
if (!EXE || !PLUGIN) {
  console.log('SKIP: STRIXCORE_SCRIPTED_ENGINE / STRIXCORE_OPENAI_PLUGIN are not set (run through ctest -L openai)');
  process.exit(77);
}
const { OpenAI } = mod;
const API_KEY = 'sk-scripted';
const MODEL = 'scripted';
const PIECES = [1, 2, 3, 7, 0]; // 0: the whole output in one piece
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ harness

const live = new Set();
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
});

/** scripted_engine on a free port with these frontend settings; resolves once /health answers. */
async function startScripted(settings = {}) {
  let lastLog = '';
  for (let attempt = 1; attempt <= 4; attempt++) {
    const port = await freePort();
    const cfg = { host: '127.0.0.1', port, api_keys: [API_KEY], served_model_name: MODEL, ...settings };
    const proc = spawn(EXE, [PLUGIN, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let out = '';
    const append = (d) => { out += d.toString('utf8'); if (out.length > 4e6) out = out.slice(-2e6); };
    proc.stdout.on('data', append);
    proc.stderr.on('data', append);
    let exitCode = null;
    const exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => { live.delete(proc); exitCode = code !== null ? code : signal; resolve(exitCode); });
      proc.on('error', (e) => { append(`spawn error: ${e.message}\n`); live.delete(proc); exitCode = -1; resolve(-1); });
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15000;
    let healthy = false;
    while (Date.now() < deadline && exitCode === null) {
      try {
        if ((await httpGet(`${url}/health`, { timeoutMs: 1000 })).status === 200) {
          await sleep(50); // ours, not a squatter that took the port (ours would exit at once)
          healthy = exitCode === null;
          break;
        }
      } catch { /* not up yet */ }
      await sleep(20);
    }
    if (healthy) {
      const srv = {
        url, port, apiKey: API_KEY, proc, exited, log: () => out,
        client: new OpenAI({ baseURL: `${url}/v1`, apiKey: API_KEY, maxRetries: 0, timeout: 30000 }),
        async stop(timeoutMs = 15000) {
          if (exitCode !== null) return exitCode;
          try { proc.kill('SIGTERM'); } catch { /* gone */ }
          const t = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
        async metrics() {
          const r = await httpGet(`${url}/metrics`, { timeoutMs: 5000 });
          assert.equal(r.status, 200, `/metrics: ${r.body.slice(0, 200)}`);
          return r.body;
        },
      };
      return srv;
    }
    if (exitCode === null) { try { proc.kill('SIGKILL'); } catch { /* gone */ } }
    await exited;
    lastLog = out;
    if (!/cannot listen/.test(out)) throw new Error(`scripted_engine did not become healthy (exit ${exitCode}); log:\n${out}`);
  }
  throw new Error(`scripted_engine could not bind a port after 4 attempts; last log:\n${lastLog}`);
}

async function stopChecked(srv) {
  if (!srv) return;
  const code = await srv.stop();
  assert.equal(code, 0, `scripted_engine exit status after SIGTERM; log:\n${srv.log().slice(-4000)}`);
  assert.match(srv.log(), /scripted_engine: stopped/);
}

// ------------------------------------------------------------------ requests

const WEATHER = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] } } };
const CONFIGURE = { type: 'function', function: { name: 'configure',
  parameters: { type: 'object', properties: {
    count: { type: 'integer' }, ratio: { type: 'number' }, enabled: { type: 'boolean' }, options: { type: 'object' },
    tags: { type: 'array' }, note: { type: 'string' }, code: { type: 'string' } } } } };
const TOOLS = [WEATHER, CONFIGURE];

/** A chat request whose model output is `script`, sent `piece` bytes at a time. */
function body(script, piece, extra = {}) {
  const { kwargs, ...rest } = extra;
  return { model: MODEL, messages: [{ role: 'user', content: script }], tools: TOOLS,
    chat_template_kwargs: { script_piece: piece, script_delay_ms: 0, ...kwargs }, ...rest };
}

const jsonCall = (name, args) => `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;
const xmlCall = (name, params) => `<tool_call>\n<function=${name}>\n${
  Object.entries(params).map(([k, v]) => `<parameter=${k}>\n${v}\n</parameter>\n`).join('')}</function>\n</tool_call>`;

/** Per-choice view of a chat stream read with the openai client. */
async function readStream(client, req) {
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  const per = new Map();
  let usage = null, n = 0;
  for await (const c of stream) {
    n++;
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(usage, null, 'nothing after the usage chunk');
    if (c.usage) { usage = c.usage; assert.deepEqual(c.choices, []); continue; }
    assert.equal(c.choices.length, 1, 'one choice per chunk');
    const ch = c.choices[0];
    if (!per.has(ch.index)) per.set(ch.index, { role: false, content: '', reasoning: '', deltas: [], contentDeltas: [], finish: null, lp: 0 });
    const s = per.get(ch.index);
    assert.equal(s.finish, null, `choice ${ch.index}: nothing after its finish chunk`);
    if (ch.delta.role) { assert.equal(ch.delta.role, 'assistant'); s.role = true; }
    if (typeof ch.delta.content === 'string') { s.content += ch.delta.content; s.contentDeltas.push(ch.delta.content); }
    if (typeof ch.delta.reasoning === 'string') s.reasoning += ch.delta.reasoning;
    if (ch.delta.tool_calls) s.deltas.push(...ch.delta.tool_calls);
    if (ch.logprobs?.content) s.lp += ch.logprobs.content.length;
    if (ch.finish_reason) s.finish = ch.finish_reason;
  }
  assert.ok(usage, 'a usage chunk');
  return { per, usage, n };
}

/** Streamed tool-call deltas -> calls: one complete delta per call, indexes 0..n-1 in order. */
function streamedCalls(deltas, what) {
  const calls = [];
  for (const d of deltas) {
    assert.equal(d.index, calls.length, `${what}: tool_calls delta indexes in order, each once: ${JSON.stringify(deltas)}`);
    assert.equal(d.type, 'function', what);
    assert.match(d.id, /^call_[0-9a-f]{24}$/, what);
    assert.equal(typeof d.function?.name, 'string', what);
    assert.equal(typeof d.function?.arguments, 'string', what);
    calls.push({ id: d.id, type: d.type, function: { name: d.function.name, arguments: d.function.arguments } });
  }
  return calls;
}

function checkCalls(calls, exp, what) {
  assert.equal(calls.length, exp.length, `${what}: number of calls: ${JSON.stringify(calls)}`);
  calls.forEach((c, i) => {
    assert.equal(c.type, 'function', what);
    assert.match(c.id, /^call_[0-9a-f]{24}$/, what);
    assert.equal(c.function.name, exp[i].name, `${what}: call ${i} name`);
    let args;
    assert.doesNotThrow(() => { args = JSON.parse(c.function.arguments); }, `${what}: call ${i} arguments are JSON: ${c.function.arguments}`);
    assert.deepEqual(args, exp[i].args, `${what}: call ${i} arguments`);
  });
  assert.equal(new Set(calls.map((c) => c.id)).size, calls.length, `${what}: call ids are distinct`);
}

/** Runs one case both ways for every piece size; returns nothing, asserts everything. */
async function runCase(srv, c) {
  const what0 = c.name;
  const reqs = [];
  for (const piece of c.pieces ?? PIECES) {
    for (const eos of c.eos ?? ['last']) {
      const req = body(c.script, piece, { ...(c.extra ?? {}), kwargs: { ...(c.kwargs ?? {}), ...(eos === 'separate' ? { script_eos: 'separate' } : {}) } });
      const what = `${what0} [piece ${piece || 'whole'}${eos === 'separate' ? ', separate eos' : ''}]`;
      reqs.push(checkOne(srv, c, req, what));
    }
  }
  // Wait for every request (no stragglers into the next test), then fail on the first error.
  const failed = (await Promise.allSettled(reqs)).find((x) => x.status === 'rejected');
  if (failed) throw failed.reason;
}

async function checkOne(srv, c, req, what) {
  const exp = c.expect;
  const leaks = exp.leaks ?? false; // a case whose tags are meant to stay text
  // Non-streamed.
  const r = await srv.client.chat.completions.create(req);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1, what);
  const m = r.choices[0].message;
  assert.equal(r.choices[0].finish_reason, exp.finish, `${what}: finish_reason (non-stream); message ${JSON.stringify(m)}`);
  assert.equal(m.role, 'assistant');
  if (typeof exp.content === 'function') exp.content(m.content, what);
  else assert.equal(m.content, exp.content, `${what}: content (non-stream)`);
  if (exp.reasoning !== undefined) assert.equal(m.reasoning, exp.reasoning, `${what}: reasoning (non-stream)`);
  else assert.equal(m.reasoning, undefined, `${what}: no reasoning (non-stream)`);
  checkCalls(m.tool_calls ?? [], exp.calls, `${what} (non-stream)`);
  if (!exp.calls.length) assert.equal(m.tool_calls, undefined, `${what}: tool_calls absent when none were made`);
  if (!leaks) assert.doesNotMatch(m.content ?? '', /<\/?tool_call>|<function=|<\/?think>/, `${what}: tag text leaked into content`);
  // Streamed: the same split, arriving in pieces.
  const s = await readStream(srv.client, req);
  assert.deepEqual([...s.per.keys()], [0], what);
  const st = s.per.get(0);
  assert.ok(st.role, `${what}: role chunk`);
  assert.equal(st.finish, exp.finish, `${what}: finish_reason (stream)`);
  assert.equal(st.content, m.content ?? '', `${what}: streamed content = non-streamed content`);
  assert.equal(st.reasoning, exp.reasoning ?? '', `${what}: streamed reasoning`);
  checkCalls(streamedCalls(st.deltas, what), exp.calls, `${what} (stream)`);
  if (!leaks) {
    for (const d of st.contentDeltas) {
      assert.doesNotMatch(d, /<\/?tool_call>|<function=/, `${what}: tag text leaked into a content delta`);
    }
  }
  assert.equal(s.usage.completion_tokens, r.usage.completion_tokens, `${what}: usage`);
}

// ------------------------------------------------------------------ the cases

const CASES = [
  {
    name: 'JSON style: content before one call',
    script: `Let me check the weather.\n\n${jsonCall('get_weather', { city: 'Paris', days: 3 })}`,
    expect: { finish: 'tool_calls', content: 'Let me check the weather.', calls: [{ name: 'get_weather', args: { city: 'Paris', days: 3 } }] },
    eos: ['last', 'separate'],
  },
  {
    name: 'JSON style: two calls, no content',
    script: `${jsonCall('get_weather', { city: 'Paris' })}\n${jsonCall('get_weather', { city: 'Oslo', days: 2 })}`,
    expect: { finish: 'tool_calls', content: null, calls: [
      { name: 'get_weather', args: { city: 'Paris' } }, { name: 'get_weather', args: { city: 'Oslo', days: 2 } }] },
  },
  {
    name: 'JSON style: nested arguments, unicode, braces and tags inside strings',
    script: jsonCall('configure', { options: { deep: { list: [1, 2.5, null, true], s: '} </tool_call' } }, note: 'Zürich 東京 ✓ "quoted"' }),
    expect: { finish: 'tool_calls', content: null, calls: [{ name: 'configure',
      args: { options: { deep: { list: [1, 2.5, null, true], s: '} </tool_call' } }, note: 'Zürich 東京 ✓ "quoted"' } }] },
  },
  {
    name: 'XML style: every schema type',
    script: `I will configure it.\n${xmlCall('configure', {
      count: '42', ratio: '0.75', enabled: 'true', options: '{"depth": 2, "mode": "fast"}', tags: '["a", "b"]',
      note: 'line one\nline two', code: '123' })}`,
    expect: { finish: 'tool_calls', content: 'I will configure it.', calls: [{ name: 'configure', args: {
      count: 42, ratio: 0.75, enabled: true, options: { depth: 2, mode: 'fast' }, tags: ['a', 'b'], note: 'line one\nline two', code: '123' } }] },
    eos: ['last', 'separate'],
  },
  {
    name: 'XML style: two calls; False, negative and untyped-by-schema values',
    script: `${xmlCall('get_weather', { city: 'New York', days: '-5' })}\n${xmlCall('configure', { enabled: 'False', ratio: '3', unknown: '7' })}`,
    expect: { finish: 'tool_calls', content: null, calls: [
      { name: 'get_weather', args: { city: 'New York', days: -5 } },
      { name: 'configure', args: { enabled: false, ratio: 3, unknown: '7' } }] },
  },
  {
    name: 'auto parser: a JSON call and an XML call in one output',
    script: `Two things.\n${jsonCall('get_weather', { city: 'Rome' })}\n${xmlCall('get_weather', { city: 'Lima', days: '1' })}`,
    expect: { finish: 'tool_calls', content: 'Two things.', calls: [
      { name: 'get_weather', args: { city: 'Rome' } }, { name: 'get_weather', args: { city: 'Lima', days: 1 } }] },
  },
  {
    name: 'text after a call stays content',
    script: `Checking.\n${jsonCall('get_weather', { city: 'Bern' })}\nDone checking.`,
    expect: { finish: 'tool_calls', calls: [{ name: 'get_weather', args: { city: 'Bern' } }],
      content: (got, what) => assert.match(got ?? '', /^Checking\.\s+Done checking\.$/, `${what}: content ${JSON.stringify(got)}`) },
  },
  {
    name: 'look-alike tags pass through as content',
    script: 'if a < b and b<c, then <tool is text, <tool_call is text, <tool_calls> too, and so is </tool_call>. Ends with <tool',
    expect: { finish: 'stop', calls: [], leaks: true,
      content: 'if a < b and b<c, then <tool is text, <tool_call is text, <tool_calls> too, and so is </tool_call>. Ends with <tool' },
  },
  {
    name: 'a block that does not parse stays content verbatim',
    script: 'Try:\n<tool_call>\n{"name": "get_weather", "arguments": {"city": }\n</tool_call>',
    expect: { finish: 'stop', calls: [], leaks: true,
      content: 'Try:\n<tool_call>\n{"name": "get_weather", "arguments": {"city": }\n</tool_call>' },
  },
  {
    name: '<think> block before a call (a tag inside the reasoning is reasoning)',
    script: `<think>\nThe user wants weather. Maybe <tool_call> later.\n</think>\n\n${jsonCall('get_weather', { city: 'Rome' })}`,
    expect: { finish: 'tool_calls', content: null, reasoning: '\nThe user wants weather. Maybe <tool_call> later.\n',
      calls: [{ name: 'get_weather', args: { city: 'Rome' } }] },
  },
  {
    name: 'prompt ending in <think>: reasoning, then content and an XML call',
    script: `Need the weather.\n</think>\n\nSure.\n${xmlCall('get_weather', { city: 'Kyiv' })}`,
    kwargs: { prompt_ends_in_think: true },
    expect: { finish: 'tool_calls', content: 'Sure.', reasoning: 'Need the weather.\n',
      calls: [{ name: 'get_weather', args: { city: 'Kyiv' } }] },
  },
  {
    name: 'tool_choice "none": the raw text is the content',
    script: `Let me check.\n${jsonCall('get_weather', { city: 'Paris' })}`,
    extra: { tool_choice: 'none' },
    expect: { finish: 'stop', calls: [], leaks: true, content: `Let me check.\n${jsonCall('get_weather', { city: 'Paris' })}` },
  },
  {
    name: 'tool_choice "required" and a named function still parse',
    script: jsonCall('get_weather', { city: 'Cairo' }),
    extra: { tool_choice: 'required' },
    expect: { finish: 'tool_calls', content: null, calls: [{ name: 'get_weather', args: { city: 'Cairo' } }] },
  },
  {
    name: 'named tool_choice parses',
    script: xmlCall('get_weather', { city: 'Quito' }),
    extra: { tool_choice: { type: 'function', function: { name: 'get_weather' } } },
    expect: { finish: 'tool_calls', content: null, calls: [{ name: 'get_weather', args: { city: 'Quito' } }] },
  },
];

// ------------------------------------------------------------------ suites

describe('scripted engine, tool_call_parser auto (the default)', () => {
  let srv;
  before(async () => { srv = await startScripted(); });
  after(async () => { await stopChecked(srv); });

  for (const c of CASES) test(c.name, async () => { await runCase(srv, c); });

  test('without tools the text is content, calls or not', async () => {
    const script = `A.\n${jsonCall('get_weather', { city: 'Paris' })}`;
    for (const piece of PIECES) {
      const { tools, ...req } = body(script, piece);
      assert.ok(tools);
      const r = await srv.client.chat.completions.create(req);
      assert.equal(r.choices[0].message.content, script);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.equal(r.choices[0].message.tool_calls, undefined);
    }
  });

  test('the client\'s stream helper accumulates the calls (finalChatCompletion)', async () => {
    const script = `On it.\n${jsonCall('get_weather', { city: 'Paris', days: 1 })}\n${xmlCall('configure', { count: '2', tags: '[1]' })}`;
    for (const piece of PIECES) {
      const runner = srv.client.chat.completions.stream(body(script, piece));
      const done = [];
      runner.on('tool_calls.function.arguments.done', (e) => done.push(e.name));
      const fin = await runner.finalChatCompletion();
      const msg = fin.choices[0].message;
      assert.equal(msg.content, 'On it.');
      assert.equal(fin.choices[0].finish_reason, 'tool_calls');
      checkCalls(msg.tool_calls, [{ name: 'get_weather', args: { city: 'Paris', days: 1 } },
        { name: 'configure', args: { count: 2, tags: [1] } }], `stream helper, piece ${piece}`);
      assert.deepEqual(done, ['get_weather', 'configure']);
    }
  });

  test('XML without the template\'s newlines parses too', async () => {
    await runCase(srv, { name: 'inline XML', script: 'Go.<tool_call><function=get_weather><parameter=city>La Paz</parameter><parameter=days>2</parameter></function></tool_call>',
      expect: { finish: 'tool_calls', content: 'Go.', calls: [{ name: 'get_weather', args: { city: 'La Paz', days: 2 } }] } });
  });

  // Values a number parser would take but JSON cannot hold, or of the wrong type, stay strings.
  test('XML number values "nan" / "inf" stay strings and the call is kept', async () => {
    for (const v of ['nan', 'inf', '-Infinity']) {
      const script = xmlCall('configure', { ratio: v, count: '1' });
      const r = await srv.client.chat.completions.create(body(script, 0));
      assert.equal(r.choices[0].finish_reason, 'tool_calls', `ratio=${v}: ${JSON.stringify(r.choices[0].message)}`);
      checkCalls(r.choices[0].message.tool_calls ?? [], [{ name: 'configure', args: { ratio: v, count: 1 } }], `ratio=${v}`);
    }
  });

  test('XML values that are not of the declared type stay strings', async () => {
    const script = xmlCall('configure', { count: '3.5', ratio: '0x10' });
    const r = await srv.client.chat.completions.create(body(script, 0));
    checkCalls(r.choices[0].message.tool_calls ?? [], [{ name: 'configure', args: { count: '3.5', ratio: '0x10' } }], 'mistyped values');
  });

  test('max_tokens cutting a block: the unfinished block is content, finish "length"', async () => {
    const script = `Let me see.\n${jsonCall('get_weather', { city: 'Paris' })}`;
    const cut = script.indexOf('"city"'); // inside the block
    for (const piece of [1, 2, 3, 7]) {
      const maxTokens = Math.ceil(cut / piece);
      const emitted = script.slice(0, maxTokens * piece);
      const req = body(script, piece, { max_tokens: maxTokens });
      const r = await srv.client.chat.completions.create(req);
      assert.equal(r.choices[0].finish_reason, 'length', `piece ${piece}`);
      assert.equal(r.choices[0].message.content, emitted, `piece ${piece}`);
      assert.equal(r.choices[0].message.tool_calls, undefined);
      assert.equal(r.usage.completion_tokens, maxTokens);
      const s = await readStream(srv.client, req);
      const st = s.per.get(0);
      assert.equal(st.finish, 'length');
      assert.equal(st.content, emitted);
      assert.deepEqual(st.deltas, []);
    }
  });

  test('n=2: each choice has its own calls, indexes from 0', async () => {
    const script = `Sure.\n${jsonCall('get_weather', { city: 'Paris' })}\n${xmlCall('get_weather', { city: 'Oslo' })}`;
    const exp = [{ name: 'get_weather', args: { city: 'Paris' } }, { name: 'get_weather', args: { city: 'Oslo' } }];
    for (const piece of [1, 0]) {
      const req = body(script, piece, { n: 2 });
      const r = await srv.client.chat.completions.create(req);
      assert.equal(r.choices.length, 2);
      for (const ch of r.choices) {
        assert.equal(ch.finish_reason, 'tool_calls');
        assert.equal(ch.message.content, 'Sure.');
        checkCalls(ch.message.tool_calls, exp, `n=2 choice ${ch.index}`);
      }
      const s = await readStream(srv.client, req);
      assert.deepEqual([...s.per.keys()].sort(), [0, 1]);
      for (const [i, st] of s.per) {
        assert.equal(st.finish, 'tool_calls');
        assert.equal(st.content, 'Sure.');
        checkCalls(streamedCalls(st.deltas, `n=2 stream choice ${i}`), exp, `n=2 stream choice ${i}`);
      }
    }
  });

  test('logprobs with a call: one entry per token, streamed or not', async () => {
    const script = `Ok.\n${jsonCall('get_weather', { city: 'Paris' })}`;
    for (const piece of [1, 3, 0]) {
      const req = body(script, piece, { logprobs: true, top_logprobs: 2 });
      const r = await srv.client.chat.completions.create(req);
      assert.equal(r.choices[0].logprobs.content.length, r.usage.completion_tokens, `piece ${piece}`);
      const s = await readStream(srv.client, req);
      assert.equal(s.per.get(0).lp, r.usage.completion_tokens, `piece ${piece}: streamed logprob entries`);
    }
  });

  test('completions: the prompt after <|script|> comes back in pieces, tags untouched', async () => {
    const text = `x ${jsonCall('get_weather', { city: 'Paris' })} y`;
    for (const piece of PIECES) {
      const prompt = `<|piece=${piece}|><|delay_ms=0|><|script|>${text}`;
      const r = await srv.client.completions.create({ model: MODEL, prompt, max_tokens: 4096 });
      assert.equal(r.choices[0].text, text);
      assert.equal(r.choices[0].finish_reason, 'stop');
      const st = await srv.client.completions.create({ model: MODEL, prompt, max_tokens: 4096, stream: true });
      let got = '', fin = null;
      for await (const c of st) { got += c.choices[0]?.text ?? ''; fin = c.choices[0]?.finish_reason ?? fin; }
      assert.equal(got, text);
      assert.equal(fin, 'stop');
    }
  });

  test('a client that disconnects mid-stream: the engine sees the cancel at once', async () => {
    const abortsOf = async () => metricValue(await srv.metrics(), 'vllm:request_success_total', 'finished_reason="abort"');
    const running = async () => metricValue(await srv.metrics(), 'vllm:num_requests_running');
    // Two shapes: streaming content, and inside a <tool_call> block (nothing sent yet).
    const scripts = [
      'word '.repeat(4000),
      `Calling.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "${'x'.repeat(20000)}"}}\n</tool_call>`,
    ];
    for (const [k, script] of scripts.entries()) {
      const a0 = await abortsOf();
      const cancels0 = (srv.log().match(/scripted_engine: cancel /g) || []).length;
      const s = await openStream(srv, '/v1/chat/completions', body(script, 1, { stream: true, kwargs: { script_delay_ms: 1 } }));
      assert.equal(s.res.statusCode, 200);
      await s.waitFrames(k === 0 ? 5 : 2); // role chunk (+ "Calling." for the block)
      if (k === 1) await sleep(100); // well inside the block by now
      const t0 = Date.now();
      s.socket.destroy();
      const ok = await waitFor(async () => (await running()) === 0 && (await abortsOf()) === a0 + 1, { timeoutMs: 5000, intervalMs: 10 });
      assert.ok(ok, `case ${k}: cancelled and aborted; log:\n${srv.log().slice(-2000)}`);
      assert.ok(Date.now() - t0 < 3000, `case ${k}: the cancel took ${Date.now() - t0} ms (the script would run for ${script.length} ms)`);
      assert.equal((srv.log().match(/scripted_engine: cancel /g) || []).length, cancels0 + 1, `case ${k}: one cancel in the engine`);
    }
    // A non-streamed request whose client gives up is cancelled too.
    const a0 = await abortsOf();
    const gen0 = metricValue(await srv.metrics(), 'vllm:generation_tokens_total');
    const ac = new AbortController();
    const pending = fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', signal: ac.signal,
      headers: { Authorization: `Bearer ${srv.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body(scripts[1], 1, { kwargs: { script_delay_ms: 1 } })) });
    assert.ok(await waitFor(async () => metricValue(await srv.metrics(), 'vllm:generation_tokens_total') > gen0 + 20,
      { timeoutMs: 5000, intervalMs: 10 }), 'the non-streamed request is generating');
    ac.abort();
    await pending.catch(() => {});
    assert.ok(await waitFor(async () => (await running()) === 0 && (await abortsOf()) === a0 + 1, { timeoutMs: 5000, intervalMs: 10 }),
      `non-stream: cancelled and aborted; log:\n${srv.log().slice(-2000)}`);
  });
});

describe('scripted engine, tool_call_parser hermes', () => {
  let srv;
  before(async () => { srv = await startScripted({ tool_call_parser: 'hermes' }); });
  after(async () => { await stopChecked(srv); });

  test('JSON calls parse', async () => { await runCase(srv, CASES[0]); await runCase(srv, CASES[1]); });

  test('an XML block is not a hermes call: it stays content', async () => {
    const script = `Hi.\n${xmlCall('get_weather', { city: 'Paris' })}`;
    await runCase(srv, { name: 'hermes, XML block', script,
      expect: { finish: 'stop', calls: [], leaks: true, content: script } });
  });
});

describe('scripted engine, tool_call_parser qwen3_coder', () => {
  let srv;
  before(async () => { srv = await startScripted({ tool_call_parser: 'qwen3_coder' }); });
  after(async () => { await stopChecked(srv); });

  test('XML calls parse', async () => { await runCase(srv, CASES[3]); await runCase(srv, CASES[4]); });

  test('a JSON block is not a qwen3_coder call: it stays content', async () => {
    const script = `Hi.\n${jsonCall('get_weather', { city: 'Paris' })}`;
    await runCase(srv, { name: 'qwen3_coder, JSON block', script,
      expect: { finish: 'stop', calls: [], leaks: true, content: script } });
  });

  test('SIGTERM with a stream inside a block: error frame, [DONE], exit 0, the request aborted', async () => {
    const script = `<tool_call>\n<function=get_weather>\n<parameter=city>\n${'y'.repeat(20000)}\n</parameter>\n</function>\n</tool_call>`;
    const s = await openStream(srv, '/v1/chat/completions', body(script, 1, { stream: true, kwargs: { script_delay_ms: 1 } }));
    assert.equal(s.res.statusCode, 200);
    await s.waitFrames(1);
    await sleep(50);
    const code = await srv.stop();
    const frames = await s.waitEnd(5000);
    assert.equal(code, 0, `exit status; log:\n${srv.log().slice(-3000)}`);
    assert.equal(frames.at(-1), '[DONE]');
    assert.ok(frames.slice(0, -1).some((f) => JSON.parse(f).error), `an error frame: ${frames.join('\n')}`);
    assert.doesNotMatch(frames.join('\n'), /tool_call>|<function=/, 'no half block leaks at shutdown');
    assert.match(srv.log(), /scripted_engine: cancel /);
    assert.match(srv.log(), /scripted_engine: stopped \(\d+ requests, \d+ cancelled\)/);
  });
});
