// Graceful stop: SIGTERM with work in flight. The server stops accepting new
// connections, ends every in-flight stream properly (finished, or an error
// chunk, then [DONE]), answers in-flight non-streaming requests, and exits 0
// within a bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, metricValue } from './server.mjs';
import { openStream, RawClient, httpPost, sleep } from './util.mjs';

const MAX_LEN = 16384;
const LONG = 16000;
const EXIT_BOUND_MS = 10000;
/** 'timeout' after ms, without keeping the process alive. */
const expire = (ms) => new Promise((r) => setTimeout(r, ms).unref()).then(() => 'timeout');

const longChat = { model: 'tiny', messages: [{ role: 'user', content: 'Write forever.' }], max_tokens: LONG, ignore_eos: true,
  temperature: 0, stream: true };

/** Resolves 'refused' | 'closed' | 'timeout' | {status} for a fresh GET /health. */
function probe(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (v) => { clearTimeout(t); s.destroy(); resolve(v); };
    const t = setTimeout(() => done('timeout'), timeoutMs);
    s.on('connect', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      if (m) done({ status: Number(m[1]) });
    });
    s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'closed'));
    s.on('close', () => done('closed'));
  });
}

/** Checks an SSE frame list ends properly: a finish_reason or an error frame, then [DONE]. */
function assertStreamEnded(frames, what) {
  assert.ok(frames.length >= 2, `${what}: only ${frames.length} frames`);
  assert.equal(frames[frames.length - 1], '[DONE]', `${what}: the stream must end with [DONE]; last frames ${JSON.stringify(frames.slice(-3))}`);
  const last = JSON.parse(frames[frames.length - 2]);
  const finished = (last.choices || []).some((c) => c.finish_reason) ||
    frames.slice(0, -1).some((f) => (JSON.parse(f).choices || []).some((c) => c.finish_reason));
  const errored = last.error && typeof last.error.message === 'string';
  assert.ok(finished || errored, `${what}: neither a finish_reason nor an error frame before [DONE]: ${JSON.stringify(last)}`);
  return { finished, errored, last };
}

test('SIGTERM with a stream in flight: the stream ends properly, new connections are refused, exit 0', { timeout: 60000 }, async () => {
  const srv = await startServer({ args: ['--max-model-len', String(MAX_LEN), '--max-num-seqs', '2'] });
  try {
    const s = await openStream(srv, '/v1/chat/completions', longChat);
    assert.equal(s.res.statusCode, 200);
    await s.waitFrames(3);
    const idle = await RawClient.connect(srv.port);          // an idle keep-alive connection
    await idle.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.waitResponses(1);
    assert.equal(idle.responses[0].status, 200);

    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    await s.waitEnd(EXIT_BOUND_MS);
    const tEnd = Date.now() - t0;
    const how = assertStreamEnded(s.frames, 'in-flight stream');
    assert.ok(s.frames.length < LONG / 2, `the stream ran to ${s.frames.length} frames: it was not stopped`);

    // do_stop has run (the stream was ended): nothing new may be served
    const probes = [];
    while (srv.alive() && probes.length < 20) {
      probes.push(await probe(srv.port, 1000));
      await sleep(10);
    }
    if (!srv.alive()) probes.push(await probe(srv.port, 1000));
    for (const p of probes) {
      assert.ok(p === 'refused' || p === 'closed' || (typeof p === 'object' && p.status === 503),
        `a new connection after the stop was served: ${JSON.stringify(p)} (all probes: ${JSON.stringify(probes)})`);
    }
    await idle.waitClose(EXIT_BOUND_MS);

    const code = await Promise.race([srv.exited, expire(EXIT_BOUND_MS)]);
    const tExit = Date.now() - t0;
    console.log(`stream ended ${tEnd} ms after SIGTERM (${how.errored ? 'error frame' : 'finished'}), exit ${code} after ${tExit} ms, probes ${JSON.stringify(probes)}`);
    assert.notEqual(code, 'timeout', `the server did not exit within ${EXIT_BOUND_MS} ms of SIGTERM; log:\n${srv.log().slice(-4000)}`);
    assert.equal(code, 0, `exit status after SIGTERM; log:\n${srv.log().slice(-4000)}`);
  } finally {
    await srv.stop('SIGKILL');
  }
});

test('SIGTERM with non-streaming and queued requests in flight: each gets an answer, exit 0', { timeout: 60000 }, async () => {
  const srv = await startServer({ args: ['--max-model-len', String(MAX_LEN), '--max-num-seqs', '1'] });
  try {
    const body = { model: 'tiny', prompt: 'Count:', max_tokens: LONG, ignore_eos: true, temperature: 0 };
    const running = await RawClient.connect(srv.port);
    await running.write(httpPost(srv.port, '/v1/completions', body));
    const queued = await RawClient.connect(srv.port);
    await queued.write(httpPost(srv.port, '/v1/completions', { ...body, prompt: 'Queued:' }));
    let g = {};
    for (let i = 0; i < 300 && !(g.running === 1 && g.waiting === 1); i++) {
      const m = await srv.metrics();
      g = { running: metricValue(m, 'vllm:num_requests_running'), waiting: metricValue(m, 'vllm:num_requests_waiting') };
      await sleep(10);
    }
    assert.deepEqual(g, { running: 1, waiting: 1 }, 'one request running, one queued behind it');

    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    for (const [name, c] of [['running', running], ['queued', queued]]) {
      await c.until(() => c.responses.length > 0 || c.closed, EXIT_BOUND_MS, `an answer to the ${name} request`);
      const r = c.responses[0];
      assert.ok(r, `${name}: the connection was closed without an answer`);
      assert.ok(r.status === 503 || r.status === 200, `${name}: ${r.raw} ${r.body}`);
      const j = JSON.parse(r.body);
      if (r.status === 503) assert.equal(typeof j.error?.message, 'string', r.body);
    }
    const code = await Promise.race([srv.exited, expire(EXIT_BOUND_MS)]);
    console.log(`exit ${code} ${Date.now() - t0} ms after SIGTERM`);
    assert.equal(code, 0, `exit status after SIGTERM; log:\n${srv.log().slice(-4000)}`);
  } finally {
    await srv.stop('SIGKILL');
  }
});

test('SIGINT stops the server the same way (exit 0)', { timeout: 30000 }, async () => {
  const srv = await startServer();
  try {
    const s = await openStream(srv, '/v1/completions', { model: 'tiny', prompt: 'x', max_tokens: 200, ignore_eos: true, stream: true });
    await s.waitFrames(1);
    srv.proc.kill('SIGINT');
    await s.waitEnd(EXIT_BOUND_MS);
    assertStreamEnded(s.frames, 'stream at SIGINT');
    const code = await Promise.race([srv.exited, expire(EXIT_BOUND_MS)]);
    assert.equal(code, 0, `exit status after SIGINT; log:\n${srv.log().slice(-4000)}`);
  } finally {
    await srv.stop('SIGKILL');
  }
});
