// A client that goes away must free its slot and KV blocks at once (vLLM #54947,
// llama.cpp #24496): a running stream whose socket is destroyed stops
// generating, and a queued request whose client disconnects leaves the queue.
//
// The requests are long (ignore_eos, 16000 tokens: many seconds on the tiny
// model), so "it stopped because it finished" cannot pass for "it was cancelled":
// every check also bounds the tokens generated and counts the aborts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue } from './server.mjs';
import { openStream, waitFor, postJSON, assertHealthy, RawClient, httpPost } from './util.mjs';

const MAX_LEN = 16384;
const LONG = 16000;
const BOUND_MS = 10000;
let srv;

before(async () => {
  srv = await startServer({ args: ['--max-model-len', String(MAX_LEN), '--max-num-seqs', '1'] });
});

after(async () => {
  if (srv) {
    const code = await srv.stop();
    assert.equal(code, 0, `server exit status after SIGTERM; log:\n${srv.log().slice(-4000)}`);
  }
});

const longChat = (tag) => ({ model: 'tiny', messages: [{ role: 'user', content: `Write forever (${tag}).` }], max_tokens: LONG,
  ignore_eos: true, temperature: 0, stream: true });

async function gauges() {
  let m;
  try {
    m = await srv.metrics();
  } catch (e) {
    await Promise.race([srv.exited, new Promise((r) => setTimeout(r, 1000).unref())]);
    assert.ok(srv.alive(), `the server process died (exit ${srv.exitCode}); log:\n${srv.log().slice(-2000)}`);
    throw e;
  }
  return {
    running: metricValue(m, 'vllm:num_requests_running'),
    waiting: metricValue(m, 'vllm:num_requests_waiting'),
    kv: metricValue(m, 'vllm:kv_cache_usage_perc'),
    gen: metricValue(m, 'vllm:generation_tokens_total'),
    aborts: metricValue(m, 'vllm:request_success_total', 'finished_reason="abort"'),
  };
}

async function waitGauges(pred, what) {
  let last;
  const ok = await waitFor(async () => pred(last = await gauges()), { timeoutMs: BOUND_MS, intervalMs: 20 });
  assert.ok(ok, `${what} within ${BOUND_MS} ms; last gauges ${JSON.stringify(last)}`);
  return last;
}

test('a running stream whose client disconnects stops at once and frees its KV blocks', async () => {
  const g0 = await gauges();
  assert.equal(g0.running, 0);
  assert.equal(g0.kv, 0, 'KV in use before the test');
  const s = await openStream(srv, '/v1/chat/completions', longChat('a'));
  assert.equal(s.res.statusCode, 200);
  await s.waitFrames(4);   // role chunk + a few tokens
  const g1 = await gauges();
  assert.equal(g1.running, 1, `the request is running: ${JSON.stringify(g1)}`);
  assert.ok(g1.kv > 0, `it holds KV blocks: ${JSON.stringify(g1)}`);
  s.socket.destroy();
  const t0 = Date.now();
  const g2 = await waitGauges((g) => g.running === 0 && g.kv === 0, 'num_requests_running and kv_cache_usage_perc back to 0');
  console.log(`freed ${Date.now() - t0} ms after the disconnect; ${g2.gen - g0.gen} tokens generated in all`);
  assert.ok(g2.gen - g0.gen < LONG / 2, `generated ${g2.gen - g0.gen} tokens: the request was not cancelled`);
  assert.equal(g2.aborts - g0.aborts, 1, 'request_success_total{finished_reason="abort"} counts the disconnect');
  // the slot is really free: the next request runs at once
  const r = await postJSON(srv, '/v1/completions', { model: 'tiny', prompt: 'next', max_tokens: 4, temperature: 0 });
  assert.equal(r.status, 200, r.text);
  await assertHealthy(srv);
});

test('queued requests whose clients disconnect leave the queue (stream and non-stream)', async () => {
  const g0 = await gauges();
  const a = await openStream(srv, '/v1/chat/completions', longChat('running'));
  assert.equal(a.res.statusCode, 200);
  await a.waitFrames(2);
  await waitGauges((g) => g.running === 1, 'the first request running');

  // a queued streaming request (--max-num-seqs 1): disconnect it
  const b = await openStream(srv, '/v1/chat/completions', longChat('queued stream'));
  await waitGauges((g) => g.waiting === 1, 'the second request queued');
  b.socket.destroy();
  let g = await waitGauges((x) => x.waiting === 0, 'the disconnected stream leaving the queue');
  assert.equal(g.running, 1, 'the first request is still running');

  // a queued non-streaming request: disconnect it
  const c = await RawClient.connect(srv.port);
  await c.write(httpPost(srv.port, '/v1/completions', { model: 'tiny', prompt: 'queued', max_tokens: LONG, ignore_eos: true, temperature: 0 }));
  await waitGauges((x) => x.waiting === 1, 'the non-streaming request queued');
  c.destroy();
  g = await waitGauges((x) => x.waiting === 0, 'the disconnected non-streaming request leaving the queue');
  assert.equal(g.running, 1, 'the first request is still running');

  // and the running one
  a.socket.destroy();
  g = await waitGauges((x) => x.running === 0 && x.waiting === 0 && x.kv === 0, 'everything freed');
  assert.ok(g.gen - g0.gen < LONG / 2, `generated ${g.gen - g0.gen} tokens: queued requests ran or the running one was not cancelled`);
  assert.equal(g.aborts - g0.aborts, 3, 'three aborted requests');
  await assertHealthy(srv);
});

test('many streaming clients vanishing mid-stream (RST and FIN) do not kill the server', async () => {
  // its own server, 8 sequences: 8 streams at a time, all dropped at once, ROUNDS rounds
  const ROUNDS = 96;
  const own = await startServer({ args: ['--max-model-len', String(MAX_LEN), '--max-num-seqs', '8'] });
  try {
    let aborts0 = await own.metric('vllm:request_success_total', 'finished_reason="abort"');
    for (let round = 0; round < ROUNDS; round++) {
      let streams;
      try {
        streams = await Promise.all(Array.from({ length: 8 }, (_, i) => openStream(own, '/v1/completions', { model: 'tiny',
          prompt: `vanish ${round}.${i}`, max_tokens: LONG, ignore_eos: true, temperature: 0, stream: true })));
        await Promise.all(streams.map((x, i) => x.waitFrames(2 + (i % 3))));
      } catch (e) {
        await Promise.race([own.exited, new Promise((r) => setTimeout(r, 1000).unref())]);   // did the server die?
        assert.ok(own.alive(), `the server died (exit ${own.exitCode}) in round ${round} (${e.message}); log:\n${own.log().slice(-2000)}`);
        throw e;
      }
      // RST (abortive close) for seven in eight, FIN for the rest
      streams.forEach((x, i) => (i % 8 === 7 ? x.socket.destroy() : x.socket.resetAndDestroy()));
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(own.alive(), `the server died (exit ${own.exitCode}) after 8 clients went away in round ${round}; log:\n${own.log().slice(-2000)}`);
    }
    let last;
    const ok = await waitFor(async () => {
      const m = await own.metrics();
      last = { running: metricValue(m, 'vllm:num_requests_running'), kv: metricValue(m, 'vllm:kv_cache_usage_perc'),
        aborts: metricValue(m, 'vllm:request_success_total', 'finished_reason="abort"') };
      return last.running === 0 && last.kv === 0 && last.aborts - aborts0 === ROUNDS * 8;
    }, { timeoutMs: BOUND_MS, intervalMs: 20 });
    assert.ok(ok, `all ${ROUNDS * 8} streams aborted and freed; last ${JSON.stringify(last)} (aborts counted from ${aborts0})`);
    await assertHealthy(own);
  } catch (e) {
    await own.stop('SIGKILL');
    throw e;
  }
  const code = await own.stop();
  assert.equal(code, 0, `server exit status after SIGTERM: ${code}`);
});

test('a non-streaming request whose client disconnects mid-generation is cancelled', async () => {
  const g0 = await gauges();
  const c = await RawClient.connect(srv.port);
  await c.write(httpPost(srv.port, '/v1/chat/completions', { ...longChat('non-stream'), stream: false }));
  await waitGauges((x) => x.running === 1 && x.gen - g0.gen > 0, 'the request running');
  c.destroy();
  const g = await waitGauges((x) => x.running === 0 && x.kv === 0, 'num_requests_running and kv_cache_usage_perc back to 0');
  assert.ok(g.gen - g0.gen < LONG / 2, `generated ${g.gen - g0.gen} tokens: the request was not cancelled`);
  assert.equal(g.aborts - g0.aborts, 1);
  await assertHealthy(srv);
});
