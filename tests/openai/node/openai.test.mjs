// strixcore serve against the official `openai` npm client (installed into the
// build tree by the openai/node-setup ctest fixture). Skips (exit 77) only when
// the package is not installed because the npm registry was unreachable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, loadOpenAI } from './server.mjs';

const mod = loadOpenAI();
if (!mod) {
  console.log('SKIP: the openai npm package is not installed (STRIXCORE_NODE_DIR/node_modules); run the openai/node-setup test');
  process.exit(77);
}
const { OpenAI, AuthenticationError, NotFoundError, BadRequestError } = mod;

const MAX_LEN = 64;
let srv, client;

before(async () => {
  srv = await startServer({ args: ['--max-model-len', String(MAX_LEN)] });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: srv.apiKey, maxRetries: 0, timeout: 30000 });
});

after(async () => {
  if (srv) {
    const code = await srv.stop();
    assert.equal(code, 0, `server exit status after SIGTERM; log:\n${srv.log()}`);
  }
});

const CHAT = { model: 'tiny', messages: [{ role: 'user', content: 'Say hello' }], temperature: 0 };

test('models.list: the served model with max_model_len', async () => {
  const page = await client.models.list();
  const models = page.data;
  assert.equal(models.length, 1);
  assert.equal(models[0].id, 'tiny');
  assert.equal(models[0].object, 'model');
  assert.equal(models[0].max_model_len, MAX_LEN);
  assert.equal(models[0].owned_by, 'vllm');
});

test('chat.completions.create (non-stream)', async () => {
  const r = await client.chat.completions.create({ ...CHAT, max_tokens: 6, ignore_eos: true });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'tiny');
  assert.equal(typeof r.created, 'number');
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.content, 'string');
  assert.equal(c.finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 6);
  assert.ok(r.usage.prompt_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat.completions.create stream with include_usage: role chunk, deltas, finish, usage chunk with choices []', async () => {
  const req = { ...CHAT, max_tokens: 8, ignore_eos: true };
  const full = await client.chat.completions.create(req);
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  const chunks = [];
  for await (const ch of stream) chunks.push(ch);
  assert.ok(chunks.length >= 3, `only ${chunks.length} chunks`);
  for (const ch of chunks) {
    assert.equal(ch.object, 'chat.completion.chunk');
    assert.equal(ch.id, chunks[0].id, 'one id for the whole stream');
    assert.equal(ch.model, 'tiny');
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, [], 'the usage chunk has choices: []');
  assert.equal(last.usage.completion_tokens, 8);
  assert.equal(last.usage.prompt_tokens, full.usage.prompt_tokens);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + 8);
  const body = chunks.slice(0, -1);
  for (const ch of body) assert.ok(!ch.usage, 'usage only on the final chunk without continuous_usage_stats');
  const finishes = body.map((c) => c.choices[0].finish_reason).filter((f) => f != null);
  assert.deepEqual(finishes, ['length'], 'exactly one finish_reason, on the last choice chunk');
  assert.equal(body[body.length - 1].choices[0].finish_reason, 'length');
  const text = body.map((c) => c.choices[0].delta.content ?? '').join('');
  assert.equal(text, full.choices[0].message.content, 'streamed text equals the non-stream text at temperature 0');
});

test('completions.create (non-stream and stream)', async () => {
  const r = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 5, temperature: 0, ignore_eos: true });
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.equal(typeof r.choices[0].text, 'string');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 5);

  const s = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 5, temperature: 0, ignore_eos: true,
    stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  for await (const ch of s) {
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) text += c.text ?? '';
  }
  assert.equal(text, r.choices[0].text);
  assert.deepEqual(usage, r.usage);
});

test('wrong API key: AuthenticationError 401 with body {"error":"Unauthorized"}', async () => {
  const bad = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => {
    assert.ok(e instanceof AuthenticationError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 401);
    return true;
  });
  await assert.rejects(bad.chat.completions.create({ ...CHAT, max_tokens: 2 }), AuthenticationError);
  // The exact vLLM body, as the client saw it.
  const r = await fetch(`${srv.url}/v1/models`, { headers: { Authorization: 'Bearer sk-wrong' } });
  assert.equal(r.status, 401);
  assert.deepEqual(await r.json(), { error: 'Unauthorized' });
});

test('unknown model: NotFoundError 404 naming the model', async () => {
  await assert.rejects(client.chat.completions.create({ ...CHAT, model: 'no-such-model', max_tokens: 2 }), (e) => {
    assert.ok(e instanceof NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 404);
    assert.equal(e.error?.message, 'The model `no-such-model` does not exist.');
    return true;
  });
  await assert.rejects(client.completions.create({ model: 'no-such-model', prompt: 'x', max_tokens: 2 }), NotFoundError);
});

function overflowMsg(n, m) {
  return `This model's maximum context length is ${n} tokens. However, your request has ${m} input tokens. ` +
    'Please reduce the length of the input messages.';
}

async function countChatTokens(messages) {
  const r = await fetch(`${srv.url}/tokenize`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', messages }) });
  assert.equal(r.status, 200, 'POST /tokenize with messages');
  return (await r.json()).count;
}

test('context overflow: BadRequestError 400 with vLLM\'s exact message', async () => {
  // token-id prompt: the input token count is known exactly
  const ids = Array.from({ length: 100 }, (_, i) => 10 + (i % 200));
  await assert.rejects(client.completions.create({ model: 'tiny', prompt: ids, max_tokens: 1 }), (e) => {
    assert.ok(e instanceof BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 400);
    assert.equal(e.error?.message, overflowMsg(MAX_LEN, 100));
    assert.equal(e.error?.type, 'BadRequestError');
    return true;
  });
  // exactly max_model_len prompt tokens leave no room for output: also an overflow
  await assert.rejects(client.completions.create({ model: 'tiny', prompt: ids.slice(0, MAX_LEN), max_tokens: 1 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error?.message, overflowMsg(MAX_LEN, MAX_LEN));
    return true;
  });
  // chat: the rendered template is what counts
  const messages = [{ role: 'user', content: 'word '.repeat(200) }];
  const m = await countChatTokens(messages);
  assert.ok(m > MAX_LEN);
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages, max_tokens: 1 }), (e) => {
    assert.ok(e instanceof BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.error?.message, overflowMsg(MAX_LEN, m));
    return true;
  });
  // streaming requests are rejected before the stream starts (an HTTP 400, not an SSE error)
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages, max_tokens: 1, stream: true }), BadRequestError);
});

test('max_tokens too large: BadRequestError 400 with vLLM\'s exact message', async () => {
  const ids = Array.from({ length: 10 }, (_, i) => 20 + i);
  const X = 60;
  const expect = `'max_tokens' or 'max_completion_tokens' is too large: ${X}. This model's maximum context length is ` +
    `${MAX_LEN} tokens and your request has 10 input tokens (${X} > ${MAX_LEN} - 10).`;
  await assert.rejects(client.completions.create({ model: 'tiny', prompt: ids, max_tokens: X }), (e) => {
    assert.ok(e instanceof BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.error?.message, expect);
    return true;
  });
  // the largest allowed value is accepted
  const ok = await client.completions.create({ model: 'tiny', prompt: ids, max_tokens: MAX_LEN - 10, ignore_eos: true, temperature: 0 });
  assert.equal(ok.usage.completion_tokens, MAX_LEN - 10);
  // chat with max_completion_tokens
  const messages = [{ role: 'user', content: 'hi' }];
  const m = await countChatTokens(messages);
  const Y = MAX_LEN - m + 1;
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages, max_completion_tokens: Y }), (e) => {
    assert.ok(e instanceof BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.error?.message, `'max_tokens' or 'max_completion_tokens' is too large: ${Y}. This model's maximum context ` +
      `length is ${MAX_LEN} tokens and your request has ${m} input tokens (${Y} > ${MAX_LEN} - ${m}).`);
    return true;
  });
});

test('the server is still healthy after the error cases', async () => {
  const r = await client.chat.completions.create({ ...CHAT, max_tokens: 2 });
  assert.equal(r.choices.length, 1);
  assert.ok(srv.alive());
});
