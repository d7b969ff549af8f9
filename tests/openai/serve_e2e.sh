#!/bin/sh
# End-to-end check of `strixcore serve` with the openai frontend plugin on the
# tiny random-weight Qwen3 fixture: /health, /v1/models, chat (non-stream and
# stream with usage), and 401 without a key. Every wait is bounded and the
# server is always killed (trap), so a hang cannot outlive the test.
# usage: serve_e2e.sh STRIXCORE_EXE PLUGIN_DIR MODEL_DIR TOKENIZER TEMPLATE
set -u
EXE=$1 PLUGDIR=$2 MODEL=$3 TOK=$4 TMPL=$5
command -v curl >/dev/null 2>&1 || { echo "curl not found: skipping"; exit 77; }
LOG=$(mktemp) BODY=$(mktemp)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  rm -f "$LOG" "$BODY"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; echo "--- server log"; cat "$LOG"; exit 1; }

# A random port; retry a few times in case it is taken.
U=
for attempt in 1 2 3; do
  PORT=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 ))
  STRIXCORE_PLUGIN_PATH=$PLUGDIR "$EXE" serve "$MODEL" --tokenizer "$TOK" --chat-template "$TMPL" \
    --host 127.0.0.1 --port "$PORT" --api-key sk-test --served-model-name tiny >"$LOG" 2>&1 &
  PID=$!
  i=0
  while [ $i -lt 100 ]; do
    if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then U=http://127.0.0.1:$PORT; break; fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.2; i=$((i + 1))
  done
  [ -n "$U" ] && break
  kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=
done
[ -n "$U" ] || fail "server did not become healthy"
AUTH="Authorization: Bearer sk-test"
CT="Content-Type: application/json"

code=$(curl -s -m 10 -o "$BODY" -w '%{http_code}' -H "$AUTH" "$U/v1/models")
[ "$code" = 200 ] && grep -q '"id":"tiny"' "$BODY" && grep -q '"max_model_len":' "$BODY" || fail "models: $code $(cat "$BODY")"

code=$(curl -s -m 10 -o "$BODY" -w '%{http_code}' "$U/v1/models")
[ "$code" = 401 ] && grep -q '"error":"Unauthorized"' "$BODY" || fail "401: $code $(cat "$BODY")"

code=$(curl -s -m 30 -o "$BODY" -w '%{http_code}' -H "$AUTH" -H "$CT" "$U/v1/chat/completions" \
  -d '{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":6,"temperature":0}')
[ "$code" = 200 ] && grep -q '"object":"chat.completion"' "$BODY" && grep -q '"completion_tokens":' "$BODY" \
  || fail "chat: $code $(cat "$BODY")"

code=$(curl -s -N -m 30 -o "$BODY" -w '%{http_code}' -H "$AUTH" -H "$CT" "$U/v1/chat/completions" \
  -d '{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}')
[ "$code" = 200 ] || fail "stream: $code"
grep -q '"role":"assistant"' "$BODY" || fail "stream: no role chunk: $(cat "$BODY")"
grep -q '"choices":\[\],"usage"' "$BODY" || fail "stream: no usage chunk: $(cat "$BODY")"
[ "$(tail -n 2 "$BODY" | head -n 1)" = "data: [DONE]" ] || fail "stream: no [DONE]: $(cat "$BODY")"

code=$(curl -s -m 10 -o "$BODY" -w '%{http_code}' -H "$AUTH" -H "$CT" "$U/v1/chat/completions" -d '{"messages":')
[ "$code" = 400 ] || fail "bad json: $code $(cat "$BODY")"

code=$(curl -s -m 10 -o "$BODY" -w '%{http_code}' -H "$AUTH" -H "$CT" "$U/v1/completions" -d '{"model":"nope","prompt":"a"}')
[ "$code" = 404 ] || fail "unknown model: $code $(cat "$BODY")"

# graceful stop: SIGTERM must end the process (bounded wait)
kill "$PID"
i=0
while kill -0 "$PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
kill -0 "$PID" 2>/dev/null && fail "server did not stop on SIGTERM"
wait "$PID"; rc=$?
PID=
[ "$rc" = 0 ] || fail "server exit status $rc after SIGTERM"
echo "ok"
