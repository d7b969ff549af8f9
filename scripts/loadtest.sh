#!/usr/bin/env bash
# Load test of an OpenAI-compatible server (strixcore serve, vllm serve, ...) with wrk:
# CONCURRENCY connections POST non-streaming chat or completion requests for DURATION,
# then the script prints throughput (requests/s, generated tokens/s from each response's
# usage.completion_tokens) and latency percentiles (p50, p90, p99).
#
#   scripts/loadtest.sh URL API_KEY CONCURRENCY DURATION MAX_TOKENS [chat|completions]
#   scripts/loadtest.sh http://127.0.0.1:8000 sk-test 16 30s 128
#   scripts/loadtest.sh http://127.0.0.1:8000 "" 4 10s 32 completions     # no key
#
# Exits 1 when any request failed (non-200 or a socket error), 2 on bad arguments, 3 without wrk.
# Environment: LOADTEST_MODEL (default: the first id of GET /v1/models, else omitted),
# LOADTEST_THREADS (wrk threads; default min(CONCURRENCY, nproc)), LOADTEST_IGNORE_EOS
# (default true: every request generates MAX_TOKENS), LOADTEST_TIMEOUT (per request, 60s).
# Needs wrk (Debian: apt-get install wrk); curl only to look up the model id.
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 5 ] || usage
URL=${1%/} KEY=$2 CONC=$3 DUR=$4 MAXTOK=$5 KIND=${6:-chat}
case $KIND in chat | completions) ;; *) usage ;; esac
[[ $CONC =~ ^[1-9][0-9]*$ ]] || { echo "loadtest: CONCURRENCY must be a positive integer" >&2; exit 2; }
[[ $MAXTOK =~ ^[1-9][0-9]*$ ]] || { echo "loadtest: MAX_TOKENS must be a positive integer" >&2; exit 2; }
command -v wrk >/dev/null 2>&1 || { echo "loadtest: wrk not found (apt-get install wrk)" >&2; exit 3; }

MODEL=${LOADTEST_MODEL-}
if [ -z "$MODEL" ] && command -v curl >/dev/null 2>&1; then
  MODEL=$(curl -s -m 10 ${KEY:+-H "Authorization: Bearer $KEY"} "$URL/v1/models" |
          sed -n 's/.*"data":[[:space:]]*\[[[:space:]]*{[^}]*"id":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1) || MODEL=
fi
THREADS=${LOADTEST_THREADS:-$(nproc 2>/dev/null || echo 2)}
[ "$THREADS" -gt "$CONC" ] && THREADS=$CONC
IGNORE_EOS=${LOADTEST_IGNORE_EOS:-true}

LUA=$(mktemp --suffix=.lua)
trap 'rm -f "$LUA"' EXIT
cat >"$LUA" <<'LUA'
-- One wrk Lua state per thread. request() builds a POST with a distinct prompt,
-- response() reads usage.completion_tokens, done() sums the threads.
local threads = {}
local counter, tokens, ok, bad = 0, 0, 0, 0
local kind, model, maxtok, key, ignore_eos, tid

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  kind, model, maxtok, key, ignore_eos = args[1], args[2], args[3], args[4], args[5]
  tid = id or 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if key ~= nil and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
end

local function jstr(s) return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"' end

function request()
  counter = counter + 1
  local text = string.format("Request %d.%d: write a short story about the number %d.", tid, counter, counter)
  local m = (model ~= nil and model ~= "") and ('"model":' .. jstr(model) .. ',') or ''
  local body, path
  if kind == "completions" then
    path = "/v1/completions"
    body = '{' .. m .. '"prompt":' .. jstr(text)
  else
    path = "/v1/chat/completions"
    body = '{' .. m .. '"messages":[{"role":"user","content":' .. jstr(text) .. '}]'
  end
  body = body .. ',"max_tokens":' .. maxtok .. ',"ignore_eos":' .. ignore_eos .. ',"stream":false}'
  return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    local n = body and body:match('"completion_tokens"%s*:%s*(%d+)')
    if n then tokens = tokens + tonumber(n) end
  else
    bad = bad + 1
    if bad <= 3 then io.stderr:write(string.format("loadtest: HTTP %d: %s\n", status, (body or ""):sub(1, 300))) end
  end
  -- wrk.thread is not available here, so publish the running totals as globals for done()
  ok_count, bad_count, token_count = ok, bad, tokens
end

function done(summary, latency, requests)
  local t_ok, t_bad, t_tok = 0, 0, 0
  for _, th in ipairs(threads) do
    t_ok = t_ok + (th:get("ok_count") or 0)
    t_bad = t_bad + (th:get("bad_count") or 0)
    t_tok = t_tok + (th:get("token_count") or 0)
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local sockerr = e.connect + e.read + e.write + e.timeout
  io.write("\n--- loadtest result\n")
  io.write(string.format("duration: %.2f s, requests: %d (ok %d, non-200 %d, socket errors %d)\n",
    secs, summary.requests, t_ok, t_bad, sockerr))
  io.write(string.format("throughput: %.2f requests/s\n", t_ok / secs))
  io.write(string.format("generated: %d tokens, %.1f tokens/s\n", t_tok, t_tok / secs))
  io.write(string.format("latency: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format('LOADTEST_JSON {"requests":%d,"ok":%d,"non_200":%d,"socket_errors":%d,"seconds":%.3f,' ..
    '"requests_per_s":%.3f,"tokens":%d,"tokens_per_s":%.3f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, t_ok, t_bad, sockerr, secs, t_ok / secs, t_tok, t_tok / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
  if t_ok == 0 or t_bad > 0 or sockerr > 0 then
    io.write("loadtest: FAILED: non-200 responses or socket errors\n")
    io.stdout:flush()
    os.exit(1)
  end
end
LUA

echo "loadtest: $URL ($KIND, model ${MODEL:-<none>}), $CONC connections, $THREADS threads, $DUR, max_tokens $MAXTOK, ignore_eos $IGNORE_EOS"
rc=0
wrk -t "$THREADS" -c "$CONC" -d "$DUR" --timeout "${LOADTEST_TIMEOUT:-60s}" -s "$LUA" "$URL" \
  -- "$KIND" "$MODEL" "$MAXTOK" "$KEY" "$IGNORE_EOS" || rc=$?
exit $rc
