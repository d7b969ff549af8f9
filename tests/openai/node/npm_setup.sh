#!/bin/sh
# ctest fixture set-up: install tests/openai/node's npm dependencies (the
# official `openai` client, pinned by package-lock.json) into the BUILD tree,
# never into the source tree. Re-runs are no-ops while the lock file is
# unchanged. Exit 77 (skip) only when npm is missing or the registry cannot be
# reached; any other npm failure is a real failure.
# usage: npm_setup.sh SOURCE_DIR DEST_DIR
set -u
SRC=$1 DEST=$2
command -v npm >/dev/null 2>&1 || { echo "npm not found: skipping"; exit 77; }
mkdir -p "$DEST" || exit 1
if [ -f "$DEST/node_modules/openai/package.json" ] && [ -f "$DEST/.installed-lock.json" ] &&
   cmp -s "$SRC/package-lock.json" "$DEST/.installed-lock.json"; then
  echo "node_modules up to date in $DEST"
  exit 0
fi
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/" || exit 1
rm -f "$DEST/.installed-lock.json"
LOG=$DEST/npm-ci.log
if timeout 150 npm ci --prefix "$DEST" --no-audit --no-fund --ignore-scripts \
     --fetch-timeout=30000 --fetch-retries=1 >"$LOG" 2>&1; then
  cp "$SRC/package-lock.json" "$DEST/.installed-lock.json"
  echo "installed openai@$(node -p "JSON.parse(require('fs').readFileSync('$DEST/node_modules/openai/package.json','utf8')).version" 2>/dev/null) into $DEST"
  exit 0
fi
cat "$LOG"
if grep -Eqi 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|socket hang up|request to .* failed' "$LOG"; then
  echo "npm registry unreachable: skipping the openai client tests"
  exit 77
fi
echo "npm ci failed"
exit 1
