#!/usr/bin/env bash
# The test command: every ctest suite (unit, abi, example plugin, backend-ops).
#   scripts/test.sh [build-dir] [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
shift || true
ctest --test-dir "$build" --output-on-failure -j2 "$@"
