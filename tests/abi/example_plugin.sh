#!/bin/sh
# tests/abi/example_plugin.sh - build plugins/example-backend the way a third
# party would (against an installed strixcore, found through pkg-config
# only), then load it with the CLI and run it under the scheduler.
#
# usage: example_plugin.sh CMAKE GENERATOR BUILD_DIR EXAMPLE_SRC STRIXCORE_BIN TEST_BIN
set -eu

cmake=$1 generator=$2 build=$3 src=$4 strixcore=$5 test_bin=$6

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strixcore-example.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix

echo "== install $build into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }

# GNUInstallDirs may pick lib or lib/<multiarch>.
pcdir=
for d in "$prefix"/lib/pkgconfig "$prefix"/lib*/pkgconfig "$prefix"/lib/*/pkgconfig; do
    if [ -f "$d/strixcore.pc" ]; then pcdir=$d; break; fi
done
[ -n "$pcdir" ] || { echo "FAIL: no strixcore.pc under $prefix"; find "$prefix"; exit 1; }
[ -f "$prefix/include/strixcore/plugin.h" ] || { echo "FAIL: plugin.h not installed"; exit 1; }

# strixcore.pc is relocatable (paths relative to ${pcfiledir}): it must
# point into the prefix we installed to, not the configured one.
export PKG_CONFIG_PATH="$pcdir"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR || true
incdir=$(cd "$(pkg-config --variable=includedir strixcore)" && pwd -P)
[ "$incdir" = "$(cd "$prefix/include" && pwd -P)" ] || { echo "FAIL: strixcore.pc includedir $incdir is outside $prefix"; exit 1; }
echo "== pkg-config --cflags strixcore: $(pkg-config --cflags strixcore)"

echo "== configure and build $src out of tree"
"$cmake" -S "$src" -B "$tmp/build" -G "$generator" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-Werror" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
"$cmake" --build "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
plugin=$tmp/build/libstrixcore-example.so
[ -f "$plugin" ] || { echo "FAIL: $plugin not built"; ls -l "$tmp/build"; exit 1; }

# Exactly the two entry points are exported.
if command -v nm >/dev/null 2>&1; then
    exports=$(nm -D --defined-only "$plugin" | awk '$2 == "T" { print $3 }' | sort | tr '\n' ' ')
    echo "== exported functions: $exports"
    [ "$exports" = "strixcore_plugin_init strixcore_plugin_probe " ] || { echo "FAIL: unexpected exports"; exit 1; }
fi

echo "== strixcore plugins"
out=$(STRIXCORE_PLUGIN_PATH=$tmp/build "$strixcore" plugins)
echo "$out"
echo "$out" | grep -q "name:        example" || { echo "FAIL: example not listed"; exit 1; }
echo "$out" | grep -A8 "libstrixcore-example.so" | grep -q "status:      loaded" || { echo "FAIL: example not loaded"; exit 1; }

echo "== strixcore plugins --json"
STRIXCORE_PLUGIN_PATH=$tmp/build "$strixcore" plugins --json >"$tmp/plugins.json"
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=[p for p in d if p["name"]=="example"]; assert e and e[0]["status"]=="loaded" and e[0]["devices"][0]["name"]=="example", d' "$tmp/plugins.json"
else
    grep -q '"name": "example"' "$tmp/plugins.json"
fi

echo "== strixcore --backend example devices"
STRIXCORE_PLUGIN_PATH=$tmp/build "$strixcore" --backend example devices | tee "$tmp/devices.txt"
grep -q '^\* example' "$tmp/devices.txt" || { echo "FAIL: example not picked"; exit 1; }

echo "== scheduler test"
STRIXCORE_PLUGIN_PATH=$tmp/build "$test_bin"
echo "PASS"
