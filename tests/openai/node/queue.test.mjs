// A full waiting queue answers 503 (--max-waiting-requests), in vLLM's error
// shape, and the server goes on serving: one request runs (--max-num-seqs 1),
// one waits, the next is refused; once the queue drains, requests run again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue } from './server.mjs';
import { openStream, waitFor, postJSON, assertHealthy } from './util.mjs';

let srv;

before(async () => {
  srv = await startServer({ args: ['--max-model-len', '16384', '--max-num-seqs', '1', '--max-waiting-requests', '1'] });
});

after(async () => {
  if (srv) assert.equal(await srv.stop(), 0, `exit status; log:\n${srv.log().slice(-4000)}`);
});

const long = (tag) => ({ model: 'tiny', prompt: `forever ${tag}`, max_tokens: 16000, ignore_eos: true, temperature: 0,
  stream: true });

async function gauge(name) {
  return metricValue(await srv.metrics(), name);
}

test('503 when the waiting queue is full; served again once it drains', async () => {
  const a = await openStream(srv, '/v1/completions', long('running'));
  assert.equal(a.res.statusCode, 200);
  await a.waitFrames(2);
  const b = await openStream(srv, '/v1/completions', long('waiting'));
  assert.equal(b.res.statusCode, 200);
  assert.ok(await waitFor(async () => (await gauge('vllm:num_requests_waiting')) === 1, { timeoutMs: 10000, intervalMs: 20 }),
    'the second request waits');

  for (const path of ['/v1/completions', '/v1/chat/completions']) {
    const body = path.endsWith('chat/completions')
      ? { model: 'tiny', messages: [{ role: 'user', content: 'refused' }], max_tokens: 4 }
      : { model: 'tiny', prompt: 'refused', max_tokens: 4 };
    const r = await postJSON(srv, path, body);
    assert.equal(r.status, 503, `${path}: ${r.text}`);
    assert.equal(typeof r.json?.error?.message, 'string', r.text);
    assert.match(r.json.error.message, /waiting/, r.text);
  }
  await assertHealthy(srv);

  a.socket.destroy();
  b.socket.destroy();
  assert.ok(await waitFor(async () => (await gauge('vllm:num_requests_running')) === 0 &&
    (await gauge('vllm:num_requests_waiting')) === 0, { timeoutMs: 10000, intervalMs: 20 }), 'queue drained');
  const r = await postJSON(srv, '/v1/completions', { model: 'tiny', prompt: 'again', max_tokens: 4, temperature: 0 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.usage.completion_tokens, 4);
});
