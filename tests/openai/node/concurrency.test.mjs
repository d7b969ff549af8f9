// Continuous batching must not change results: 32 concurrent streaming requests
// at temperature 0 (more than --max-num-seqs, so some queue) give the same text
// and completion token counts as the same requests run one at a time. A second
// server with a KV pool too small for all of them forces preemption
// (recompute), which must not change the results either.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, metricValue } from './server.mjs';
import { streamCollect, sleep } from './util.mjs';

const N = 32;
const MAX_LEN = 128;
const SEQS = 8;
const TOPICS = ['rivers', 'mountains', 'compilers', 'bread', 'jazz', 'glaciers', 'owls', 'tides', 'origami', 'volcanoes',
  'chess', 'lichen', 'satellites', 'tea', 'bridges', 'fungi', 'comets', 'sailing', 'deserts', 'clocks', 'bees', 'caves',
  'lanterns', 'whales', 'maps', 'pottery', 'storms', 'violins', 'moss', 'trains', 'quartz', 'kites'];

function requests() {
  return Array.from({ length: N }, (_, i) => {
    const chat = i % 2 === 0;
    const common = { model: 'tiny', temperature: 0, max_tokens: 30 + (i % 6) * 10, ignore_eos: i % 3 !== 0 };
    return chat
      ? { path: '/v1/chat/completions', body: { ...common, messages: [{ role: 'user', content: `Request ${i}: tell me about ${TOPICS[i]}.` }] } }
      : { path: '/v1/completions', body: { ...common, prompt: `Request ${i}. A short note on ${TOPICS[i]}:` } };
  });
}

const servers = [];
after(async () => {
  for (const s of servers) {
    const code = await s.stop();
    assert.equal(code, 0, `server exit status after SIGTERM; log:\n${s.log().slice(-4000)}`);
  }
});

async function runOne(srv, r) {
  const out = await streamCollect(srv, r.path, r.body);
  assert.ok(out.done, `${r.path}: stream did not end with [DONE]`);
  assert.equal(out.error, null, `${r.path}: error in stream: ${JSON.stringify(out.error)}`);
  return out;
}

/** Runs all requests at once while sampling the queue/preemption gauges. */
async function runConcurrent(srv, reqs) {
  let maxRunning = 0, maxWaiting = 0, sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const m = await srv.metrics();
        maxRunning = Math.max(maxRunning, metricValue(m, 'vllm:num_requests_running') || 0);
        maxWaiting = Math.max(maxWaiting, metricValue(m, 'vllm:num_requests_waiting') || 0);
      } catch { /* keep sampling */ }
      await sleep(2);
    }
  })();
  const t0 = Date.now();
  const results = await Promise.all(reqs.map((r) => runOne(srv, r)));
  const ms = Date.now() - t0;
  sampling = false;
  await sampler;
  return { results, ms, maxRunning, maxWaiting };
}

function compare(reference, got, what) {
  let diffs = [];
  for (let i = 0; i < reference.length; i++) {
    const a = reference[i], b = got[i];
    if (a.text !== b.text || a.completionTokens !== b.completionTokens || a.finish !== b.finish || a.promptTokens !== b.promptTokens) {
      const show = (x) => JSON.stringify({ text: x.text, n: x.completionTokens, finish: x.finish, prompt: x.promptTokens });
      diffs.push(`#${i}: one-at-a-time ${show(a)}\n      ${what.padEnd(14)} ${show(b)}`);
    }
  }
  assert.equal(diffs.length, 0, `${diffs.length}/${reference.length} requests differ (${what}):\n${diffs.join('\n')}`);
}

let reference = null;

test(`${N} concurrent streaming requests (max-num-seqs ${SEQS}) equal the same requests run one at a time`, { timeout: 120000 }, async () => {
  const srv = await startServer({ args: ['--max-model-len', String(MAX_LEN), '--max-num-seqs', String(SEQS)] });
  servers.push(srv);
  const reqs = requests();
  const seq = [];
  const t0 = Date.now();
  for (const r of reqs) seq.push(await runOne(srv, r));
  const seqMs = Date.now() - t0;
  for (const [i, o] of seq.entries()) {
    assert.ok(o.completionTokens > 0, `#${i}: no tokens`);
    if (reqs[i].body.ignore_eos) assert.equal(o.completionTokens, reqs[i].body.max_tokens, `#${i}: ignore_eos must run to max_tokens`);
  }
  reference = seq;
  const conc = await runConcurrent(srv, reqs);
  console.log(`one at a time: ${seqMs} ms; ${N} at once: ${conc.ms} ms; max running ${conc.maxRunning}, max waiting ${conc.maxWaiting}`);
  compare(seq, conc.results, 'concurrent');
  assert.ok(conc.maxRunning <= SEQS, `num_requests_running reached ${conc.maxRunning} > --max-num-seqs ${SEQS}`);
  // and once more, to catch state left behind by the first batch (prefix cache, freed blocks)
  const again = await runConcurrent(srv, reqs);
  compare(seq, again.results, 'concurrent #2');
  assert.equal(await srv.metric('vllm:num_requests_running'), 0);
  assert.equal(await srv.metric('vllm:num_requests_waiting'), 0);
});

/** `strixcore serve MODEL --help` (and the other help forms), to find the flags this build has. */
function serveHelp() {
  const exe = process.env.STRIXCORE_EXE;
  let text = '';
  for (const argv of [['serve', process.env.STRIXCORE_TEST_MODEL, '--help'], ['serve', '--help']]) {
    const r = spawnSync(exe, argv, { encoding: 'utf8', timeout: 10000, env: { ...process.env, STRIXCORE_PLUGIN_PATH: process.env.STRIXCORE_PLUGIN_DIR } });
    text += `${r.stdout || ''}${r.stderr || ''}`;
  }
  return text;
}

test('a KV pool too small for all requests forces preemption; outputs still equal', { timeout: 120000 }, async (t) => {
  const help = serveHelp();
  const flag = help.includes('--kv-cache-memory-bytes') ? '--kv-cache-memory-bytes' : null;
  if (!flag) {
    t.skip('`strixcore serve --help` lists no --kv-cache-memory-bytes: the KV pool size cannot be set yet');
    return;
  }
  assert.ok(reference, 'the first sub-test must have produced the one-at-a-time reference');
  // Qwen3 tiny: 2 layers x 2 KV heads x head_dim 24 x (K+V) x 4 bytes (f32 KV) = 768 B/token;
  // 16 blocks of 16 tokens = 256 tokens: two full-length requests, far less than 8 running need.
  const bytes = 2 * 2 * 24 * 2 * 4 * 256;
  const args = ['--max-model-len', String(MAX_LEN), '--max-num-seqs', String(SEQS), flag, String(bytes)];
  if (help.includes('--kv-cache-dtype')) args.push('--kv-cache-dtype', 'float32');
  if (help.includes('--block-size')) args.push('--block-size', '16');
  const srv = await startServer({ args });
  servers.push(srv);
  const conc = await runConcurrent(srv, requests());
  const preemptions = await srv.metric('vllm:num_preemptions_total');
  console.log(`small KV pool (${bytes} bytes): ${conc.ms} ms, max running ${conc.maxRunning}, max waiting ${conc.maxWaiting}, preemptions ${preemptions}`);
  compare(reference, conc.results, 'preempted');
  assert.ok(!Number.isNaN(preemptions), 'vllm:num_preemptions_total is not exported by /metrics');
  assert.ok(preemptions > 0, `vllm:num_preemptions_total is ${preemptions}: the small pool did not force preemption`);
  assert.equal(await srv.metric('vllm:num_requests_running'), 0);
  assert.equal(await srv.metric('vllm:kv_cache_usage_perc'), 0, 'KV blocks still in use after every request finished');
});
