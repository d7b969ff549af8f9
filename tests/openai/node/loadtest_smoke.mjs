// ctest smoke run of scripts/loadtest.sh (wrk) against the tiny model: a few
// seconds of load, then check that it printed throughput and latency numbers
// that agree with the server's own counters. Exit 77 (skip) without wrk.
// usage: node loadtest_smoke.mjs PATH/TO/scripts/loadtest.sh
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { startServer } from './server.mjs';

const script = process.argv[2];
if (spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).status !== 0) {
  console.log('SKIP: wrk not found (apt-get install wrk; scripts/setup.sh installs it)');
  process.exit(77);
}

function run(args) {
  return new Promise((resolve) => {
    const p = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

const srv = await startServer();
let failed = false;
try {
  for (const [kind, maxTokens] of [['chat', 16], ['completions', 8]]) {
    const gen0 = await srv.metric('vllm:generation_tokens_total');
    const r = await run([srv.url, srv.apiKey, '4', '3s', String(maxTokens), kind]);
    process.stdout.write(r.out);
    process.stderr.write(r.err);
    assert.equal(r.code, 0, `loadtest.sh exited ${r.code}`);
    assert.match(r.out, /throughput: [\d.]+ requests\/s/);
    assert.match(r.out, /generated: \d+ tokens, [\d.]+ tokens\/s/);
    assert.match(r.out, /latency: p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms/);
    const line = r.out.split('\n').find((l) => l.startsWith('LOADTEST_JSON '));
    assert.ok(line, 'no LOADTEST_JSON line');
    const j = JSON.parse(line.slice('LOADTEST_JSON '.length));
    assert.ok(j.ok > 0, 'no successful requests');
    assert.equal(j.non_200, 0, 'non-200 responses');
    assert.equal(j.socket_errors, 0, 'socket errors');
    assert.ok(j.requests_per_s > 0 && j.tokens_per_s > 0);
    assert.equal(j.tokens, j.ok * maxTokens, 'ignore_eos: every request generates max_tokens');
    assert.ok(j.p50_ms > 0 && j.p50_ms <= j.p99_ms, `p50 ${j.p50_ms} p99 ${j.p99_ms}`);
    const gen1 = await srv.metric('vllm:generation_tokens_total');
    // wrk drops the requests still in flight at the end, so the server counted at least as many
    assert.ok(gen1 - gen0 >= j.tokens, `server counted ${gen1 - gen0} generated tokens, loadtest ${j.tokens}`);
  }
  assert.ok(srv.alive());
} catch (e) {
  failed = true;
  console.error(e);
  console.error(`--- server log\n${srv.log().slice(-4000)}`);
} finally {
  const code = await srv.stop();
  if (code !== 0) { failed = true; console.error(`server exit status ${code} after SIGTERM`); }
}
console.log(failed ? 'FAIL' : 'ok');
process.exit(failed ? 1 : 0);
