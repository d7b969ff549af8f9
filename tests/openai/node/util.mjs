// Shared helpers for the raw-socket / streaming tests (no npm dependencies).
import net from 'node:net';
import http from 'node:http';
import assert from 'node:assert/strict';
import { httpGet } from './server.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn() until it returns truthy or timeoutMs passes; returns the last value. */
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let v;
  for (;;) {
    v = await fn();
    if (v || Date.now() >= deadline) return v;
    await sleep(intervalMs);
  }
}

/** The server answers GET /health with 200 and its process is still running. */
export async function assertHealthy(srv, what = '') {
  assert.ok(srv.alive(), `server process died${what ? ` after ${what}` : ''} (exit ${srv.exitCode}); log:\n${srv.log().slice(-4000)}`);
  const r = await httpGet(`${srv.url}/health`, { timeoutMs: 5000 });
  assert.equal(r.status, 200, `/health${what ? ` after ${what}` : ''}`);
}

/**
 * Incremental HTTP/1.1 response parser over a byte stream (Content-Length,
 * chunked, or close-delimited bodies). feed() returns the responses completed.
 */
export class ResponseParser {
  constructor() { this.buf = Buffer.alloc(0); this.responses = []; }
  feed(data) {
    this.buf = Buffer.concat([this.buf, data]);
    const done = [];
    for (;;) {
      const r = this.#one(false);
      if (!r) break;
      done.push(r);
      this.responses.push(r);
    }
    return done;
  }
  /** At EOF: a close-delimited body ends here. */
  end() {
    const r = this.#one(true);
    if (r) this.responses.push(r);
    return r;
  }
  #one(eof) {
    const he = this.buf.indexOf('\r\n\r\n');
    if (he < 0) return null;
    const head = this.buf.subarray(0, he).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(head[0]);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(head[0])}`);
    const status = Number(m[2]);
    const headers = {};
    for (const l of head.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let pos = he + 4;
    let body;
    if (status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      for (;;) {
        const le = this.buf.indexOf('\r\n', pos);
        if (le < 0) return null;
        const size = parseInt(this.buf.subarray(pos, le).toString('latin1'), 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size');
        if (size === 0) {
          const te = this.buf.indexOf('\r\n', le + 2);
          if (te < 0) return null;
          pos = te + 2;
          break;
        }
        if (this.buf.length < le + 2 + size + 2) return null;
        parts.push(this.buf.subarray(le + 2, le + 2 + size));
        pos = le + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (this.buf.length < pos + n) return null;
      body = this.buf.subarray(pos, pos + n);
      pos += n;
    } else {
      if (!eof) return null;
      body = this.buf.subarray(pos);
      pos = this.buf.length;
    }
    this.buf = this.buf.subarray(pos);
    return { status, headers, body: body.toString('utf8'), raw: head[0] };
  }
}

/**
 * A raw TCP client. `await c.waitResponses(n)` resolves once n complete responses
 * arrived; `await c.waitClose()` once the server closed (or reset) the connection.
 */
export class RawClient {
  static connect(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const c = new RawClient();
      c.sock = net.connect({ port, host }, () => resolve(c));
      c.sock.setNoDelay(true);
      c.sock.on('error', (e) => { c.error = e; if (!c.connected) reject(e); });
      c.sock.on('connect', () => { c.connected = true; });
      c.sock.on('data', (d) => { c.received = Buffer.concat([c.received, d]); try { c.parser.feed(d); } catch (e) { c.parseError = e; } c.#notify(); });
      c.sock.on('close', () => { c.closed = true; try { c.parser.end(); } catch (e) { c.parseError = e; } c.#notify(); });
    });
  }
  constructor() { this.parser = new ResponseParser(); this.received = Buffer.alloc(0); this.closed = false; this.waiters = []; }
  get responses() { return this.parser.responses; }
  #notify() { for (const w of this.waiters.splice(0)) w(); }
  #changed() { return new Promise((r) => this.waiters.push(r)); }
  write(data) {
    return new Promise((resolve) => {
      if (this.closed || this.sock.destroyed) return resolve(false);
      this.sock.write(data, (err) => resolve(!err));
    });
  }
  async until(pred, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received so far: ${JSON.stringify(this.received.toString('latin1').slice(0, 600))}`);
      let t;
      await Promise.race([this.#changed(), new Promise((r) => { t = setTimeout(r, Math.min(left, 200)); })]);
      clearTimeout(t);
    }
  }
  async waitResponses(n, timeoutMs = 10000) {
    await this.until(() => this.responses.length >= n || this.closed, timeoutMs, `${n} response(s)`);
    if (this.parseError) throw this.parseError;
    return this.responses;
  }
  async waitClose(timeoutMs = 10000) {
    await this.until(() => this.closed, timeoutMs, 'the connection to close');
  }
  destroy() { this.sock.destroy(); }
}

/** One request on a fresh connection: send `data` (string/Buffer), wait for one response or the close. */
export async function rawRequest(port, data, { timeoutMs = 10000 } = {}) {
  const c = await RawClient.connect(port);
  await c.write(data);
  try {
    await c.waitResponses(1, timeoutMs);
  } finally {
    c.destroy();
  }
  return { response: c.responses[0] || null, closed: c.closed, received: c.received.toString('latin1'), error: c.error };
}

export function httpPost(port, path, body, { headers = {}, apiKey = 'sk-test' } = {}) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${apiKey}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${b.length}\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n' + b.toString('latin1');
}

/** POST JSON with fetch; resolves { status, json, text }. */
export async function postJSON(srv, path, body, { apiKey = srv.apiKey, signal } = {}) {
  const r = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify(body),
    signal,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, headers: r.headers };
}

/**
 * A streaming (SSE) POST over node:http, so the socket can be destroyed at will.
 * Returns { res, req, events: AsyncIterable<string data>, socket }.
 * onEvent(data) is called with each `data:` payload ('[DONE]' included).
 */
export function openStream(srv, path, body, { apiKey = srv.apiKey } = {}) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(`${srv.url}${path}`, {
      method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), Authorization: `Bearer ${apiKey}` },
    }, (res) => {
      const s = { req, res, socket: req.socket, frames: [], ended: false, error: null, waiters: [] };
      let buf = '';
      const notify = () => { for (const w of s.waiters.splice(0)) w(); };
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of frame.split('\n')) if (line.startsWith('data: ')) s.frames.push(line.slice(6));
        }
        notify();
      });
      res.on('end', () => { s.ended = true; notify(); });
      res.on('error', (e) => { s.error = e; s.ended = true; notify(); });
      res.on('close', () => { s.ended = true; notify(); });
      s.waitFrames = async (n, timeoutMs = 10000) => {
        const deadline = Date.now() + timeoutMs;
        while (s.frames.length < n && !s.ended) {
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`timed out waiting for ${n} SSE frames (have ${s.frames.length})`);
          let t;
          await Promise.race([new Promise((r) => s.waiters.push(r)), new Promise((r) => { t = setTimeout(r, Math.min(left, 200)); })]);
          clearTimeout(t);
        }
        return s.frames;
      };
      s.waitEnd = async (timeoutMs = 30000) => {
        const deadline = Date.now() + timeoutMs;
        while (!s.ended) {
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for the stream to end (have ${s.frames.length} frames)`);
          let t;
          await Promise.race([new Promise((r) => s.waiters.push(r)), new Promise((r) => { t = setTimeout(r, Math.min(left, 200)); })]);
          clearTimeout(t);
        }
        return s.frames;
      };
      resolve(s);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Collects a whole SSE chat/completion stream: { text, completionTokens, finish, frames }. */
export async function streamCollect(srv, path, body, timeoutMs = 60000) {
  const s = await openStream(srv, path, { ...body, stream: true, stream_options: { include_usage: true } });
  if (s.res.statusCode !== 200) {
    await s.waitEnd(timeoutMs).catch(() => {});
    throw new Error(`${path}: HTTP ${s.res.statusCode}`);
  }
  await s.waitEnd(timeoutMs);
  let text = '', finish = null, usage = null, error = null;
  for (const f of s.frames) {
    if (f === '[DONE]') continue;
    const j = JSON.parse(f);
    if (j.error) error = j.error;
    if (j.usage) usage = j.usage;
    for (const c of j.choices || []) {
      text += c.delta ? (c.delta.content ?? '') : (c.text ?? '');
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, completionTokens: usage ? usage.completion_tokens : null, promptTokens: usage ? usage.prompt_tokens : null,
    finish, error, frames: s.frames, done: s.frames[s.frames.length - 1] === '[DONE]' };
}
