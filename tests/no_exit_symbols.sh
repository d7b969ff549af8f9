#!/bin/sh
# Library and plugin code must never end the process on bad input: neither
# libstrixcore nor any plugin may import exit/abort (assert() is compiled out
# in release builds, so __assert_fail is refused too).
# usage: no_exit_symbols.sh FILE...
status=0
for f in "$@"; do
  bad=$(nm -D --undefined-only "$f" | awk '{print $NF}' | sed 's/@.*//' |
        grep -xE '(exit|_exit|_Exit|quick_exit|abort|__assert_fail)' || true)
  if [ -n "$bad" ]; then
    echo "FAIL: $f imports: $bad"
    status=1
  else
    echo "ok: $f"
  fi
done
exit $status
