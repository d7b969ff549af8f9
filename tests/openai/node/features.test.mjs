// End-to-end checks of the frontend features on a real `strixcore serve` (the tiny
// random-weight Qwen3 fixture), with node:test and global fetch:
//   n > 1 and lists of prompts (indices, usage, seed + i, interleaved streams, cancel
//   on disconnect), logprobs (chat and completions, streamed and not),
//   usage.prompt_tokens_details.cached_tokens, tool-call settings, CORS (vLLM's
//   Starlette rules and llama-server's), --compat llama's /props, /slots, auth and
//   errors, and the new /metrics names.
// The weights are random, so the checks are about shapes and invariants (greedy
// choices agree, a seed reproduces, the greedy token is top_logprobs[0]), not text.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue } from './server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MODEL_PATH = process.env.STRIXCORE_TEST_MODEL;

async function waitFor(fn, { timeoutMs = 10000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let v;
  for (;;) {
    v = await fn();
    if (v || Date.now() >= deadline) return v;
    await sleep(intervalMs);
  }
}

function auth(srv, extra = {}) {
  return { Authorization: `Bearer ${srv.apiKey}`, 'Content-Type': 'application/json', ...extra };
}

async function post(srv, path, body, { headers } = {}) {
  const r = await fetch(`${srv.url}${path}`, { method: 'POST', headers: headers ?? auth(srv), body: JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

async function ok(srv, path, body) {
  const r = await post(srv, path, body);
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json;
}

/** POST with stream: true; returns the parsed data: frames (objects) and whether [DONE] came last. */
async function stream(srv, path, body) {
  const r = await fetch(`${srv.url}${path}`, { method: 'POST', headers: auth(srv), body: JSON.stringify({ ...body, stream: true }) });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  assert.match(r.headers.get('content-type') || '', /text\/event-stream/);
  const text = await r.text();
  const frames = text.split('\n\n').filter((f) => f.length);
  const out = [];
  let done = false;
  for (const f of frames) {
    assert.ok(f.startsWith('data: '), `SSE frame: ${JSON.stringify(f)}`);
    assert.equal(done, false, 'nothing may follow [DONE]');
    const d = f.slice(6);
    if (d === '[DONE]') { done = true; continue; }
    out.push(JSON.parse(d));
  }
  assert.ok(done, 'the stream ends with [DONE]');
  return out;
}

const chatBody = (extra = {}) => ({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 6, temperature: 0, ...extra });
const LONG_TEXT = 'The quick brown fox jumps over the lazy dog while the band plays on and on. '.repeat(3);

/** Per-choice view of a chat stream: role seen, content, logprob entries, finish, tool-call deltas. */
function collectChat(chunks) {
  const per = new Map();
  let usage = null;
  let lastContentIdx = -1;
  chunks.forEach((c, k) => {
    assert.equal(c.object, 'chat.completion.chunk');
    if (c.usage) { usage = c.usage; assert.deepEqual(c.choices, []); return; }
    assert.equal(c.choices.length, 1, 'one choice per chunk');
    const ch = c.choices[0];
    if (!per.has(ch.index)) per.set(ch.index, { role: false, content: '', lp: [], finish: null, calls: [], firstAt: k });
    const s = per.get(ch.index);
    assert.equal(s.finish, null, `choice ${ch.index}: nothing after its finish chunk`);
    if (ch.delta.role) { assert.equal(ch.delta.role, 'assistant'); s.role = true; }
    if (typeof ch.delta.content === 'string') s.content += ch.delta.content;
    if (ch.delta.tool_calls) s.calls.push(...ch.delta.tool_calls);
    if (ch.logprobs) s.lp.push(...ch.logprobs.content);
    if (ch.finish_reason) s.finish = ch.finish_reason;
    lastContentIdx = k;
  });
  return { per, usage, lastContentIdx };
}

function assertLogprobEntry(e, k) {
  assert.equal(typeof e.token, 'string');
  assert.ok(Number.isFinite(e.logprob) && e.logprob <= 0, `logprob ${e.logprob}`);
  assert.ok(Array.isArray(e.bytes) && e.bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255));
  assert.ok(Array.isArray(e.top_logprobs));
  assert.equal(e.top_logprobs.length, k);
  for (let i = 0; i < e.top_logprobs.length; i++) {
    const t = e.top_logprobs[i];
    assert.equal(typeof t.token, 'string');
    assert.ok(Number.isFinite(t.logprob) && t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes));
    if (i) assert.ok(t.logprob <= e.top_logprobs[i - 1].logprob + 1e-6, 'most likely first');
  }
}

const near = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-3, `${what}: ${a} vs ${b}`);

// ------------------------------------------------------------------ vLLM mode

describe('vLLM mode', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--enable-prompt-tokens-details', '--max-model-len', '4096', '--max-num-seqs', '4'] });
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0, `exit status; log:\n${srv.log().slice(-3000)}`);
  });

  test('n=3 at temperature 0: three identical choices, usage sums completions once per prompt', async () => {
    const one = await ok(srv, '/v1/chat/completions', chatBody());
    const three = await ok(srv, '/v1/chat/completions', chatBody({ n: 3 }));
    assert.equal(three.choices.length, 3);
    three.choices.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.equal(c.message.role, 'assistant');
      assert.equal(c.message.content, one.choices[0].message.content);
      assert.equal(c.finish_reason, one.choices[0].finish_reason);
      assert.equal(c.logprobs, null, 'logprobs null when not asked');
    });
    assert.equal(three.usage.prompt_tokens, one.usage.prompt_tokens, 'the prompt counts once');
    assert.equal(three.usage.completion_tokens, 3 * one.usage.completion_tokens);
    assert.equal(three.usage.total_tokens, three.usage.prompt_tokens + three.usage.completion_tokens);
  });

  test('n=2 with a seed at temperature 1: reproducible, and choice i samples with seed + i', async () => {
    const body = chatBody({ n: 2, temperature: 1, seed: 1234, max_tokens: 12 });
    const a = await ok(srv, '/v1/chat/completions', body);
    const b = await ok(srv, '/v1/chat/completions', body);
    assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
    const s0 = await ok(srv, '/v1/chat/completions', chatBody({ temperature: 1, seed: 1234, max_tokens: 12 }));
    const s1 = await ok(srv, '/v1/chat/completions', chatBody({ temperature: 1, seed: 1235, max_tokens: 12 }));
    assert.equal(a.choices[0].message.content, s0.choices[0].message.content);
    assert.equal(a.choices[1].message.content, s1.choices[0].message.content);
  });

  test('n above the limit is a 400 naming n', async () => {
    const r = await post(srv, '/v1/chat/completions', chatBody({ n: 100000 }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'n');
  });

  test('completions with a list of prompts and n=2: index = prompt_idx * n + i', async () => {
    const prompts = ['hello there', 'a much longer second prompt'];
    const singles = [];
    for (const p of prompts) singles.push(await ok(srv, '/v1/completions', { model: 'tiny', prompt: p, max_tokens: 5, temperature: 0 }));
    const r = await ok(srv, '/v1/completions', { model: 'tiny', prompt: prompts, n: 2, max_tokens: 5, temperature: 0 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.choices.length, 4);
    r.choices.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.equal(c.text, singles[Math.floor(i / 2)].choices[0].text, `choice ${i}`);
    });
    assert.equal(r.usage.prompt_tokens, singles[0].usage.prompt_tokens + singles[1].usage.prompt_tokens);
    assert.equal(r.usage.completion_tokens, 2 * (singles[0].usage.completion_tokens + singles[1].usage.completion_tokens));
  });

  test('chat stream with n=2: role chunks first, interleaved deltas, finish per choice, usage and [DONE] last', async () => {
    const full = await ok(srv, '/v1/chat/completions', chatBody({ max_tokens: 8 }));
    const chunks = await stream(srv, '/v1/chat/completions', chatBody({ n: 2, max_tokens: 8, stream_options: { include_usage: true } }));
    const { per, usage } = collectChat(chunks);
    assert.deepEqual([...per.keys()].sort(), [0, 1]);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.equal(chunks[1].choices[0].delta.role, 'assistant');
    assert.deepEqual([chunks[0].choices[0].index, chunks[1].choices[0].index], [0, 1]);
    for (const [i, s] of per) {
      assert.ok(s.role, `choice ${i} role chunk`);
      assert.equal(s.content, full.choices[0].message.content, `choice ${i} text`);
      assert.equal(s.finish, full.choices[0].finish_reason);
    }
    assert.ok(usage, 'usage chunk');
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.equal(usage.completion_tokens, 2 * full.usage.completion_tokens);
    assert.equal(usage.prompt_tokens, full.usage.prompt_tokens);
    assert.equal(typeof usage.prompt_tokens_details?.cached_tokens, 'number');
  });

  test('completions stream with two prompts and n=2 matches the non-streamed texts', async () => {
    const body = { model: 'tiny', prompt: ['one', 'two two'], n: 2, max_tokens: 6, temperature: 0 };
    const full = await ok(srv, '/v1/completions', body);
    const chunks = await stream(srv, '/v1/completions', { ...body, stream_options: { include_usage: true } });
    const text = new Map(), fin = new Map();
    let usage = null;
    for (const c of chunks) {
      assert.equal(c.object, 'text_completion');
      if (c.usage) { usage = c.usage; assert.deepEqual(c.choices, []); continue; }
      const ch = c.choices[0];
      assert.equal(fin.get(ch.index), undefined, 'nothing after the finish');
      text.set(ch.index, (text.get(ch.index) || '') + ch.text);
      if (ch.finish_reason) fin.set(ch.index, ch.finish_reason);
    }
    for (const c of full.choices) {
      assert.equal(text.get(c.index), c.text, `choice ${c.index}`);
      assert.equal(fin.get(c.index), c.finish_reason);
    }
    assert.deepEqual(usage.completion_tokens, full.usage.completion_tokens);
  });

  test('chat logprobs: OpenAI shape, greedy token is top_logprobs[0], streamed entries match', async () => {
    const k = 3;
    const r = await ok(srv, '/v1/chat/completions', chatBody({ logprobs: true, top_logprobs: k, max_tokens: 8 }));
    const lp = r.choices[0].logprobs;
    assert.ok(lp && Array.isArray(lp.content));
    assert.equal(lp.content.length, r.usage.completion_tokens, 'one entry per generated token');
    for (const e of lp.content) {
      assertLogprobEntry(e, k);
      assert.equal(e.token, e.top_logprobs[0].token, 'greedy picks the most likely');
      near(e.logprob, e.top_logprobs[0].logprob, 'greedy logprob');
      // bytes are the token's own bytes; its text is them, decoded (lossily when partial)
      if (!e.token.includes('\ufffd')) assert.deepEqual(e.bytes, [...Buffer.from(e.token, 'utf8')]);
    }
    // logprobs without top_logprobs: the sampled token only.
    const r0 = await ok(srv, '/v1/chat/completions', chatBody({ logprobs: true, max_tokens: 4 }));
    for (const e of r0.choices[0].logprobs.content) assertLogprobEntry(e, 0);
    // Streamed: every token's entry arrives exactly once, on some chunk of its choice.
    const chunks = await stream(srv, '/v1/chat/completions', chatBody({ logprobs: true, top_logprobs: k, max_tokens: 8, n: 2 }));
    const { per } = collectChat(chunks);
    for (const [, s] of per) {
      assert.equal(s.lp.length, lp.content.length);
      s.lp.forEach((e, i) => {
        assertLogprobEntry(e, k);
        assert.equal(e.token, lp.content[i].token);
        near(e.logprob, lp.content[i].logprob, `entry ${i}`);
      });
    }
  });

  test('top_logprobs above 20 is a 400 naming the field', async () => {
    const r = await post(srv, '/v1/chat/completions', chatBody({ logprobs: true, top_logprobs: 21 }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'top_logprobs');
    const c = await post(srv, '/v1/completions', { model: 'tiny', prompt: 'a', logprobs: 21 });
    assert.equal(c.status, 400);
    assert.equal(c.json.error.param, 'logprobs');
  });

  test('completions logprobs: tokens, token_logprobs, top_logprobs dicts, text_offset', async () => {
    const k = 2;
    const r = await ok(srv, '/v1/completions', { model: 'tiny', prompt: 'hello', max_tokens: 6, temperature: 0, logprobs: k });
    const lp = r.choices[0].logprobs;
    const n = lp.tokens.length;
    assert.equal(n, r.usage.completion_tokens);
    assert.equal(lp.token_logprobs.length, n);
    assert.equal(lp.top_logprobs.length, n);
    assert.equal(lp.text_offset.length, n);
    for (let i = 0; i < n; i++) {
      const d = lp.top_logprobs[i];
      const keys = Object.keys(d);
      assert.ok(keys.length >= 1 && keys.length <= k + 1, `${keys.length} alternatives`);
      assert.ok(lp.token_logprobs[i] <= 0);
      near(d[lp.tokens[i]], lp.token_logprobs[i], 'sampled token in its dict');
      near(Math.max(...Object.values(d)), lp.token_logprobs[i], 'greedy is the most likely');
      if (i === 0) assert.equal(lp.text_offset[0], 0);
      else assert.equal(lp.text_offset[i], lp.text_offset[i - 1] + [...lp.tokens[i - 1]].length);
    }
    // Streamed, the offsets keep counting across chunks.
    const chunks = await stream(srv, '/v1/completions', { model: 'tiny', prompt: 'hello', max_tokens: 6, temperature: 0, logprobs: k });
    const toks = [], offs = [];
    for (const c of chunks) if (c.choices[0]?.logprobs) { toks.push(...c.choices[0].logprobs.tokens); offs.push(...c.choices[0].logprobs.text_offset); }
    assert.deepEqual(toks, lp.tokens);
    assert.deepEqual(offs, lp.text_offset);
    const none = await ok(srv, '/v1/completions', { model: 'tiny', prompt: 'hello', max_tokens: 2 });
    assert.equal(none.choices[0].logprobs, null);
  });

  test('prompt_tokens_details.cached_tokens: present, and a repeated long prompt hits the prefix cache', async () => {
    const body = chatBody({ messages: [{ role: 'user', content: LONG_TEXT }], max_tokens: 2 });
    const a = await ok(srv, '/v1/chat/completions', body);
    assert.equal(typeof a.usage.prompt_tokens_details.cached_tokens, 'number');
    const b = await ok(srv, '/v1/chat/completions', body);
    assert.ok(b.usage.prompt_tokens_details.cached_tokens > 0, JSON.stringify(b.usage));
    assert.ok(b.usage.prompt_tokens_details.cached_tokens <= b.usage.prompt_tokens);
    const m = await srv.metrics();
    assert.ok(metricValue(m, 'vllm:prefix_cache_hits_total') > 0);
    assert.ok(metricValue(m, 'vllm:prefix_cache_queries_total') >= metricValue(m, 'vllm:prefix_cache_hits_total'));
  });

  test('metrics: new counters and gauges carry model_name', async () => {
    const m = await srv.metrics();
    for (const name of ['vllm:num_preemptions_total', 'vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total',
      'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'vllm:num_requests_running', 'vllm:prompt_tokens_total']) {
      const v = metricValue(m, name, 'model_name="tiny"');
      assert.ok(Number.isFinite(v), `${name} with model_name="tiny"`);
    }
    const kv = metricValue(m, 'vllm:kv_cache_usage_perc');
    assert.ok(kv >= 0 && kv <= 1);
    assert.equal(metricValue(m, 'vllm:gpu_cache_usage_perc'), kv);
    assert.ok(Number.isNaN(metricValue(m, 'llamacpp:prompt_tokens_total')), 'llamacpp: names only in llama mode');
  });

  test('tools on (auto): streamed and non-streamed split text and calls the same way', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const body = chatBody({ tools, max_tokens: 12 });
    const full = await ok(srv, '/v1/chat/completions', body);
    const msg = full.choices[0].message;
    const chunks = await stream(srv, '/v1/chat/completions', body);
    const s = collectChat(chunks).per.get(0);
    assert.equal(s.content, msg.content ?? '');
    assert.equal(s.calls.length, (msg.tool_calls || []).length);
    assert.equal(s.finish, full.choices[0].finish_reason);
  });

  test('CORS defaults: preflight answered without a key, "*" on responses', async () => {
    const r = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://app.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
    });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'OK');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('access-control-allow-methods'), /POST/);
    assert.equal(r.headers.get('access-control-allow-headers'), 'authorization,content-type');
    assert.equal(r.headers.get('access-control-max-age'), '600');
    const g = await fetch(`${srv.url}/v1/models`, { headers: { ...auth(srv), Origin: 'http://app.test' } });
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('access-control-allow-origin'), '*');
    await g.text();
    const s = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: { ...auth(srv), Origin: 'http://app.test' },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: 2 })) });
    assert.equal(s.headers.get('access-control-allow-origin'), '*', 'streams carry it too');
    await s.text();
    const noOrigin = await fetch(`${srv.url}/v1/models`, { headers: auth(srv) });
    assert.equal(noOrigin.headers.get('access-control-allow-origin'), null);
    await noOrigin.text();
  });

  test('a client that disconnects cancels every choice', async () => {
    const before = metricValue(await srv.metrics(), 'vllm:request_success_total', 'finished_reason="abort"');
    const ac = new AbortController();
    const r = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: auth(srv), signal: ac.signal,
      body: JSON.stringify(chatBody({ n: 3, max_tokens: 3900, ignore_eos: true, stream: true })) });
    assert.equal(r.status, 200);
    const reader = r.body.getReader();
    let seen = '';
    while (!/"content":"[^"]/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += Buffer.from(value).toString('utf8');
    }
    ac.abort();
    await reader.cancel().catch(() => {});
    const okAll = await waitFor(async () => {
      const m = await srv.metrics();
      return metricValue(m, 'vllm:num_requests_running') === 0 && metricValue(m, 'vllm:num_requests_waiting') === 0 &&
        metricValue(m, 'vllm:request_success_total', 'finished_reason="abort"') - before === 3;
    }, { timeoutMs: 10000 });
    assert.ok(okAll, `three aborts and nothing running; metrics:\n${(await srv.metrics()).split('\n').filter((l) => /running|waiting|abort/.test(l)).join('\n')}`);
  });
});

// ------------------------------------------------------- settings: tools, CORS

describe('settings: tool choice and a CORS origin list', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--no-enable-auto-tool-choice', '--tool-call-parser', 'hermes',
      '--allowed-origins', '["http://ok.test"]', '--allow-credentials', '--allowed-methods', '["GET","POST"]'] });
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0, `exit status; log:\n${srv.log().slice(-3000)}`);
  });

  test('"auto" tool choice needs enable_auto_tool_choice; "none" still works', async () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }];
    const r = await post(srv, '/v1/chat/completions', chatBody({ tools }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.message, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set');
    const none = await post(srv, '/v1/chat/completions', chatBody({ tools, tool_choice: 'none' }));
    assert.equal(none.status, 200, none.text);
  });

  test('preflight from a listed origin: echoed, with credentials; others: 400', async () => {
    const pre = (origin, method = 'POST') => fetch(`${srv.url}/v1/chat/completions`, {
      method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': method } });
    const a = await pre('http://ok.test');
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('access-control-allow-origin'), 'http://ok.test');
    assert.equal(a.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(a.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.match(a.headers.get('vary') || '', /Origin/);
    await a.text();
    const b = await pre('http://evil.test');
    assert.equal(b.status, 400);
    assert.equal(await b.text(), 'Disallowed CORS origin');
    assert.equal(b.headers.get('access-control-allow-origin'), null);
    const c = await pre('http://ok.test', 'DELETE');
    assert.equal(c.status, 400);
    assert.equal(await c.text(), 'Disallowed CORS method');
  });

  test('simple requests: a listed origin is echoed, another gets no Allow-Origin', async () => {
    const get = (origin) => fetch(`${srv.url}/v1/models`, { headers: { ...auth(srv), Origin: origin } });
    const a = await get('http://ok.test');
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('access-control-allow-origin'), 'http://ok.test');
    assert.equal(a.headers.get('access-control-allow-credentials'), 'true');
    await a.text();
    const b = await get('http://evil.test');
    assert.equal(b.status, 200, 'CORS is the browser\'s to enforce');
    assert.equal(b.headers.get('access-control-allow-origin'), null);
    await b.text();
  });
});

// --------------------------------------------------------------- llama mode

describe('--compat llama', () => {
  let srv;
  const SLOTS = 2;
  const key = (s) => ({ 'X-Api-Key': s.apiKey, 'Content-Type': 'application/json' });
  before(async () => {
    srv = await startServer({ args: ['--compat', 'llama', '--max-num-seqs', String(SLOTS), '--max-model-len', '4096'] });
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0, `exit status; log:\n${srv.log().slice(-3000)}`);
  });

  test('public endpoints, llama 401 body, X-Api-Key', async () => {
    const h = await fetch(`${srv.url}/health`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });
    for (const p of ['/v1/models', '/models', '/v1/health']) {
      const r = await fetch(`${srv.url}${p}`);
      assert.equal(r.status, 200, p);
      await r.text();
    }
    const u = await fetch(`${srv.url}/props`);
    assert.equal(u.status, 401);
    assert.deepEqual(await u.json(), { error: { code: 401, message: 'Invalid API Key', type: 'authentication_error' } });
    const k = await post(srv, '/v1/chat/completions', chatBody({ max_tokens: 2 }), { headers: key(srv) });
    assert.equal(k.status, 200, k.text);
  });

  test('GET /props', async () => {
    const r = await fetch(`${srv.url}/props`, { headers: key(srv) });
    assert.equal(r.status, 200);
    const p = await r.json();
    assert.equal(p.total_slots, SLOTS);
    assert.equal(p.default_generation_settings.n_ctx, 4096);
    for (const f of ['temperature', 'top_p', 'top_k', 'min_p']) assert.equal(typeof p.default_generation_settings.params[f], 'number', f);
    assert.equal(p.model_path, MODEL_PATH);
    assert.equal(typeof p.chat_template, 'string');
    assert.deepEqual(p.modalities.vision, false);
    assert.equal(typeof p.build_info, 'string');
  });

  test('GET /slots, and fail_on_no_slot=1 is 503 only when every slot is busy', async () => {
    const r = await fetch(`${srv.url}/slots`, { headers: key(srv) });
    const slots = await r.json();
    assert.equal(slots.length, SLOTS);
    slots.forEach((s, i) => {
      assert.equal(s.id, i);
      assert.equal(s.n_ctx, 4096);
      assert.equal(s.is_processing, false);
    });
    const idle = await fetch(`${srv.url}/slots?fail_on_no_slot=1`, { headers: key(srv) });
    assert.equal(idle.status, 200);
    await idle.text();
    // Fill every slot with a long stream, then ask again.
    const acs = [], readers = [];
    for (let i = 0; i < SLOTS; i++) {
      const ac = new AbortController();
      const s = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: key(srv), signal: ac.signal,
        body: JSON.stringify(chatBody({ messages: [{ role: 'user', content: `busy ${i}` }], max_tokens: 3900, ignore_eos: true, stream: true })) });
      assert.equal(s.status, 200);
      acs.push(ac);
      readers.push(s.body.getReader());
    }
    try {
      for (const rd of readers) await rd.read();
      const busy = await waitFor(async () => {
        const x = await fetch(`${srv.url}/slots?fail_on_no_slot=1`, { headers: key(srv) });
        return x.status === 503 ? x : (await x.text(), null);
      }, { timeoutMs: 5000, intervalMs: 20 });
      assert.ok(busy, 'every slot busy: 503');
      const e = await busy.json();
      assert.equal(e.error.code, 503);
      assert.equal(e.error.type, 'unavailable_error');
      const all = await (await fetch(`${srv.url}/slots`, { headers: key(srv) })).json();
      assert.ok(all.every((s) => s.is_processing));
    } finally {
      for (const ac of acs) ac.abort();
      for (const rd of readers) await rd.cancel().catch(() => {});
    }
    assert.ok(await waitFor(async () => {
      const m = await (await fetch(`${srv.url}/metrics`, { headers: key(srv) })).text();
      return metricValue(m, 'llamacpp:requests_processing') === 0;
    }), 'slots freed after the clients left');
  });

  test('CORS: OPTIONS echoes the origin with llama-server\'s headers, no key needed', async () => {
    const r = await fetch(`${srv.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { Origin: 'http://ui.test' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), 'http://ui.test');
    assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(r.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.equal(r.headers.get('access-control-allow-headers'), '*');
    await r.text();
    const g = await fetch(`${srv.url}/v1/models`, { headers: { Origin: 'http://ui.test' } });
    assert.equal(g.headers.get('access-control-allow-origin'), 'http://ui.test');
    await g.text();
  });

  test('context overflow: exceed_context_size_error with the counts', async () => {
    const r = await post(srv, '/v1/completions', { model: 'tiny', prompt: 'word '.repeat(5000), max_tokens: 4 }, { headers: key(srv) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.type, 'exceed_context_size_error');
    assert.equal(r.json.error.code, 400);
    assert.equal(r.json.error.n_ctx, 4096);
    assert.ok(r.json.error.n_prompt_tokens > 4096);
  });

  test('metrics need the key and include llamacpp: names', async () => {
    const u = await fetch(`${srv.url}/metrics`);
    assert.equal(u.status, 401);
    await u.text();
    const m = await (await fetch(`${srv.url}/metrics`, { headers: key(srv) })).text();
    for (const n of ['llamacpp:prompt_tokens_total', 'llamacpp:tokens_predicted_total', 'llamacpp:requests_processing',
      'llamacpp:requests_deferred']) assert.ok(Number.isFinite(metricValue(m, n)), n);
    assert.ok(metricValue(m, 'llamacpp:prompt_tokens_total') > 0);
    assert.equal(metricValue(m, 'llamacpp:prompt_tokens_total'), metricValue(m, 'vllm:prompt_tokens_total'));
  });
});
