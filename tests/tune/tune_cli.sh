#!/usr/bin/env bash
# `strixcore tune` end to end on one backend (default cpu) with the synthetic
# tiny model: the first run tunes and writes the cache, the second finds every
# key there and tunes nothing, `tune --show` lists the table, bench loads it,
# a corrupt cache is ignored with a warning, and bad flags are usage errors.
#   tune_cli.sh STRIXCORE_EXE [BACKEND]
set -uo pipefail
EXE=$1
BE=${2:-cpu}
D=$(mktemp -d /tmp/sc-tune-cli-XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
T=(--backend "$BE" --tuning-dir "$D/cache")
ARGS=(tune --synthetic tiny --max-model-len 64 --max-num-seqs 3 --max-num-batched-tokens 32)

"$EXE" "${T[@]}" "${ARGS[@]}" >"$D/1.out" 2>"$D/1.err" || { cat "$D/1.err"; fail "first tune run"; }
cat "$D/1.out"
n1=$(sed -n 's/^tuned \([0-9]*\) kernel keys.*/\1/p' "$D/1.out")
[ -n "$n1" ] && [ "$n1" -gt 0 ] || fail "the first run tuned nothing"
grep -q "passes" "$D/1.err" || fail "no progress report"
grep -q "in-graph check done" "$D/1.err" || { cat "$D/1.err"; fail "no in-graph check"; }
f=$(ls "$D"/cache/*.json) || fail "no cache file"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['format']=='strixcore-tuning' and len(d['results'])==$n1, d.keys()" "$f" \
  || fail "the cache file does not hold $n1 results"
ls "$D"/cache | grep -q tmp && fail "a temporary file was left"

"$EXE" "${T[@]}" "${ARGS[@]}" >"$D/2.out" 2>"$D/2.err" || fail "second tune run"
grep -q "^tuned 0 kernel keys" "$D/2.out" || { cat "$D/2.out"; fail "the second run tuned again"; }

"$EXE" "${T[@]}" tune --show >"$D/show.out" 2>&1 || fail "tune --show"
grep -q "  $n1 keys" "$D/show.out" || { cat "$D/show.out"; fail "tune --show does not list $n1 keys"; }

# bench loads the table (the info log says how many choices)
"$EXE" -v "${T[@]}" bench --synthetic tiny -p 8 -n 4 -r 1 --no-probe >"$D/b.out" 2>"$D/b.err" || fail "bench"
grep -q "$n1 tuned choices from" "$D/b.err" || { cat "$D/b.err"; fail "bench did not load the table"; }
# --tuning-enabled 0: not loaded
"$EXE" -v --tuning-enabled 0 "${T[@]}" bench --synthetic tiny -p 8 -n 4 -r 1 --no-probe >"$D/b0.out" 2>"$D/b0.err" || fail "bench, tuning off"
grep -q "tuned choices from" "$D/b0.err" && fail "--tuning-enabled 0 loaded the table"
# the config file keys
printf 'tuning_enabled = 0\n' >"$D/cfg"
"$EXE" -v --config "$D/cfg" "${T[@]}" bench --synthetic tiny -p 8 -n 4 -r 1 --no-probe >/dev/null 2>"$D/b1.err" || fail "bench, config"
grep -q "tuned choices from" "$D/b1.err" && fail "tuning_enabled = 0 in the config loaded the table"

# a corrupt cache: a warning, the defaults, exit 0; tuning replaces it
printf '{"format": "strixcore-tuning", "version": 1, "results": {' >"$f"
"$EXE" "${T[@]}" tune --show >"$D/c.out" 2>"$D/c.err" || fail "tune --show on a corrupt cache"
grep -q "ignoring" "$D/c.err" || fail "no warning for a corrupt cache"
grep -q "was ignored" "$D/c.out" || fail "--show does not say the cache was ignored"
"$EXE" "${T[@]}" "${ARGS[@]}" >"$D/3.out" 2>"$D/3.err" || fail "tune over a corrupt cache"
grep -q "^tuned $n1 kernel keys" "$D/3.out" || { cat "$D/3.out"; fail "tuning over a corrupt cache"; }

# usage errors
"$EXE" --tuning 2 "${T[@]}" tune --show >/dev/null 2>&1; [ $? = 2 ] || fail "--tuning 2 is not a usage error"
"$EXE" "${T[@]}" tune >/dev/null 2>&1; [ $? = 2 ] || fail "tune without a model is not a usage error"
"$EXE" "${T[@]}" tune --synthetic tiny --max-num-seqs 9 --max-num-batched-tokens 4 >/dev/null 2>&1
[ $? = 2 ] || fail "batched tokens below seqs is not a usage error"
echo "ok: $n1 keys tuned, reused, shown, loaded by bench; bad caches and flags handled"
