// Raw-socket (node:net) robustness checks of `strixcore serve`'s HTTP layer and
// request validation. After every case the server must still answer /health
// and its process must be alive.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, httpGet } from './server.mjs';
import { RawClient, rawRequest, httpPost, postJSON, assertHealthy, sleep } from './util.mjs';

let srv, port;

before(async () => {
  srv = await startServer();
  port = srv.port;
});

afterEach(async (t) => {
  await assertHealthy(srv, t.name);
});

after(async () => {
  if (srv) {
    const code = await srv.stop();
    assert.equal(code, 0, `server exit status after SIGTERM; log:\n${srv.log().slice(-4000)}`);
  }
});

const H = (extra = '') => `Host: 127.0.0.1\r\nAuthorization: Bearer sk-test\r\n${extra}`;
const CHAT = { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, temperature: 0 };

/** A 4xx answer, or the connection closed without a (2xx) answer. */
function assertRejected(r, what) {
  if (r.response) {
    assert.ok(r.response.status >= 400 && r.response.status < 500, `${what}: expected 4xx or a close, got ${r.response.raw}`);
  } else {
    assert.ok(r.closed, `${what}: neither an answer nor a close`);
  }
}

function assertJsonError(res, status, what) {
  assert.equal(res.status, status, `${what}: ${res.body ?? res.text}`);
  const j = JSON.parse(res.body ?? res.text);
  assert.equal(typeof j.error, 'object', `${what}: error object`);
  assert.equal(typeof j.error.message, 'string');
  assert.ok(j.error.message.length > 0);
  return j.error;
}

test('malformed JSON body: 400 with a JSON error', async () => {
  for (const body of ['{"messages":', '{bad json}', '[1,2', 'null', '"a string"', '']) {
    const r = await rawRequest(port, httpPost(port, '/v1/chat/completions', body));
    assert.ok(r.response, `no response to ${JSON.stringify(body)}`);
    assertJsonError(r.response, 400, `body ${JSON.stringify(body)}`);
    assert.match(r.response.headers['content-type'] || '', /application\/json/);
  }
});

test('invalid UTF-8 inside a JSON string: 400', async () => {
  const bodies = [
    Buffer.concat([Buffer.from('{"model":"tiny","messages":[{"role":"user","content":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}],"max_tokens":2}')]),
    Buffer.concat([Buffer.from('{"model":"tiny","prompt":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","max_tokens":2}')]),   // bad continuation
    Buffer.concat([Buffer.from('{"model":"tiny","prompt":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","max_tokens":2}')]), // UTF-16 surrogate
  ];
  const paths = ['/v1/chat/completions', '/v1/completions', '/v1/completions'];
  for (let i = 0; i < bodies.length; i++) {
    const c = await RawClient.connect(port);
    const b = bodies[i];
    await c.write(Buffer.concat([Buffer.from(`POST ${paths[i]} HTTP/1.1\r\n${H()}Content-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n`), b]));
    await c.waitResponses(1);
    c.destroy();
    assert.ok(c.responses[0], `no response to invalid UTF-8 case ${i}`);
    assertJsonError(c.responses[0], 400, `invalid UTF-8 case ${i}`);
  }
});

test('Content-Length of 100 MB: 413 before the body is read', async () => {
  const c = await RawClient.connect(port);
  await c.write(`POST /v1/chat/completions HTTP/1.1\r\n${H()}Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"messages":[`);
  // Only the headers and a few bytes were sent: the answer must come without the rest.
  await c.waitResponses(1, 5000);
  assert.ok(c.responses[0], `no answer; closed=${c.closed}`);
  assert.equal(c.responses[0].status, 413);
  await c.waitClose(5000);
  c.destroy();
});

test('a chunked body over the limit: 413', async () => {
  const c = await RawClient.connect(port);
  c.sock.on('error', () => {});   // the server may reset once it has answered
  await c.write(`POST /v1/completions HTTP/1.1\r\n${H()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const piece = Buffer.alloc(1 << 20, 0x61);   // 1 MiB chunks of 'a'
  const frame = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
  let sent = 0;
  const t0 = Date.now();
  while (c.responses.length === 0 && !c.closed && sent < 200 && Date.now() - t0 < 20000) {
    if (!(await c.write(frame))) break;
    sent++;
  }
  await c.waitResponses(1, 10000);
  c.destroy();
  assert.ok(c.responses[0], `no answer after ${sent} MiB (closed=${c.closed})`);
  assert.equal(c.responses[0].status, 413, `after ${sent} MiB`);
  assert.ok(sent < 200, 'the server kept reading past 200 MiB');
});

test('bad request lines and headers: 4xx or a closed connection, never a crash', async () => {
  const cases = {
    'garbage request line': 'GARBAGE\r\n\r\n',
    'binary junk': Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]),
    'HTTP/2 preface': 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    'header without a colon': 'GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n',
    'space in a header name': 'GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
    'control byte in a header value': 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n',
    'duplicate conflicting Content-Length': `POST /v1/completions HTTP/1.1\r\n${H()}Content-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\n{"prompt":"x","max_tokens":1}xxxxxxxxxxx`,
    'comma list Content-Length': `POST /v1/completions HTTP/1.1\r\n${H()}Content-Length: 5, 40\r\n\r\n{"prompt":"x","max_tokens":1}xxxxxxxxxxx`,
    'negative Content-Length': `POST /v1/completions HTTP/1.1\r\n${H()}Content-Length: -5\r\n\r\n`,
    'non-numeric Content-Length': `POST /v1/completions HTTP/1.1\r\n${H()}Content-Length: abc\r\n\r\n`,
    'huge Content-Length number': `POST /v1/completions HTTP/1.1\r\n${H()}Content-Length: 99999999999999999999999999\r\n\r\n`,
    'bad chunk size': `POST /v1/completions HTTP/1.1\r\n${H()}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    'unsupported Expect': `POST /v1/completions HTTP/1.1\r\n${H()}Expect: 200-ok\r\nContent-Length: 2\r\n\r\n{}`,
    'HTTP/3.0': 'GET /health HTTP/3.0\r\nHost: x\r\n\r\n',
    'absurd header size (1 MiB value)': `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(1 << 20)}\r\n\r\n`,
    'absurd number of headers': `GET /health HTTP/1.1\r\nHost: x\r\n${'X-H: 1\r\n'.repeat(20000)}\r\n`,
    'absurd URL': `GET /${'a'.repeat(1 << 20)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  };
  for (const [name, data] of Object.entries(cases)) {
    const c = await RawClient.connect(port);
    c.sock.on('error', () => {});
    await c.write(data);
    await c.until(() => c.responses.length > 0 || c.closed, 12000, name);
    c.destroy();
    assertRejected({ response: c.responses[0], closed: c.closed }, name);
    if (/absurd/.test(name) && c.responses[0]) assert.ok([400, 413, 414, 431].includes(c.responses[0].status), `${name}: ${c.responses[0].raw}`);
    await assertHealthy(srv, name);
  }
});

test('slow client: headers one byte per 50 ms still get served', async () => {
  const req = 'GET /health HTTP/1.1\r\nHost: s\r\n\r\n';
  const c = await RawClient.connect(port);
  for (const ch of req) {
    await c.write(ch);
    await sleep(50);
  }
  await c.waitResponses(1, 5000);
  c.destroy();
  assert.equal(c.responses[0]?.status, 200);
});

test('idle and half-sent connections do not block other clients', async () => {
  const idle = [];
  for (let i = 0; i < 8; i++) idle.push(await RawClient.connect(port));   // send nothing
  const partial = await RawClient.connect(port);
  await partial.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"mess');   // then stall
  const t0 = Date.now();
  const r = await postJSON(srv, '/v1/chat/completions', CHAT);
  assert.equal(r.status, 200, r.text);
  const h = await httpGet(`${srv.url}/health`, { timeoutMs: 2000 });
  assert.equal(h.status, 200);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms with idle connections open`);
  for (const c of idle) assert.ok(!c.closed || c.responses.length === 0);
  for (const c of [...idle, partial]) c.destroy();
});

test('pipelined requests: two GETs in one write, two responses in order, keep-alive', async () => {
  const c = await RawClient.connect(port);
  await c.write(`GET /version HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\n${H()}\r\n`);
  await c.waitResponses(2, 5000);
  assert.equal(c.responses.length, 2, `responses: ${c.responses.map((r) => r.raw)}`);
  assert.equal(c.responses[0].status, 200);
  assert.ok('version' in JSON.parse(c.responses[0].body), c.responses[0].body);
  assert.equal(c.responses[1].status, 200);
  assert.equal(JSON.parse(c.responses[1].body).object, 'list');
  assert.ok(!c.closed, 'connection closed after pipelined requests');
  // the same connection serves more: two pipelined POSTs, answered in order
  const a = JSON.stringify({ model: 'tiny', prompt: 'first', max_tokens: 2, temperature: 0 });
  const b = JSON.stringify({ model: 'no-such-model', prompt: 'second', max_tokens: 2 });
  await c.write(httpPost(port, '/v1/completions', a) + httpPost(port, '/v1/completions', b));
  await c.waitResponses(4, 10000);
  c.destroy();
  assert.equal(c.responses[2]?.status, 200, c.responses[2]?.body);
  assert.equal(JSON.parse(c.responses[2].body).object, 'text_completion');
  assert.equal(c.responses[3]?.status, 404, c.responses[3]?.body);
});

test('chunked transfer-encoding request body is accepted', async () => {
  const body = JSON.stringify({ model: 'tiny', prompt: 'chunked body', max_tokens: 2, temperature: 0 });
  const parts = [body.slice(0, 7), body.slice(7, 20), body.slice(20)];
  const c = await RawClient.connect(port);
  await c.write(`POST /v1/completions HTTP/1.1\r\n${H()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
  for (const p of parts) {
    await c.write(`${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`);
    await sleep(20);
  }
  await c.write('0\r\n\r\n');
  await c.waitResponses(1);
  c.destroy();
  assert.equal(c.responses[0]?.status, 200, c.responses[0]?.body);
  const j = JSON.parse(c.responses[0].body);
  assert.equal(j.object, 'text_completion');
  assert.equal(j.usage.completion_tokens, 2);
});

test('Expect: 100-continue gets 100 Continue, then the answer', async () => {
  const body = JSON.stringify(CHAT);
  const c = await RawClient.connect(port);
  await c.write(`POST /v1/chat/completions HTTP/1.1\r\n${H()}Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
  await c.until(() => c.received.includes('\r\n\r\n') || c.closed, 5000, '100 Continue');
  assert.match(c.received.toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n/);
  await c.write(body);
  await c.waitResponses(2);
  c.destroy();
  assert.equal(c.responses[0].status, 100);
  assert.equal(c.responses[1]?.status, 200, c.responses[1]?.body);
  assert.equal(JSON.parse(c.responses[1].body).object, 'chat.completion');
});

test('unknown request fields are ignored (200)', async () => {
  const r = await postJSON(srv, '/v1/chat/completions', { ...CHAT, no_such_field: { nested: [1, 2] }, another_one: 'x', vendor_ext: null });
  assert.equal(r.status, 200, r.text);
  const r2 = await postJSON(srv, '/v1/completions', { model: 'tiny', prompt: 'x', max_tokens: 2, frobnicate: true });
  assert.equal(r2.status, 200, r2.text);
});

test('invalid field types: 400 naming the field', async () => {
  const cases = [
    ['/v1/chat/completions', { ...CHAT, max_tokens: 'ten' }, 'max_tokens'],
    ['/v1/chat/completions', { ...CHAT, temperature: 'hot' }, 'temperature'],
    ['/v1/chat/completions', { ...CHAT, top_p: [1] }, 'top_p'],
    ['/v1/chat/completions', { ...CHAT, stream: 'yes' }, 'stream'],
    ['/v1/chat/completions', { ...CHAT, messages: 'hello' }, 'messages'],
    ['/v1/chat/completions', { ...CHAT, stop: 5 }, 'stop'],
    ['/v1/chat/completions', { ...CHAT, seed: 1.5 }, 'seed'],
    ['/v1/completions', { model: 'tiny', prompt: 42, max_tokens: 2 }, 'prompt'],
    ['/v1/completions', { model: 'tiny', prompt: 'x', max_tokens: 2, n: 'two' }, 'n'],
    ['/v1/completions', { model: 'tiny', prompt: 'x', max_tokens: 2.5 }, 'max_tokens'],
  ];
  for (const [path, body, field] of cases) {
    const r = await postJSON(srv, path, body);
    assert.equal(r.status, 400, `${field}: ${r.text}`);
    const e = r.json?.error;
    assert.ok(e && typeof e.message === 'string', `${field}: error object: ${r.text}`);
    assert.ok(e.param === field || e.message.includes(field), `${field} not named: ${r.text}`);
  }
});

test('token ids outside the vocabulary in a completions prompt: 400', async () => {
  for (const prompt of [[1, 2, 999999], [-1], [[5, 6], [7, 2 ** 31]]]) {
    const r = await postJSON(srv, '/v1/completions', { model: 'tiny', prompt, max_tokens: 2 });
    assert.equal(r.status, 400, `prompt ${JSON.stringify(prompt)}: ${r.text}`);
    assert.equal(r.json?.error?.type, 'BadRequestError', r.text);
  }
});

test('oversize n: 400', async () => {
  for (const n of [1000000, 2 ** 40]) {
    const r = await postJSON(srv, '/v1/chat/completions', { ...CHAT, n });
    assert.equal(r.status, 400, `n=${n}: ${r.text}`);
    assert.ok(r.json?.error?.param === 'n' || /\bn\b/.test(r.json?.error?.message || ''), r.text);
  }
  const r0 = await postJSON(srv, '/v1/chat/completions', { ...CHAT, n: 0 });
  assert.equal(r0.status, 400, `n=0: ${r0.text}`);
});

test('negative max_tokens: 400', async () => {
  for (const [path, body] of [
    ['/v1/chat/completions', { ...CHAT, max_tokens: -1 }],
    ['/v1/chat/completions', { ...CHAT, max_tokens: undefined, max_completion_tokens: -5 }],
    ['/v1/completions', { model: 'tiny', prompt: 'x', max_tokens: -100 }],
  ]) {
    const r = await postJSON(srv, path, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.ok(r.json?.error?.param === 'max_tokens' || r.json?.error?.param === 'max_completion_tokens' ||
      /max_(completion_)?tokens/.test(r.json?.error?.message || ''), r.text);
  }
});
