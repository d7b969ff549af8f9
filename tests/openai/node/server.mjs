// Test harness: start `strixcore serve` on the tiny fixture model on a free port,
// wait for /health, and always kill the child when this process exits.
//
//   import { startServer } from './server.mjs';
//   const srv = await startServer({ args: ['--max-model-len', '64'] });
//   ... fetch(`${srv.url}/v1/models`, { headers: { Authorization: `Bearer ${srv.apiKey}` } })
//   await srv.metric('vllm:num_requests_running');
//   await srv.stop();   // -> exit code (or signal name when killed by a signal)
//
// Environment (set by tests/openai/CMakeLists.txt):
//   STRIXCORE_EXE           the strixcore executable
//   STRIXCORE_PLUGIN_DIR    the build's plugin dir (passed to the child as STRIXCORE_PLUGIN_PATH)
//   STRIXCORE_TEST_MODEL    model directory (tests/fixtures/qwen3/qwen3-tiny-gqa4)
//   STRIXCORE_TEST_TOKENIZER, STRIXCORE_TEST_TEMPLATE
//   STRIXCORE_TEST_HEALTH_TIMEOUT_MS (optional, default 30000)
//   STRIXCORE_NODE_DIR      where the npm set-up test installed node_modules (the build tree)
import { spawn } from 'node:child_process';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

const live = new Set();

function killAll() {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAll(); process.exit(128 + 2); });
}

/**
 * The official `openai` npm package, installed by the ctest set-up step into
 * $STRIXCORE_NODE_DIR/node_modules (never the source tree). Returns the module
 * ({ OpenAI, AuthenticationError, NotFoundError, BadRequestError, APIError, ... };
 * `new mod.OpenAI({ baseURL: srv.url + '/v1', apiKey: srv.apiKey })`), or null
 * when it is not installed (the registry was unreachable: callers skip).
 */
export function loadOpenAI() {
  const dirs = [process.env.STRIXCORE_NODE_DIR, path.dirname(new URL(import.meta.url).pathname)].filter(Boolean);
  for (const d of dirs) {
    try {
      return createRequire(path.join(d, 'package.json'))('openai');
    } catch { /* not installed there */ }
  }
  return null;
}

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (run through ctest -L openai)`);
  return v;
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** GET over a fresh connection (no keep-alive), bounded; resolves {status, body} or rejects. */
export function httpGet(url, { timeoutMs = 2000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function parseLabels(s) {
  const out = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(s))) out[m[1]] = m[2];
  return out;
}

/**
 * Sum of the samples of metric `name` in Prometheus text `text` whose label set
 * contains `labelsSubstring` (e.g. 'finished_reason="stop"'). NaN when absent.
 */
export function metricValue(text, name, labelsSubstring) {
  let sum = 0, found = false;
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labelsSubstring && !(m[2] || '').includes(labelsSubstring)) continue;
    const v = Number(m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3]);
    sum += v;
    found = true;
  }
  return found ? sum : NaN;
}
export { parseLabels };

export async function startServer({ args = [], env = {}, apiKey = 'sk-test' } = {}) {
  const exe = need('STRIXCORE_EXE');
  const pluginDir = need('STRIXCORE_PLUGIN_DIR');
  const model = need('STRIXCORE_TEST_MODEL');
  const tokenizer = need('STRIXCORE_TEST_TOKENIZER');
  const template = need('STRIXCORE_TEST_TEMPLATE');
  const healthTimeout = Number(process.env.STRIXCORE_TEST_HEALTH_TIMEOUT_MS || 30000);

  let lastErr = '';
  for (let attempt = 1; attempt <= 4; attempt++) {
    const port = await freePort();
    const argv = ['serve', model, '--tokenizer', tokenizer, '--chat-template', template,
      '--host', '127.0.0.1', '--port', String(port), '--served-model-name', 'tiny'];
    if (apiKey) argv.push('--api-key', apiKey);
    argv.push(...args);
    const childEnv = { ...process.env, STRIXCORE_PLUGIN_PATH: pluginDir, ...env };
    if (!apiKey) { delete childEnv.STRIXCORE_API_KEY; delete childEnv.VLLM_API_KEY; }
    const proc = spawn(exe, argv, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let out = '';
    const append = (d) => { out += d.toString('utf8'); if (out.length > 4e6) out = out.slice(-2e6); };
    proc.stdout.on('data', append);
    proc.stderr.on('data', append);
    let exitCode = null;
    const exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        live.delete(proc);
        exitCode = code !== null ? code : signal;
        resolve(exitCode);
      });
      proc.on('error', (e) => { append(`spawn error: ${e.message}\n`); live.delete(proc); exitCode = -1; resolve(-1); });
    });
    const url = `http://127.0.0.1:${port}`;

    const deadline = Date.now() + healthTimeout;
    let healthy = false;
    while (Date.now() < deadline && exitCode === null) {
      try {
        const r = await httpGet(`${url}/health`, { timeoutMs: 1000 });
        if (r.status === 200) {
          // Make sure it is our child answering, not a server that took the port
          // between the probe and our bind (ours would then exit at once).
          await sleep(100);
          if (exitCode === null) healthy = true;
          break;
        }
      } catch { /* not up yet */ }
      await sleep(100);
    }
    if (healthy) {
      const srv = {
        url, port, apiKey, proc,
        log: () => out,
        exited,
        get exitCode() { return exitCode; },
        alive: () => exitCode === null,
        async stop(signal = 'SIGTERM', timeoutMs = 15000) {
          if (exitCode !== null) return exitCode;
          try { proc.kill(signal); } catch { /* gone */ }
          const t = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
        async metrics() {
          if (exitCode !== null) throw new Error(`GET /metrics: the server process has exited (${exitCode}); log:\n${out.slice(-2000)}`);
          const r = await httpGet(`${url}/metrics`, { timeoutMs: 5000 });
          if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.body.slice(0, 200)}`);
          return r.body;
        },
        async metric(name, labelsSubstring) {
          return metricValue(await srv.metrics(), name, labelsSubstring);
        },
      };
      return srv;
    }
    // Not healthy: a timeout, a bind failure (port taken since we probed it: retry)
    // or a real start failure.
    const timedOut = exitCode === null;
    if (timedOut) { try { proc.kill('SIGKILL'); } catch { /* gone */ } }
    await exited;
    lastErr = out;
    if (timedOut && Date.now() >= deadline) throw new Error(`server did not become healthy within ${healthTimeout} ms; argv: ${argv.join(' ')}\nlog:\n${out}`);
    if (!/address already in use|EADDRINUSE|cannot listen|cannot bind|bind\b.*fail|failed to bind/i.test(out)) {
      throw new Error(`server exited (${exitCode}) before becoming healthy; argv: ${argv.join(' ')}\nlog:\n${out}`);
    }
  }
  throw new Error(`server could not bind a port after 4 attempts; last log:\n${lastErr}`);
}
